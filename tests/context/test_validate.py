"""validate_context: the tool-pairing rules of each provider."""

from __future__ import annotations

import pytest

from convostore.context import DIALECTS, validate_context
from convostore.errors import ValidationError
from convostore.model import Message

from .gen import assistant, call, multi_result, reasoning, result, user


def codes(msgs: list[Message], dialect: str, **kw: bool) -> list[str]:
    return [i.code for i in validate_context(msgs, dialect, **kw)]  # type: ignore[arg-type]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_complete_exchange_is_valid(dialect: str) -> None:
    msgs = [
        Message.system("s"),
        user("q"),
        reasoning(),
        call("a", "b"),
        result("b"),
        result("a"),
        assistant("done"),
    ]
    assert codes(msgs, dialect) == []


@pytest.mark.parametrize("dialect", DIALECTS)
def test_result_without_call(dialect: str) -> None:
    assert codes([user("q"), result("x"), assistant("a")], dialect) == ["result_without_call"]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_call_without_result(dialect: str) -> None:
    msgs = [user("q"), call("a", "b"), result("a"), assistant("a")]
    assert "call_without_result" in codes(msgs, dialect)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_result_before_call(dialect: str) -> None:
    msgs = [user("q"), result("a"), call("a")]
    assert codes(msgs, dialect)[0] == "result_before_call"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_duplicates(dialect: str) -> None:
    assert "duplicate_result" in codes([user("q"), call("a"), result("a"), result("a")], dialect)
    # an id used again while its call waits for its result is ambiguous everywhere
    assert "duplicate_call_id" in codes([user("q"), call("a"), call("a"), result("a")], dialect)
    # used again after its call was answered: a new call (which then needs its own
    # result); Anthropic wants each id of a request to be unique
    reused = codes([user("q"), call("a"), result("a"), call("a")], dialect)
    assert "call_without_result" in reused
    assert ("duplicate_call_id" in reused) == (dialect in ("anthropic-messages", "anthropic"))


def test_interleaved_results_break_chat_and_anthropic_only() -> None:
    msgs = [user("q"), call("a", "b"), result("a"), user("hurry"), result("b"), assistant("x")]
    assert codes(msgs, "openai-chat") == ["results_not_adjacent"]
    assert codes(msgs, "anthropic-messages") == ["results_not_adjacent"]
    assert codes(msgs, "openai-responses") == []


def test_grouped_results_are_adjacent() -> None:
    msgs = [user("q"), call("a", "b"), multi_result("a", "b"), assistant("x")]
    assert codes(msgs, "openai-chat") == []


def test_reasoning_must_be_followed_by_its_item_in_responses() -> None:
    msgs = [user("q"), reasoning(), user("again")]
    assert codes(msgs, "openai-responses") == ["reasoning_not_followed"]
    assert codes([user("q"), reasoning()], "openai-responses") == ["reasoning_not_followed"]
    assert codes(msgs, "openai-chat") == []


def test_anthropic_wants_a_user_first() -> None:
    msgs = [Message.system("s"), assistant("hi"), user("q")]
    assert codes(msgs, "anthropic-messages") == ["first_not_user"]
    assert codes(msgs, "anthropic-messages", require_user_first=False) == []
    assert codes(msgs, "openai-chat") == []


def test_issue_details() -> None:
    msgs = [user("q"), result("x")]
    (issue,) = validate_context(msgs)
    assert issue.index == 1 and issue.message_id == msgs[1].id and issue.tool_call_id == "x"
    assert "x" in issue.detail


def test_unknown_dialect() -> None:
    with pytest.raises(ValidationError) as err:
        validate_context([], "cohere")
    assert err.value.field == "dialect"


def test_dialects_are_the_format_names_and_the_old_names_still_work() -> None:
    from convostore.formats import FORMATS

    assert DIALECTS == FORMATS
    msgs = [Message.assistant("hi")]
    assert codes(msgs, "anthropic") == codes(msgs, "anthropic-messages") == ["first_not_user"]
    assert codes(msgs, "gemini") == ["first_not_user"]
