"""PostgreSQL reads give each message metadata of its own and share a thread's
zero usage and cost, like SQLite's (see tests/backends/test_shared_metadata.py
and test_thread_rows.py)."""

from __future__ import annotations

import asyncio

import pytest

from convostore import CostInfo, Message, MessageMetadata, TokenUsage
from convostore.model import _NO_COST, _NO_USAGE
from convostore.store import Store, open_async_store

pytestmark = pytest.mark.postgres


def _batch() -> list[Message]:
    return [
        Message.user("a"),
        Message.assistant("b").with_metadata(MessageMetadata(model="m")),
        Message.user("c"),
    ]


def _check(read: list[Message]) -> None:
    assert [m.metadata == MessageMetadata() for m in read] == [True, False, True]
    assert read[1].metadata.model == "m"
    read[0].metadata.extra["k"] = "v"
    assert read[2].metadata.extra == {}


def test_sync_reads(store: Store) -> None:
    store.create_thread(id="t")
    store.append("t", _batch())
    for read in (
        store.load_messages("t"),
        store.recent("t", 3),
        store.list_messages("t").items,
        store.export_thread("t").messages,
        store.context("t", max_tokens=1000).messages,
    ):
        _check(list(read))


def test_async_reads(pg_url: str, schema: str) -> None:
    async def main() -> list[list[Message]]:
        async with open_async_store(pg_url, schema=schema, auto_migrate=True) as s:
            await s.create_thread(id="t")
            await s.append("t", _batch())
            return [await s.load_messages("t"), await s.recent("t", 3)]

    for read in asyncio.run(main()):
        _check(read)


@pytest.mark.performance
def test_threads_share_zero_usage_and_cost(store: Store) -> None:
    store.create_thread(id="zero", user_id="u")
    store.append("zero", Message.user("hi"))
    store.create_thread(id="paid", user_id="u")
    cost = CostInfo(input_cost=0.5, total_cost=0.5, currency="EUR")
    store.append(
        "paid",
        Message.assistant("x").with_metadata(
            MessageMetadata(token_usage=TokenUsage.of(3, 4), cost=cost)
        ),
    )
    listed = {t.id: t for t in store.list_threads(user_id="u").items}
    for t in (store.get_thread("zero"), listed["zero"]):
        assert t.usage is _NO_USAGE and t.cost is _NO_COST
    for t in (store.get_thread("paid"), listed["paid"]):
        assert t.usage == TokenUsage.of(3, 4) and t.cost == cost
