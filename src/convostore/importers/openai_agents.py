"""``openai-agents-sqlite`` and ``openai-agents-sqlalchemy``: the sessions the
OpenAI Agents SDK's own ``SQLiteSession`` and ``SQLAlchemySession`` keep.

SOURCE is, for ``openai-agents-sqlite``, the ``SQLiteSession`` file (read-only,
with :mod:`sqlite3`); for ``openai-agents-sqlalchemy``, the SQLAlchemy URL the
session was made with (``sqlite+aiosqlite:///agents.db``,
``postgresql+asyncpg://...``; an async driver is read through its sync
counterpart) or the path of a SQLite file. Options: ``sessions_table``
(default ``agent_sessions``) and ``messages_table`` (default
``agent_messages``), as both sessions take them.

Each session becomes the thread of the same id, with the session's
``created_at`` and ``updated_at``; each row a message with the id
``openai-agents:<messages table>:<row id>`` and the row's ``created_at``,
converted by :func:`~convostore.integrations.openai_agents.item_to_message`
exactly as ``ConvostoreSession`` converts an item, so the imported thread reads
back through the adapter as the SDK stored it. Times without a zone (the SDK's
columns have none) are taken as UTC.

A row whose ``message_data`` is not JSON (the SDK's sessions skip such rows when
they read) is refused with a :class:`~convostore.errors.ValidationError` naming
the table and the row: nothing of a source is dropped silently.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import re
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from convostore.errors import ValidationError
from convostore.importers import Source, SourceThread
from convostore.integrations.openai_agents._items import item_to_message
from convostore.model import Message, Thread

__all__ = ["message_id", "open_source"]

_OPTIONS = {"sessions_table": "agent_sessions", "messages_table": "agent_messages"}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Query = Callable[[str, tuple[Any, ...]], Iterator[tuple[Any, ...]]]


def message_id(table: str, row_id: int) -> str:
    """The convostore id of row ``row_id`` of the messages table ``table``."""
    return f"openai-agents:{table}:{row_id}"


def _time(value: object) -> dt.datetime | None:
    """A column's time, as UTC (SQLite gives text, other databases datetimes)."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    return None


class AgentsSource:
    """The sessions of one pair of SDK tables, read a row at a time."""

    def __init__(
        self, query: Query, close: Callable[[], None], sessions: str, messages: str
    ) -> None:
        self._query = query
        self._close = close
        self._sessions = sessions
        self._messages_table = messages

    def _one(self, sql: str, *args: Any) -> Any:
        rows = list(self._query(sql, args))  # read whole: no cursor left open
        return rows[0][0] if rows else None

    def total_messages(self) -> int | None:
        return int(
            self._one(
                f'SELECT COUNT(*) FROM "{self._messages_table}" m '
                f'JOIN "{self._sessions}" s ON s.session_id = m.session_id'
            )
        )

    def threads(self) -> Iterator[SourceThread]:
        sessions = list(
            self._query(
                f'SELECT session_id, created_at, updated_at FROM "{self._sessions}" '
                "ORDER BY session_id",
                (),
            )
        )
        for session_id, created, updated in sessions:
            count = int(
                self._one(
                    f'SELECT COUNT(*) FROM "{self._messages_table}" WHERE session_id = ?',
                    session_id,
                )
            )
            fields: dict[str, Any] = {"id": str(session_id)}
            created_at, updated_at = _time(created), _time(updated)
            if created_at is not None:
                fields["created_at"] = created_at
            if updated_at is not None:
                fields["updated_at"] = max(updated_at, created_at or updated_at)
            yield SourceThread(
                thread=Thread(**fields),
                count=count,
                messages=functools.partial(self._messages, session_id),
            )

    def _messages(self, session_id: str) -> Iterator[Message]:
        rows = self._query(
            f'SELECT id, message_data, created_at FROM "{self._messages_table}" '
            "WHERE session_id = ? ORDER BY id",
            (session_id,),
        )
        for row_id, data, created in rows:
            try:
                item = json.loads(data)
            except (TypeError, ValueError) as exc:
                raise ValidationError(
                    f"row {row_id} of {self._messages_table!r} (session {session_id!r}) "
                    f"is not JSON: {exc}",
                    field="message_data",
                ) from None
            yield item_to_message(
                item, id=message_id(self._messages_table, int(row_id)), created_at=_time(created)
            )

    def close(self) -> None:
        self._close()


