"""Google ADK (``google-adk``): ``DatabaseSessionService`` on SQLite (aiosqlite) and
PostgreSQL (asyncpg). A message is an ``Event`` whose ``content`` carries a text,
``function_call`` or ``function_response`` part."""

from __future__ import annotations

import json
from typing import Any

from adapters.base import Adapter, Unavailable, trim_to_budget

APP = "bench"


def to_events(items: list[dict[str, Any]]) -> list[Any]:
    from google.adk.events import Event
    from google.genai import types

    out: list[Any] = []
    for it in items:
        kind = it["kind"]
        if kind == "user":
            content = types.Content(role="user", parts=[types.Part(text=it["text"])])
            author = "user"
        elif kind == "assistant":
            content = types.Content(role="model", parts=[types.Part(text=it["text"])])
            author = "agent"
        elif kind == "call":
            content = types.Content(
                role="model",
                parts=[
                    types.Part(
                        function_call=types.FunctionCall(
                            id=it["call_id"], name=it["tool"], args=it["args"]
                        )
                    )
                ],
            )
            author = "agent"
        else:
            content = types.Content(
                role="user",
                parts=[
                    types.Part(
                        function_response=types.FunctionResponse(
                            id=it["call_id"], name=it["tool"], response=json.loads(it["result"])
                        )
                    )
                ],
            )
            author = "agent"
        out.append(Event(author=author, invocation_id="inv-bench", content=content))
    return out


def text_of(event: Any) -> str:
    parts = event.content.parts if event.content else []
    out = []
    for p in parts:
        if p.text:
            out.append(p.text)
        elif p.function_call:
            out.append(p.function_call.name + json.dumps(p.function_call.args))
        elif p.function_response:
            out.append(json.dumps(p.function_response.response))
    return "".join(out)


class ADKDatabaseSessionSQLite(Adapter):
    label = "google-adk DatabaseSessionService sqlite"
    packages = ("google-adk", "sqlalchemy", "aiosqlite")
    durability = "SQLite defaults through SQLAlchemy + aiosqlite (synchronous=FULL)"
    notes = {
        "append": "append_event per event (a 4-item turn is 4 calls)",
        "recent": "get_session(config=GetSessionConfig(num_recent_events=n))",
        "context": "get_session with a widening num_recent_events, trimmed to the budget",
        "bulk_import": "no bulk call: append_event per event",
    }

    def url(self) -> str:
        return f"sqlite+aiosqlite:///{self.workdir / 'adk.db'}"

    def open(self) -> None:
        try:
            from google.adk.sessions import DatabaseSessionService
            from google.adk.sessions.base_session_service import GetSessionConfig
        except ImportError as exc:
            raise Unavailable(f"import failed: {exc}") from None
        self.svc = DatabaseSessionService(db_url=self.url())
        self._cfg = GetSessionConfig
        self.sessions: dict[str, Any] = {}
        self.users: dict[str, str] = {}

    async def close(self) -> None:
        await self.svc.close()

    def convert(self, items: list[dict[str, Any]]) -> list[Any]:
        return to_events(items)

    async def create_thread(self, thread_id: str, user_id: str) -> Any:
        self.users[thread_id] = user_id
        self.sessions[thread_id] = await self.svc.create_session(
            app_name=APP, user_id=user_id, session_id=thread_id
        )

    def _user(self, thread_id: str) -> str:
        return self.users.get(thread_id, "u-big")

    async def _session(self, thread_id: str) -> Any:
        s = self.sessions.get(thread_id)
        if s is None:
            s = await self.svc.get_session(
                app_name=APP,
                user_id=self._user(thread_id),
                session_id=thread_id,
                config=self._cfg(num_recent_events=0),
            )
            self.sessions[thread_id] = s
        return s

    async def append(self, thread_id: str, batch: list[Any]) -> Any:
        s = await self._session(thread_id)
        for ev in batch:
            await self.svc.append_event(s, ev)
        # the service also keeps every event on the in-memory Session object;
        # drop them so a long build does not measure that list
        s.events.clear()

    async def _recent(self, thread_id: str, n: int | None) -> list[Any]:
        cfg = None if n is None else self._cfg(num_recent_events=n)
        s = await self.svc.get_session(
            app_name=APP, user_id=self._user(thread_id), session_id=thread_id, config=cfg
        )
        return list(s.events)

    def load(self, thread_id: str) -> Any:
        return self._recent(thread_id, None)

    def recent(self, thread_id: str, n: int) -> Any:
        return self._recent(thread_id, n)

    async def context(self, thread_id: str, max_tokens: int) -> Any:
        n = 32
        while True:
            got = await self._recent(thread_id, n)
            window = trim_to_budget(got, max_tokens, text_of)
            if len(window) < len(got) or len(got) < n:
                return window
            n *= 2

    async def list_threads(self, user_id: str, limit: int) -> Any:
        resp = await self.svc.list_sessions(app_name=APP, user_id=user_id)
        return sorted(resp.sessions, key=lambda s: s.last_update_time, reverse=True)[:limit]

    async def bulk_import(self, thread_id: str, user_id: str, batch: list[Any]) -> Any:
        await self.create_thread(thread_id, user_id)
        await self.append(thread_id, batch)


class ADKDatabaseSessionPostgres(ADKDatabaseSessionSQLite):
    label = "google-adk DatabaseSessionService postgres"
    backend = "postgres"
    packages = ("google-adk", "sqlalchemy", "asyncpg")
    durability = "PostgreSQL defaults (synchronous_commit=on), asyncpg"

    def url(self) -> str:
        assert self.pg_url
        return self.pg_url.replace("postgresql://", "postgresql+asyncpg://", 1)
