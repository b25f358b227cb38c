"""The PostgreSQL backend behaves exactly like the memory reference backend.

A seeded random script of operations (good and bad: stale revisions, re-sent
ids, other tenants' ids, deleted threads, paging both ways) runs against both
stores with the very same arguments; every result and every error must match.
Both stores read one clock that moves on between calls, so even the times a
store assigns itself (``created_at`` when not given, ``updated_at``,
``deleted_at``, ``exported_at``) must match to the microsecond.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest
from pydantic import BaseModel

from convostore import ConvostoreError, Message, Thread
from convostore.model import (
    ConversationSnapshot,
    CostInfo,
    MessageMetadata,
    Page,
    TokenUsage,
    ToolCallPart,
)
from convostore.store import Store, open_store
from convostore.store.settings import Limits, StoreSettings

pytestmark = pytest.mark.postgres


class StepClock:
    """A clock that stands still within a call and moves on 1 ms between them."""

    def __init__(self) -> None:
        self.now = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def tick(self) -> None:
        self.now += dt.timedelta(milliseconds=1)


def _settings(clock: StepClock, **limits: Any) -> StoreSettings:
    return StoreSettings(limits=Limits(**limits), clock=clock)


def _norm(value: Any) -> Any:
    if isinstance(value, Page):
        return {
            "items": [_norm(v) for v in value.items],
            "next": value.next_cursor
            if value.items and isinstance(value.items[0], Message)
            else value.next_cursor is not None,
            "prev": value.prev_cursor,
        }
    if isinstance(value, BaseModel):
        out = {}
        for name in type(value).model_fields:
            v = getattr(value, name)
            out[name] = _norm(v)
        return out
    if isinstance(value, list | tuple):
        return [_norm(v) for v in value]
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    return value


class Twin:
    """Calls the same method with the same arguments on two stores and compares."""

    def __init__(self, ref: Store, other: Store, clock: StepClock) -> None:
        self.ref, self.other, self.clock = ref, other, clock
        self.calls = 0
        self.errors = 0

    def call(self, tenant: str, name: str, *args: Any, **kwargs: Any) -> Any:
        results = []
        self.clock.tick()
        for s in (self.ref, self.other):
            try:
                results.append(("ok", getattr(s.tenant(tenant), name)(*args, **kwargs)))
            except ConvostoreError as exc:
                results.append(("error", exc))
        (kind_a, a), (kind_b, b) = results
        self.calls += 1
        where = f"{name}{args}{kwargs} on tenant {tenant}"
        if kind_a == "error" or kind_b == "error":
            assert (kind_a, type(a), str(a)) == (kind_b, type(b), str(b)), where
            self.errors += 1
            return None
        assert _norm(a) == _norm(b), where
        return a


def _message(rng: random.Random, n: int) -> Message:
    kind = rng.randrange(5)
    ex = rng.choice([None, "ex1", "ex2"])
    if kind == 0:
        return Message.user(f"question {n}", id=f"m{n}")
    if kind == 1:
        return Message.assistant(
            f"answer {n}", id=f"m{n}", execution_id=ex, token_count=rng.randrange(50)
        ).with_metadata(
            MessageMetadata(
                token_usage=TokenUsage.of(3, 4), cost=CostInfo(input_cost=0.5, total_cost=0.5)
            )
        )
    if kind == 2:
        return Message.assistant(id=f"m{n}", execution_id=ex).with_parts(
            ToolCallPart(tool_call_id=f"c{n}", tool_name="search", args={"q": n})
        )
    if kind == 3:
        return Message.tool(f"result {n}", f"c{n - 1}", tool_name="search", id=f"m{n}")
    return Message.system("be brief", id=f"m{n}")


def _script(twin: Twin, rng: random.Random, steps: int) -> None:
    tenants = ["default", "acme"]
    threads = [f"t{i}" for i in range(4)]
    sent: list[Message] = []
    n = 0
    base = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    for tid in threads[:3]:
        twin.call(
            "default",
            "create_thread",
            Thread(
                id=tid,
                user_id=rng.choice(["u1", "u2"]),
                agent_name=rng.choice(["a", "b"]),
                created_at=base,
                updated_at=base,
            ),
        )
    twin.call("acme", "create_thread", Thread(id="t0", user_id="u1"))
    for _ in range(steps):
        tenant = rng.choice(tenants) if rng.random() < 0.2 else "default"
        tid = rng.choice(threads)
        action = rng.randrange(16)
        rev = _revision(twin.ref, tenant, tid, rng)
        if action in (7, 14) and rng.random() < 0.5:
            action = 0  # deleting and purging less often keeps threads writable
        if action <= 3:
            batch = []
            for _ in range(rng.randint(1, 3)):
                if sent and rng.random() < 0.15:
                    batch.append(rng.choice(sent))  # a re-send
                else:
                    n += 1
                    batch.append(_message(rng, n))
            out = twin.call(tenant, "append", tid, batch, expected_revision=rev)
            if out:
                sent.extend(batch)
        elif action == 4 and sent:
            m = rng.choice(sent)
            twin.call(
                tenant,
                "update_message",
                m.id,
                expected_revision=rev,
                pinned=rng.random() < 0.5,
                token_count=rng.randrange(9),
            )
        elif action == 5 and sent:
            twin.call(tenant, "delete_message", rng.choice(sent).id, expected_revision=rev)
        elif action == 6:
            twin.call(
                tenant,
                "update_thread",
                tid,
                expected_revision=rev,
                title=f"title {rng.random():.3f}",
                metadata={"k": [1, 2]},
            )
        elif action == 7:
            twin.call(tenant, "delete_thread", tid, expected_revision=rev)
        elif action == 8:
            twin.call(tenant, "restore_thread", tid, expected_revision=rev)
        elif action == 9:
            limit = rng.randint(1, 4)
            twin.call(
                tenant,
                "list_messages",
                tid,
                limit=limit,
                from_end=rng.random() < 0.5,
                include_deleted=rng.random() < 0.5,
            )
            _walk(twin, tenant, tid, limit)
        elif action == 10:
            twin.call(tenant, "recent", tid, rng.randint(0, 6), include_deleted=rng.random() < 0.5)
        elif action == 11:
            twin.call(
                tenant,
                "messages_by_execution",
                rng.choice(["ex1", "ex2"]),
                thread_id=rng.choice([None, tid]),
            )
        elif action == 12:
            _list_all(twin, tenant, rng)
        elif action == 13:
            snap = twin.call(tenant, "export_thread", tid)
            if isinstance(snap, ConversationSnapshot):
                twin.call(tenant, "import_thread", snap, thread_id=f"copy{rng.randrange(3)}")
                twin.call(rng.choice(tenants), "import_thread", snap)
        elif action == 14 and rng.random() < 0.3:
            twin.call(tenant, "purge_thread", tid, expected_revision=rev)
        elif action == 15:
            twin.call(tenant, "get_thread", tid)
            if sent:
                twin.call(tenant, "get_message", rng.choice(sent).id)
            if rng.random() < 0.2:
                twin.call(tenant, "create_thread", Thread(id=tid, user_id="u3"))
    for tenant in tenants:
        _list_all(twin, tenant, rng)
        for tid in threads:
            twin.call(tenant, "export_thread", tid)


def _revision(ref: Store, tenant: str, tid: str, rng: random.Random) -> int | None:
    """Mostly no check, sometimes the current revision, sometimes a stale one."""
    roll = rng.random()
    if roll < 0.6:
        return None
    try:
        current = ref.tenant(tenant).get_thread(tid).revision
    except ConvostoreError:
        return rng.randrange(5)
    return current if roll < 0.85 else max(0, current - rng.randint(1, 3))


def _walk(twin: Twin, tenant: str, tid: str, limit: int) -> None:
    """Page forward to the end and back to the start with the stores' cursors."""
    for direction in ("next_cursor", "prev_cursor"):
        page = twin.call(
            tenant, "list_messages", tid, limit=limit, from_end=direction == "prev_cursor"
        )
        while page is not None and getattr(page, direction):
            page = twin.call(
                tenant, "list_messages", tid, limit=limit, cursor=getattr(page, direction)
            )


