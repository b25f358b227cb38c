"""Scoped state through a conversation: the merged and prefixed views, temp
state, and state changes made with an add, on every backend and both faces."""

from __future__ import annotations

import pytest

from convostore import StateChange, StateUpdate, ValidationError
from convostore.errors import StateConflictError

from .conftest import Env


def test_the_merged_view_takes_the_narrowest_scope(env: Env) -> None:
    conv = env.manager().create(user_id="ada")
    env.store.update_state("app", changes={"k": "app", "a": 1})
    conv.update_user_state({"k": "user", "u": 1})
    conv.add("user", "hi", state={"thread": {"changes": {"k": "thread", "t": 1}}})
    assert conv.merged_state() == {"k": "thread", "a": 1, "u": 1, "t": 1}
    env.unwrap(conv).temp["k"] = "temp"
    assert conv.merged_state()["k"] == "temp"
    assert conv.prefixed_state() == {
        "app:k": "app",
        "app:a": 1,
        "user:k": "user",
        "user:u": 1,
        "k": "thread",
        "t": 1,
        "temp:k": "temp",
    }


def test_an_add_with_state_is_one_write_and_refreshes_the_handle(env: Env) -> None:
    conv = env.manager().create(user_id="ada")
    change = StateChange(
        thread=StateUpdate(changes={"step": 2}), user=StateUpdate(changes={"seen": True})
    )
    stored = conv.add("assistant", "done", state=change)
    assert stored.seq == 1
    assert conv.thread.state.data == {"step": 2}  # the handle sees its own write
    assert conv.state.get_data("step") == 2
    assert conv.user_state().data == {"seen": True}
    assert env.store.get_thread(conv.id).revision == conv.thread.revision


def test_a_stale_user_revision_stores_neither_message_nor_state(env: Env) -> None:
    conv = env.manager().create(user_id="ada")
    conv.update_user_state({"n": 1})
    change = StateChange(user=StateUpdate(changes={"n": 2}, expected_revision=0))
    with pytest.raises(StateConflictError):
        conv.add("user", "hi", state=change)
    assert env.store.get_thread(conv.id).message_count == 0
    assert conv.user_state().data == {"n": 1}


def test_a_prefixed_delta_is_split_and_temp_is_never_stored(env: Env) -> None:
    conv = env.manager().create(user_id="ada")
    conv.apply_state_delta(
        {"app:mode": "fast", "user:name": "Ada", "temp:scratch": [1], "topic": "tea"}
    )
    assert env.store.get_state("app").data == {"mode": "fast"}
    assert env.store.get_state("user", user_id="ada").data == {"name": "Ada"}
    assert env.store.get_thread(conv.id).state.data == {"topic": "tea"}
    assert env.unwrap(conv).temp == {"scratch": [1]}
    assert "scratch" not in env.store.export_thread(conv.id).model_dump_json()
    conv.apply_state_delta({"user:name": None, "temp:only": 1})
    assert env.store.get_state("user", user_id="ada").data == {}
    # A handle opened afresh has no temp state.
    again = env.manager().get(conv.id)
    assert env.unwrap(again).temp == {}
    assert again.prefixed_state() == {"app:mode": "fast", "topic": "tea"}


def test_user_state_needs_a_user(env: Env) -> None:
    conv = env.manager().create()
    with pytest.raises(ValidationError) as info:
        conv.user_state()
    assert info.value.field == "user_id"
    assert conv.merged_state() == {}
    conv.update_app_state({"a": 1})
    assert conv.merged_state() == {"a": 1}
