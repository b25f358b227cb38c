"""Rewrites of a thread's messages: purge one, pop the newest, clear, replace.

Each keeps seq gap-free (the later messages move down), the counters equal to
a recount of the stored messages, and checks like every other write
(``expected_revision``, tenants, a deleted thread).
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from convostore.errors import (
    AttachmentNotFoundError,
    DuplicateMessageError,
    MessageNotFoundError,
    RevisionConflictError,
    ThreadDeletedError,
    ThreadNotFoundError,
    ValidationError,
)
from convostore.model import CostInfo, ImagePart, Message, MessageMetadata, ToolCallPart
from convostore.store.rules.append import batch_delta
from convostore.testing.contract.attachments import _ref
from convostore.testing.contract.base import (
    PROPERTY_SETTINGS,
    ContractBase,
    StoreLike,
    all_messages,
    fingerprint,
    require_capability,
    seqs,
)

__all__ = ["RewriteContract", "assert_recounted"]


def assert_recounted(store: StoreLike, thread_id: str) -> None:
    """The thread's counters are a recount of its stored messages, seq runs
    1..n without a gap and each turn number counts the turn openers up to it."""
    thread = store.get_thread(thread_id)
    msgs = all_messages(store, thread_id)
    assert seqs(msgs) == list(range(1, len(msgs) + 1))
    turn = 0
    for m in msgs:
        turn += m.opens_turn
        assert m.turn == turn, (m.seq, m.turn, turn)
    d = batch_delta(msgs)
    assert thread.message_count == len(msgs)
    assert thread.live_message_count == sum(1 for m in msgs if m.deleted_at is None)
    assert thread.turn_count == d.turns
    assert thread.tool_call_count == d.tool_calls
    assert thread.token_count == d.tokens
    assert thread.usage.total_tokens == d.usage.total_tokens
    total = sum(m.metadata.cost.total_cost for m in msgs if m.metadata.cost)
    assert thread.cost.total_cost == pytest.approx(total, abs=1e-9)


def _conversation(store: StoreLike, thread_id: str = "t1") -> list[Message]:
    """A system prompt, two turns with a tool call, a pinned note; m1..m7."""
    store.create_thread(id=thread_id)
    call = ToolCallPart(tool_call_id="c1", tool_name="lookup", args={"q": "x"})
    cost = MessageMetadata(cost=CostInfo(total_cost=0.25))
    return list(
        store.append(
            thread_id,
            [
                Message.system("be brief", id=f"{thread_id}m1"),
                Message.user("first", id=f"{thread_id}m2"),
                Message.assistant(parts=[call], id=f"{thread_id}m3", metadata=cost),
                Message.tool("found", "c1", id=f"{thread_id}m4"),
                Message.assistant("answer", id=f"{thread_id}m5", metadata=cost),
                Message.user("second", id=f"{thread_id}m6", pinned=True),
                Message.assistant("again", id=f"{thread_id}m7"),
            ],
        )
    )


class RewriteContract(ContractBase):
    """Purge, pop, clear and replace keep seq gap-free and counters exact."""

    # purge one -----------------------------------------------------------------

    def test_purge_message_is_gone_and_later_ones_move_down(self, store: StoreLike) -> None:
        sent = _conversation(store)
        rev = store.get_thread("t1").revision
        gone = store.purge_message("t1m3")
        assert gone.id == "t1m3" and gone.seq == 3 and gone.tool_calls
        with pytest.raises(MessageNotFoundError):
            store.get_message("t1m3")
        after = all_messages(store, "t1")
        assert [m.id for m in after] == [m.id for m in sent if m.id != "t1m3"]
        assert store.get_message("t1m7").seq == 6
        thread = store.get_thread("t1")
        assert thread.revision == rev + 1 and thread.tool_call_count == 0
        assert thread.cost.total_cost == pytest.approx(0.25)
        assert_recounted(store, "t1")

    def test_purge_a_turn_opener_renumbers_the_later_turns(self, store: StoreLike) -> None:
        _conversation(store)
        store.purge_message("t1m2")
        assert [m.turn for m in all_messages(store, "t1")] == [0, 0, 0, 0, 1, 1]
        assert store.get_thread("t1").turn_count == 1
        assert_recounted(store, "t1")

    def test_purge_a_soft_deleted_message(self, store: StoreLike) -> None:
        _conversation(store)
        store.delete_message("t1m5")
        live = store.get_thread("t1").live_message_count
        store.purge_message("t1m5")
        assert store.get_thread("t1").live_message_count == live
        assert "t1m5" not in [m.id for m in all_messages(store, "t1")]
        assert_recounted(store, "t1")

    def test_purge_checks_like_every_message_write(self, store: StoreLike) -> None:
        _conversation(store)
        rev = store.get_thread("t1").revision
        with pytest.raises(RevisionConflictError):
            store.purge_message("t1m2", expected_revision=rev - 1)
        with pytest.raises(MessageNotFoundError):
            store.tenant("other").purge_message("t1m2")
        with pytest.raises(MessageNotFoundError):
            store.purge_message("nope")
        before = fingerprint(store, "t1")
        store.delete_thread("t1")
        with pytest.raises(ThreadDeletedError):
            store.purge_message("t1m2")
        store.restore_thread("t1")
        assert fingerprint(store, "t1")[0][0][1] == before[0][0][1]  # messages untouched
        store.purge_message("t1m2", expected_revision=store.get_thread("t1").revision)

    def test_a_seq_cursor_past_a_purged_message_shifts_by_one(self, store: StoreLike) -> None:
        _conversation(store)
        page = store.list_messages("t1", limit=4)
        store.purge_message("t1m2")
        rest = store.list_messages("t1", cursor=page.next_cursor).items
        assert [m.id for m in rest] == ["t1m6", "t1m7"]  # t1m5 moved to seq 4: skipped
        assert store.get_message("t1m5").seq == 4

    # pop -------------------------------------------------------------------------

    def test_pop_returns_the_newest_live_message(self, store: StoreLike) -> None:
        _conversation(store)
        store.delete_message("t1m7")
        popped = store.pop_message("t1")
        assert popped is not None and popped.id == "t1m6"
        after = all_messages(store, "t1")
        assert [m.id for m in after][-2:] == ["t1m5", "t1m7"]  # the deleted one stays
        assert after[-1].seq == 6 and after[-1].deleted_at is not None
        assert_recounted(store, "t1")

    def test_pop_until_empty(self, store: StoreLike) -> None:
        sent = _conversation(store)
        got = [store.pop_message("t1") for _ in sent]
        assert [m.id for m in got if m is not None] == [m.id for m in reversed(sent)]
        rev = store.get_thread("t1").revision
        assert store.pop_message("t1") is None
        thread = store.get_thread("t1")
        assert thread.revision == rev  # nothing to pop: nothing written
        assert thread.message_count == thread.turn_count == thread.token_count == 0
        assert thread.cost.total_cost == 0
        assert store.append("t1", Message.user("anew"))[0].seq == 1

    def test_pop_checks_like_every_write(self, store: StoreLike) -> None:
        _conversation(store)
        rev = store.get_thread("t1").revision
        with pytest.raises(RevisionConflictError):
            store.pop_message("t1", expected_revision=rev + 1)
        with pytest.raises(ThreadNotFoundError):
            store.tenant("other").pop_message("t1")
        with pytest.raises(ThreadNotFoundError):
            store.pop_message("nope")
        assert store.get_thread("t1").revision == rev
        assert store.pop_message("t1", expected_revision=rev) is not None

    # clear -----------------------------------------------------------------------

    def test_clear_archives_keeping_system_and_pinned(self, store: StoreLike) -> None:
        _conversation(store)
        assert store.clear_messages("t1") == 5
        msgs = all_messages(store, "t1")
        assert [m.id for m in msgs if m.archived_at is None] == ["t1m1", "t1m6"]
        assert len(msgs) == 7  # archived, still readable
        window = store.context("t1", max_tokens=10_000)
        assert [m.id for m in window.messages] == ["t1m1", "t1m6"]
        assert_recounted(store, "t1")
        rev = store.get_thread("t1").revision
        assert store.clear_messages("t1") == 0
        assert store.get_thread("t1").revision == rev

    def test_clear_delete_and_keep_options(self, store: StoreLike) -> None:
        _conversation(store)
        assert store.clear_messages("t1", mode="delete", keep="system") == 6
        live = store.list_messages("t1").items
        assert [m.id for m in live] == ["t1m1"]
        assert store.get_thread("t1").live_message_count == 1
        _conversation(store, "t2")
        assert store.clear_messages("t2", keep="none") == 7
        assert all(m.archived_at and not m.pinned for m in all_messages(store, "t2"))
        assert_recounted(store, "t1")

    def test_clear_purge_keeps_archived_and_deleted_rows(self, store: StoreLike) -> None:
        _conversation(store)
        store.delete_message("t1m4")
        store.update_message("t1m5", archived_at=store.get_message("t1m5").created_at)
        assert store.clear_messages("t1", mode="purge") == 3  # m2, m3, m7
        assert [m.id for m in all_messages(store, "t1")] == ["t1m1", "t1m4", "t1m5", "t1m6"]
        assert_recounted(store, "t1")

    def test_clear_refuses_bad_options_and_stale_writers(self, store: StoreLike) -> None:
        _conversation(store)
        before = fingerprint(store, "t1")
        with pytest.raises(ValidationError) as bad:
            store.clear_messages("t1", mode="shred")
        assert bad.value.field == "mode"
        with pytest.raises(ValidationError) as bad:
            store.clear_messages("t1", keep="pinned")
        assert bad.value.field == "keep"
        with pytest.raises(RevisionConflictError):
            store.clear_messages("t1", expected_revision=0)
        with pytest.raises(ThreadNotFoundError):
            store.tenant("other").clear_messages("t1")
        assert fingerprint(store, "t1") == before

    # trim ------------------------------------------------------------------------

    def test_trim_archives_the_oldest_and_returns_them(self, store: StoreLike) -> None:
        _conversation(store)
        taken = store.trim_messages("t1", 2)
        # keep="mandatory" skips the system prompt: the two oldest others go
        assert [(m.id, m.archived_at) for m in taken] == [("t1m2", None), ("t1m3", None)]
        msgs = all_messages(store, "t1")
        assert [m.id for m in msgs if m.archived_at is not None] == ["t1m2", "t1m3"]
        assert [m.id for m in store.trim_messages("t1", 1, keep="none")] == ["t1m1"]
        assert [m.id for m in store.trim_messages("t1", 10)] == ["t1m4", "t1m5", "t1m7"]
        assert store.trim_messages("t1", 10) == []
        assert_recounted(store, "t1")

    def test_trim_delete_and_purge(self, store: StoreLike) -> None:
        _conversation(store)
        assert [m.id for m in store.trim_messages("t1", 2, mode="delete", keep="none")] == [
            "t1m1",
            "t1m2",
        ]
        assert store.get_thread("t1").live_message_count == 5
        purged = store.trim_messages("t1", 2, mode="purge", keep="none")
        assert [(m.id, m.seq) for m in purged] == [("t1m3", 3), ("t1m4", 4)]
        assert [m.id for m in all_messages(store, "t1")] == ["t1m1", "t1m2", "t1m5", "t1m6", "t1m7"]
        assert_recounted(store, "t1")
        rev = store.get_thread("t1").revision
        assert store.trim_messages("t1", 0) == []
        assert store.get_thread("t1").revision == rev

    def test_trim_refuses_bad_input_and_changes_nothing(self, store: StoreLike) -> None:
        _conversation(store)
        before = fingerprint(store, "t1")
        for bad_n in (-1, 1.5, True, "2"):
            with pytest.raises(ValidationError) as bad:
                store.trim_messages("t1", bad_n)
            assert bad.value.field == "n"
        with pytest.raises(ValidationError):
            store.trim_messages("t1", 1, mode="shred")
        with pytest.raises(RevisionConflictError):
            store.trim_messages("t1", 1, expected_revision=0)
        with pytest.raises(ThreadNotFoundError):
            store.tenant("other").trim_messages("t1", 1)
        assert fingerprint(store, "t1") == before

    @given(data=st.data())
    @PROPERTY_SETTINGS
    def test_trims_take_the_oldest_active_once_each(self, store: StoreLike, data: Any) -> None:
        thread_id = f"trim-{next(_examples)}"
        store.create_thread(id=thread_id)
        store.append(thread_id, [Message.user(f"m{i}") for i in range(12)])
        modes = st.sampled_from(["archive", "delete", "purge"])
        steps = data.draw(st.lists(st.tuples(st.integers(0, 4), modes), max_size=8))
        taken: list[str] = []
        for n, mode in [*steps, (12, "archive")]:  # the last trim takes what is left
            got = store.trim_messages(thread_id, n, mode=mode, keep="none")
            assert len(got) == min(n, 12 - len(taken))
            taken += [m.id for m in got]
        stored = [m.id for m in all_messages(store, thread_id)]
        assert len(taken) == len(set(taken)) == 12
        assert [i for i in taken if i in stored] == [i for i in stored if i in taken]
        assert_recounted(store, thread_id)

    # replace ---------------------------------------------------------------------

    def test_replace_makes_the_new_messages_the_whole_history(self, store: StoreLike) -> None:
        _conversation(store)
        store.delete_message("t1m4")
        rev = store.get_thread("t1").revision
        new = [Message.system("be brief", id="t1m1"), Message.user("summary", id="s1")]
        stored = store.replace_messages("t1", new, expected_revision=rev)
        assert [(m.id, m.seq, m.turn) for m in stored] == [("t1m1", 1, 0), ("s1", 2, 1)]
        assert [m.id for m in all_messages(store, "t1")] == ["t1m1", "s1"]
        thread = store.get_thread("t1")
        assert thread.revision == rev + 1 and thread.cost.total_cost == 0
        assert_recounted(store, "t1")
        with pytest.raises(MessageNotFoundError):
            store.get_message("t1m7")
        assert store.replace_messages("t1", []) == []
        assert store.get_thread("t1").message_count == 0

    def test_replace_refuses_taken_ids_and_changes_nothing(self, store: StoreLike) -> None:
        _conversation(store)
        _conversation(store, "t2")
        before = fingerprint(store, "t1", "t2")
        with pytest.raises(DuplicateMessageError):
            store.replace_messages("t1", [Message.user("x", id="t2m2")])
        with pytest.raises(DuplicateMessageError):
            store.replace_messages("t1", [Message.user("x", id="a"), Message.user("y", id="a")])
        with pytest.raises(RevisionConflictError):
            store.replace_messages("t1", [Message.user("x")], expected_revision=0)
        with pytest.raises(ThreadNotFoundError):
            store.tenant("other").replace_messages("t1", [Message.user("x")])
        with pytest.raises(ValidationError):
            store.replace_messages("t1", [{"role": "wizard"}])
        assert fingerprint(store, "t1", "t2") == before

    # attachments -----------------------------------------------------------------

    def test_purged_messages_release_their_attachments(self, store: StoreLike) -> None:
        require_capability(store, "attachments")
        store.create_thread(id="t1")
        a, b = b"first image bytes", b"second image bytes"
        store.append(
            "t1",
            [
                Message.user("a", id="i1").with_parts(ImagePart(data=a)),
                Message.user("a again", id="i2").with_parts(ImagePart(data=a)),
                Message.user("b", id="i3").with_parts(ImagePart(data=b)),
            ],
        )
        store.purge_message("i1")  # i2 still holds a
        assert store.get_attachment(_ref(a)).data == a
        assert store.pop_message("t1") is not None  # i3: nothing else holds b
        with pytest.raises(AttachmentNotFoundError):
            store.attachment_info(_ref(b))
        kept = store.get_message("i2")
        store.replace_messages("t1", [kept])  # the same id keeps its reference
        assert store.get_attachment(_ref(a)).data == a
        store.clear_messages("t1", mode="purge")
        with pytest.raises(AttachmentNotFoundError):
            store.attachment_info(_ref(a))

    # counters after any sequence -----------------------------------------------------

    @PROPERTY_SETTINGS
    @given(steps=st.lists(st.sampled_from(["append", "batch", "pop", "purge", "delete",
                                           "archive", "clear", "clear_purge", "replace"]),
                          max_size=12), pick=st.integers(0, 1000))  # fmt: skip
    def test_counters_match_a_recount_after_any_rewrites(
        self, store: StoreLike, steps: list[str], pick: int
    ) -> None:
        tid = f"p{next(_examples)}"
        _conversation(store, tid)
        for step in steps:
            _apply(store, tid, step, pick)
            assert_recounted(store, tid)


_examples = itertools.count()


def _apply(store: StoreLike, tid: str, step: str, pick: int) -> Any:
    msgs = all_messages(store, tid)
    target = msgs[pick % len(msgs)].id if msgs else None
    if step == "append":
        return store.append(tid, Message.user("more"))
    if step == "batch":
        call = ToolCallPart(tool_call_id=f"c{pick}", tool_name="t")
        return store.append(tid, [Message.assistant(parts=[call]), Message.tool("ok", f"c{pick}")])
    if step == "pop":
        return store.pop_message(tid)
    if step == "replace":
        return store.replace_messages(tid, msgs[: pick % 4])
    if step.startswith("clear"):
        mode = "purge" if step == "clear_purge" else "delete"
        return store.clear_messages(tid, mode=mode, keep="system")
    if target is None:
        return None
    if step == "purge":
        return store.purge_message(target)
    if step == "delete":
        return store.delete_message(target)
    return store.update_message(target, pinned=False, archived_at=msgs[0].created_at)