def _pages(store: Store, **kwargs: Any) -> Iterator[list[str]]:
    cursor = None
    while True:
        page = store.list_threads(cursor=cursor, **kwargs)
        yield [t.id for t in page.items]
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _list_all(twin: Twin, tenant: str, rng: random.Random) -> None:
    kwargs: dict[str, Any] = {
        "user_id": rng.choice([None, "u1", "u2"]),
        "agent_name": rng.choice([None, "a"]),
        "include_deleted": rng.random() < 0.5,
    }
    a = list(_pages(twin.ref.tenant(tenant), limit=2, **kwargs))
    b = list(_pages(twin.other.tenant(tenant), limit=2, **kwargs))
    assert a == b, kwargs
    twin.call(tenant, "count_threads", **kwargs)
    twin.call(tenant, "summaries", limit=rng.choice([None, 2]), **kwargs)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_same_results_as_memory(pg_url: str, schema: str, seed: int) -> None:
    clock = StepClock()
    with (
        open_store("memory://", settings=_settings(clock)) as ref,
        open_store(pg_url, schema=schema, auto_migrate=True, settings=_settings(clock)) as pg,
    ):
        twin = Twin(ref, pg, clock)
        _script(twin, random.Random(seed), 250)
    assert twin.calls > 300
    assert twin.errors > 20  # the script exercises the error paths too


