"""convostore itself: SQLite (``synchronous=normal`` and ``full``), PostgreSQL and
the in-memory backend."""

from __future__ import annotations

from typing import Any, ClassVar

from adapters.base import OPS, Adapter, Unavailable


def to_messages(items: list[dict[str, Any]]) -> list[Any]:
    """Neutral items as convostore messages (fresh ids on every call)."""
    from convostore import Message, ToolCallPart

    out: list[Any] = []
    for it in items:
        kind = it["kind"]
        if kind == "user":
            out.append(Message.user(it["text"]))
        elif kind == "assistant":
            out.append(Message.assistant(it["text"]))
        elif kind == "call":
            out.append(
                Message.assistant("").with_parts(
                    ToolCallPart(tool_call_id=it["call_id"], tool_name=it["tool"], args=it["args"])
                )
            )
        else:
            out.append(Message.tool(it["result"], it["call_id"], tool_name=it["tool"]))
    return out


def has_context() -> bool:
    from convostore import Store

    return hasattr(Store, "context")


class ConvostoreSQLite(Adapter):
    label = "convostore sqlite (normal)"
    packages = ("convostore",)
    backend = "sqlite"
    durability = "WAL, synchronous=NORMAL: survives a process crash"
    synchronous: ClassVar[str] = "normal"

    def _url(self) -> str:
        return f"sqlite:///{self.workdir / 'convostore.db'}"

    def _options(self) -> dict[str, Any]:
        return {"synchronous": self.synchronous}

    def open(self) -> None:
        try:
            from convostore import open_store
        except ImportError as exc:
            raise Unavailable(f"import failed: {exc}") from None
        self.store = open_store(self._url(), **self._options())
        if not has_context():
            type(self).supports = frozenset(set(OPS) - {"context"})
            type(self).notes = {"context": "Store.context is not in this build"}

    def close(self) -> None:
        self.store.close()

    def convert(self, items: list[dict[str, Any]]) -> list[Any]:
        return to_messages(items)

    def create_thread(self, thread_id: str, user_id: str) -> Any:
        return self.store.create_thread(id=thread_id, user_id=user_id)

    def append(self, thread_id: str, batch: list[Any]) -> Any:
        return self.store.append(thread_id, batch)

    def load(self, thread_id: str) -> Any:
        return self.store.load_messages(thread_id)

    def recent(self, thread_id: str, n: int) -> Any:
        return self.store.recent(thread_id, n)

    def context(self, thread_id: str, max_tokens: int) -> Any:
        return self.store.context(thread_id, max_tokens=max_tokens)

    def list_threads(self, user_id: str, limit: int) -> Any:
        return self.store.list_threads(user_id=user_id, limit=limit).items

    def bulk_import(self, thread_id: str, user_id: str, batch: list[Any]) -> Any:
        from convostore import ConversationSnapshot, Thread

        snap = ConversationSnapshot(thread=Thread(id=thread_id, user_id=user_id), messages=batch)
        return self.store.import_thread(snap)


class ConvostoreSQLiteDicts(ConvostoreSQLite):
    """The documented fast path for whole-thread reads: plain dicts, no models."""

    label = "convostore sqlite (normal, dicts)"

    def load(self, thread_id: str) -> Any:
        return self.store.load_messages(thread_id, as_dicts=True)


class ConvostoreSQLiteFull(ConvostoreSQLite):
    label = "convostore sqlite (full)"
    durability = "WAL, synchronous=FULL (default): survives power loss"
    synchronous = "full"


class ConvostoreMemory(ConvostoreSQLite):
    label = "convostore memory"
    backend = "memory"
    durability = "none (in process)"

    def _url(self) -> str:
        return "memory://"

    def _options(self) -> dict[str, Any]:
        return {}


class ConvostorePostgres(ConvostoreSQLite):
    label = "convostore postgres"
    packages = ("convostore", "psycopg")
    backend = "postgres"
    durability = "PostgreSQL defaults (synchronous_commit=on, fsync)"

    def _url(self) -> str:
        assert self.pg_url
        return self.pg_url

    def _options(self) -> dict[str, Any]:
        return {"auto_migrate": True}

    def open(self) -> None:
        try:
            import convostore.store.postgres  # noqa: F401
        except ImportError as exc:
            raise Unavailable(f"PostgreSQL backend not in this build ({exc})") from None
        super().open()
