"""SQLite thread rows read back exactly, with zero usage and cost left out of the
JSON the model validates (the model's shared zero values stand in for them)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from pydantic import TypeAdapter

from convostore import CostInfo, Message, MessageMetadata, Thread, TokenUsage, open_store
from convostore.model import _NO_COST, _NO_USAGE
from convostore.store import Store
from convostore.store.settings import DEFAULT_LIMITS, Limits
from convostore.store.sql import rows
from convostore.store.sqlite._schema import MIGRATIONS
from convostore.store.sqlite._statements import SqliteStatements
from convostore.testing import strategies as cst

_THREAD_LIST = TypeAdapter(list[Thread])


def _thread_row(thread: Thread, limits: Limits) -> tuple[Any, ...]:
    """The ``rows.THREAD_READ`` row a read of ``thread`` returns: the thread
    written and read back by the backend's statements, in a scratch database."""
    sq = SqliteStatements()
    with contextlib.closing(sqlite3.connect(":memory:")) as conn:
        for migration in MIGRATIONS:
            for statement in migration.statements:
                conn.execute(statement)
        conn.execute(
            sq.thread_insert, rows.thread_values(thread, rows.thread_body(thread, limits), sq.time)
        )
        row: tuple[Any, ...] = conn.execute(sq.thread_get, (thread.tenant_id, thread.id)).fetchone()
    return row


def _row_json(row: Sequence[Any]) -> str:
    """The thread JSON a read validates from a row that starts with a
    ``rows.THREAD_READ`` row."""
    return rows.thread_json(row[: len(rows.THREAD_READ)])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{tmp_path}/t.db") as s:
        yield s


def _read_back(thread: Thread) -> list[Thread]:
    """``thread`` through its SQLite row and the row JSON a read validates. The two
    times are left for Python to format (as for a time before 1970)."""
    read = (*_thread_row(thread, DEFAULT_LIMITS), None, None)
    return _THREAD_LIST.validate_json(f"[{_row_json(read)}]")


@pytest.mark.performance
def test_zero_usage_and_cost_are_the_shared_values(store: Store) -> None:
    store.create_thread(id="a", user_id="u")
    store.append("a", Message.user("hi"))
    for t in (store.get_thread("a"), store.list_threads(user_id="u").items[0]):
        assert t.usage is _NO_USAGE and t.cost is _NO_COST


@pytest.mark.parametrize(
    "cost",
    [
        CostInfo(input_cost=0.25, output_cost=0.5, total_cost=0.75),
        CostInfo(currency="EUR"),  # zero, but not the default currency
        CostInfo(input_cost=1e-9, total_cost=1e-9, currency="JPY"),
    ],
)
def test_usage_and_cost_read_back_exactly(store: Store, cost: CostInfo) -> None:
    store.create_thread(id="a", user_id="u")
    meta = MessageMetadata(token_usage=TokenUsage.of(7, 5), cost=cost)
    store.append("a", Message.assistant("x").with_metadata(meta))
    for t in (store.get_thread("a"), store.list_threads(user_id="u").items[0]):
        assert t.usage == TokenUsage.of(7, 5)
        assert t.cost == cost and t.cost.currency == cost.currency


@settings(max_examples=150)
@given(cst.threads())
def test_row_json_validates_to_the_thread(thread: Thread) -> None:
    assert _read_back(thread) == [thread]


@pytest.mark.parametrize(
    "change",
    [
        {"usage": TokenUsage(prompt_tokens=1)},
        {"usage": TokenUsage(completion_tokens=1)},
        {"usage": TokenUsage(total_tokens=1)},
        {"cost": CostInfo(input_cost=0.5)},
        {"cost": CostInfo(output_cost=0.5)},
        {"cost": CostInfo(total_cost=0.5)},
        {"cost": CostInfo(currency="mixed")},
    ],
)
def test_any_one_nonzero_counter_is_kept(change: dict[str, object]) -> None:
    thread = Thread(**change)  # type: ignore[arg-type]
    assert _read_back(thread) == [thread]
