"""Window rules of issue 16: reused tool-call ids, trailing reasoning, one system
prompt leading every window, and a window that cannot hold the conversation."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convostore.context import (
    WindowSelector,
    is_mandatory,
    mandatory_messages,
    select_messages,
    select_window,
    validate_context,
)
from convostore.errors import ContextBudgetError
from convostore.model import Message, Role

from .gen import Generated, assistant, call, conversations, number, reasoning, result, user
from .test_select import reference, tokens_of, window_ids

OPENAI = ("openai-chat", "openai-responses")


def two_turns_with_call_0() -> list[Message]:
    return number(
        [
            user("weather in Paris?"),
            call("call_0"),
            result("call_0", "sunny"),
            assistant("Sunny in Paris."),
            user("and in Rome?"),
            call("call_0"),
            result("call_0", "rainy"),
            assistant("Rainy in Rome."),
        ]
    )


# --- item 6: a tool_call_id reused in a later turn --------------------------------


def test_a_call_id_reused_in_a_later_turn_keeps_both_exchanges() -> None:
    msgs = two_turns_with_call_0()
    w = select_messages(msgs)
    assert window_ids(w) == [m.id for m in msgs]
    assert w.omitted == []
    for dialect in OPENAI:
        assert validate_context(w.messages, dialect) == []


def test_reused_ids_pair_turn_by_turn_under_a_budget() -> None:
    msgs = two_turns_with_call_0()
    # room for the second turn only: its result goes with its own call
    w = select_messages(msgs, max_tokens=40)
    assert window_ids(w) == [m.id for m in msgs[4:]]
    # room for the second turn and the first answer: the first exchange cannot
    # be half in, so the cut is after it
    w = select_messages(msgs, max_tokens=60)
    assert window_ids(w) == [m.id for m in msgs[3:]]


def test_reused_id_with_the_earlier_result_gone_drops_only_that_call() -> None:
    msgs = two_turns_with_call_0()
    del msgs[2]  # the first turn's result
    w = select_messages(msgs)
    assert msgs[1].id in w.omitted
    assert [m.id for m in msgs[3:]] == window_ids(w)[-4:]
    assert all(validate_context(w.messages, d) == [] for d in OPENAI)


def test_validate_pairs_a_result_with_the_nearest_call_before_it() -> None:
    msgs = two_turns_with_call_0()
    for dialect in OPENAI:
        assert validate_context(msgs, dialect) == []
    # Anthropic wants every tool_use id of a request to be unique
    codes = [i.code for i in validate_context(msgs, "anthropic-messages")]
    assert codes == ["duplicate_call_id"]
    # a second call of an id whose first call is unanswered is ambiguous everywhere
    msgs = number([user("q"), call("c"), call("c"), result("c")])
    for dialect in OPENAI:
        codes = [i.code for i in validate_context(msgs, dialect)]
        assert "duplicate_call_id" in codes


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    conversations(reuse_ids=True, late_system=True),
    st.one_of(st.none(), st.integers(0, 400)),
    st.one_of(st.none(), st.integers(0, 30)),
    st.booleans(),
    st.integers(1, 7),
)
def test_windows_with_reused_ids_and_late_system_messages_match_the_reference(
    g: Generated, max_tokens: int | None, max_messages: int | None, start_on_user: bool, page: int
) -> None:
    try:
        expected = reference(
            g.messages,
            max_tokens=max_tokens,
            max_messages=max_messages,
            start_on_user=start_on_user,
            dialects=OPENAI,
        )
    except ContextBudgetError:
        with pytest.raises(ContextBudgetError):
            select_messages(
                g.messages,
                max_tokens=max_tokens,
                max_messages=max_messages,
                start_on_user=start_on_user,
            )
        return
    w = select_messages(
        g.messages, max_tokens=max_tokens, max_messages=max_messages, start_on_user=start_on_user
    )
    assert window_ids(w) == expected
    assert w.tokens == sum(tokens_of(m) for m in w.messages)
    for dialect in OPENAI:
        assert validate_context(w.messages, dialect, require_user_first=False) == []
    # a store feeds every live system and pinned message as candidates and then
    # pages newest-first, repeating them: the same window
    sel = WindowSelector(
        [m for m in g.messages if is_mandatory(m)],
        max_tokens=max_tokens,
        max_messages=max_messages,
        start_on_user=start_on_user,
    )
    newest_first = list(reversed(g.messages))
    i = 0
    while sel.wants_more and i < len(newest_first):
        sel.feed(newest_first[i : i + page])
        i += page
    assert sel.finish(reached_start=i >= len(newest_first)) == w


# --- item 7: reasoning that nothing follows ----------------------------------------


def test_trailing_reasoning_only_message_is_left_out_and_reported() -> None:
    msgs = number([user("q"), assistant("a"), user("q2"), reasoning()])
    w = select_messages(msgs)
    assert window_ids(w) == [m.id for m in msgs[:3]]
    assert w.omitted == [msgs[3].id]
    assert validate_context(w.messages, "openai-responses") == []


def test_reasoning_followed_by_a_user_message_is_left_out() -> None:
    msgs = number([user("q"), reasoning(), user("q again"), assistant("a")])
    w = select_messages(msgs)
    assert window_ids(w) == [msgs[0].id, msgs[2].id, msgs[3].id]
    assert w.omitted == [msgs[1].id]
    assert validate_context(w.messages, "openai-responses") == []


def test_reasoning_before_a_reply_stays_with_it() -> None:
    msgs = number([user("q"), reasoning(), assistant("a")])
    w = select_messages(msgs)
    assert window_ids(w) == [m.id for m in msgs] and w.omitted == []


# --- item 10: one system prompt, first in every window ----------------------------


def test_a_system_prompt_added_late_leads_the_window() -> None:
    msgs = number(
        [
            user("q1"),
            assistant("a1"),
            Message.system("be brief", token_count=5, token_counter="test"),
            user("q2"),
            assistant("a2"),
        ]
    )
    w = select_messages(msgs)
    assert [m.content for m in w.messages] == ["be brief", "q1", "a1", "q2", "a2"]
    w = select_messages(msgs, max_tokens=25)  # the prompt and the newest turn
    assert [m.content for m in w.messages] == ["be brief", "q2", "a2"]


def test_only_the_first_system_message_is_mandatory() -> None:
    first = Message.system("you are helpful", token_count=5, token_counter="test")
    later = Message.system("note: the user is in Paris", token_count=5, token_counter="test")
    msgs = number([first, user("q1"), assistant("a1"), later, user("q2"), assistant("a2")])
    assert mandatory_messages([m for m in msgs if is_mandatory(m)]) == [msgs[0]]
    # the later one is ordinary history: in while it fits, out when it does not
    w = select_messages(msgs)
    assert window_ids(w) == [m.id for m in msgs]
    w = select_messages(msgs, max_tokens=25)
    assert window_ids(w) == [msgs[0].id, msgs[4].id, msgs[5].id]
    # a store gives every live system message as a candidate and repeats them
    # while paging: no duplicates, the same window
    w2 = select_window([msgs[0], msgs[3]], reversed(msgs), max_tokens=25, max_messages=None)
    assert w2 == w
    w3 = select_window([msgs[0], msgs[3]], reversed(msgs), max_tokens=None, max_messages=None)
    assert window_ids(w3) == [m.id for m in msgs]


def test_a_later_system_message_does_not_count_against_the_mandatory_budget() -> None:
    msgs = number(
        [
            Message.system("s", token_count=5, token_counter="test"),
            user("q"),
            Message.system("long note", token_count=100, token_counter="test"),
            assistant("a"),
        ]
    )
    w = select_messages(msgs, max_tokens=30)
    assert window_ids(w) == [msgs[0].id, msgs[3].id]


# --- item 11: the newest message alone does not fit --------------------------------


def test_an_oversized_newest_user_message_raises_with_what_it_needs() -> None:
    msgs = number(
        [
            Message.system("s", token_count=5, token_counter="test"),
            user("short", tokens=10),
            assistant("ok", tokens=10),
            user("a huge paste", tokens=500),
        ]
    )
    with pytest.raises(ContextBudgetError) as err:
        select_messages(msgs, max_tokens=100)
    assert err.value.required == 505 and err.value.budget == 100
    assert "505 tokens" in str(err.value) and "newest message" in str(err.value)
    # from a store-like stream as well
    with pytest.raises(ContextBudgetError):
        select_window([msgs[0]], reversed(msgs), max_tokens=100, max_messages=None)
    assert len(select_messages(msgs, max_tokens=505)) == 2


def test_an_oversized_newest_tool_exchange_raises() -> None:
    msgs = number([user("q", tokens=10), call("c", tokens=10), result("c", tokens=300)])
    with pytest.raises(ContextBudgetError) as err:
        select_messages(msgs, max_tokens=100)
    assert err.value.required == 310  # the result needs its call


def test_a_message_budget_too_small_for_any_message_raises() -> None:
    msgs = number([Message.system("s", token_count=5, token_counter="test"), user("q")])
    with pytest.raises(ContextBudgetError) as err:
        select_messages(msgs, max_messages=1)
    assert err.value.required == 2


def test_an_empty_thread_or_only_broken_messages_give_an_empty_window() -> None:
    assert select_messages([], max_tokens=0).messages == []
    msgs = number([Message.system("s", token_count=5, token_counter="test"), result("ghost")])
    w = select_messages(msgs, max_tokens=5)
    assert window_ids(w) == [msgs[0].id] and w.omitted == [msgs[1].id]


def test_roles_of_the_rule() -> None:
    assert is_mandatory(Message.system("s"))
    assert is_mandatory(Message.user("u", pinned=True))
    assert not is_mandatory(Message.user("u"))
    assert Role.SYSTEM.value == "system"
