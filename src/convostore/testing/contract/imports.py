"""Export and import: snapshots round-trip, imports under another id or with
new ids, refusals that write nothing, and imports in steps."""

from __future__ import annotations

import datetime as dt

import pytest

from convostore.errors import (
    ConflictError,
    DuplicateMessageError,
    ThreadDeletedError,
    ThreadExistsError,
    ThreadNotFoundError,
    UnsupportedSnapshotVersionError,
    ValidationError,
)
from convostore.model import ConversationSnapshot, Message, ParentType, Role, Thread, ToolCallPart
from convostore.testing.contract.base import (
    ContractBase,
    StoreLike,
    all_messages,
    fingerprint,
    seqs,
    setup_basic,
)

__all__ = ["ImportContract"]


class ImportContract(ContractBase):
    """Snapshots out of and into the store."""

    # === imports in steps ==========================================================

    def test_an_import_in_progress_is_hidden_until_finished(self, store: StoreLike) -> None:
        started = store.begin_import(Thread(id="imp", title="copy"))
        assert started.deleted_at is not None
        assert started.metadata["convostore.import"] == "incomplete"
        store.import_append("imp", [Message.user("a", id="a1"), Message.assistant("b", id="b1")])
        store.import_delete_message("b1")
        assert store.list_threads().items == [] and store.summaries() == []
        assert [t.id for t in store.list_threads(include_deleted=True).items] == ["imp"]
        with pytest.raises(ThreadDeletedError):  # no ordinary write reaches it
            store.append("imp", Message.user("c"))
        with pytest.raises(ValidationError):  # short: it stays hidden
            store.finish_import("imp", expected_count=3)
        assert store.list_threads().items == []
        done = store.finish_import("imp", expected_count=2)
        assert done.deleted_at is None and "convostore.import" not in done.metadata
        assert (done.message_count, done.live_message_count) == (2, 1)
        assert [t.id for t in store.list_threads().items] == ["imp"]
        assert [m.id for m in store.list_messages("imp").items] == ["a1"]
        with pytest.raises(ConflictError):  # finished: importing writes are refused
            store.import_append("imp", Message.user("c"))
        with pytest.raises(ConflictError):
            store.finish_import("imp")
        store.create_thread(id="live")
        with pytest.raises(ConflictError):
            store.import_append("live", Message.user("c"))
        with pytest.raises(ThreadExistsError):
            store.begin_import(Thread(id="live"))

    # === export / import ==========================================================

    def test_export_import_round_trip(self, store: StoreLike) -> None:
        setup_basic(store)
        store.append("t1", Message.tool("42", "c1", tool_name="calc"))
        store.update_message("m2", pinned=True)
        store.delete_message("m1")
        snap = store.export_thread("t1")
        assert [m.id for m in snap.messages] == [
            "m1",
            "m2",
            next(m.id for m in snap.messages if m.role is Role.TOOL),
        ]
        assert snap.pinned == [False, True, False]
        payload = snap.model_dump_json()
        copy = store.tenant("copy")
        copy.import_thread(payload)
        again = copy.export_thread("t1")
        assert again.messages == snap.messages
        assert again.pinned == snap.pinned
        for field in (
            "title",
            "user_id",
            "agent_name",
            "message_count",
            "turn_count",
            "tool_call_count",
            "created_at",
        ):
            assert getattr(again.thread, field) == getattr(snap.thread, field), field

    def test_import_under_new_id_and_pinned_flags(self, store: StoreLike) -> None:
        snap = ConversationSnapshot(
            thread=Thread(id="src", message_count=99, turn_count=99),
            messages=[
                Message.user("q", id="i1"),
                Message.assistant("a", id="i2"),
                Message.user("q2", id="i3"),
            ],
            pinned=[False, True, False],
        )
        imported = store.import_thread(snap, thread_id="dst")
        assert imported.id == "dst"
        assert (imported.message_count, imported.turn_count) == (3, 2)
        with pytest.raises(ThreadNotFoundError):
            store.get_thread("src")
        got = all_messages(store, "dst")
        assert seqs(got) == [1, 2, 3]
        assert [m.pinned for m in got] == [False, True, False]
        assert {m.thread_id for m in got} == {"dst"}
        assert store.append("dst", Message.user("more"))[0].seq == 4

    def test_import_refusals_write_nothing(self, store: StoreLike) -> None:
        setup_basic(store)
        before = fingerprint(store, "t1", "t9")
        with pytest.raises(UnsupportedSnapshotVersionError):
            store.import_thread({"version": 2, "thread": {"id": "t9"}, "messages": []})
        with pytest.raises(ThreadExistsError):
            store.import_thread(ConversationSnapshot(thread=Thread(id="t1")))
        with pytest.raises(DuplicateMessageError):
            store.import_thread(
                ConversationSnapshot(
                    thread=Thread(id="t9"),
                    messages=[Message.user("x", id="fresh"), Message.user("hello", id="m1")],
                )
            )
        assert fingerprint(store, "t1", "t9") == before

    def test_import_with_new_ids_copies_a_thread_beside_its_source(self, store: StoreLike) -> None:
        setup_basic(store)
        store.append(
            "t1",
            [
                Message.assistant(
                    "",
                    id="call",
                    parts=[ToolCallPart(tool_call_id="c1", tool_name="calc", args={"x": 1})],
                    parent_id="m1",
                    parent_type=ParentType.USER_MESSAGE,
                ),
                Message.tool(
                    "42",
                    "c1",
                    id="res",
                    tool_name="calc",
                    parent_id="call",
                    parent_type=ParentType.ASSISTANT_MESSAGE,
                    execution_id="run-1",
                ),
            ],
        )
        store.update_message("m2", pinned=True)
        store.delete_message("m2")
        snap = store.export_thread("t1")
        with pytest.raises(DuplicateMessageError):
            store.import_thread(snap, thread_id="t1-copy")
        copy = store.import_thread(snap, thread_id="t1-copy", new_ids=True)
        assert copy.id == "t1-copy"
        original = all_messages(store, "t1")
        copied = all_messages(store, "t1-copy")
        new_of = {o.id: c.id for o, c in zip(original, copied, strict=True)}
        assert not set(new_of) & set(new_of.values())
        for o, c in zip(original, copied, strict=True):
            assert c.thread_id == "t1-copy"
            assert (
                c.seq,
                c.role,
                c.content,
                c.parts,
                c.pinned,
                c.deleted_at,
                c.execution_id,
                c.created_at,
            ) == (
                o.seq,
                o.role,
                o.content,
                o.parts,
                o.pinned,
                o.deleted_at,
                o.execution_id,
                o.created_at,
            )
            assert c.parent_id == (new_of[o.parent_id] if o.parent_id else None)
        assert store.get_message(new_of["res"]).parent_id == new_of["call"]
        assert all_messages(store, "t1") == original
        # Without a thread id the copy gets a fresh one, and it can be done again.
        again = store.import_thread(snap, new_ids=True)
        assert again.id not in ("t1", "t1-copy")
        assert again.message_count == copy.message_count == len(original)

    def test_live_message_count_of_an_import(self, store: StoreLike) -> None:
        gone = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
        snap = ConversationSnapshot(
            thread=Thread(id="src", message_count=9, live_message_count=9),
            messages=[
                Message.user("q", id="i1"),
                Message.user("x", id="i2", deleted_at=gone),
                Message.assistant("a", id="i3"),
            ],
        )
        imported = store.import_thread(snap, thread_id="dst")
        assert (imported.message_count, imported.live_message_count) == (3, 2)
        assert store.get_thread("dst").live_message_count == 2
        store.restore_message("i2")
        store.delete_message("i1")
        store.delete_message("i3")
        copy = store.tenant("copy").import_thread(store.export_thread("dst"))
        assert (copy.message_count, copy.live_message_count) == (3, 1)
        assert store.tenant("copy").get_thread("dst").live_message_count == 1
