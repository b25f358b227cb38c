"""Nothing is purged implicitly (issue 16, item 2), on every backend and face.

A soft-deleted conversation is refused by ``get_or_create`` with a typed error;
retention soft-deletes unless told to purge; an expired session replaced by
``get_or_create`` keeps its old messages, archived.
"""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from convostore import Role, ThreadDeletedError
from convostore.conversation import SessionConfig

from .conftest import Env
from .helpers import Clock


def test_get_or_create_refuses_a_deleted_conversation_and_keeps_it(env: Env) -> None:
    manager = env.manager()
    conv = manager.create("s", system_prompt="be brief")
    conv.add(Role.USER, "remember this")
    assert manager.delete("s")
    with pytest.raises(ThreadDeletedError) as err:
        manager.get_or_create("s")
    assert "restore" in str(err.value) and "purge" in str(err.value)
    # nothing was lost: restoring brings it back whole
    env.store.restore_thread("s")
    again = manager.get_or_create("s")
    assert not again.created
    assert [m.content for m in again.messages()] == ["be brief", "remember this"]


def test_retention_soft_deletes_by_default(env: Env) -> None:
    clock = Clock()
    manager = env.manager(SessionConfig(idle_timeout=60), clock=clock)
    for i in range(3):
        manager.create(f"old{i}").add(Role.USER, f"note {i}")
    later = clock.now + dt.timedelta(seconds=3600)
    assert manager.cleanup_expired(now=later) == 3
    assert manager.list() == []
    for i in range(3):
        thread = env.store.get_thread(f"old{i}")
        assert thread.deleted_at is not None
        assert [m.content for m in env.store.list_messages(f"old{i}").items] == [f"note {i}"]
    env.store.restore_thread("old0")
    assert manager.list() == ["old0"]

    for i in range(3):
        manager.create(f"s{i}")
    assert manager.enforce_max_sessions(1) == 3
    assert env.store.get_thread("old0").deleted_at is not None  # restorable
    # purging is explicit
    assert manager.enforce_max_sessions(0, purge=True) == 1
    assert manager.cleanup_expired(now=later, purge=True) == 0


def test_an_expired_session_is_renewed_in_place_and_its_history_kept(env: Env) -> None:
    clock = Clock()
    manager = env.manager(SessionConfig(idle_timeout=60), clock=clock)
    old = manager.get_or_create(
        "s", user_id="u", system_prompt="old prompt", metadata={"plan": "free"}
    )
    old.add(Role.USER, "q1")
    old.add(Role.ASSISTANT, "a1")
    old.state.set("k", "v")
    pinned = old.add(Role.USER, "pinned fact")
    old.pin(pinned.id)
    clock.advance(3600)

    fresh = manager.get_or_create("s", user_id="u", system_prompt="new prompt")
    assert fresh.created and fresh.id == "s"
    assert [m.content for m in fresh.messages()] == ["new prompt"]
    assert fresh.system_prompt == "new prompt"
    assert fresh.state.variables == {} and fresh.current_turn() == 0
    assert fresh.metadata == {"plan": "free"}
    assert [m.content for m in fresh.context().messages] == ["new prompt"]
    # the old session's messages are still stored, archived
    everything = fresh.messages(include_archived=True)
    assert [m.content for m in everything] == [
        "old prompt",
        "q1",
        "a1",
        "pinned fact",
        "new prompt",
    ]
    assert all(m.archived_at is not None for m in everything[:4])
    assert len(env.store.export_thread("s").messages) == 5
    # a new turn counts from 1 again
    fresh.add(Role.USER, "q2")
    assert fresh.current_turn() == 1
    turn = fresh.last_turn()
    assert turn is not None and turn.user_message.content == "q2"


def test_expired_renewal_races_end_with_one_fresh_session(env: Env) -> None:
    clock = Clock()
    manager = env.manager(SessionConfig(idle_timeout=60), clock=clock)
    manager.create("s").add(Role.USER, "old question")
    clock.advance(3600)
    barrier = threading.Barrier(8)

    def call(_: int) -> bool:
        barrier.wait()
        return bool(manager.get_or_create("s", system_prompt="fresh").created)

    with ThreadPoolExecutor(8) as pool:
        created = list(pool.map(call, range(8)))
    assert sum(created) == 1
    items = env.store.list_messages("s").items
    assert [(m.content, m.archived_at is not None) for m in items] == [
        ("old question", True),
        ("fresh", False),
    ]
