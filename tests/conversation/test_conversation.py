"""The live conversation handle: write-through, limits, state, turns, context."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from pydantic import BaseModel

from convostore import (
    ContextBudgetError,
    Message,
    Role,
    Store,
    ToolCallPart,
    ValidationError,
    open_async_store,
    open_store,
)
from convostore.context import DIALECTS, is_mandatory, select_window, validate_context
from convostore.conversation import (
    AsyncConversationManager,
    Conversation,
    ConversationManager,
    SessionConfig,
)

from .helpers import Clock, Spy, run


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A fresh store of each backend (``store_url``)."""
    with open_store(store_url) as opened:
        yield opened


def tool_turn(conv: Conversation, n: int, *, parallel: int = 2, size: int = 10) -> None:
    conv.add(Role.USER, f"question {n}")
    ids = [f"c{n}_{i}" for i in range(parallel)]
    conv.add_message(
        Message.assistant("").with_parts(
            [ToolCallPart(tool_call_id=i, tool_name="search", args={"q": n}) for i in ids]
        )
    )
    for i in reversed(ids):
        conv.add_message(Message.tool("r" * size, i, tool_name="search"))
    conv.add(Role.ASSISTANT, f"answer {n}")


# --- write-through ------------------------------------------------------------------


def test_each_add_is_one_append_and_never_a_rewrite(store: Store) -> None:
    spy = Spy(store)
    manager = ConversationManager(spy, SessionConfig(max_messages=50))  # type: ignore[arg-type]
    conv = manager.create("t")
    spy.calls.clear()
    for i in range(30):
        conv.add(Role.USER, f"m{i}")
    assert spy.calls.count("append") == 30
    # the handle learns the active history once, then counts its own appends;
    # nothing is rewritten
    assert set(spy.calls) <= {"append", "list_messages"}
    assert spy.calls.count("list_messages") == 1


def test_changes_are_visible_to_another_handle_at_once(store: Store) -> None:
    manager = ConversationManager(store)
    a = manager.create("t")
    a.add(Role.USER, "hi")
    a.state.set("k", "v")
    b = Conversation.open(store, "t")
    assert [m.content for m in b.messages()] == ["hi"]
    assert b.state.get("k") == "v"


def test_concurrent_state_writers_keep_each_others_keys(store: Store) -> None:
    manager = ConversationManager(store)
    a = manager.create("t")
    b = manager.get("t")
    assert b is not None
    a.state.set("from_a", "1")
    b.add(Role.USER, "b moves the revision on")
    b.state.set("from_b", "2")  # b's cached revision was stale: retried
    a.state.set_data("n", 3)  # a's too
    a.refresh()
    assert a.state.variables == {"from_a": "1", "from_b": "2"}
    assert a.state.get_data("n", int) == 3


def test_state_remove_clear_and_types(store: Store) -> None:
    conv = ConversationManager(store).create("t")

    class Prefs(BaseModel):
        theme: str
        size: int = 12

    conv.state.set("a", "1")
    conv.state.set_data("prefs", Prefs(theme="dark"))
    conv.state.set_data("tags", ["x", "y"])
    assert conv.state.get_data("prefs", Prefs) == Prefs(theme="dark")
    assert conv.state.get_data("tags") == ["x", "y"]
    assert conv.state.get_data("missing", int) is None
    assert conv.state.get_data("missing", int, 7) == 7
    with pytest.raises(ValidationError):
        conv.state.get_data("tags", Prefs)
    with pytest.raises(ValidationError):
        conv.state.set("a", 5)  # type: ignore[arg-type]
    assert conv.state.remove("a") == "1" and conv.state.remove("a") is None
    conv.state.remove_data("tags")
    assert "tags" not in conv.state.data
    conv.state.clear()
    assert conv.state.variables == {} and conv.state.data == {}
    assert store.get_thread("t").state.data == {}


# --- limits ---------------------------------------------------------------------------


def test_overflow_archives_oldest_but_keeps_system_and_pinned(store: Store) -> None:
    manager = ConversationManager(store, SessionConfig(max_messages=3))
    conv = manager.create("t", system_prompt="sys")
    first = conv.add(Role.USER, "keep me", pinned=True)
    for i in range(6):
        conv.add(Role.USER, f"m{i}")
    active = conv.messages()
    assert [m.content for m in active] == ["sys", "keep me", "m3", "m4", "m5"]
    everything = conv.messages(include_archived=True)
    assert len(everything) == 8
    archived = [m for m in everything if m.archived_at is not None]
    assert [m.content for m in archived] == ["m0", "m1", "m2"]
    assert first.id in {m.id for m in active}
    # archived messages are still exported, flagged
    snap = store.export_thread("t")
    assert sum(m.archived_at is not None for m in snap.messages) == 3


