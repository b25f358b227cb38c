"""PostgreSQL whole-thread reads decode with the cyclic garbage collector paused,
in both faces, and switch it back on afterwards (see
tests/backends/test_gc_pause.py for why)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable

import pytest

import convostore.store._logic as logic
from convostore import Message
from convostore.store import Store, open_async_store
from convostore.store.postgres import _handlers

pytestmark = pytest.mark.postgres


Record = Callable[[object, str], list[bool]]


def test_sync_loads_and_export(store: Store, collector_log: Record) -> None:
    store.create_thread(id="t")
    store.append("t", [Message.user(f"m{i}") for i in range(25)])
    typed = collector_log(_handlers, "_message")
    dicts = collector_log(logic, "from_json")
    assert len(store.load_messages("t")) == 25
    assert len(store.export_thread("t").messages) == 25
    assert len(store.load_messages("t", as_dicts=True)) == 25
    assert typed == [False] * 50
    assert dicts == [False] * 25
    assert gc.isenabled()


def test_async_load(pg_url: str, schema: str, collector_log: Record) -> None:
    async def main() -> list[bool]:
        async with open_async_store(pg_url, schema=schema, auto_migrate=True) as s:
            await s.create_thread(id="t")
            await s.append("t", [Message.user(f"m{i}") for i in range(25)])
            seen = collector_log(_handlers, "_message")
            assert len(await s.load_messages("t")) == 25
            return seen

    assert asyncio.run(main()) == [False] * 25
    assert gc.isenabled()
