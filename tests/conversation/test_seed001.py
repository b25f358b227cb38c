"""Every test of seed 001 (ConversationSession / ConversationManager), ported.

Each runs against the live, write-through :class:`Conversation` over a store;
the async ones run on both faces.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from convostore import Message, Role, Store, open_async_store, open_store
from convostore.conversation import (
    AsyncConversationManager,
    ConversationManager,
    SessionConfig,
)
from convostore.tokens import HEURISTIC

from .helpers import run


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A fresh store of each backend (``store_url``)."""
    with open_store(store_url) as opened:
        yield opened


@pytest.fixture
def manager(store: Store) -> ConversationManager:
    return ConversationManager(store)


def test_message_creation() -> None:
    msg = Message.user("Hello!")
    assert msg.role is Role.USER
    assert msg.content == "Hello!"
    assert msg.created_at.timestamp() > 0


def test_message_builders() -> None:
    msg = Message.assistant("Hi there!").with_name("Assistant").with_metadata("source", "test")
    assert msg.role is Role.ASSISTANT
    assert msg.name == "Assistant"
    assert msg.metadata.extra["source"] == "test"


def test_session_basic(manager: ConversationManager) -> None:
    session = manager.create("test_session", system_prompt="You are helpful")
    session.add(Role.USER, "Hello!")
    session.add(Role.ASSISTANT, "Hi there!")
    assert len(session.messages()) == 3
    assert session.current_turn() == 1
    assert session.system_prompt == "You are helpful"


def test_session_turns(manager: ConversationManager) -> None:
    session = manager.create("test")
    session.add(Role.USER, "First question")
    session.add(Role.ASSISTANT, "First answer")
    session.add(Role.USER, "Second question")
    session.add(Role.ASSISTANT, "Second answer")
    assert session.current_turn() == 2
    turn1 = session.get_turn(1)
    assert turn1 is not None
    assert turn1.user_message.content == "First question"
    assert turn1.is_complete
    turn2 = session.get_turn(2)
    assert turn2 is not None and turn2.user_message.content == "Second question"
    assert session.get_turn(0) is None and session.get_turn(3) is None


def test_get_context_with_limit(manager: ConversationManager) -> None:
    session = manager.create("test", system_prompt="System")
    for i in range(20):
        session.add(Role.USER, f"Message {i}")
        session.add(Role.ASSISTANT, f"Response {i}")
    context = session.context(100)
    assert len(context) > 0
    assert context[0].role is Role.SYSTEM
    assert context.tokens <= 100
    assert context[-1].content == "Response 19"


def test_session_state(manager: ConversationManager) -> None:
    session = manager.create("test")
    session.state.set("user_name", "Alice")
    session.state.set("preference", "dark_mode")
    assert session.state.get("user_name") == "Alice"
    assert session.state.get("preference") == "dark_mode"

    @dataclass
    class UserPrefs:
        theme: str
        language: str

    prefs = UserPrefs(theme="dark", language="en")
    session.state.set_data("prefs", prefs)
    assert session.state.get_data("prefs", UserPrefs) == prefs


def test_message_limit(manager: ConversationManager, store: Store) -> None:
    limited = ConversationManager(store, SessionConfig(max_messages=5))
    session = limited.create("test")
    for i in range(10):
        session.add(Role.USER, f"Message {i}")
    assert len(session.messages()) == 5
    assert [m.content for m in session.messages()] == [f"Message {i}" for i in range(5, 10)]


def test_clear_messages(manager: ConversationManager) -> None:
    session = manager.create("test", system_prompt="System prompt")
    session.add(Role.USER, "Hello")
    session.add(Role.ASSISTANT, "Hi")
    assert len(session.messages()) == 3
    session.clear_messages()
    msgs = session.messages()
    assert len(msgs) == 1
    assert msgs[0].role is Role.SYSTEM
    assert session.current_turn() == 0
    assert session.last_turn() is None


def test_get_by_role(manager: ConversationManager) -> None:
    session = manager.create("test")
    session.add(Role.USER, "Q1")
    session.add(Role.ASSISTANT, "A1")
    session.add(Role.USER, "Q2")
    session.add(Role.ASSISTANT, "A2")
    assert len(session.by_role(Role.USER)) == 2
    assert len(session.by_role("assistant")) == 2


def test_session_manager(manager: ConversationManager) -> None:
    session = manager.create("session1")
    assert session.id == "session1"
    loaded = manager.get_or_create("session1")
    assert loaded.id == "session1" and not loaded.created
    assert len(manager.list()) == 1
    assert manager.delete("session1")
    assert manager.list() == []


def test_session_manager_async(store_url: str) -> None:
    async def main() -> None:
        async with open_async_store(store_url) as store:
            manager = AsyncConversationManager(store)
            session = await manager.create("session1")
            assert session.id == "session1"
            loaded = await manager.get_or_create("session1")
            assert loaded.id == "session1"
            assert len(await manager.list()) == 1
            await manager.delete("session1")
            assert await manager.list() == []

    run(main())


def test_session_store(manager: ConversationManager) -> None:
    session = manager.create("test", user_id="user1")
    session.add(Role.USER, "Hello")
    loaded = manager.get("test")
    assert loaded is not None and len(loaded.messages()) == 1
    assert manager.list_for_user("user1") == ["test"]
    assert manager.list_for_user("someone-else") == []


def test_tool_message(manager: ConversationManager) -> None:
    session = manager.create("test")
    session.add(Role.USER, "Calculate 2+2")
    session.add_message(Message.tool("4", "call_123"))
    session.add(Role.ASSISTANT, "The result is 4")
    turn = session.get_turn(1)
    assert turn is not None
    assert len(turn.tool_calls) == 1
    assert turn.tool_calls[0].tool_call_id == "call_123"


def test_token_estimation(manager: ConversationManager) -> None:
    session = manager.create("test")
    stored = session.add(Role.USER, "Hello world")
    # counted once on append and stored with the method that counted it
    assert stored.token_count == HEURISTIC.count_message(Message.user("Hello world"))
    assert stored.token_counter == HEURISTIC.name


def test_total_tokens(manager: ConversationManager) -> None:
    session = manager.create("test")
    session.add(Role.USER, "Hello world")
    session.add(Role.ASSISTANT, "Hi there")
    assert session.total_tokens() >= 4
