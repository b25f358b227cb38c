"""Durability: what a durable backend acknowledged is there after a reopen.

Runs on backends that declare the ``durable`` capability, through the
``reopen`` fixture.
"""

from __future__ import annotations

from collections.abc import Callable

from convostore.model import ConversationSnapshot, Message, Thread
from convostore.testing.contract.base import ContractBase, StoreLike, fingerprint, seqs, setup_basic

__all__ = ["DurabilityContract"]


class DurabilityContract(ContractBase):
    """What was written survives closing the store and opening it again."""

    def test_seed002_file_store_round_trip(
        self, store: StoreLike, reopen: Callable[[], StoreLike] | None
    ) -> None:
        reopen = self.durable_reopen(store, reopen)
        snap = ConversationSnapshot(
            thread=Thread(id="conversation", title="kept"),
            messages=[Message.user("hi"), Message.assistant("hello")],
            pinned=[True, False],
        )
        store.import_thread(snap)
        before = store.export_thread("conversation")
        again = reopen()
        after = again.export_thread("conversation")
        assert after.thread == before.thread
        assert after.messages == before.messages
        assert after.pinned == [True, False]

    def test_reopen_keeps_everything(
        self, store: StoreLike, reopen: Callable[[], StoreLike] | None
    ) -> None:
        reopen = self.durable_reopen(store, reopen)
        setup_basic(store)
        store.create_thread(id="gone")
        store.delete_thread("gone")
        store.delete_message("m1")
        store.update_thread("t1", state={"variables": {"a": "b"}, "data": {"n": [1]}})
        other = store.tenant("other")
        other.create_thread(id="t1")
        before = fingerprint(store, "t1", "gone")
        before_other = fingerprint(other, "t1")
        again = reopen()
        assert fingerprint(again, "t1", "gone") == before
        assert fingerprint(again.tenant("other"), "t1") == before_other
        assert seqs(again.append("t1", Message.user("after reopen"))) == [3]