def test_overflow_can_delete(store: Store) -> None:
    conv = ConversationManager(store, SessionConfig(max_messages=2, overflow="delete")).create("t")
    for i in range(5):
        conv.add(Role.USER, f"m{i}")
    assert [m.content for m in conv.messages(include_archived=True)] == ["m3", "m4"]
    assert len(store.list_messages("t", include_deleted=True).items) == 5


def test_config_validation() -> None:
    assert SessionConfig() == SessionConfig(
        max_messages=100, max_tokens=8192, idle_timeout=3600, persist_system_prompt=True
    )
    assert SessionConfig(idle_timeout=5).timeout == dt.timedelta(seconds=5)
    for bad in (
        {"max_messages": 0},
        {"max_tokens": -1},
        {"idle_timeout": "soon"},
        {"overflow": "drop"},
        {"idle_timeout": 0},
    ):
        with pytest.raises(ValidationError):
            SessionConfig(**bad)  # type: ignore[arg-type]


# --- turns --------------------------------------------------------------------------


def test_turn_with_tool_calls_completes_on_the_final_answer(store: Store) -> None:
    conv = ConversationManager(store).create("t")
    conv.add(Role.USER, "weather?")
    conv.add_message(
        Message.assistant("").with_parts(ToolCallPart(tool_call_id="c1", tool_name="weather"))
    )
    turn = conv.last_turn()
    assert turn is not None and not turn.is_complete and turn.completed_at is None
    conv.add_message(Message.tool("sunny", "c1"))
    reply = conv.add(Role.ASSISTANT, "It is sunny.")
    turn = conv.last_turn()
    assert turn is not None and turn.is_complete
    assert turn.assistant_response is not None and turn.assistant_response.id == reply.id
    assert [m.role for m in turn.messages] == [Role.USER, Role.ASSISTANT, Role.TOOL, Role.ASSISTANT]
    assert turn.started_at <= turn.completed_at  # type: ignore[operator]
    assert len(turn.all_messages()) == 4


def test_turns_survive_trimming_and_restart_after_clear(store: Store) -> None:
    conv = ConversationManager(store, SessionConfig(max_messages=2)).create("t")
    for i in range(4):
        conv.add(Role.USER, f"q{i}")
        conv.add(Role.ASSISTANT, f"a{i}")
    turn = conv.get_turn(1)
    assert turn is not None and turn.user_message.archived_at is not None
    conv.clear_messages()
    assert conv.current_turn() == 0 and conv.get_turn(1) is None
    conv.add(Role.USER, "again")
    turn = conv.get_turn(1)
    assert turn is not None and turn.user_message.content == "again"


def test_recent(store: Store) -> None:
    conv = ConversationManager(store, SessionConfig(max_messages=4)).create("t")
    for i in range(10):
        conv.add(Role.USER, f"m{i}")
    assert [m.content for m in conv.recent(2)] == ["m8", "m9"]
    assert [m.content for m in conv.recent(50)] == ["m6", "m7", "m8", "m9"]
    assert conv.recent(0) == []


# --- expiry -------------------------------------------------------------------------


def test_is_expired_and_age(store: Store) -> None:
    clock = Clock()
    conv = ConversationManager(store, SessionConfig(idle_timeout=60), clock=clock).create("t")
    clock.advance(30)
    assert not conv.is_expired() and conv.age() >= dt.timedelta(seconds=29)
    conv.add(Role.USER, "still here")
    clock.advance(61)
    assert conv.is_expired()
    never = ConversationManager(store, SessionConfig(idle_timeout=None)).create("u")
    assert not never.is_expired(now=clock.now + dt.timedelta(days=999))


# --- context ------------------------------------------------------------------------


def test_context_is_pair_safe(store: Store) -> None:
    conv = ConversationManager(store, SessionConfig(max_messages=None)).create(
        "t", system_prompt="You are a search agent."
    )
    for n in range(12):
        tool_turn(conv, n, parallel=1 + n % 3, size=50 + 37 * n)
    budgets = range(60, 700, 23)
    for budget in budgets:
        w = conv.context(budget)
        assert w.tokens <= budget
        assert w[0].role is Role.SYSTEM
        for dialect in DIALECTS:
            assert validate_context(w.messages, dialect, require_user_first=False) == []
        try:
            w2 = conv.context(budget, start_on_user=True)
        except ContextBudgetError as err:
            # the newest turn does not fit from its user message on: refused,
            # not a window holding the system prompt alone
            assert err.required > budget
            continue
        assert len(w2) > 1
        assert validate_context(w2.messages, "anthropic-messages") == []


