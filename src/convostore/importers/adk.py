"""``adk-database``: the sessions of Google ADK's ``DatabaseSessionService``
(a SQLAlchemy URL: SQLite, PostgreSQL, MySQL...) or ``SqliteSessionService``
(a SQLite file), one thread per session.

Both keep the same tables (``sessions``, ``events``, ``app_states``,
``user_states``; ADK does not let them be renamed), with an event's whole JSON
in ``events.event_data``. Each event becomes the message the session service
(:mod:`convostore.integrations.adk`) would have stored for it, with the same
ids, so an imported session reads back through the service as ADK stored it.

Options: ``app_name`` — the app whose sessions to import (needed when the
database holds several). Import into the tenant of that name (``--tenant
APP``): the session service reads an app's sessions from its tenant.

Not imported: ``app:`` and ``user:`` state (``app_states``, ``user_states``),
which belong to no session; the database schema of ADK before 1.19 (events
without ``event_data``: migrate it with ADK's ``adk migrate session`` first).

Reads with SQLAlchemy (installed with ``convostore[adk]``); needs no ADK.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from convostore.errors import ValidationError
from convostore.importers import Source, SourceThread
from convostore.integrations.adk._convert import message_for, thread_for, thread_id_for
from convostore.model import Message

__all__ = ["open_source"]

_OPTIONS = {"app_name"}
#: Async drivers ADK's URLs name, and the sync driver read here instead.
_SYNC_DRIVERS = {
    "sqlite+aiosqlite": "sqlite",
    "postgresql+asyncpg": "postgresql+psycopg",
    "postgresql+psycopg_async": "postgresql+psycopg",
    "mysql+aiomysql": "mysql+pymysql",
    "mysql+asyncmy": "mysql+pymysql",
}


def _url(source: str) -> str:
    if "://" not in source:
        if not os.path.isfile(source):
            raise ValidationError(f"no such file: {source!r}", field="source")
        return "sqlite:///" + os.path.abspath(source)
    scheme, sep, rest = source.partition("://")
    if scheme == "postgresql" or scheme == "postgres":
        scheme = "postgresql+psycopg"
    return _SYNC_DRIVERS.get(scheme, scheme) + sep + rest


def _seconds(value: Any) -> float:
    """A stored time as seconds since the epoch: a float (SqliteSessionService),
    a naive UTC datetime, or its text (DatabaseSessionService)."""
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return float(value.timestamp())
    raise ValidationError(f"unreadable time {value!r}", field="source")


def _json(value: Any) -> Any:
    if isinstance(value, str | bytes):
        return json.loads(value)
    return value


class _AdkSource:
    def __init__(self, url: str, app_name: str | None) -> None:
        try:
            import sqlalchemy as sa
        except ImportError as exc:  # pragma: no cover - sqlalchemy ships with the extra
            raise ValidationError(
                "reading ADK's database needs SQLAlchemy: pip install sqlalchemy", field="source"
            ) from exc
        self._sa = sa
        self._engine = sa.create_engine(url)
        try:
            inspector = sa.inspect(self._engine)
            tables = set(inspector.get_table_names())
            if not {"sessions", "events"} <= tables:
                raise ValidationError(
                    "not an ADK session database (no sessions and events tables)", field="source"
                )
            columns = {c["name"] for c in inspector.get_columns("events")}
            if "event_data" not in columns:
                raise ValidationError(
                    "an ADK session database of the schema before 1.19 (events without "
                    "event_data): migrate it with ADK's `adk migrate session` first",
                    field="source",
                )
            # DatabaseSessionService orders a session's events by (timestamp, id);
            # SqliteSessionService, which keeps no metadata table, by (timestamp, rowid).
            self._order = (
                "timestamp, id"
                if "adk_internal_metadata" in tables or self._engine.dialect.name != "sqlite"
                else "timestamp, rowid"
            )
            with self._engine.connect() as conn:
                apps = [
                    r[0]
                    for r in conn.execute(
                        sa.text("SELECT DISTINCT app_name FROM sessions ORDER BY app_name")
                    )
                ]
        except BaseException:
            self._engine.dispose()
            raise
        if app_name is None:
            if len(apps) > 1:
                self._engine.dispose()
                raise ValidationError(
                    f"the database holds the sessions of several apps ({', '.join(apps)}): "
                    "choose one with --option app_name=APP (and --tenant APP)",
                    field="app_name",
                )
            app_name = apps[0] if apps else ""
        self._app = app_name

    def threads(self) -> Iterator[SourceThread]:
        sa = self._sa
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT user_id, id, state, create_time, update_time FROM sessions "
                    "WHERE app_name = :app ORDER BY user_id, id"
                ),
                {"app": self._app},
            ).all()
        for user_id, session_id, state, created, updated in rows:
            thread = thread_for(
                self._app,
                user_id,
                session_id,
                _json(state) or {},
                _seconds(created),
                _seconds(updated),
            )
            keys = {"app": self._app, "user": user_id, "session": session_id}
            with self._engine.connect() as conn:
                count = conn.execute(
                    sa.text(
                        "SELECT count(*) FROM events WHERE app_name = :app AND "
                        "user_id = :user AND session_id = :session"
                    ),
                    keys,
                ).scalar_one()
            yield SourceThread(thread=thread, count=int(count), messages=self._reader(keys))

    def _reader(self, keys: Mapping[str, str]) -> Callable[[], Iterator[Message]]:
        return lambda: self._messages(keys)

    def _messages(self, keys: Mapping[str, str]) -> Iterator[Message]:
        sa = self._sa
        thread_id = thread_id_for(keys["user"], keys["session"])
        query = sa.text(
            "SELECT id, invocation_id, timestamp, event_data FROM events WHERE app_name = :app "
            f"AND user_id = :user AND session_id = :session ORDER BY {self._order}"
        )
        with self._engine.connect().execution_options(stream_results=True) as conn:
            for event_id, invocation_id, timestamp, data in conn.execute(query, dict(keys)):
                event = dict(_json(data) or {})
                # As ADK reads a row back: the columns' id and invocation, the
                # payload's exact timestamp (the column's when it has none).
                event["id"] = event_id
                event["invocation_id"] = invocation_id
                if event.get("timestamp") is None:
                    event["timestamp"] = _seconds(timestamp)
                yield message_for(thread_id, event)

    def total_messages(self) -> int | None:
        with self._engine.connect() as conn:
            total = conn.execute(
                self._sa.text("SELECT count(*) FROM events WHERE app_name = :app"),
                {"app": self._app},
            ).scalar_one()
        return int(total)

    def close(self) -> None:
        self._engine.dispose()


def open_source(name: str, source: str, options: Mapping[str, str]) -> Source:
    """Open ADK's session database at ``source`` (a SQLAlchemy URL, or the path
    of a SQLite file)."""
    unknown = set(options) - _OPTIONS
    if unknown:
        raise ValidationError(
            f"unknown option {sorted(unknown)[0]!r} for {name}; expected app_name",
            field="option",
        )
    return _AdkSource(_url(source), options.get("app_name"))
