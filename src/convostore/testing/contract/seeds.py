"""The tests of the reference modules (seeds 000, 002 and 003), as pytest tests.

``test_seed000_*`` come from the message store, ``test_seed002_*`` from the
history store (snapshots) and ``test_seed003_*`` from the session history
(summaries); each states the same promise as the reference test it replaces.
"""

from __future__ import annotations

import pytest

from convostore._ids import new_id
from convostore.errors import ThreadNotFoundError
from convostore.model import (
    ConversationSnapshot,
    ExecutionStats,
    FinishReason,
    Message,
    MessageMetadata,
    ParentType,
    Part,
    ReasoningPart,
    Role,
    TextPart,
    Thread,
    TokenUsage,
    ToolCallPart,
)
from convostore.testing.contract.base import ContractBase, StoreLike, thread_ids
from convostore.testing.contract.clock import ManualClock

__all__ = ["SeedContract"]


class SeedContract(ContractBase):
    """The reference tests of seeds 000, 002 and 003."""

    # === seed 000: MessageStore ================================================

    def test_seed000_create_thread(self, store: StoreLike) -> None:
        thread = Thread(tenant_id="default", user_id="user_test")
        created = store.create_thread(thread)
        loaded = store.get_thread(thread.id)
        assert created.id == loaded.id == thread.id
        assert loaded.user_id == "user_test"
        assert loaded.tenant_id == store.tenant_id

    def test_seed000_soft_delete_thread(self, store: StoreLike) -> None:
        tid = store.create_thread(user_id="user_test").id
        store.delete_thread(tid)
        loaded = store.get_thread(tid)
        assert loaded.is_deleted
        assert loaded.deleted_at is not None

    def test_seed000_list_threads_excludes_deleted(self, store: StoreLike) -> None:
        t1 = store.create_thread(user_id="user_test").id
        t2 = store.create_thread(user_id="user_test").id
        store.delete_thread(t2)
        listed = thread_ids(store.list_threads(user_id="user_test", limit=100))
        assert listed == [t1]
        assert set(thread_ids(store.list_threads(user_id="user_test", include_deleted=True))) == {
            t1,
            t2,
        }

    def test_seed000_create_message(self, store: StoreLike) -> None:
        tid = store.create_thread(user_id="user_test").id
        msg = Message.user("Hello!")
        store.append(tid, msg)
        loaded = store.get_message(msg.id)
        assert loaded.content == "Hello!"
        assert loaded.parts == [TextPart(text="Hello!")]
        assert loaded.thread_id == tid

    def test_seed000_message_parent_chain(self, store: StoreLike) -> None:
        tid = store.create_thread(user_id="user_test").id
        user_msg = Message.user("What's the weather?")
        store.append(tid, user_msg)
        reply = Message.assistant(
            "The weather is sunny.", execution_id=new_id("exec"), parent_id=user_msg.id
        )
        store.append(tid, reply)
        messages = store.list_messages(tid).items
        assert [m.role for m in messages] == [Role.USER, Role.ASSISTANT]
        assert messages[1].parent_id == user_msg.id
        assert messages[1].parent_type is ParentType.USER_MESSAGE

    def test_seed000_soft_delete_message(self, store: StoreLike) -> None:
        tid = store.create_thread(user_id="user_test").id
        msg = Message.user("Delete me")
        store.append(tid, msg)
        store.delete_message(msg.id)
        assert store.list_messages(tid).items == []
        everything = store.list_messages(tid, include_deleted=True).items
        assert [m.id for m in everything] == [msg.id]
        assert everything[0].is_deleted

    def test_seed000_get_messages_by_execution(self, store: StoreLike) -> None:
        tid = store.create_thread(user_id="user_test").id
        exec_id = new_id("exec")
        store.append(tid, Message.assistant("Response", execution_id=exec_id))
        found = store.messages_by_execution(exec_id)
        assert len(found) == 1
        assert found[0].execution_id == exec_id

    def test_seed000_message_with_parts(self, store: StoreLike) -> None:
        tid = store.create_thread(user_id="user_test").id
        parts: list[Part] = [
            ReasoningPart(text="Let me think..."),
            ToolCallPart(tool_call_id="tc_123", tool_name="get_weather", args={"city": "NYC"}),
            TextPart(text="The weather is sunny."),
        ]
        msg = Message.assistant("The weather is sunny.", execution_id=new_id("exec")).with_parts(
            parts
        )
        store.append(tid, msg)
        loaded = store.get_message(msg.id)
        assert loaded.parts == parts
        assert loaded.content == "The weather is sunny."

    def test_seed000_message_metadata(self, store: StoreLike) -> None:
        tid = store.create_thread(user_id="user_test").id
        metadata = MessageMetadata(
            model="gpt-4o",
            provider="azure",
            duration_ms=1500,
            token_usage=TokenUsage.of(100, 200),
            stats=ExecutionStats(llm_calls=2, tool_calls=1, steps=3, decisions=1),
            finish_reason=FinishReason.STOP,
        )
        msg = Message.assistant("Response", execution_id=new_id("exec")).with_metadata(metadata)
        store.append(tid, msg)
        loaded = store.get_message(msg.id)
        assert loaded.metadata == metadata
        assert loaded.metadata.model == "gpt-4o"
        assert loaded.metadata.stats is not None and loaded.metadata.stats.llm_calls == 2

    def test_seed000_thread_updated_on_message(self, store: StoreLike, clock: ManualClock) -> None:
        self.check_clock(store, clock)
        thread = store.create_thread(user_id="user_test")
        clock.advance(0.01)
        store.append(thread.id, Message.user("Hello!"))
        assert store.get_thread(thread.id).updated_at > thread.updated_at

    # === seed 002: HistoryStore (snapshots) ====================================

    def test_seed002_in_memory_store_round_trip(self, store: StoreLike) -> None:
        with pytest.raises(ThreadNotFoundError):
            store.export_thread("conversation")
        snap = ConversationSnapshot(
            thread=Thread(id="conversation"),
            messages=[Message.user("hi"), Message.assistant("hello")],
            pinned=[True, False],
        )
        store.import_thread(snap)
        restored = store.export_thread("conversation")
        assert restored.pinned == [True, False]
        assert [(m.id, m.role, m.content, m.pinned) for m in restored.messages] == [
            (snap.messages[0].id, Role.USER, "hi", True),
            (snap.messages[1].id, Role.ASSISTANT, "hello", False),
        ]

    def test_seed002_returns_none_when_missing(self, store: StoreLike) -> None:
        """A store at a location never written to is empty, not an error."""
        with pytest.raises(ThreadNotFoundError):
            store.get_thread("missing")
        assert store.list_threads().items == []
        assert store.count_threads(include_deleted=True) == 0

    # === seed 003: SessionHistory summaries ====================================

    def test_seed003_history_disabled(self, store: StoreLike) -> None:
        """Nothing recorded yet: zero sessions, no summaries."""
        assert store.count_threads() == 0
        assert store.summaries() == []

    def test_seed003_history_enabled(self, store: StoreLike) -> None:
        report = store.health_check()
        assert report.ok
        assert report.backend

    def test_seed003_create_and_load_session(self, store: StoreLike) -> None:
        store.create_thread(id="test-123", agent_name="test-agent", model="gpt-5")
        store.append("test-123", Message.user("Hello"))
        loaded = store.get_thread("test-123")
        assert (loaded.id, loaded.agent_name, loaded.model) == ("test-123", "test-agent", "gpt-5")
        assert [m.content for m in store.list_messages("test-123")] == ["Hello"]

    def test_seed003_list_sessions(self, store: StoreLike) -> None:
        for i in range(3):
            store.create_thread(id=f"test-{i}", agent_name="test-agent", model="gpt-5")
        store.create_thread(id="other", agent_name="other-agent")
        assert store.count_threads() == 4
        sessions = store.summaries(agent_name="test-agent")
        assert sorted(s.id for s in sessions) == ["test-0", "test-1", "test-2"]
        assert all(s.message_count == 0 and s.model == "gpt-5" for s in sessions)
        assert store.count_threads(agent_name="test-agent") == 3
