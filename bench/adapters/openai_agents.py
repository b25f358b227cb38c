"""OpenAI Agents SDK (``openai-agents``): ``SQLiteSession`` and ``SQLAlchemySession``."""

from __future__ import annotations

import json
from typing import Any

from adapters.base import OPS, Adapter, Unavailable, trim_to_budget, widening_window


def to_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Neutral items as Responses-API input items, the SDK's session format."""
    out: list[dict[str, Any]] = []
    for it in items:
        kind = it["kind"]
        if kind in ("user", "assistant"):
            out.append({"role": kind, "content": it["text"]})
        elif kind == "call":
            out.append(
                {
                    "type": "function_call",
                    "call_id": it["call_id"],
                    "name": it["tool"],
                    "arguments": json.dumps(it["args"]),
                }
            )
        else:
            out.append(
                {"type": "function_call_output", "call_id": it["call_id"], "output": it["result"]}
            )
    return out


def text_of(item: dict[str, Any]) -> str:
    return str(item.get("content") or item.get("arguments") or item.get("output") or "")


class _AgentsSession(Adapter):
    packages = ("openai-agents",)
    supports = frozenset(set(OPS) - {"list_threads"})
    notes = {
        "list_threads": "sessions carry no user id and there is no listing call",
        "context": "get_items(limit=n) with a widening n, trimmed to the budget",
        "bulk_import": "one add_items call",
    }

    def open(self) -> None:
        self.sessions: dict[str, Any] = {}

    def session(self, thread_id: str) -> Any:
        raise NotImplementedError

    def _s(self, thread_id: str) -> Any:
        s = self.sessions.get(thread_id)
        if s is None:
            s = self.sessions[thread_id] = self.session(thread_id)
        return s

    def convert(self, items: list[dict[str, Any]]) -> list[Any]:
        return to_items(items)

    def create_thread(self, thread_id: str, user_id: str) -> Any:
        self._s(thread_id)  # a session row is written with the first items

    def append(self, thread_id: str, batch: list[Any]) -> Any:
        return self._s(thread_id).add_items(batch)

    def load(self, thread_id: str) -> Any:
        return self._s(thread_id).get_items()

    def recent(self, thread_id: str, n: int) -> Any:
        return self._s(thread_id).get_items(limit=n)

    def context(self, thread_id: str, max_tokens: int) -> Any:
        return widening_window(lambda n: self.recent(thread_id, n), max_tokens, text_of)

    def bulk_import(self, thread_id: str, user_id: str, batch: list[Any]) -> Any:
        return self._s(thread_id).add_items(batch)


class AgentsSQLiteSession(_AgentsSession):
    label = "openai-agents SQLiteSession"
    durability = "WAL, synchronous=FULL (SQLite default)"

    def open(self) -> None:
        try:
            from agents.memory import SQLiteSession
        except ImportError as exc:
            raise Unavailable(f"import failed: {exc}") from None
        self._cls = SQLiteSession
        super().open()

    def session(self, thread_id: str) -> Any:
        return self._cls(thread_id, str(self.workdir / "agents.db"))

    def close(self) -> None:
        for s in self.sessions.values():
            s.close()


class AgentsSQLAlchemySQLite(_AgentsSession):
    label = "openai-agents SQLAlchemySession sqlite"
    durability = "WAL, synchronous=FULL (SQLite default), aiosqlite"

    def url(self) -> str:
        return f"sqlite+aiosqlite:///{self.workdir / 'agents-sa.db'}"

    def open(self) -> None:
        try:
            from agents.extensions.memory.sqlalchemy_session import SQLAlchemySession
            from sqlalchemy.ext.asyncio import create_async_engine
        except ImportError as exc:
            raise Unavailable(f"import failed: {exc}") from None
        self._cls = SQLAlchemySession
        self.engine = create_async_engine(self.url())
        super().open()

    def session(self, thread_id: str) -> Any:
        return self._cls(thread_id, engine=self.engine, create_tables=True)

    async def close(self) -> None:
        await self.engine.dispose()


class AgentsSQLAlchemyPostgres(AgentsSQLAlchemySQLite):
    label = "openai-agents SQLAlchemySession postgres"
    backend = "postgres"
    packages = ("openai-agents", "sqlalchemy", "asyncpg")
    durability = "PostgreSQL defaults (synchronous_commit=on), asyncpg"

    def url(self) -> str:
        assert self.pg_url
        return self.pg_url.replace("postgresql://", "postgresql+asyncpg://", 1)


# used by context when a library returns items unchanged
__all__ = [
    "AgentsSQLAlchemyPostgres",
    "AgentsSQLAlchemySQLite",
    "AgentsSQLiteSession",
    "text_of",
    "to_items",
    "trim_to_budget",
]
