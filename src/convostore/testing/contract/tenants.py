"""Tenants: another tenant's ids behave like missing ones; ids are reused
independently per tenant."""

from __future__ import annotations

from collections.abc import Callable

from convostore.errors import NotFoundError
from convostore.model import Message
from convostore.testing.contract.base import (
    ContractBase,
    StoreLike,
    fingerprint,
    raised,
    setup_basic,
    thread_ids,
)

__all__ = ["TenantContract"]


class TenantContract(ContractBase):
    """Tenant isolation."""

    def test_other_tenants_ids_behave_like_missing_ones(self, store: StoreLike) -> None:
        setup_basic(store)
        other = store.tenant("other")
        assert other.tenant_id == "other"
        before = fingerprint(store, "t1")

        def same_as_missing(
            call: Callable[[StoreLike, str], object], real: str, missing: str
        ) -> None:
            leaked = raised(lambda: call(other, real))
            absent = raised(lambda: call(other, missing))
            assert type(leaked) is type(absent)
            assert isinstance(leaked, NotFoundError)
            assert str(leaked).replace(real, "?") == str(absent).replace(missing, "?")

        for thread_call in (
            lambda s, i: s.get_thread(i),
            lambda s, i: s.update_thread(i, title="x"),
            lambda s, i: s.delete_thread(i),
            lambda s, i: s.restore_thread(i),
            lambda s, i: s.purge_thread(i),
            lambda s, i: s.append(i, Message.user("x")),
            lambda s, i: s.list_messages(i),
            lambda s, i: s.recent(i),
            lambda s, i: s.export_thread(i),
        ):
            same_as_missing(thread_call, "t1", "t404")
        for message_call in (
            lambda s, i: s.get_message(i),
            lambda s, i: s.update_message(i, pinned=True),
            lambda s, i: s.delete_message(i),
        ):
            same_as_missing(message_call, "m1", "m404")
        assert other.messages_by_execution("e1") == []
        assert other.list_threads(include_deleted=True).items == []
        assert other.count_threads(include_deleted=True) == 0
        assert other.summaries(include_deleted=True) == []
        assert fingerprint(store, "t1") == before

    def test_tenants_reuse_ids_independently(self, store: StoreLike) -> None:
        setup_basic(store)
        other = store.tenant("other")
        other.create_thread(id="t1", title="theirs")
        stored = other.append("t1", Message.user("different", id="m1"))
        assert stored[0].seq == 1 and stored[0].content == "different"
        assert other.get_message("m1").content == "different"
        assert store.get_message("m1").content == "hello"
        assert store.get_thread("t1").title == "first"
        other.delete_thread("t1")
        assert store.get_thread("t1").deleted_at is None
        assert thread_ids(store.list_threads()) == ["t1"]
        assert store.tenant(store.tenant_id).get_thread("t1") == store.get_thread("t1")

    def test_snapshot_moves_between_tenants(self, store: StoreLike) -> None:
        setup_basic(store)
        snap = store.export_thread("t1")
        other = store.tenant("other")
        imported = other.import_thread(snap)
        assert imported.tenant_id == "other" and imported.id == "t1"
        assert other.export_thread("t1").messages == snap.messages
        store.purge_thread("t1")
        assert other.get_message("m1").content == "hello"
