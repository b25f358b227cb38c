"""Identifiers: tenants, users, threads, messages and executions take ids as
identity providers, chat platforms and people make them; ids holding control
characters are refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from convostore.errors import ThreadNotFoundError, ValidationError
from convostore.model import Message
from convostore.testing.contract.base import (
    ContractBase,
    StoreLike,
    assert_typed,
    capabilities,
    fingerprint,
    raised,
)

__all__ = ["REAL_WORLD_IDS", "REFUSED_IDS", "IdentifierContract"]

#: Ids as identity providers, chat platforms and people make them, plus ones that
#: would be trouble if used unescaped as a file name, a URL path segment or inside
#: a cursor. Each must be accepted everywhere an id is and come back exactly.
REAL_WORLD_IDS: tuple[str, ...] = (
    "auth0|64b7f0c2e1",
    "google-oauth2|1180",
    "slack/C123",
    "alice@example.com",
    "José",
    "Jose\u0301",
    "Alice",
    "alice",
    "漢字",
    "Ωμέγα",
    "👨\u200d👩\u200d👧 family",
    "../x",
    "..",
    ".",
    ".lock",
    "%2e%2e",
    "%",
    "a/b",
    "a\\b",
    "x?y#z&w=1+2",
    "CON",
    "nul.txt",
    " spaced out ",
    "~tilde",
    "\u200fRTL mark",
    "\u202eevil",
    "\u200bzero width",
    "\ufeffbom",
    "Ω" * 255,
    "😀" * 255,
)

#: Ids that are refused: empty, too long, or holding a control character (C0, DEL,
#: C1), a line or paragraph separator, or a lone surrogate.
REFUSED_IDS: tuple[str, ...] = (
    "",
    "a\x00b",
    "line\nbreak",
    "tab\there",
    "\x1b[31mred",
    "del\x7f",
    "c1\x85",
    "ls\u2028",
    "ps\u2029",
    "lone\ud800",
    "x" * 256,
    "😀" * 256,
)


def _id_label(value: str) -> str:
    return ascii(value)[:40]


class IdentifierContract(ContractBase):
    """Tenants, users, threads, messages and executions take real-world ids."""

    def test_real_world_ids_round_trip(
        self, store: StoreLike, reopen: Callable[[], StoreLike] | None
    ) -> None:
        for n, rid in enumerate(REAL_WORLD_IDS):
            view = store.tenant(rid)
            view.create_thread(id=rid, user_id=rid, title=f"thread {n}")
            view.append(
                rid,
                [
                    Message.user("question", id=rid, execution_id=rid),
                    Message.assistant("answer", id=f"reply-{n}", parent_id=rid, execution_id=rid),
                ],
            )

        def check(s: StoreLike) -> None:
            for n, rid in enumerate(REAL_WORLD_IDS):
                view = s.tenant(rid)
                thread = view.get_thread(rid)
                assert (thread.id, thread.tenant_id, thread.user_id) == (rid, rid, rid)
                assert thread.title == f"thread {n}"
                assert [t.id for t in view.list_threads(user_id=rid)] == [rid]
                first = view.list_messages(rid, limit=1)
                second = view.list_messages(rid, limit=1, cursor=first.next_cursor)
                assert [m.id for m in [*first, *second]] == [rid, f"reply-{n}"]
                assert [m.thread_id for m in [*first, *second]] == [rid, rid]
                assert [m.parent_id for m in second] == [rid]
                assert view.get_message(rid).execution_id == rid
                assert [m.id for m in view.messages_by_execution(rid, thread_id=rid)] == [
                    rid,
                    f"reply-{n}",
                ]
                snap = view.export_thread(rid)
                assert snap.thread.id == rid and [m.id for m in snap.messages] == [
                    rid,
                    f"reply-{n}",
                ]

        check(store)
        if capabilities(store).durable:
            check(self.durable_reopen(store, reopen)())

    def test_real_world_thread_ids_through_every_write(self, store: StoreLike) -> None:
        source = store.tenant("source")
        source.create_thread(id="src")
        source.append("src", [Message.user("q", id="m1"), Message.assistant("a", id="m2")])
        snap = source.export_thread("src")
        for rid in REAL_WORLD_IDS:
            store.import_thread(snap, thread_id=rid, new_ids=True)
            store.update_thread(rid, title="renamed", user_id=rid)
            stored = store.append(rid, Message.user("more"))
            store.update_message(stored[0].id, pinned=True)
            store.delete_message(stored[0].id)
            store.delete_thread(rid)
            assert rid not in [t.id for t in store.list_threads()]
            store.restore_thread(rid)
            assert store.get_thread(rid).title == "renamed"
            assert [m.content for m in store.recent(rid, 10)] == ["q", "a"]
            store.purge_thread(rid)
            with pytest.raises(ThreadNotFoundError):
                store.get_thread(rid)
        assert store.count_threads(include_deleted=True) == 0

    def test_thread_listing_pages_over_real_world_ids(self, store: StoreLike) -> None:
        for rid in REAL_WORLD_IDS:
            store.create_thread(id=rid, user_id="u|1")
        seen: list[str] = []
        cursor = None
        while True:
            page = store.list_threads(user_id="u|1", limit=4, cursor=cursor)
            seen.extend(t.id for t in page)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert sorted(seen) == sorted(REAL_WORLD_IDS)
        assert len(seen) == len(set(seen)) == store.count_threads(user_id="u|1")

    @pytest.mark.parametrize("bad", REFUSED_IDS, ids=_id_label)
    def test_ids_with_control_characters_are_refused(self, store: StoreLike, bad: str) -> None:
        store.create_thread(id="t1")
        store.append("t1", Message.user("hi", id="m1"))
        before = fingerprint(store, "t1")
        snap = store.export_thread("t1")
        user = {"role": "user", "content": "x"}
        cases: list[tuple[Callable[[], object], str]] = [
            (lambda: store.create_thread(id=bad), "id"),
            (lambda: store.create_thread(user_id=bad), "user_id"),
            (lambda: store.update_thread("t1", user_id=bad), "user_id"),
            (lambda: store.tenant(bad), "tenant"),
            (lambda: store.get_thread(bad), "thread_id"),
            (lambda: store.list_threads(user_id=bad), "user_id"),
            (lambda: store.append(bad, Message.user("x")), "thread_id"),
            (lambda: store.append("t1", {**user, "id": bad}), "id"),
            (lambda: store.append("t1", {**user, "execution_id": bad}), "execution_id"),
            (lambda: store.append("t1", {**user, "parent_id": bad}), "parent_id"),
            (lambda: store.get_message(bad), "message_id"),
            (lambda: store.messages_by_execution(bad), "execution_id"),
            (lambda: store.import_thread(snap, thread_id=bad, new_ids=True), "thread_id"),
        ]
        for action, field in cases:
            exc = raised(action)
            assert_typed(exc)
            assert isinstance(exc, ValidationError), exc
            assert exc.field is not None and field in exc.field, (field, exc.field, exc)
        assert fingerprint(store, "t1") == before

    def test_listing_ties_order_ids_by_code_point(self, store: StoreLike) -> None:
        # Copies of one snapshot keep its update time, so the listing orders them by
        # id alone: by code point on every backend (UTF-8 byte order is the same),
        # and the cursor, which compares ids, agrees with the order.
        store.create_thread(id="source")
        store.append("source", Message.user("q"))
        snap = store.export_thread("source")
        ids = [rid for rid in REAL_WORLD_IDS if rid != "source"]
        for rid in ids:
            store.import_thread(snap, thread_id=rid, new_ids=True)
        store.purge_thread("source")
        seen: list[str] = []
        cursor = None
        while True:
            page = store.list_threads(limit=3, cursor=cursor)
            seen.extend(t.id for t in page)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == sorted(ids, reverse=True)
