"""Property-based round trips: any accepted message or thread comes back as
stored, directly and through export then import."""

from __future__ import annotations

from hypothesis import given

from convostore._ids import new_id
from convostore.model import ConversationSnapshot, Message, Thread
from convostore.testing import strategies as cst
from convostore.testing.contract.base import (
    PROPERTY_SETTINGS,
    ContractBase,
    StoreLike,
    all_messages,
)
from convostore.tokens import count_batch

__all__ = ["PropertyContract"]


class PropertyContract(ContractBase):
    """Hypothesis round trips through the store."""

    @PROPERTY_SETTINGS
    @given(batch=cst.message_batches())
    def test_any_accepted_message_round_trips(self, store: StoreLike, batch: list[Message]) -> None:
        tid = new_id("th")
        store.create_thread(id=tid)
        batch = [m.model_copy(update={"id": f"x{i}{tid}-{m.id}"}) for i, m in enumerate(batch)]
        expected, turns = [], 0
        counts = count_batch(batch)  # counted once, at append, as one batch
        for seq, (m, tc) in enumerate(zip(batch, counts, strict=True), start=1):
            turns += m.opens_turn
            if tc is not None:
                m = m.model_copy(update={"token_count": tc.tokens, "token_counter": tc.counter})
            expected.append(
                m.model_copy(
                    update={
                        "thread_id": tid,
                        "seq": seq,
                        "turn": turns,
                        "updated_at": None,
                        "deleted_at": None,
                    }
                )
            )
        assert store.append(tid, batch) == expected
        assert [store.get_message(m.id) for m in batch] == expected
        assert all_messages(store, tid) == expected
        thread = store.get_thread(tid)
        assert thread.message_count == len(batch)
        assert thread.turn_count == turns
        assert thread.tool_call_count == sum(len(m.tool_calls) for m in batch)
        assert thread.token_count == sum(m.token_count or 0 for m in expected)
        assert thread.usage.total_tokens == sum(
            m.metadata.token_usage.total_tokens for m in batch if m.metadata.token_usage
        )

    @PROPERTY_SETTINGS
    @given(batch=cst.message_batches(max_size=4), thread=cst.threads())
    def test_any_thread_round_trips_through_export_and_import(
        self, store: StoreLike, batch: list[Message], thread: Thread
    ) -> None:
        tid = new_id("th")
        created = store.create_thread(thread.model_copy(update={"id": tid}))
        assert store.get_thread(tid) == created
        batch = [m.model_copy(update={"id": f"x{i}{tid}-{m.id}"}) for i, m in enumerate(batch)]
        store.append(tid, batch)
        store.update_message(batch[0].id, pinned=not batch[0].pinned)
        snap = store.export_thread(tid)
        assert snap.messages == all_messages(store, tid)
        copy = store.tenant(f"copy{tid}")
        copy.import_thread(ConversationSnapshot.model_validate_json(snap.model_dump_json()))
        again = copy.export_thread(tid)
        assert again.messages == snap.messages
        assert again.pinned == snap.pinned == [m.pinned for m in snap.messages]
        for field in (
            "title",
            "user_id",
            "agent_name",
            "model",
            "metadata",
            "state",
            "created_at",
            "ended_at",
            "message_count",
            "turn_count",
            "tool_call_count",
            "token_count",
            "usage",
        ):
            assert getattr(again.thread, field) == getattr(snap.thread, field), field
