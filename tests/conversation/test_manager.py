"""ConversationManager: get-or-create under concurrency, expiry, retention, disabled mode."""

from __future__ import annotations

import asyncio
import datetime as dt
import multiprocessing
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests._harness import BackendSpec, Harness, backend_params, require

from convostore import (
    Message,
    Role,
    Store,
    Thread,
    ThreadDeletedError,
    ToolCallPart,
    ValidationError,
    open_async_store,
    open_store,
)
from convostore.context import validate_context
from convostore.conversation import (
    AsyncConversationManager,
    ConversationManager,
    SessionConfig,
)
from convostore.model import utcnow

from .helpers import Clock, run


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A fresh store of each backend (``store_url``)."""
    with open_store(store_url) as opened:
        yield opened


def test_get_or_create_32_threads_create_exactly_one(store: Store) -> None:
    manager = ConversationManager(store)
    barrier = threading.Barrier(32)

    def call(_: int) -> tuple[bool, str]:
        barrier.wait()
        conv = manager.get_or_create("shared", system_prompt="sys")
        return conv.created, conv.id

    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(call, range(32)))
    assert sum(created for created, _ in results) == 1
    assert {cid for _, cid in results} == {"shared"}
    assert store.count_threads() == 1
    # the winner's system prompt was written once
    assert [m.role for m in store.list_messages("shared").items] == [Role.SYSTEM]


def test_get_or_create_32_tasks_create_exactly_one(store_url: str) -> None:
    async def main() -> None:
        async with open_async_store(store_url) as store:
            manager = AsyncConversationManager(store)
            convs = await asyncio.gather(*(manager.get_or_create("shared") for _ in range(32)))
            assert sum(c.created for c in convs) == 1
            assert await store.count_threads() == 1

    run(main())


def _worker(url: str, n: int, out: multiprocessing.Queue[int]) -> None:  # pragma: no cover
    store = open_store(url)
    manager = ConversationManager(store)
    with ThreadPoolExecutor(n) as pool:
        created = sum(pool.map(lambda _: manager.get_or_create("shared").created, range(n)))
    store.close()
    out.put(created)


@pytest.mark.parametrize("spec", backend_params("multi_process"))
def test_get_or_create_across_processes_creates_exactly_one(
    spec: BackendSpec, tmp_path: Path
) -> None:
    require(spec)
    harness = Harness(spec, "sync", tmp_path)
    try:
        _race_processes(harness.create())  # the store exists before the race
    finally:
        harness.cleanup()


def _race_processes(url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue[int] = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(url, 8, out)) for _ in range(4)]
    for p in procs:
        p.start()
    created = sum(out.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert created == 1
    store = open_store(url)
    assert store.count_threads() == 1
    store.close()


def test_expired_session_is_replaced_by_a_fresh_one(store: Store) -> None:
    clock = Clock()
    manager = ConversationManager(store, SessionConfig(idle_timeout=60), clock=clock)
    old = manager.get_or_create("s", user_id="u")
    old.add(Role.USER, "old news")
    clock.advance(30)
    same = manager.get_or_create("s")
    assert not same.created and len(same.messages()) == 1
    clock.advance(3600)
    fresh = manager.get_or_create("s", user_id="u")
    assert fresh.created and fresh.messages() == [] and fresh.id == "s"


def test_expired_replacement_races_end_with_one_session(store: Store) -> None:
    manager = ConversationManager(store, SessionConfig(idle_timeout=60))
    store.create_thread(Thread(id="s", updated_at=utcnow() - dt.timedelta(hours=2)))
    assert manager.get("s") is not None and manager.get("s").is_expired()  # type: ignore[union-attr]
    with ThreadPoolExecutor(16) as pool:
        convs = list(pool.map(lambda _: manager.get_or_create("s"), range(16)))
    assert sum(c.created for c in convs) == 1
    assert store.count_threads() == 1
    assert store.list_messages("s").items == []


def test_deleted_session_is_never_purged_by_get_or_create(store: Store) -> None:
    manager = ConversationManager(store)
    manager.create("s").add(Role.USER, "x")
    assert manager.delete("s")
    assert manager.get("s") is None and not manager.delete("s")
    with pytest.raises(ThreadDeletedError, match="restore it"):
        manager.get_or_create("s")
    assert [m.content for m in store.list_messages("s").items] == ["x"]
    assert manager.delete("s", purge=True) and manager.list() == []
    assert manager.get_or_create("s").created  # purged explicitly: a new one


def test_cleanup_expired_returns_the_count(store: Store) -> None:
    clock = Clock()
    manager = ConversationManager(store, SessionConfig(idle_timeout=60), clock=clock)
    for i in range(3):
        manager.create(f"old{i}")
    later = clock.now + dt.timedelta(seconds=120)
    fresh = ConversationManager(store, SessionConfig(idle_timeout=60))
    assert manager.cleanup_expired(now=later) == 3
    assert manager.list() == []
    assert fresh.cleanup_expired() == 0


def test_enforce_max_sessions_keeps_the_most_recently_updated(store: Store) -> None:
    manager = ConversationManager(store)
    convs = [manager.create(f"s{i}") for i in range(5)]
    convs[0].add(Role.USER, "I am active again")
    assert manager.enforce_max_sessions(2) == 3
    assert set(manager.list()) == {"s0", "s4"}
    assert manager.enforce_max_sessions(10) == 0
    with pytest.raises(ValidationError):
        manager.enforce_max_sessions(-1)


def test_enforce_max_sessions_per_user_keeps_n_for_each_user(store: Store) -> None:
    manager = ConversationManager(store)
    for user in ("alice", "bob"):
        for i in range(3):
            manager.create(f"{user}{i}", user_id=user)
    manager.create("anon0")
    manager.create("anon1")
    manager.get("alice0").add(Role.USER, "active again")  # type: ignore[union-attr]
    assert manager.enforce_max_sessions(1, per_user=True) == 5  # 2 + 2 + 1
    assert set(manager.list()) == {"alice0", "bob2", "anon1"}
    assert manager.enforce_max_sessions(1, per_user=True) == 0


def test_disabled_manager_is_a_cheap_no_op(store: Store) -> None:
    manager = ConversationManager(store, enabled=False)
    assert not manager.is_enabled
    conv = manager.get_or_create("s", system_prompt="sys")
    conv.add(Role.USER, "hello")  # the handle works, in memory only
    assert [m.role for m in conv.messages()] == [Role.SYSTEM, Role.USER]
    assert manager.create("t").id == "t"
    assert manager.get("s") is None
    assert manager.list() == [] and manager.list_for_user("u") == []
    assert manager.count() == 0 and not manager.delete("s")
    assert manager.cleanup_expired() == 0 and manager.enforce_max_sessions(0) == 0
    assert manager.update(conv) is conv
    assert store.count_threads() == 0
    assert ConversationManager(None, enabled=False).list() == []
    with pytest.raises(ValidationError):
        ConversationManager(None)


def test_disabled_async_manager() -> None:
    async def main() -> None:
        manager = AsyncConversationManager(None, enabled=False)
        conv = await manager.get_or_create("s")
        await conv.add(Role.USER, "hi")
        assert len(await conv.messages()) == 1
        assert await manager.list() == [] and await manager.count() == 0
        assert await manager.cleanup_expired() == 0
        assert await manager.enforce_max_sessions(1) == 0
        assert await manager.get("s") is None

    run(main())


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["chat", "tool1", "tool3"]), max_size=14), st.integers(1, 6))
def test_trimming_never_orphans_a_tool_result(script: list[str], limit: int) -> None:
    # a fresh store per example: the rule is the conversation layer's, the same on
    # every backend (the tests of test_limits.py run it on each)
    store = open_store("memory://")
    conv = ConversationManager(store, SessionConfig(max_messages=limit)).create("t")
    for n, step in enumerate(script):
        conv.add(Role.USER, f"q{n}")
        if step != "chat":
            ids = [f"c{n}_{i}" for i in range(int(step[-1]))]
            conv.add_message(
                Message.assistant("").with_parts(
                    [ToolCallPart(tool_call_id=i, tool_name="f") for i in ids]
                )
            )
            for i in ids:
                conv.add_message(Message.tool("ok", i))
        conv.add(Role.ASSISTANT, f"a{n}")
    active = conv.messages()
    assert len(active) <= limit
    codes = {i.code for i in validate_context(active, "openai-responses")}
    assert not codes & {"result_without_call", "call_without_result"}
