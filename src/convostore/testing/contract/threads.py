"""Threads: fields, creation, updates, soft delete, restore, purge, listing."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from convostore.errors import (
    MessageNotFoundError,
    ThreadDeletedError,
    ThreadExistsError,
    ThreadNotFoundError,
)
from convostore.model import Message, Thread, ThreadSummary, TokenUsage
from convostore.testing.contract.base import (
    ContractBase,
    StoreLike,
    fingerprint,
    setup_basic,
    thread_ids,
)
from convostore.testing.contract.clock import ManualClock

__all__ = ["ThreadContract"]


class ThreadContract(ContractBase):
    """Creating, changing, deleting and listing threads."""

    def test_thread_fields_round_trip(self, store: StoreLike) -> None:
        created = store.create_thread(
            id="t1",
            user_id="u1",
            agent_name="agent",
            model="m",
            title="Title",
            metadata={"k": [1, 2.5, None, {"x": "y"}]},
            state={"variables": {"lang": "fr"}, "data": {"n": 1, "l": [True]}},
        )
        loaded = store.get_thread("t1")
        assert loaded == created
        assert loaded.state.variables == {"lang": "fr"}
        assert loaded.metadata == {"k": [1, 2.5, None, {"x": "y"}]}
        assert (loaded.revision, loaded.message_count, loaded.deleted_at) == (0, 0, None)

    def test_create_thread_ignores_client_counters(self, store: StoreLike) -> None:
        thread = Thread(
            id="t1", revision=7, message_count=3, turn_count=2, usage=TokenUsage.of(5, 5)
        )
        created = store.create_thread(thread)
        assert (created.revision, created.message_count, created.turn_count) == (0, 0, 0)
        assert store.get_thread("t1").usage == TokenUsage()

    def test_create_existing_thread_conflicts(self, store: StoreLike) -> None:
        store.create_thread(id="t1", title="original")
        with pytest.raises(ThreadExistsError):
            store.create_thread(id="t1", title="imposter")
        assert store.get_thread("t1").title == "original"

    def test_update_thread_sets_and_clears(self, store: StoreLike) -> None:
        store.create_thread(id="t1", title="a", model="m1")
        updated = store.update_thread(
            "t1", title="b", metadata={"x": 1}, state={"variables": {"v": "1"}}
        )
        assert (updated.title, updated.metadata, updated.state.variables) == (
            "b",
            {"x": 1},
            {"v": "1"},
        )
        assert updated.revision == 1
        cleared = store.update_thread("t1", title=None)
        assert cleared.title is None and cleared.model == "m1"
        assert store.get_thread("t1") == cleared

    def test_deleted_thread_refuses_writes_until_restored(self, store: StoreLike) -> None:
        setup_basic(store)
        store.delete_thread("t1")
        before = fingerprint(store, "t1")
        action: Callable[[], object]
        for action in (
            lambda: store.append("t1", Message.user("x")),
            lambda: store.update_thread("t1", title="x"),
            lambda: store.update_message("m1", pinned=True),
            lambda: store.delete_message("m1"),
        ):
            with pytest.raises(ThreadDeletedError):
                action()
        assert fingerprint(store, "t1") == before
        again = store.delete_thread("t1")
        assert again.deleted_at == before[0][0][0].deleted_at
        restored = store.restore_thread("t1")
        assert restored.deleted_at is None
        assert thread_ids(store.list_threads()) == ["t1"]
        assert store.append("t1", Message.user("back"))[0].seq == 3

    def test_purge_thread_removes_everything(self, store: StoreLike) -> None:
        setup_basic(store)
        store.create_thread(id="t2")
        store.purge_thread("t1")
        with pytest.raises(ThreadNotFoundError):
            store.get_thread("t1")
        with pytest.raises(MessageNotFoundError):
            store.get_message("m1")
        assert store.messages_by_execution("e1") == []
        assert thread_ids(store.list_threads(include_deleted=True)) == ["t2"]
        # the ids are free again
        store.create_thread(id="t1")
        assert store.append("t1", Message.user("hello", id="m1"))[0].seq == 1

    def test_list_threads_newest_activity_first(self, store: StoreLike, clock: ManualClock) -> None:
        self.check_clock(store, clock)
        for tid in ("a", "b", "c"):
            store.create_thread(id=tid)
            clock.advance(0.002)
        assert thread_ids(store.list_threads()) == ["c", "b", "a"]
        store.append("a", Message.user("bump"))
        assert thread_ids(store.list_threads()) == ["a", "c", "b"]
        clock.advance(0.002)
        store.update_thread("b", title="bump")
        assert thread_ids(store.list_threads()) == ["b", "a", "c"]

    def test_list_threads_pages_cover_everything_once(self, store: StoreLike) -> None:
        ids = [f"t{i}" for i in range(7)]
        for tid in ids:
            store.create_thread(id=tid)
        full = store.list_threads(limit=100)
        assert full.next_cursor is None
        order = thread_ids(full)
        assert sorted(order) == sorted(ids)
        times = [t.updated_at for t in full]
        assert times == sorted(times, reverse=True)
        pages, cursor = [], None
        while True:
            page = store.list_threads(limit=3, cursor=cursor)
            pages.append(thread_ids(page))
            cursor = page.next_cursor
            if cursor is None:
                break
        assert [len(p) for p in pages] == [3, 3, 1]
        assert [tid for p in pages for tid in p] == order

    def test_thread_filters_counts_and_summaries(self, store: StoreLike) -> None:
        store.create_thread(id="a1", user_id="ann", agent_name="x")
        store.create_thread(id="a2", user_id="ann", agent_name="y")
        store.create_thread(id="b1", user_id="bob", agent_name="x")
        store.delete_thread("a2")
        assert thread_ids(store.list_threads(user_id="ann")) == ["a1"]
        assert sorted(thread_ids(store.list_threads(agent_name="x"))) == ["a1", "b1"]
        assert thread_ids(
            store.list_threads(user_id="ann", agent_name="y", include_deleted=True)
        ) == ["a2"]
        assert store.count_threads() == 2
        assert store.count_threads(user_id="ann", include_deleted=True) == 2
        assert store.count_threads(user_id="nobody") == 0
        summaries = store.summaries(include_deleted=True)
        assert {s.id for s in summaries} == {"a1", "a2", "b1"}
        assert [s.id for s in store.summaries(limit=1)] == [store.list_threads().items[0].id]
        for s in summaries:
            assert s == ThreadSummary.of(store.get_thread(s.id))

    def test_unknown_ids_raise_not_found(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        with pytest.raises(ThreadNotFoundError) as thread_exc:
            store.get_thread("nope")
        assert thread_exc.value.thread_id == "nope"
        with pytest.raises(MessageNotFoundError) as msg_exc:
            store.get_message("nope")
        assert msg_exc.value.message_id == "nope"
        action: Callable[[], object]
        for action in (
            lambda: store.list_messages("nope"),
            lambda: store.recent("nope"),
            lambda: store.export_thread("nope"),
            lambda: store.restore_thread("nope"),
        ):
            with pytest.raises(ThreadNotFoundError):
                action()
        assert store.messages_by_execution("nope") == []
