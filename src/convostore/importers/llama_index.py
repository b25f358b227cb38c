"""``llama-index-sql``: the tables of LlamaIndex's ``SQLAlchemyChatStore``.

``SOURCE`` is the store's SQLAlchemy URL (``sqlite+aiosqlite:///memory.db``,
``postgresql+asyncpg://...``) or the path of its SQLite file. Options:
``table_name`` (default ``llama_index_memory``, the table ``Memory`` uses) and
``db_schema`` (a PostgreSQL schema). SQLite is read with :mod:`sqlite3`; other
databases through SQLAlchemy (installed with LlamaIndex) and a sync driver.

Each key becomes a thread of that id, each row a message with the id
``llama-index-<table>-<row id>``, converted as the adapter converts a
``ChatMessage`` (:mod:`convostore.integrations.llama_index._convert`), so the
imported thread reads back through ``ConvostoreChatStore`` exactly as
LlamaIndex stored it. Rows keep their order (timestamp, then id), their time as
``created_at``, and an archived row is archived (at its time).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from convostore.errors import ValidationError
from convostore.importers import SourceThread
from convostore.integrations.llama_index._convert import to_message
from convostore.model import Attachment, Message, Thread
from convostore.store.rules.attachments import extract_parts
from convostore.store.settings import Limits

__all__ = ["DEFAULT_TABLE", "open_source"]

DEFAULT_TABLE = "llama_index_memory"
"""The table ``Memory.from_defaults`` stores its messages in."""

_OPTIONS = {"table_name", "db_schema"}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_LIMITS = Limits(max_attachment_bytes=2**62)  # the store checks sizes when it stores them

Query = Callable[[str, tuple[Any, ...]], Iterator[tuple[Any, ...]]]


def _name(value: str, option: str) -> str:
    if not _NAME.match(value):
        raise ValidationError(f"{value!r} is not a table or schema name", field=option)
    return value


def _time(ns: object) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(ns) / 1e9, dt.UTC) if isinstance(ns, int) else _epoch()


def _epoch() -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class LlamaIndexSource:
    """The keys of one chat store table, read a row at a time."""

    def __init__(self, query: Query, close: Callable[[], None], table: str, qualified: str) -> None:
        self._query = query
        self._close = close
        self._table = table
        self._from = qualified

    def _one(self, sql: str, *args: Any) -> Any:
        rows = list(self._query(sql, args))  # read whole: no cursor left open
        return rows[0][0] if rows else None

    def total_messages(self) -> int | None:
        return int(self._one(f"SELECT COUNT(*) FROM {self._from}"))

    def threads(self) -> Iterator[SourceThread]:
        keys = [row[0] for row in self._query(f"SELECT DISTINCT key FROM {self._from}", ())]
        for key in sorted(keys):
            count = int(self._one(f"SELECT COUNT(*) FROM {self._from} WHERE key = ?", key))
            first = self._one(f"SELECT MIN(timestamp) FROM {self._from} WHERE key = ?", key)
            last = self._one(f"SELECT MAX(timestamp) FROM {self._from} WHERE key = ?", key)
            thread = Thread(id=key, created_at=_time(first), updated_at=_time(last))
            yield SourceThread(
                thread=thread,
                count=count,
                messages=functools.partial(self._messages, key),
                attachments=functools.partial(self._attachments, key),
            )

    def _attachments(self, key: str) -> list[Attachment]:
        """The bytes the messages of ``key`` hold inline, stored before them
        (the messages reference them by hash, as the store keeps them, so a
        rerun finds them equal to what it stored)."""
        blobs: dict[str, Attachment] = {}
        for _ in self._messages(key, blobs):
            pass
        return list(blobs.values())

    def _messages(self, key: str, blobs: dict[str, Attachment] | None = None) -> Iterator[Message]:
        rows = self._query(
            f"SELECT id, timestamp, status, data FROM {self._from} WHERE key = ? "
            "ORDER BY timestamp, id",
            (key,),
        )
        for row_id, timestamp, status, data in rows:
            chat = json.loads(data) if isinstance(data, str | bytes) else data
            if not isinstance(chat, dict):
                raise ValidationError(
                    f"row {row_id} of {self._table} holds no ChatMessage", field="data"
                )
            at = _time(timestamp)
            msg = to_message(
                chat,
                id=f"llama-index-{self._table}-{row_id}",
                created_at=at,
                archived_at=at if status == "archived" else None,
            )
            moved = extract_parts(msg.parts, {} if blobs is None else blobs, _LIMITS, "parts")
            yield msg if moved is None else msg.model_copy(update={"parts": moved})

    def close(self) -> None:
        self._close()


def _sqlite_path(source: str) -> str | None:
    """The file of a SQLite URL or path, ``None`` for another database's URL."""
    match = re.match(r"^sqlite(\+\w+)?://(?P<rest>.*)$", source)
    if match:
        rest = match.group("rest")
        return rest[1:] if rest.startswith("/") else rest
    return None if "://" in source else source


def _open_sqlite(path: str, table: str) -> LlamaIndexSource:
    if not Path(path).is_file():
        raise ValidationError(f"no SQLite file at {path!r}", field="source")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def query(sql: str, args: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
        yield from conn.execute(sql, args)

    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    if found is None:
        conn.close()
        raise ValidationError(f"{path!r} has no table {table!r}", field="table_name")
    return LlamaIndexSource(query, conn.close, table, f'"{table}"')


def _sync_url(url: str) -> str:
    """The URL with a sync driver in place of LlamaIndex's async one."""
    for async_driver, sync_driver in (("+asyncpg", "+psycopg"), ("+aiomysql", "+pymysql")):
        url = url.replace(async_driver, sync_driver, 1)
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            return "postgresql+psycopg://" + url[len(bare) :]
    return url


def _open_sqlalchemy(url: str, table: str, schema: str | None) -> LlamaIndexSource:
    try:
        import sqlalchemy
    except ImportError as exc:  # pragma: no cover - SQLAlchemy comes with LlamaIndex
        raise ValidationError(
            "reading a database other than SQLite needs SQLAlchemy: "
            "pip install 'convostore[llama-index]'",
            field="source",
        ) from exc
    engine = sqlalchemy.create_engine(_sync_url(url))
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

    qualified = f'"{schema}"."{table}"' if schema else f'"{table}"'
    return LlamaIndexSource(query, close, table, qualified)


def open_source(name: str, source: str, options: dict[str, str]) -> LlamaIndexSource:
    """Open the chat store table at ``source`` (a SQLAlchemy URL or a SQLite
    path); options ``table_name`` and ``db_schema``."""
    unknown = set(options) - _OPTIONS
    if unknown:
        raise ValidationError(
            f"unknown option {sorted(unknown)[0]!r} for {name}; expected "
            f"{', '.join(sorted(_OPTIONS))}",
            field="option",
        )
    table = _name(options.get("table_name", DEFAULT_TABLE), "table_name")
    schema = options.get("db_schema")
    path = _sqlite_path(source)
    if path is not None:
        return _open_sqlite(path, table)
    return _open_sqlalchemy(source, table, None if schema is None else _name(schema, "db_schema"))