class _Alternating:
    """Two stores on one schema, each call made on either at random: two
    processes, each remembering thread rows the other changes under it."""

    def __init__(self, rng: random.Random, *stores: Store) -> None:
        self.rng, self.stores = rng, stores

    def tenant(self, name: str) -> Store:
        return self.rng.choice(self.stores).tenant(name)


def test_same_results_as_memory_from_two_processes(pg_url: str, schema: str) -> None:
    clock = StepClock()
    with (
        open_store("memory://", settings=_settings(clock)) as ref,
        open_store(pg_url, schema=schema, auto_migrate=True, settings=_settings(clock)) as a,
        open_store(pg_url, schema=schema, settings=_settings(clock)) as b,
    ):
        twin = Twin(ref, cast(Store, _Alternating(random.Random(9), a, b)), clock)
        _script(twin, random.Random(4), 300)
    assert twin.calls > 300


def test_validation_and_limits_match(pg_url: str, schema: str) -> None:
    clock = StepClock()
    settings = _settings(clock, max_message_bytes=2000, max_thread_bytes=3000)
    with (
        open_store("memory://", settings=settings) as ref,
        open_store(pg_url, schema=schema, auto_migrate=True, settings=settings) as pg,
    ):
        twin = Twin(ref, pg, clock)
        call: Callable[..., Any] = twin.call
        call("default", "create_thread", Thread(id="t", title="x" * 5000))
        call("default", "create_thread", Thread(id="t"))
        call(
            "default", "append", "t", [Message.user("ok", id="a"), Message.user("y" * 3000, id="b")]
        )
        call("default", "append", "t", Message.user("nul \x00 here", id="c"))
        call("default", "append", "t", Message.user("ok", id="a"))
        call("default", "append", "t", [Message.user("one", id="d"), Message.user("two", id="d")])
        call("default", "append", "t", Message.user("ok", id="e", thread_id="other"))
        call("default", "update_thread", "t", metadata={"big": "z" * 4000})
        call("default", "export_thread", "t")
        assert twin.errors == 6
