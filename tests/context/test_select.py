"""Context-window selection: budgets, tool pairing, reasoning, laziness."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convostore.context import (
    DIALECTS,
    ContextWindow,
    WindowSelector,
    call_ids,
    is_mandatory,
    is_reasoning_only,
    mandatory_messages,
    result_ids,
    select_messages,
    select_window,
    shape_of,
    validate_context,
)
from convostore.errors import ContextBudgetError, ValidationError
from convostore.model import Message, Part, Role, ToolCallPart
from convostore.testing import strategies as cst
from convostore.tokens import HEURISTIC

from .gen import (
    CountingIter,
    Generated,
    assistant,
    call,
    conversations,
    multi_result,
    number,
    reasoning,
    result,
    user,
)

PROPS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def tokens_of(m: Message) -> int:
    return m.token_count if m.token_count is not None else HEURISTIC.count_message(m)


def window_ids(w: ContextWindow) -> list[str]:
    return [m.id for m in w.messages]


def assert_valid(msgs: list[Message]) -> None:
    for dialect in DIALECTS:
        issues = validate_context(msgs, dialect, require_user_first=False)
        assert issues == [], (dialect, issues)


def reference(
    live: list[Message],
    *,
    max_tokens: int | None,
    max_messages: int | None,
    start_on_user: bool,
    dialects: tuple[str, ...] = DIALECTS,
) -> list[str]:
    """Brute force: the longest valid suffix that fits, checked against the rules."""
    mand = mandatory_messages([m for m in live if is_mandatory(m)])
    mand_ids = {m.id for m in mand}
    free = [m for m in live if m.id not in mand_ids]
    mand_tokens = sum(tokens_of(m) for m in mand)
    if (max_tokens is not None and mand_tokens > max_tokens) or (
        max_messages is not None and len(mand) > max_messages
    ):
        raise ContextBudgetError(mand_tokens, max_tokens or 0)

    def window_of(s: int) -> list[Message]:
        chosen = mand_ids | {m.id for m in free[s:]}
        window = [m for m in live if m.id in chosen]
        # the system prompt leads
        return sorted(
            window, key=lambda m: not (m.role is Role.SYSTEM and m.id in mand_ids and not m.pinned)
        )

    def valid(s: int) -> bool:
        chosen = mand_ids | {m.id for m in free[s:]}
        if start_on_user and s < len(free) and free[s].role is not Role.USER:
            return False
        window = window_of(s)
        if any(
            validate_context(window, d, require_user_first=False)  # type: ignore[arg-type]
            for d in dialects
        ):
            return False
        # reasoning stays with the message it precedes
        return not any(
            is_reasoning_only(m)
            and m.id not in chosen
            and i + 1 < len(live)
            and live[i + 1].id in chosen
            and live[i + 1].role is Role.ASSISTANT
            for i, m in enumerate(live)
        )

    def fits(window: list[Message]) -> bool:
        return not (
            (max_tokens is not None and sum(tokens_of(m) for m in window) > max_tokens)
            or (max_messages is not None and len(window) > max_messages)
        )

    for s in range(len(free) + 1):
        window = window_of(s)
        if not fits(window) or not valid(s):
            continue
        # nothing of the conversation fits: refused if something could be in
        if (
            s == len(free)
            and all(m.role is Role.SYSTEM for m in mand)
            and any(valid(k) for k in range(len(free) - 1, -1, -1))
        ):
            raise ContextBudgetError(0, 0)
        return [m.id for m in window]
    raise AssertionError("the empty suffix is always valid")


# --- seed 001: get_context keeps the system prompt under a limit ------------------


def test_context_with_limit_keeps_system_prompt_first() -> None:
    msgs = [Message.system("System")]
    for i in range(20):
        msgs += [Message.user(f"Message {i}"), Message.assistant(f"Response {i}")]
    w = select_messages(number(msgs), max_tokens=100)
    assert len(w) > 1
    assert w[0].role is Role.SYSTEM
    assert w.tokens <= 100
    assert w.truncated
    assert w.estimated and w.counters == [HEURISTIC.name]
    # the newest messages, in order
    assert w[-1].content == "Response 19"
    seqs = [m.seq for m in w.messages]
    assert seqs == sorted(seqs)


# --- examples ---------------------------------------------------------------------


def test_parallel_calls_are_in_or_out_together() -> None:
    msgs = number(
        [
            user("weather in two cities"),
            call("a", "b", tokens=10),
            result("b", tokens=10),
            result("a", tokens=10),
            assistant("sunny both", tokens=10),
        ]
    )
    # 30 tokens fit the answer and two results, but not the call: the pair must go.
    w = select_messages(msgs, max_tokens=30)
    assert window_ids(w) == [msgs[-1].id]
    w = select_messages(msgs, max_tokens=40)
    assert window_ids(w) == [m.id for m in msgs[1:]]
    assert_valid(w.messages)


def test_reasoning_stays_with_the_call_it_precedes() -> None:
    msgs = number([user("q"), reasoning(tokens=5), call("c1"), result("c1"), assistant("a")])
    w = select_messages(msgs, max_tokens=30)  # call+result+answer fit, reasoning does not
    assert window_ids(w) == [msgs[-1].id]
    w = select_messages(msgs, max_tokens=35)
    assert window_ids(w) == [m.id for m in msgs[1:]]


def test_start_on_user() -> None:
    msgs = number([user("q1"), assistant("a1"), user("q2"), assistant("a2")])
    assert window_ids(select_messages(msgs, max_tokens=30)) == [m.id for m in msgs[1:]]
    w = select_messages(msgs, max_tokens=30, start_on_user=True)
    assert window_ids(w) == [m.id for m in msgs[2:]]
    assert validate_context(w.messages, "anthropic-messages") == []


def test_mandatory_over_budget_raises() -> None:
    msgs = number(
        [
            Message.system("s", token_count=50, token_counter="test"),
            user("q", pinned=True),
            assistant("a"),
        ]
    )
    with pytest.raises(ContextBudgetError) as err:
        select_messages(msgs, max_tokens=40)
    assert err.value.required == 60 and err.value.budget == 40
    with pytest.raises(ContextBudgetError):
        select_messages(msgs, max_messages=1)
    assert window_ids(select_messages(msgs, max_tokens=60)) == [m.id for m in msgs[:2]]


def test_bad_budgets_are_validation_errors() -> None:
    with pytest.raises(ValidationError):
        select_messages([], max_tokens=-1)
    with pytest.raises(ValidationError):
        select_messages([], max_messages=True)


def test_pinned_result_brings_its_call_and_siblings() -> None:
    msgs = [user("q"), call("a", "b"), result("a"), result("b", tokens=10), assistant("x")]
    for i in range(10):
        msgs += [user(f"q{i}"), assistant(f"a{i}")]
    msgs[3] = msgs[3].model_copy(update={"pinned": True})
    msgs = number(msgs)
    w = select_messages(msgs, max_tokens=60)
    ids = window_ids(w)
    # the pinned result, its call and the parallel sibling all come along
    assert [msgs[1].id, msgs[2].id, msgs[3].id] == ids[:3]
    assert w.tokens <= 60
    assert_valid(w.messages)


def test_incomplete_exchanges_are_left_out() -> None:
    msgs = number(
        [
            user("q"),
            result("ghost"),  # its call was deleted
            assistant("a"),
            user("q2"),
            call("pending"),  # still waiting for its result
        ]
    )
    w = select_messages(msgs)
    assert window_ids(w) == [msgs[0].id, msgs[2].id, msgs[3].id]
    assert set(w.omitted) == {msgs[1].id, msgs[4].id}
    assert_valid(w.messages)


def test_grouped_results_message() -> None:
    msgs = number([user("q"), call("a", "b"), multi_result("b", "a"), assistant("done")])
    w = select_messages(msgs, max_tokens=25)
    assert window_ids(w) == [msgs[-1].id]
    assert_valid(select_messages(msgs).messages)


def test_messages_without_counts_are_counted_once() -> None:
    msgs = number([Message.user("hello there"), Message.assistant("general kenobi")])
    w = select_messages(msgs)
    assert w.tokens == sum(HEURISTIC.count_message(m) for m in msgs)
    assert w.estimated


def test_provider_counts_are_not_estimates() -> None:
    msgs = number([user("q", tokens=7), assistant("a", tokens=9)])
    w = select_messages(msgs)
    assert w.tokens == 16 and not w.estimated and w.counters == ["test"]


def test_archived_and_deleted_are_not_in_the_window() -> None:
    from convostore.model import utcnow

    msgs = number([user("old"), assistant("older"), user("new"), assistant("newer")])
    msgs[0] = msgs[0].model_copy(update={"archived_at": utcnow()})
    msgs[1] = msgs[1].model_copy(update={"deleted_at": utcnow()})
    assert window_ids(select_messages(msgs)) == [msgs[2].id, msgs[3].id]


def test_reading_is_lazy() -> None:
    msgs = [Message.system("s", token_count=5, token_counter="test")]
    for i in range(500):
        msgs += [user(f"q{i}"), call(f"c{i}"), result(f"c{i}"), assistant(f"a{i}")]
    msgs = number(msgs)
    stream = CountingIter(list(reversed(msgs)))
    w = select_window([msgs[0]], stream, max_tokens=105, max_messages=None)
    # 100 tokens of room: two whole turns and the answer before them; the next
    # older message is a tool result whose call does not fit, so the cut is there
    assert len(w) == 10
    assert w[1].content == "a497"
    assert stream.pulled <= 15
    assert w.truncated


def test_stream_without_mandatory_messages_is_merged_by_seq() -> None:
    msgs = number(
        [
            Message.system("s", token_count=5, token_counter="test"),
            user("q"),
            assistant("a", pinned=True),
            user("q2"),
            assistant("a2"),
        ]
    )
    mand = [m for m in msgs if is_mandatory(m)]
    rest = [m for m in reversed(msgs) if not is_mandatory(m)]
    w = select_window(mand, rest, max_tokens=None, max_messages=None)
    assert window_ids(w) == [m.id for m in msgs]


# --- properties -------------------------------------------------------------------


budgets = st.one_of(st.none(), st.integers(0, 400))
message_budgets = st.one_of(st.none(), st.integers(0, 30))


@PROPS
@given(conversations(), budgets, message_budgets, st.booleans(), st.integers(1, 7))
def test_windows_match_the_brute_force_reference(
    g: Generated, max_tokens: int | None, max_messages: int | None, start_on_user: bool, page: int
) -> None:
    try:
        expected = reference(
            g.messages,
            max_tokens=max_tokens,
            max_messages=max_messages,
            start_on_user=start_on_user,
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
    # never over budget, and the reported total is the sum of the stored counts
    assert w.tokens == sum(tokens_of(m) for m in w.messages)
    assert max_tokens is None or w.tokens <= max_tokens
    assert max_messages is None or len(w) <= max_messages
    # valid for every provider
    assert_valid(w.messages)
    # contiguous: the non-mandatory part is a suffix of the thread's
    free = [m.id for m in g.messages if not is_mandatory(m)]
    part = [m.id for m in w.messages if not is_mandatory(m)]
    assert part == (free[len(free) - len(part) :] if part else [])
    # whole units only
    ids = set(window_ids(w))
    for unit in g.units:
        assert len(ids & set(unit)) in (0, len(unit))
    # deterministic, and the same whether or not the stream repeats mandatory ones
    again = select_window(
        [m for m in g.messages if is_mandatory(m)],
        [m for m in reversed(g.messages) if not is_mandatory(m)],
        max_tokens=max_tokens,
        max_messages=max_messages,
        start_on_user=start_on_user,
    )
    assert again == w
    # fed a page at a time, stopping when it wants no more: the same window
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


@PROPS
@given(conversations(), st.data(), budgets)
def test_messy_threads_still_give_valid_windows(
    g: Generated, data: st.DataObject, max_tokens: int | None
) -> None:
    """Delete random messages (orphaning calls and results): windows stay valid."""
    msgs = g.messages
    if msgs:
        drop = data.draw(st.sets(st.integers(0, len(msgs) - 1), max_size=4))
        msgs = [m for i, m in enumerate(msgs) if i not in drop]
    try:
        w = select_messages(msgs, max_tokens=max_tokens)
    except ContextBudgetError:
        return
    assert max_tokens is None or w.tokens <= max_tokens
    for dialect in ("openai-chat", "openai-responses"):
        core = [
            i
            for i in validate_context(w.messages, dialect)
            if i.code
            in (
                "result_without_call",
                "call_without_result",
                "result_before_call",
                "duplicate_result",
            )
        ]
        assert core == [], core
    assert set(w.omitted).isdisjoint(window_ids(w))


class _OwnCall(ToolCallPart):
    """A caller's subclass of a part kind: the shape reads it like its base."""


@PROPS
@given(cst.messages(), st.lists(cst.parts(), max_size=4), st.sampled_from(list(Role)))
def test_one_pass_shape_matches_the_three_questions(
    m: Message, parts: list[Part], role: Role
) -> None:
    for msg in (
        m,
        m.model_copy(update={"parts": parts, "role": role}),
        m.model_copy(
            update={"parts": [_OwnCall(tool_call_id="c", tool_name="t"), *parts], "role": role}
        ),
    ):
        assert shape_of(msg) == (call_ids(msg), result_ids(msg), is_reasoning_only(msg))
