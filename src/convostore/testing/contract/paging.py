"""Reading a thread's messages: pages in both directions, cursors, iteration,
whole-thread loads and the newest messages."""

from __future__ import annotations

import datetime as dt

import pytest

from convostore.errors import ThreadNotFoundError, ValidationError
from convostore.model import Message
from convostore.testing.contract.base import ContractBase, StoreLike, all_messages, seqs

__all__ = ["PagingContract"]


class PagingContract(ContractBase):
    """Pages, cursors and whole-thread reads of messages."""

    def test_list_messages_pages_forward(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        store.append("t1", [Message.user(str(i), id=f"m{i}") for i in range(1, 11)])
        store.delete_message("m5")
        pages, cursor = [], None
        while True:
            page = store.list_messages("t1", limit=3, cursor=cursor)
            pages.append(page)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert [seqs(p.items) for p in pages] == [[1, 2, 3], [4, 6, 7], [8, 9, 10]]
        assert pages[0].prev_cursor is None
        assert pages[1].prev_cursor is not None
        back = store.list_messages("t1", limit=3, cursor=pages[1].prev_cursor)
        assert seqs(back.items) == [1, 2, 3]

    def test_list_messages_pages_backward_from_end(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        store.append("t1", [Message.user(str(i), id=f"m{i}") for i in range(1, 11)])
        store.delete_message("m5")
        page = store.list_messages("t1", limit=3, from_end=True)
        assert seqs(page.items) == [8, 9, 10] and page.next_cursor is None
        got = [seqs(page.items)]
        while page.prev_cursor is not None:
            page = store.list_messages("t1", limit=3, cursor=page.prev_cursor)
            got.append(seqs(page.items))
        assert got == [[8, 9, 10], [4, 6, 7], [1, 2, 3]]
        middle = store.list_messages(
            "t1", limit=3, cursor=store.list_messages("t1", limit=3, from_end=True).prev_cursor
        )
        assert middle.next_cursor is not None
        assert seqs(store.list_messages("t1", limit=3, cursor=middle.next_cursor).items) == [
            8,
            9,
            10,
        ]
        with_deleted = store.list_messages("t1", limit=3, from_end=True, include_deleted=True)
        prev = store.list_messages(
            "t1", limit=3, cursor=with_deleted.prev_cursor, include_deleted=True
        )
        assert seqs(prev.items) == [5, 6, 7]

    def test_message_cursor_is_bound_to_its_thread(self, store: StoreLike) -> None:
        for tid in ("t1", "t2"):
            store.create_thread(id=tid)
            store.append(tid, [Message.user(str(i)) for i in range(3)])
        cursor = store.list_messages("t1", limit=1).next_cursor
        assert cursor is not None
        with pytest.raises(ValidationError):
            store.list_messages("t2", cursor=cursor)

    def test_iter_messages_reads_every_page(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        store.append("t1", [Message.user(str(i)) for i in range(25)])
        assert seqs(list(store.iter_messages("t1", batch=4))) == list(range(1, 26))

    def test_load_messages_reads_a_whole_thread_typed_or_as_dicts(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        stored = store.append(
            "t1",
            [Message.user(f"q{i}") for i in range(5)]
            + [Message.assistant("a", pinned=True, execution_id="ex")],
        )
        store.delete_message(stored[1].id)
        live = [m for m in all_messages(store, "t1") if m.deleted_at is None]
        assert store.load_messages("t1") == live
        every = all_messages(store, "t1")
        assert store.load_messages("t1", include_deleted=True) == every
        dicts = store.load_messages("t1", include_deleted=True, as_dicts=True)
        assert all(type(d) is dict for d in dicts)
        assert [Message.model_validate(d) for d in dicts] == every
        assert store.load_messages("t1", as_dicts=True)[0]["content"] == "q0"
        with pytest.raises(ThreadNotFoundError):
            store.load_messages("missing")
        with pytest.raises(ThreadNotFoundError):
            store.tenant("other").load_messages("t1")

    def test_recent_returns_newest_oldest_first(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        store.append("t1", [Message.user(str(i), id=f"m{i}") for i in range(1, 11)])
        assert seqs(store.recent("t1", 3)) == [8, 9, 10]
        store.delete_message("m10")
        assert seqs(store.recent("t1", 3)) == [7, 8, 9]
        assert seqs(store.recent("t1", 3, include_deleted=True)) == [8, 9, 10]
        assert store.recent("t1", 0) == []
        assert seqs(store.recent("t1", 50)) == list(range(1, 10))

    def test_recent_since_a_time_and_all(self, store: StoreLike) -> None:
        t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        at = [t0 + dt.timedelta(seconds=i) for i in range(1200)]
        # created_at out of seq order at the start: seq 1 is the newest of all
        msgs = [Message.user("late", id="late", created_at=at[-1] + dt.timedelta(hours=1))]
        msgs += [Message.user(str(i), id=f"m{i}", created_at=at[i]) for i in range(1200)]
        store.create_thread(id="t1")
        store.append("t1", msgs)
        got = store.recent("t1", 3, since=at[1000])
        assert [m.id for m in got] == ["m1197", "m1198", "m1199"]
        # fewer than n since it: read back through every page to the first message
        got = store.recent("t1", 1000, since=at[1100])
        assert [m.id for m in got] == ["late"] + [f"m{i}" for i in range(1100, 1200)]
        assert len(store.recent("t1", None)) == 1201
        assert [m.id for m in store.recent("t1", None, since=at[-1])] == ["late", "m1199"]
        naive = at[1198].replace(tzinfo=None)  # a naive time is UTC
        assert [m.id for m in store.recent("t1", None, since=naive)] == [
            "late",
            "m1198",
            "m1199",
        ]
        store.delete_message("m1199")
        assert [m.id for m in store.recent("t1", 5, since=at[1198])] == ["late", "m1198"]
        assert len(store.recent("t1", 5, since=at[1198], include_deleted=True)) == 3
        assert store.recent("t1", 0, since=t0) == []
        with pytest.raises(ValidationError) as bad:
            store.recent("t1", 3, since="yesterday")
        assert bad.value.field == "since"
        with pytest.raises(ThreadNotFoundError):
            store.recent("missing", None, since=t0)
        with pytest.raises(ThreadNotFoundError):
            store.tenant("other").recent("t1", 2, since=t0)
