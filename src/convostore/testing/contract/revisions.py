"""Optimistic concurrency: ``expected_revision`` on every write."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from convostore.errors import RevisionConflictError, ThreadNotFoundError
from convostore.model import Message
from convostore.testing.contract.base import ContractBase, StoreLike, fingerprint, seqs, setup_basic

__all__ = ["RevisionContract"]


class RevisionContract(ContractBase):
    """Writes given a stale ``expected_revision`` are refused and change nothing."""

    def test_expected_revision_on_append(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        ok = store.append("t1", Message.user("a"), expected_revision=0)
        rev = store.get_thread("t1").revision
        assert rev > 0
        before = fingerprint(store, "t1")
        with pytest.raises(RevisionConflictError) as exc:
            store.append("t1", Message.user("stale"), expected_revision=0)
        assert (exc.value.expected, exc.value.actual, exc.value.thread_id) == (0, rev, "t1")
        assert fingerprint(store, "t1") == before
        more = store.append("t1", Message.user("b"), expected_revision=rev)
        assert seqs(ok + more) == [1, 2]

    def test_expected_revision_on_every_write(self, store: StoreLike) -> None:
        setup_basic(store)
        stale = store.get_thread("t1").revision
        store.update_thread("t1", title="moved on", expected_revision=stale)
        before = fingerprint(store, "t1")
        action: Callable[[], object]
        for action in (
            lambda: store.append("t1", Message.user("x"), expected_revision=stale),
            lambda: store.update_thread("t1", title="x", expected_revision=stale),
            lambda: store.update_message("m1", pinned=True, expected_revision=stale),
            lambda: store.delete_message("m1", expected_revision=stale),
            lambda: store.delete_thread("t1", expected_revision=stale),
            lambda: store.restore_thread("t1", expected_revision=stale),
            lambda: store.purge_thread("t1", expected_revision=stale),
        ):
            with pytest.raises(RevisionConflictError):
                action()
        assert fingerprint(store, "t1") == before
        current = store.get_thread("t1").revision
        deleted = store.delete_message("m1", expected_revision=current)
        assert deleted.is_deleted
        store.purge_thread("t1", expected_revision=store.get_thread("t1").revision)
        with pytest.raises(ThreadNotFoundError):
            store.get_thread("t1")

    def test_two_writers_from_one_revision_one_wins(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        seen = store.get_thread("t1").revision
        store.update_thread("t1", title="writer A", expected_revision=seen)
        with pytest.raises(RevisionConflictError):
            store.update_thread("t1", title="writer B", expected_revision=seen)
        assert store.get_thread("t1").title == "writer A"
