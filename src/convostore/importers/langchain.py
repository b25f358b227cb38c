"""Importer ``langchain-sql``: LangChain's ``SQLChatMessageHistory`` tables
(``convostore[langchain]`` and SQLAlchemy).

SOURCE is a SQLAlchemy URL (``sqlite:///chat.db``, ``postgresql://...``) or
the path of a SQLite file. Options: ``table_name`` (default
``message_store``) and ``session_id_field_name`` (default ``session_id``), as
``SQLChatMessageHistory`` takes them. Each session becomes the thread of the
same id; each row a message whose id is derived from the table and the row's
``id``, converted exactly as :class:`~convostore.integrations.langchain.
ConvostoreChatMessageHistory` converts it, so the thread reads back through
the adapter as LangChain stored it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from convostore.errors import ValidationError
from convostore.importers import Source, SourceThread
from convostore.integrations.langchain import from_langchain, messages_from_dict
from convostore.model import Message, Thread

__all__ = ["open_source"]

_OPTIONS = {"table_name": "message_store", "session_id_field_name": "session_id"}


def message_id(table: str, row_id: int) -> str:
    """The convostore id of row ``row_id`` of ``table``."""
    return f"langchain-sql:{table}:{row_id}"


class _SQLSource:
    def __init__(self, url: str, table: str, column: str) -> None:
        try:
            import sqlalchemy as sa
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ValidationError(
                "the langchain-sql importer needs SQLAlchemy: pip install sqlalchemy",
                field="from",
            ) from exc
        self._sa = sa
        self._engine = sa.create_engine(url)
        meta = sa.MetaData()
        try:
            self._table = sa.Table(table, meta, autoload_with=self._engine)
        except sa.exc.NoSuchTableError:
            self._engine.dispose()
            raise ValidationError(
                f"the source has no table {table!r}", field="table_name"
            ) from None
        except sa.exc.SQLAlchemyError as exc:
            self._engine.dispose()
            raise ValidationError(f"cannot read the source: {exc}", field="source") from None
        for name in ("id", column, "message"):
            if name not in self._table.c:
                self._engine.dispose()
                raise ValidationError(
                    f"table {table!r} has no column {name!r}",
                    field="session_id_field_name" if name == column else "table_name",
                )
        self._name = table
        self._session = self._table.c[column]

    def threads(self) -> Iterator[SourceThread]:
        sa, t = self._sa, self._table
        query = (
            sa.select(self._session, sa.func.count(), sa.func.min(t.c.id))
            .group_by(self._session)
            .order_by(sa.func.min(t.c.id))
        )
        with self._engine.connect() as conn:
            sessions = [(str(s), int(n)) for s, n, _ in conn.execute(query) if s is not None]
        for session_id, count in sessions:
            yield SourceThread(
                thread=Thread(id=session_id),
                count=count,
                messages=functools.partial(self._messages, session_id),
            )

    def _messages(self, session_id: str) -> Iterator[Message]:
        sa, t = self._sa, self._table
        query = sa.select(t.c.id, t.c.message).where(self._session == session_id).order_by(t.c.id)
        with self._engine.connect() as conn:
            rows = conn.execution_options(stream_results=True, yield_per=500).execute(query)
            for row_id, text in rows:
                try:
                    data: Any = json.loads(text)
                    lc = messages_from_dict([data])[0]
                except (TypeError, ValueError, KeyError) as exc:
                    raise ValidationError(
                        f"row {row_id} of {self._name!r} is not a LangChain message: {exc}",
                        field="message",
                    ) from None
                yield from_langchain(lc, id=message_id(self._name, int(row_id)))

    def total_messages(self) -> int | None:
        with self._engine.connect() as conn:
            total = conn.execute(self._sa.select(self._sa.func.count()).select_from(self._table))
            return int(total.scalar_one())

    def close(self) -> None:
        self._engine.dispose()


def open_source(name: str, source: str, options: Mapping[str, str]) -> Source:
    """Open LangChain's SQL chat history tables at ``source`` (a SQLAlchemy URL
    or a SQLite file path)."""
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise ValidationError(
            f"unknown option {unknown[0]!r} for {name}; expected {', '.join(_OPTIONS)}",
            field="option",
        )
    settings = {**_OPTIONS, **options}
    url = source if "://" in source else f"sqlite:///{Path(source).resolve()}"
    if "://" not in source and not Path(source).is_file():
        raise ValidationError(f"no SQLite file at {source!r}", field="source")
    return _SQLSource(url, settings["table_name"], settings["session_id_field_name"])
