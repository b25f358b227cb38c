"""PostgreSQL reads share the one empty metadata instance, like SQLite's (see
tests/backends/test_shared_metadata.py)."""

from __future__ import annotations

import asyncio

import pytest

from convostore import Message, MessageMetadata
from convostore.model import _NO_METADATA
from convostore.store import Store, open_async_store

pytestmark = pytest.mark.postgres


def _batch() -> list[Message]:
    return [Message.user("a"), Message.assistant("b").with_metadata(MessageMetadata(model="m")),
            Message.user("c")]


def _check(read: list[Message]) -> None:
    assert [m.metadata is _NO_METADATA for m in read] == [True, False, True]
    assert read[1].metadata.model == "m"


def test_sync_reads(store: Store) -> None:
    store.create_thread(id="t")
    store.append("t", _batch())
    for read in (store.load_messages("t"), store.recent("t", 3), store.list_messages("t").items,
                 store.export_thread("t").messages, store.context("t", max_tokens=1000).messages):
        _check(list(read))


def test_async_reads(pg_url: str, schema: str) -> None:
    async def main() -> list[list[Message]]:
        async with open_async_store(pg_url, schema=schema, auto_migrate=True) as s:
            await s.create_thread(id="t")
            await s.append("t", _batch())
            return [await s.load_messages("t"), await s.recent("t", 3)]
    for read in asyncio.run(main()):
        _check(read)
