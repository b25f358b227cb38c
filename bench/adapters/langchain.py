"""LangChain family: langchain-community ``SQLChatMessageHistory``, langchain-postgres
``PostgresChatMessageHistory`` and LangGraph ``MessagesState`` + ``SqliteSaver``."""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

from adapters.base import OPS, Adapter, Unavailable, trim_to_budget


def to_messages(items: list[dict[str, Any]]) -> list[Any]:
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    out: list[Any] = []
    for it in items:
        kind = it["kind"]
        if kind == "user":
            out.append(HumanMessage(it["text"]))
        elif kind == "assistant":
            out.append(AIMessage(it["text"]))
        elif kind == "call":
            out.append(
                AIMessage(
                    "", tool_calls=[{"name": it["tool"], "args": it["args"], "id": it["call_id"]}]
                )
            )
        else:
            out.append(ToolMessage(it["result"], tool_call_id=it["call_id"], name=it["tool"]))
    return out


def text_of(m: Any) -> str:
    if getattr(m, "tool_calls", None):
        import json

        return "".join(c["name"] + json.dumps(c["args"]) for c in m.tool_calls)
    return str(m.content)


def _import(what: str) -> None:
    try:
        __import__(what)
    except ImportError as exc:
        raise Unavailable(f"import failed: {exc}") from None


_LOAD_NOTES = {
    "recent": "no limit argument: loads the whole history and keeps the last n",
    "context": "loads the whole history and trims it to the budget",
    "list_threads": "no listing call",
}


class LCSQLChatMessageHistory(Adapter):
    label = "langchain-community SQLChatMessageHistory"
    packages = ("langchain-community", "langchain-core", "sqlalchemy")
    durability = "rollback journal, synchronous=FULL (SQLite defaults); no index on session_id"
    supports = frozenset(set(OPS) - {"list_threads"})
    notes = {**_LOAD_NOTES, "bulk_import": "one add_messages call"}

    def open(self) -> None:
        _import("langchain_community.chat_message_histories")
        from sqlalchemy import create_engine

        self.engine = create_engine(f"sqlite:///{self.workdir / 'lc.db'}")
        self.histories: dict[str, Any] = {}

    def _h(self, thread_id: str) -> Any:
        from langchain_community.chat_message_histories import SQLChatMessageHistory

        h = self.histories.get(thread_id)
        if h is None:
            h = self.histories[thread_id] = SQLChatMessageHistory(
                session_id=thread_id, connection=self.engine
            )
        return h

    def close(self) -> None:
        self.engine.dispose()

    def convert(self, items: list[dict[str, Any]]) -> list[Any]:
        return to_messages(items)

    def create_thread(self, thread_id: str, user_id: str) -> Any:
        self._h(thread_id)

    def append(self, thread_id: str, batch: list[Any]) -> Any:
        self._h(thread_id).add_messages(batch)

    def load(self, thread_id: str) -> Any:
        return self._h(thread_id).messages

    def recent(self, thread_id: str, n: int) -> Any:
        return self._h(thread_id).messages[-n:]

    def context(self, thread_id: str, max_tokens: int) -> Any:
        return trim_to_budget(self._h(thread_id).messages, max_tokens, text_of)

    def bulk_import(self, thread_id: str, user_id: str, batch: list[Any]) -> Any:
        self._h(thread_id).add_messages(batch)


class LCPostgresChatMessageHistory(LCSQLChatMessageHistory):
    label = "langchain-postgres PostgresChatMessageHistory"
    packages = ("langchain-postgres", "psycopg")
    backend = "postgres"
    durability = "PostgreSQL defaults (synchronous_commit=on), psycopg 3"
    notes = {
        **_LOAD_NOTES,
        "bulk_import": "one add_messages call",
        "ids": "session ids must be UUIDs: thread ids are mapped with uuid5",
    }

    def open(self) -> None:
        _import("langchain_postgres")
        import psycopg
        from langchain_postgres import PostgresChatMessageHistory

        assert self.pg_url
        self.conn = psycopg.connect(self.pg_url)
        PostgresChatMessageHistory.create_tables(self.conn, "chat_history")
        self.histories = {}

    def _h(self, thread_id: str) -> Any:
        from langchain_postgres import PostgresChatMessageHistory

        h = self.histories.get(thread_id)
        if h is None:
            sid = str(uuid.uuid5(uuid.NAMESPACE_URL, thread_id))
            h = self.histories[thread_id] = PostgresChatMessageHistory(
                "chat_history", sid, sync_connection=self.conn
            )
        return h

    def close(self) -> None:
        self.conn.close()


class LangGraphSqliteSaver(Adapter):
    label = "langgraph MessagesState+SqliteSaver"
    packages = ("langgraph", "langgraph-checkpoint-sqlite", "langchain-core")
    durability = "WAL, synchronous=FULL (SQLite default)"
    supports = frozenset(set(OPS) - {"list_threads"})
    notes = {
        "append": "graph.invoke with the new messages into a one-node MessagesState graph; "
        "every checkpoint stores the whole message list",
        "recent": "graph.get_state: deserialises the whole list, keeps the last n",
        "context": "graph.get_state, then trims the list to the budget",
        "list_threads": "threads carry no user id; checkpointer.list walks checkpoints",
        "bulk_import": "one graph.invoke with all messages",
    }
    #: build big threads in few invokes: each invoke rewrites the whole list
    build_chunk = 25_000

    def open(self) -> None:
        _import("langgraph.checkpoint.sqlite")
        from langgraph.checkpoint.sqlite import SqliteSaver
        from langgraph.graph import END, START, MessagesState, StateGraph

        self.conn = sqlite3.connect(self.workdir / "langgraph.db", check_same_thread=False)
        saver = SqliteSaver(self.conn)
        b = StateGraph(MessagesState)
        b.add_node("store", lambda state: {})
        b.add_edge(START, "store")
        b.add_edge("store", END)
        self.graph = b.compile(checkpointer=saver)

    def close(self) -> None:
        self.conn.close()

    @staticmethod
    def _cfg(thread_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": thread_id}}

    def convert(self, items: list[dict[str, Any]]) -> list[Any]:
        return to_messages(items)

    def create_thread(self, thread_id: str, user_id: str) -> Any:
        return None  # a thread exists from its first checkpoint

    def append(self, thread_id: str, batch: list[Any]) -> Any:
        self.graph.invoke({"messages": batch}, self._cfg(thread_id))

    def load(self, thread_id: str) -> Any:
        return self.graph.get_state(self._cfg(thread_id)).values.get("messages", [])

    def recent(self, thread_id: str, n: int) -> Any:
        return self.load(thread_id)[-n:]

    def context(self, thread_id: str, max_tokens: int) -> Any:
        return trim_to_budget(self.load(thread_id), max_tokens, text_of)

    def bulk_import(self, thread_id: str, user_id: str, batch: list[Any]) -> Any:
        self.append(thread_id, batch)
