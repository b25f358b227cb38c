"""Pop, purge, restore, clear and replace through the conversation layer, on
every backend and both faces (the ``env`` fixture)."""

from __future__ import annotations

from typing import Any

import pytest

from convostore import Message, Role, ValidationError
from convostore.testing.contract import assert_recounted


def _session(env: Any) -> Any:
    conv = env.manager().create("u1", system_prompt="be brief")
    conv.add(Role.USER, "first")
    conv.add(Role.ASSISTANT, "one")
    conv.add(Role.USER, "second")
    conv.add(Role.ASSISTANT, "two")
    return conv


def test_pop_takes_the_newest_and_keeps_turns_right(env: Any) -> None:
    conv = _session(env)
    assert conv.pop().content == "two"
    assert conv.pop().content == "second"
    assert conv.current_turn() == 1
    assert [m.content for m in conv.messages()] == ["be brief", "first", "one"]
    assert_recounted(env.store, conv.id)
    again = conv.add(Role.USER, "again")
    assert (again.seq, conv.current_turn()) == (4, 2)


def test_pop_of_an_empty_conversation_is_none(env: Any) -> None:
    conv = env.manager().create("u1")
    assert conv.pop() is None


def test_purge_and_restore_message(env: Any) -> None:
    conv = _session(env)
    msgs = conv.messages()
    conv.purge_message(msgs[2].id)
    assert [m.seq for m in conv.messages()] == [1, 2, 3, 4]
    env.store.delete_message(msgs[1].id)
    assert msgs[1].id not in [m.id for m in conv.messages()]
    assert conv.restore_message(msgs[1].id).deleted_at is None
    assert msgs[1].id in [m.id for m in conv.messages()]
    assert_recounted(env.store, conv.id)


def test_clear_keeps_the_system_prompt_and_restarts_turns(env: Any) -> None:
    conv = _session(env)
    assert conv.clear() == 4
    assert [m.content for m in conv.messages()] == ["be brief"]
    assert len(conv.messages(include_archived=True)) == 5
    assert conv.current_turn() == 0 and conv.last_turn() is None
    conv.add(Role.USER, "fresh")
    assert conv.current_turn() == 1


def test_clear_everything_for_good(env: Any) -> None:
    conv = _session(env)
    assert conv.clear(mode="purge", keep="none") == 5
    assert env.store.list_messages(conv.id, include_deleted=True).items == []
    assert conv.current_turn() == 0
    with pytest.raises(ValidationError):
        conv.clear(mode="later")


def test_replace_rewrites_the_history_and_counts_tokens(env: Any) -> None:
    conv = _session(env)
    conv.clear()
    stored = conv.replace([Message.system("be brief"), Message.user("summary of it all")])
    assert [m.seq for m in stored] == [1, 2]
    assert all(m.token_count for m in stored)
    assert conv.current_turn() == 1
    assert [m.content for m in conv.messages(include_archived=True)] == [
        "be brief",
        "summary of it all",
    ]
    assert_recounted(env.store, conv.id)
