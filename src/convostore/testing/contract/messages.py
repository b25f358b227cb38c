"""Messages: appends, counters, edits of flags, soft deletes and restores,
turns, executions, payloads kept as given, and idempotent re-sends."""

from __future__ import annotations

import math

import pytest

from convostore.errors import (
    DuplicateMessageError,
    MessageNotFoundError,
    RevisionConflictError,
    ThreadDeletedError,
    ValidationError,
)
from convostore.model import (
    CostInfo,
    Message,
    MessageMetadata,
    NativePayload,
    Role,
    TextPart,
    Thread,
    ThreadSummary,
    TokenUsage,
    ToolCallPart,
    ToolResultPart,
)
from convostore.testing.contract.base import (
    ContractBase,
    StoreLike,
    all_messages,
    fingerprint,
    seqs,
    setup_basic,
)

__all__ = ["MessageContract"]


class MessageContract(ContractBase):
    """Appending, reading, deleting and re-sending messages."""

    def test_append_assigns_seq_turn_and_thread(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        batch = [
            Message.system("be brief"),
            Message.user("q1"),
            Message.assistant("a1"),
            Message.user("q2"),
        ]
        stored = store.append("t1", batch)
        assert [m.id for m in stored] == [m.id for m in batch]
        assert seqs(stored) == [1, 2, 3, 4]
        assert [m.turn for m in stored] == [0, 1, 1, 2]
        assert {m.thread_id for m in stored} == {"t1"}
        more = store.append("t1", Message.assistant("a2"))
        assert seqs(more) == [5]
        assert all_messages(store, "t1") == stored + more

    def test_counters_count_every_appended_message(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        call = (
            Message.assistant("", id="call", token_count=7)
            .with_parts(
                ToolCallPart(tool_call_id="c1", tool_name="f", args={}),
                ToolCallPart(tool_call_id="c2", tool_name="g", args=[1]),
            )
            .with_metadata(
                MessageMetadata(
                    token_usage=TokenUsage.of(10, 5),
                    cost=CostInfo(input_cost=0.25, output_cost=0.5, total_cost=0.75),
                )
            )
        )
        stored = store.append(
            "t1",
            [
                Message.system("sys"),
                Message.user("q", id="q1"),
                call,
                Message.tool("r1", "c1"),
                Message.tool("r2", "c2"),
                Message.user("again", token_count=3),
            ],
        )
        # Counts given by the caller are kept; the others are counted once, at append.
        assert (stored[2].token_count, stored[5].token_count) == (7, 3)
        assert all(m.token_count is not None for m in stored)
        tokens = sum(m.token_count or 0 for m in stored)
        t = store.get_thread("t1")
        assert (t.message_count, t.turn_count, t.tool_call_count, t.token_count) == (
            6,
            2,
            2,
            tokens,
        )
        assert t.usage == TokenUsage.of(10, 5)
        assert math.isclose(t.cost.total_cost, 0.75)
        store.delete_message("call")
        store.delete_message("q1")
        t2 = store.get_thread("t1")
        assert (t2.message_count, t2.turn_count, t2.tool_call_count) == (6, 2, 2)
        assert [s for s in store.summaries() if s.id == "t1"] == [ThreadSummary.of(t2)]

    def test_update_message_patches_and_moves_counters(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        store.append("t1", [Message.user("q", id="m1"), Message.assistant("a", id="m2")])
        rev = store.get_thread("t1").revision
        patched = store.update_message(
            "m2",
            parts=[TextPart(text="new answer"), ToolCallPart(tool_call_id="c", tool_name="f")],
            pinned=True,
        )
        assert patched.content == "new answer"
        assert patched.pinned and patched.updated_at is not None
        assert (patched.seq, patched.role, patched.thread_id) == (2, Role.ASSISTANT, "t1")
        assert store.get_message("m2") == patched
        t = store.get_thread("t1")
        assert t.tool_call_count == 1 and t.revision > rev
        store.update_message("m2", parts=[TextPart(text="plain")])
        assert store.get_thread("t1").tool_call_count == 0

    def test_delete_message_keeps_seq(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        store.append("t1", [Message.user(str(i), id=f"m{i}") for i in range(1, 5)])
        deleted = store.delete_message("m2")
        assert deleted.is_deleted and deleted.seq == 2
        assert seqs(store.list_messages("t1").items) == [1, 3, 4]
        assert seqs(store.list_messages("t1", include_deleted=True).items) == [1, 2, 3, 4]
        assert store.get_message("m2").is_deleted
        assert seqs(store.append("t1", Message.user("5"))) == [5]

    # === the live message count ===================================================

    def test_live_message_count_follows_deletes_and_restores(self, store: StoreLike) -> None:
        created = store.create_thread(Thread(id="t1", live_message_count=9))
        assert created.live_message_count == 0
        store.append("t1", [Message.user(str(i), id=f"m{i}") for i in range(1, 6)])
        t = store.get_thread("t1")
        assert (t.message_count, t.live_message_count) == (5, 5)
        store.delete_message("m2")
        store.delete_message("m4")
        rev = store.get_thread("t1").revision
        store.delete_message("m2")  # already deleted: nothing moves
        t = store.get_thread("t1")
        assert (t.message_count, t.live_message_count, t.revision) == (5, 3, rev)
        restored = store.restore_message("m2")
        assert (restored.deleted_at, restored.seq) == (None, 2)
        assert restored.updated_at is not None
        assert store.get_message("m2") == restored
        rev = store.get_thread("t1").revision
        assert store.restore_message("m2") == restored  # already live: nothing moves
        t = store.get_thread("t1")
        assert (t.message_count, t.live_message_count, t.revision) == (5, 4, rev)
        assert seqs(store.list_messages("t1").items) == [1, 2, 3, 5]
        store.delete_message("m2")  # deleted again after its restore
        store.append("t1", Message.user("6", id="m6"))
        store.append("t1", Message.user("6", id="m6"))  # a re-send adds nothing
        t = store.get_thread("t1")
        assert (t.message_count, t.live_message_count) == (6, 4)
        assert t.live_message_count == len(store.list_messages("t1").items)
        summary = next(s for s in store.summaries() if s.id == "t1")
        assert (summary.message_count, summary.live_message_count) == (6, 4)
        assert store.list_threads().items[0].live_message_count == 4

    def test_restore_message_checks_like_every_message_write(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        store.append("t1", [Message.user("a", id="m1"), Message.user("b", id="m2")])
        store.delete_message("m1")
        rev = store.get_thread("t1").revision
        with pytest.raises(RevisionConflictError):
            store.restore_message("m1", expected_revision=rev - 1)
        with pytest.raises(MessageNotFoundError):
            store.restore_message("nope")
        store.tenant("other").create_thread(id="t1")
        with pytest.raises(MessageNotFoundError):
            store.tenant("other").restore_message("m1")
        store.delete_thread("t1")
        with pytest.raises(ThreadDeletedError):
            store.restore_message("m1")
        store.restore_thread("t1")
        assert store.get_thread("t1").live_message_count == 1
        store.restore_message("m1", expected_revision=store.get_thread("t1").revision)
        assert store.get_thread("t1").live_message_count == 2

    def test_messages_by_execution(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        store.create_thread(id="t2")
        store.append(
            "t1",
            [
                Message.user("q"),
                Message.assistant("a", id="a1", execution_id="e1"),
                Message.assistant("b", id="a2", execution_id="e1"),
                Message.assistant("c", id="a3", execution_id="e2"),
            ],
        )
        store.append("t2", Message.assistant("d", id="a4", execution_id="e1"))
        store.delete_message("a2")
        assert sorted(m.id for m in store.messages_by_execution("e1")) == ["a1", "a4"]
        assert [m.id for m in store.messages_by_execution("e1", thread_id="t2")] == ["a4"]
        assert [m.id for m in store.messages_by_execution("e2")] == ["a3"]

    def test_native_payload_kept_untouched(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        data = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "f", "arguments": '{"a": 1}'},
                }
            ],
            "refusal": None,
            "annotations": [],
            "x": {"nested": [1, 1.5, "\\u0000"]},
        }
        msg = Message.assistant("", native=NativePayload(format="openai.chat", data=data))
        store.append("t1", msg)
        loaded = store.get_message(msg.id)
        assert loaded.native is not None
        assert loaded.native.format == "openai.chat"
        assert loaded.native.data == data

    def test_text_that_looks_like_an_escape_is_stored(self, store: StoreLike) -> None:
        store.create_thread(id="t1", title="\\u0000")
        text = "literal \\u0000 and \\x00, emoji \U0001f600, rtl \u05d0, zero-width \u200b"
        store.append("t1", Message.user(text, id="m1"))
        assert store.get_message("m1").content == text
        assert store.get_thread("t1").title == "\\u0000"

    def test_a_tool_message_must_name_its_call(self, store: StoreLike) -> None:
        setup_basic(store)
        before = fingerprint(store, "t1")
        with pytest.raises(ValidationError) as err:
            store.append("t1", [Message.user("q"), {"role": "tool", "content": "42"}])
        assert err.value.field == "messages.1.tool_call_id"
        assert fingerprint(store, "t1") == before
        # Either way of naming the call is enough.
        store.append(
            "t1",
            [
                Message(role=Role.TOOL, content="1", tool_call_id="c1"),
                Message(role=Role.TOOL, parts=[ToolResultPart(tool_call_id="c2", result="2")]),
            ],
        )

    def test_turns_are_opened_by_user_content_only(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        call = ToolCallPart(tool_call_id="c1", tool_name="look", args={})
        got = store.append(
            "t1",
            [
                Message.user("what is in the box?"),
                Message.assistant("", parts=[call]),
                Message.user("", parts=[ToolResultPart(tool_call_id="c1", result="a cat")]),
                Message.assistant("A cat."),
                Message.user("and now?"),
            ],
        )
        assert [m.turn for m in got] == [1, 1, 1, 1, 2]
        assert store.get_thread("t1").turn_count == 2
        assert [s.turn_count for s in store.summaries()] == [2]

    # === idempotent re-sends =====================================================

    def test_resending_a_message_adds_nothing(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        msg = Message.user("hello", id="m1")
        first = store.append("t1", msg)
        rev = store.get_thread("t1").revision
        again = store.append("t1", msg)
        assert again == first
        as_dict = store.append("t1", {"id": "m1", "role": "user", "content": "hello"})
        assert as_dict == first
        t = store.get_thread("t1")
        assert (t.message_count, t.revision) == (1, rev)
        mixed = store.append("t1", [msg, Message.user("next", id="m2")])
        assert [m.id for m in mixed] == ["m1", "m2"] and seqs(mixed) == [1, 2]
        assert seqs(all_messages(store, "t1")) == [1, 2]

    def test_retry_with_original_expected_revision_is_idempotent(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        msg = Message.user("hello", id="m1")
        first = store.append("t1", msg, expected_revision=0)
        assert store.append("t1", msg, expected_revision=0) == first
        assert store.get_thread("t1").message_count == 1

    def test_twin_in_one_batch_is_stored_once(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        msg = Message.user("hello", id="m1")
        out = store.append("t1", [msg, msg])
        assert [m.id for m in out] == ["m1", "m1"]
        assert seqs(all_messages(store, "t1")) == [1]

    def test_resend_with_other_content_conflicts(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        store.create_thread(id="t2")
        store.append("t1", Message.user("hello", id="m1"))
        before = fingerprint(store, "t1", "t2")
        with pytest.raises(DuplicateMessageError) as exc:
            store.append("t1", [Message.user("fresh", id="m2"), Message.user("changed", id="m1")])
        assert exc.value.message_id == "m1"
        with pytest.raises(DuplicateMessageError):
            store.append("t2", Message.user("hello", id="m1"))
        with pytest.raises(DuplicateMessageError):
            store.append("t1", [Message.user("a", id="m3"), Message.user("b", id="m3")])
        assert fingerprint(store, "t1", "t2") == before

    def test_the_request_digest_is_part_of_a_messages_content(self, store: StoreLike) -> None:
        """The same id re-sent by another idempotent request is another message."""
        store.create_thread(id="t1")
        first = Message.user("hello", id="m1").model_copy(update={"request_digest": "req_a"})
        stored = store.append("t1", first)
        assert stored[0].request_digest == "req_a"
        assert store.get_message("m1").request_digest == "req_a"
        assert store.append("t1", first) == stored
        before = fingerprint(store, "t1")
        for other in ("req_b", None):
            with pytest.raises(DuplicateMessageError):
                store.append("t1", first.model_copy(update={"request_digest": other}))
        assert fingerprint(store, "t1") == before