def _sqlite_path(source: str) -> str | None:
    """The file of a SQLite URL or path, ``None`` for another database's URL."""
    match = re.match(r"^sqlite(\+\w+)?://(?P<rest>.*)$", source)
    if match:
        rest = match.group("rest")
        return rest[1:] if rest.startswith("/") else rest
    return None if "://" in source else source


def _open_sqlite(path: str, sessions: str, messages: str) -> AgentsSource:
    if not Path(path).is_file():
        raise ValidationError(f"no SQLite file at {path!r}", field="source")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def query(sql: str, args: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
        cursor = conn.execute(sql, args)
        try:
            while rows := cursor.fetchmany(500):
                yield from rows
        finally:
            # A run stopped mid-thread closes the connection before this
            # generator is collected.
            with contextlib.suppress(sqlite3.ProgrammingError):
                cursor.close()

    try:
        names = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise ValidationError(f"{path!r} is not a SQLite database: {exc}", field="source") from None
    for table, option in ((sessions, "sessions_table"), (messages, "messages_table")):
        if table not in names:
            conn.close()
            raise ValidationError(f"{path!r} has no table {table!r}", field=option)
    return AgentsSource(query, conn.close, sessions, messages)


def _sync_url(url: str) -> str:
    """The URL with a sync driver in place of the SDK's async one."""
    for async_driver, sync_driver in (("+asyncpg", "+psycopg"), ("+aiomysql", "+pymysql")):
        url = url.replace(async_driver, sync_driver, 1)
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            return "postgresql+psycopg://" + url[len(bare) :]
    return url


def _open_sqlalchemy(url: str, sessions: str, messages: str) -> AgentsSource:
    try:
        import sqlalchemy
    except ImportError as exc:  # pragma: no cover - SQLAlchemy comes with the SDK's extra
        raise ValidationError(
            "reading a database other than SQLite needs SQLAlchemy: pip install sqlalchemy",
            field="source",
        ) from exc
    engine = sqlalchemy.create_engine(_sync_url(url))
    try:
        names = set(sqlalchemy.inspect(engine).get_table_names())
    except sqlalchemy.exc.SQLAlchemyError as exc:
        engine.dispose()
        raise ValidationError(f"cannot read the source: {exc}", field="source") from None
    for table, option in ((sessions, "sessions_table"), (messages, "messages_table")):
        if table not in names:
            engine.dispose()
            raise ValidationError(f"the source has no table {table!r}", field=option)
    conn = engine.connect()

    def query(sql: str, args: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
        names = iter(range(len(args)))
        bound = re.sub(r"\?", lambda _: f":p{next(names)}", sql)
        params = {f"p{i}": a for i, a in enumerate(args)}
        result = conn.execution_options(stream_results=True).execute(sqlalchemy.text(bound), params)
        try:
            yield from (tuple(row) for row in result)
        finally:
            result.close()

    def close() -> None:
        conn.close()
        engine.dispose()

    return AgentsSource(query, close, sessions, messages)


def open_source(name: str, source: str, options: Mapping[str, str]) -> Source:
    """Open the SDK session tables at ``source``; options ``sessions_table`` and
    ``messages_table``."""
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise ValidationError(
            f"unknown option {unknown[0]!r} for {name}; expected {', '.join(_OPTIONS)}",
            field="option",
        )
    settings = {**_OPTIONS, **options}
    for option, value in settings.items():
        if not _NAME.match(value):
            raise ValidationError(f"{value!r} is not a table name", field=option)
    sessions, messages = settings["sessions_table"], settings["messages_table"]
    if name == "openai-agents-sqlite":
        path = _sqlite_path(source)
        if path is None:
            raise ValidationError(
                f"{name} reads a SQLiteSession file, not {source!r} "
                "(use openai-agents-sqlalchemy for a database URL)",
                field="source",
            )
        return _open_sqlite(path, sessions, messages)
    path = _sqlite_path(source)
    if path is not None:
        return _open_sqlite(path, sessions, messages)
    return _open_sqlalchemy(source, sessions, messages)
