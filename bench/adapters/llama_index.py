"""LlamaIndex chat stores: ``SimpleChatStore`` (in memory), ``SQLiteChatStore`` and
``PostgresChatStore``. A chat store is keyed by a string; the user is encoded in
the key (``user/thread``) so one user's threads can be found with ``get_keys``."""

from __future__ import annotations

from typing import Any

from adapters.base import Adapter, Unavailable, trim_to_budget


def to_messages(items: list[dict[str, Any]]) -> list[Any]:
    from llama_index.core.llms import ChatMessage

    out: list[Any] = []
    for it in items:
        kind = it["kind"]
        if kind in ("user", "assistant"):
            out.append(ChatMessage(role=kind, content=it["text"]))
        elif kind == "call":
            import json

            out.append(
                ChatMessage(
                    role="assistant",
                    content="",
                    additional_kwargs={
                        "tool_calls": [
                            {
                                "id": it["call_id"],
                                "type": "function",
                                "function": {
                                    "name": it["tool"],
                                    "arguments": json.dumps(it["args"]),
                                },
                            }
                        ]
                    },
                )
            )
        else:
            out.append(
                ChatMessage(
                    role="tool",
                    content=it["result"],
                    additional_kwargs={"tool_call_id": it["call_id"], "name": it["tool"]},
                )
            )
    return out


def text_of(m: Any) -> str:
    calls = m.additional_kwargs.get("tool_calls")
    if calls:
        return "".join(c["function"]["name"] + c["function"]["arguments"] for c in calls)
    return str(m.content or "")


class _LlamaStore(Adapter):
    packages = ("llama-index-core",)
    notes = {
        "append": "add_message per message (a 4-item turn is 4 calls)",
        "recent": "get_messages loads the whole key, keeps the last n",
        "context": "get_messages, then trims to the budget",
        "list_threads": "get_keys() returns every key of the store; filtered by the user "
        "prefix client-side",
        "bulk_import": "one set_messages call",
    }

    def store(self) -> Any:
        raise NotImplementedError

    def open(self) -> None:
        try:
            self.cs = self.store()
        except ImportError as exc:
            raise Unavailable(f"import failed: {exc}") from None
        self.users: dict[str, str] = {}

    def key(self, thread_id: str) -> str:
        return f"{self.users.get(thread_id, 'u-big')}/{thread_id}"

    def convert(self, items: list[dict[str, Any]]) -> list[Any]:
        return to_messages(items)

    def create_thread(self, thread_id: str, user_id: str) -> Any:
        # a key exists once it holds a message; remember the owner for the key
        self.users[thread_id] = user_id

    def append(self, thread_id: str, batch: list[Any]) -> Any:
        key = self.key(thread_id)
        for m in batch:
            self.cs.add_message(key, m)

    def build_append(self, thread_id: str, batch: list[Any]) -> Any:
        key = self.key(thread_id)
        if self._bulk_appends:
            self.cs.set_messages(key, batch)  # the SQLite store's set_messages inserts
        else:
            self.append(thread_id, batch)

    _bulk_appends = False

    def load(self, thread_id: str) -> Any:
        return self.cs.get_messages(self.key(thread_id))

    def recent(self, thread_id: str, n: int) -> Any:
        return self.cs.get_messages(self.key(thread_id))[-n:]

    def context(self, thread_id: str, max_tokens: int) -> Any:
        return trim_to_budget(self.cs.get_messages(self.key(thread_id)), max_tokens, text_of)

    def list_threads(self, user_id: str, limit: int) -> Any:
        prefix = f"{user_id}/"
        return [k for k in self.cs.get_keys() if k.startswith(prefix)][:limit]

    def bulk_import(self, thread_id: str, user_id: str, batch: list[Any]) -> Any:
        self.users[thread_id] = user_id
        self.cs.set_messages(self.key(thread_id), batch)


class LlamaSimpleChatStore(_LlamaStore):
    label = "llama-index SimpleChatStore"
    backend = "memory"
    durability = "none (in process; persist() would rewrite one JSON file)"

    def store(self) -> Any:
        from llama_index.core.storage.chat_store import SimpleChatStore

        return SimpleChatStore()


class LlamaSQLiteChatStore(_LlamaStore):
    label = "llama-index SQLiteChatStore"
    packages = ("llama-index-core", "llama-index-storage-chat-store-sqlite", "sqlalchemy")
    durability = "rollback journal, synchronous=FULL (SQLite defaults)"
    _bulk_appends = True

    def store(self) -> Any:
        from llama_index.storage.chat_store.sqlite import SQLiteChatStore

        return SQLiteChatStore.from_uri(f"sqlite:///{self.workdir / 'llama.db'}")


class LlamaPostgresChatStore(_LlamaStore):
    label = "llama-index PostgresChatStore"
    backend = "postgres"
    packages = ("llama-index-core", "llama-index-storage-chat-store-postgres", "sqlalchemy")
    durability = (
        "PostgreSQL defaults (synchronous_commit=on); one row per key holding an array of messages"
    )

    def store(self) -> Any:
        from llama_index.storage.chat_store.postgres import PostgresChatStore

        assert self.pg_url
        rest = self.pg_url.split("://", 1)[1]
        return PostgresChatStore.from_params(
            connection_string=f"postgresql+psycopg://{rest}",
            async_connection_string=f"postgresql+asyncpg://{rest}",
        )

    def build_append(self, thread_id: str, batch: list[Any]) -> Any:
        # one array_cat per message is what add_message does; a chunk at a time
        # through the same upsert keeps building 100k messages affordable
        from sqlalchemy import text

        key = self.key(thread_id)
        cs = self.cs
        table = cs._table_class.__tablename__
        with cs._session() as session:
            params = {"key": key, "value": [m.model_dump_json() for m in batch]}
            session.execute(
                text(
                    f"INSERT INTO {cs.schema_name}.{table} (key, value) VALUES (:key, :value) "
                    f"ON CONFLICT (key) DO UPDATE SET value = array_cat({table}.value, :value)"
                ),
                params,
            )
            session.commit()
