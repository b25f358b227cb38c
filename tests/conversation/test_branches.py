"""Branches in the conversation layer: edit, regenerate, fork, switch, on every
backend and both faces."""

from __future__ import annotations

import pytest
from tests.conversation.conftest import Env

from convostore.conversation import SessionConfig
from convostore.errors import ConflictError, NotFoundError
from convostore.model import Message, Role


def _texts(conv: object) -> list[str]:
    return [m.content for m in conv.messages()]  # type: ignore[attr-defined]


def test_regenerate_edit_and_switch(env: Env) -> None:
    manager = env.manager()
    conv = manager.get_or_create("chat", system_prompt="be nice")
    conv.add(Role.USER, "hello")
    conv.add(Role.ASSISTANT, "hi!")
    regenerated = conv.regenerate(messages=[Message.assistant("hey!")])
    assert _texts(regenerated) == ["be nice", "hello", "hey!"]
    assert _texts(conv) == ["be nice", "hello", "hi!"]
    first_user = conv.by_role(Role.USER)[0]
    edited = conv.edit(first_user.id, "hello there")
    assert _texts(edited) == ["be nice", "hello there"]
    edited.add(Role.ASSISTANT, "hello to you")
    assert edited.last_turn().user_message.content == "hello there"
    assert edited.current_turn() == 1
    listed = conv.branches()
    assert [b.thread.id for b in listed] == [conv.id, regenerated.id, edited.id]
    assert [b.shared_seq for b in listed] == [3, 2, 1]
    # The manager resumes the active branch.
    assert manager.get("chat").id == conv.id
    switched = conv.switch_to(edited.id)
    assert switched.id == edited.id
    assert manager.get("chat").id == edited.id
    assert _texts(manager.get_or_create("chat")) == ["be nice", "hello there", "hello to you"]
    conv.switch_to(conv.id)
    assert manager.get("chat").id == conv.id


def test_fork_windows_and_the_shared_prompt(env: Env) -> None:
    manager = env.manager(SessionConfig(max_messages=4))
    conv = manager.get_or_create("long", system_prompt="sys")
    for i in range(3):
        conv.add(Role.USER, f"q{i}")
        conv.add(Role.ASSISTANT, f"a{i}")
    branch = conv.fork(title="what if")
    assert branch.thread.title == "what if"
    branch.add(Role.USER, "q3")
    window = [m.content for m in branch.context(max_tokens=10_000).messages]
    assert window[0] == "sys" and window[-1] == "q3"
    # The system prompt the branch shares cannot be rewritten in place.
    with pytest.raises(ConflictError):
        branch.set_system_prompt("other")


def test_regenerate_without_a_reply(env: Env) -> None:
    conv = env.manager().get_or_create("empty")
    conv.add(Role.USER, "only a question")
    with pytest.raises(NotFoundError):
        conv.regenerate()
