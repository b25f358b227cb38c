"""Store rules the conversation layer relies on (issue 16, items 3 and 9), seen
through conversations on every backend and face.

The fixes live in the store (the lead's part of the issue); these tests pin down
what a conversation needs from them.
"""

from __future__ import annotations

from convostore import Role
from convostore.conversation import SessionConfig

from .conftest import Env


def test_a_plain_metadata_update_keeps_the_conversation_bookkeeping(env: Env) -> None:
    manager = env.manager()
    conv = manager.create("t", system_prompt="be brief", metadata={"plan": "free"})
    conv.add(Role.USER, "q1")
    conv.add(Role.ASSISTANT, "a1")
    conv.clear_messages()  # turn numbering restarts: kept as the turn offset
    conv.add(Role.USER, "q2")
    env.store.update_thread("t", metadata={"k": 1})
    again = manager.get("t")
    assert again is not None
    assert again.system_prompt == "be brief"
    assert again.current_turn() == 1
    turn = again.last_turn()
    assert turn is not None and turn.user_message.content == "q2"
    assert again.metadata == {"k": 1}


def test_pinning_an_archived_message_brings_it_back_into_every_window(env: Env) -> None:
    conv = env.manager(SessionConfig(max_messages=2)).create("t", system_prompt="sys")
    first = conv.add(Role.USER, "the account number is 42")
    for i in range(4):
        conv.add(Role.USER if i % 2 else Role.ASSISTANT, f"m{i}")
    assert env.store.get_message(first.id).archived_at is not None
    conv.pin(first.id)
    assert env.store.get_message(first.id).archived_at is None
    for window in (conv.context(), env.store.context("t"), conv.context(max_messages=4)):
        assert first.id in window.ids
        assert window[0].content == "sys"
    # and it is never trimmed again
    for i in range(4):
        conv.add(Role.USER, f"n{i}")
    assert first.id in conv.context().ids