def test_context_is_the_window_rule_over_the_whole_history(store: Store) -> None:
    # The store reads O(window) rows; the answer is the rule applied to the
    # whole live history (what the conversation layer once computed itself).
    conv = ConversationManager(store).create("t", system_prompt="sys")
    for n in range(8):
        tool_turn(conv, n, parallel=2)
    live = conv.messages()
    for budget in (40, 90, 200, 10_000):
        expected = select_window(
            [m for m in live if is_mandatory(m)],
            reversed(live),
            max_tokens=budget,
            max_messages=None,
        )
        assert conv.context(budget).ids == expected.ids


def test_context_keeps_pinned_and_raises_when_mandatory_does_not_fit(store: Store) -> None:
    conv = ConversationManager(store).create("t", system_prompt="sys")
    fact = conv.add(Role.USER, "my name is Ada")
    for i in range(30):
        conv.add(Role.USER, f"filler {i}")
    conv.pin(fact.id)
    w = conv.context(40)
    assert fact.id in w.ids and w.tokens <= 40
    with pytest.raises(ContextBudgetError):
        conv.context(5)


def test_context_default_budget_is_config_max_tokens(store: Store) -> None:
    conv = ConversationManager(store, SessionConfig(max_tokens=30)).create("t")
    for i in range(40):
        conv.add(Role.USER, f"message number {i}")
    w = conv.context()
    assert w.max_tokens == 30 and 0 < w.tokens <= 30 and w.truncated


def test_archived_messages_leave_the_context(store: Store) -> None:
    conv = ConversationManager(store, SessionConfig(max_messages=2)).create("t")
    for i in range(6):
        conv.add(Role.USER, f"m{i}")
    assert [m.content for m in conv.context(10_000)] == ["m4", "m5"]


def test_set_system_prompt_in_place(store: Store) -> None:
    conv = ConversationManager(store).create("t", system_prompt="v1")
    conv.add(Role.USER, "hi")
    conv.set_system_prompt("v2")
    msgs = conv.messages()
    assert [m.content for m in msgs] == ["v2", "hi"] and msgs[0].parts[0].text == "v2"  # type: ignore[union-attr]
    assert conv.system_prompt == "v2"
    lean = ConversationManager(store, SessionConfig(persist_system_prompt=False)).create(
        "u", system_prompt="not a message"
    )
    assert lean.messages() == [] and lean.system_prompt == "not a message"


def test_metadata_of_the_caller_is_kept_apart(store: Store) -> None:
    manager = ConversationManager(store)
    conv = manager.create("t", metadata={"channel": "web"}, system_prompt="sys")
    assert conv.metadata == {"channel": "web"}
    manager.update(conv, metadata={"channel": "app"}, title="Trip")
    assert conv.metadata == {"channel": "app"} and conv.thread.title == "Trip"
    assert conv.system_prompt == "sys"


# --- async face ---------------------------------------------------------------------


def test_async_face_has_the_same_behaviour(store_url: str) -> None:
    async def main() -> None:
        async with open_async_store(store_url) as store:
            manager = AsyncConversationManager(store, SessionConfig(max_messages=3))
            conv = await manager.create("t", system_prompt="sys", user_id="u1")
            await conv.add(Role.USER, "q1")
            await conv.add_message(
                Message.assistant("").with_parts(ToolCallPart(tool_call_id="c", tool_name="f"))
            )
            await conv.add_message(Message.tool("ok", "c"))
            await conv.add(Role.ASSISTANT, "a1")
            await conv.add(Role.USER, "q2")
            # the call left the active history, so its result went with it
            assert [m.content for m in await conv.messages()] == ["sys", "a1", "q2"]
            assert await conv.current_turn() == 2
            turn = await conv.get_turn(1)
            assert turn is not None and turn.is_complete and len(turn.tool_calls) == 1
            await conv.state.set("k", "v")
            await conv.state.set_data("d", {"x": 1})
            assert conv.state.get("k") == "v" and conv.state.get_data("d") == {"x": 1}
            w = await conv.context(1000)
            assert validate_context(w.messages) == []
            assert await conv.total_tokens() > 0
            assert len(await conv.by_role("user")) == 1
            assert len(await conv.recent(2)) == 2
            assert await conv.clear_messages() >= 1
            assert await manager.list_for_user("u1") == ["t"]
            assert await manager.count() == 1

    run(main())
