"""Context windows: ``context()`` on both faces.

Budgets in tokens and messages, ``start_on_user``, the system prompt and
pinned messages always in, a tool call and its results in or out together,
:class:`~convostore.errors.ContextBudgetError` when what must be in does not
fit, and reads that skip what a window may not use. Every message here carries
its own token count, so the budgets are exact on every backend.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pytest

from convostore.errors import ContextBudgetError, ThreadNotFoundError, ValidationError
from convostore.model import Message, Role, ToolCallPart
from convostore.store import ops
from convostore.testing.contract.base import (
    ContractBase,
    StoreLike,
    execute_op,
    fingerprint,
    raised,
)

__all__ = ["ContextContract"]

COUNTER = "contract"  # the counter named by the counts the messages here carry


def user(text: str, tokens: int = 10, **fields: Any) -> Message:
    return Message.user(text, token_count=tokens, token_counter=COUNTER, **fields)


def assistant(text: str, tokens: int = 10, **fields: Any) -> Message:
    return Message.assistant(text, token_count=tokens, token_counter=COUNTER, **fields)


def system(text: str, tokens: int = 5, **fields: Any) -> Message:
    return Message.system(text, token_count=tokens, token_counter=COUNTER, **fields)


def call(*call_ids: str, tokens: int = 10, **fields: Any) -> Message:
    parts = [ToolCallPart(tool_call_id=c, tool_name="lookup", args={"q": c}) for c in call_ids]
    return Message.assistant("", parts=parts, token_count=tokens, token_counter=COUNTER, **fields)


def result(call_id: str, tokens: int = 10, **fields: Any) -> Message:
    return Message.tool(
        "ok", call_id, tool_name="lookup", token_count=tokens, token_counter=COUNTER, **fields
    )


def conversation(store: StoreLike, messages: Sequence[Message], thread_id: str = "t1") -> None:
    store.create_thread(id=thread_id)
    store.append(thread_id, list(messages))


def turns(n: int, start: int = 0) -> list[Message]:
    """``n`` question/answer pairs of 10 tokens a message, ids ``q<i>``/``a<i>``."""
    out: list[Message] = []
    for i in range(start, start + n):
        out += [user(f"question {i}", id=f"q{i}"), assistant(f"answer {i}", id=f"a{i}")]
    return out


class ContextContract(ContractBase):
    """``context()``: the newest messages that fit a budget, ready for a model."""

    def test_a_window_that_holds_the_thread_is_all_of_it(self, store: StoreLike) -> None:
        conversation(store, [system("be brief", id="s"), *turns(3)])
        w = store.context("t1", max_tokens=10_000)
        assert w.ids == ["s", "q0", "a0", "q1", "a1", "q2", "a2"]
        assert [m.seq for m in w.messages] == list(range(1, 8))
        assert (w.tokens, w.truncated, w.omitted) == (65, False, [])
        assert (w.max_tokens, w.max_messages) == (10_000, None)
        assert (w.estimated, w.counters) == (False, [COUNTER])
        assert w.messages == store.list_messages("t1").items
        assert store.context("t1").ids == w.ids  # a default budget when none is given
        empty = store.create_thread(id="empty")
        assert store.context(empty.id, max_tokens=10).messages == []

    def test_the_newest_messages_that_fit_the_token_budget(self, store: StoreLike) -> None:
        conversation(store, [system("be brief", id="s"), *turns(10)])
        w = store.context("t1", max_tokens=45)
        assert w.ids == ["s", "q8", "a8", "q9", "a9"]
        assert (w.tokens, w.truncated) == (45, True)
        # one token short of the oldest of those: it stays out
        assert store.context("t1", max_tokens=44).ids == ["s", "a8", "q9", "a9"]
        # the newest message does not fit beside the system prompt: that is an error
        with pytest.raises(ContextBudgetError):
            store.context("t1", max_tokens=14)

    def test_the_message_budget_counts_every_message_of_the_window(self, store: StoreLike) -> None:
        conversation(store, [system("be brief", id="s"), *turns(10)])
        w = store.context("t1", max_messages=3)
        assert w.ids == ["s", "q9", "a9"]
        assert (w.max_tokens, w.max_messages, w.truncated) == (None, 3, True)
        both = store.context("t1", max_messages=10, max_tokens=35)
        assert both.ids == ["s", "a8", "q9", "a9"]
        assert (
            store.context("t1", max_messages=100).ids == store.context("t1", max_tokens=10_000).ids
        )

    def test_start_on_user_drops_a_leading_reply(self, store: StoreLike) -> None:
        conversation(store, [system("be brief", id="s"), *turns(3)])
        assert store.context("t1", max_tokens=35).ids == ["s", "a1", "q2", "a2"]
        w = store.context("t1", max_tokens=35, start_on_user=True)
        assert w.ids == ["s", "q2", "a2"]
        assert w.messages[1].role is Role.USER
        assert store.context("t1", max_messages=4, start_on_user=True).ids == ["s", "q2", "a2"]

    def test_the_system_prompt_and_pinned_messages_are_always_in(self, store: StoreLike) -> None:
        conversation(
            store,
            [
                system("be brief", id="s"),
                user("remember: blue", id="pin", pinned=True),
                *turns(20),
                system("a later note", id="late"),
                *turns(2, start=20),
            ],
        )
        w = store.context("t1", max_tokens=55)
        assert w.ids == ["s", "pin", "q20", "a20", "q21", "a21"]
        assert w.messages[0].role is Role.SYSTEM and w.tokens == 55
        # a pin set later is honoured as well, in seq order
        store.update_message("q5", pinned=True)
        assert store.context("t1", max_tokens=65).ids == [
            "s",
            "pin",
            "q5",
            "q20",
            "a20",
            "q21",
            "a21",
        ]
        assert store.context("t1", max_messages=4).ids == ["s", "pin", "q5", "a21"]

    def test_a_tool_call_and_its_results_are_in_or_out_together(self, store: StoreLike) -> None:
        conversation(
            store,
            [
                user("weather in two cities?", id="q"),
                call("c1", "c2", id="call"),
                result("c2", id="r2"),
                result("c1", id="r1"),
                assistant("sunny in both", id="a"),
            ],
        )
        # room for the answer and both results, not the call: the exchange stays out
        assert store.context("t1", max_tokens=30).ids == ["a"]
        assert store.context("t1", max_tokens=40).ids == ["call", "r2", "r1", "a"]
        assert store.context("t1", max_messages=3).ids == ["a"]
        assert store.context("t1", max_messages=4).ids == ["call", "r2", "r1", "a"]
        # a pinned result brings its call and the parallel result along
        store.update_message("r1", pinned=True)
        w = store.context("t1", max_tokens=40)
        assert w.ids == ["call", "r2", "r1", "a"]

    def test_an_incomplete_exchange_is_left_out_and_named(self, store: StoreLike) -> None:
        conversation(
            store,
            [
                user("q", id="q"),
                call("gone", id="lost-call"),
                result("gone", id="orphan"),
                assistant("a", id="a"),
                user("q2", id="q2"),
                call("pending", id="waiting"),
            ],
        )
        store.delete_message("lost-call")
        w = store.context("t1", max_tokens=10_000)
        assert w.ids == ["q", "a", "q2"]
        assert sorted(w.omitted) == ["orphan", "waiting"]
        store.append("t1", result("pending", id="answered"))
        assert store.context("t1", max_tokens=10_000).ids == ["q", "a", "q2", "waiting", "answered"]

    def test_a_call_id_reused_in_a_later_turn_pairs_turn_by_turn(self, store: StoreLike) -> None:
        conversation(
            store,
            [
                user("weather in Paris?", id="q1"),
                call("call_0", id="c1"),
                result("call_0", id="r1"),
                assistant("Sunny in Paris.", id="a1"),
                user("and in Rome?", id="q2"),
                call("call_0", id="c2"),
                result("call_0", id="r2"),
                assistant("Rainy in Rome.", id="a2"),
            ],
        )
        assert store.context("t1", max_tokens=10_000).ids == [
            "q1",
            "c1",
            "r1",
            "a1",
            "q2",
            "c2",
            "r2",
            "a2",
        ]
        assert store.context("t1", max_tokens=40).ids == ["q2", "c2", "r2", "a2"]
        assert store.context("t1", max_tokens=60).ids == ["a1", "q2", "c2", "r2", "a2"]

    def test_what_must_be_in_over_the_budget_raises(self, store: StoreLike) -> None:
        conversation(
            store,
            [system("be brief", tokens=50, id="s"), user("q", pinned=True, id="p"), *turns(2)],
        )
        before = fingerprint(store, "t1")
        with pytest.raises(ContextBudgetError) as err:
            store.context("t1", max_tokens=40)
        assert (err.value.required, err.value.budget) == (60, 40)
        assert isinstance(err.value, ValidationError)
        with pytest.raises(ContextBudgetError):
            store.context("t1", max_messages=1)
        assert store.context("t1", max_tokens=60).ids == ["s", "p"]
        assert fingerprint(store, "t1") == before  # reading a window writes nothing

    def test_a_newest_message_over_the_budget_raises(self, store: StoreLike) -> None:
        conversation(
            store,
            [
                system("be brief", id="s"),
                user("short", id="q"),
                assistant("ok", id="a"),
                user("a huge paste", tokens=500, id="big"),
            ],
        )
        with pytest.raises(ContextBudgetError) as err:
            store.context("t1", max_tokens=100)
        assert (err.value.required, err.value.budget) == (505, 100)
        assert store.context("t1", max_tokens=505).ids == ["s", "big"]
        with pytest.raises(ContextBudgetError) as err:
            store.context("t1", max_messages=1)
        assert err.value.required == 2

    def test_bad_budgets_and_unknown_threads_are_refused(self, store: StoreLike) -> None:
        conversation(store, turns(1))
        budgets: list[dict[str, Any]] = [
            {"max_tokens": -1},
            {"max_messages": -1},
            {"max_tokens": True},
        ]
        for kwargs in budgets:
            exc = raised(lambda: store.context("t1", **kwargs))
            assert isinstance(exc, ValidationError), (kwargs, exc)
            assert not isinstance(exc, ContextBudgetError)
        with pytest.raises(ThreadNotFoundError):
            store.context("nope", max_tokens=100)
        other = store.tenant("other")
        leaked = raised(lambda: other.context("t1", max_tokens=100))
        absent = raised(lambda: other.context("t404", max_tokens=100))
        assert type(leaked) is type(absent) is ThreadNotFoundError
        assert str(leaked).replace("t1", "?") == str(absent).replace("t404", "?")

    def test_a_window_spanning_many_pages(self, store: StoreLike) -> None:
        conversation(store, [system("be brief", id="s"), *turns(150)])
        for i in range(100, 110):  # deleted and archived messages are stepped over
            store.delete_message(f"q{i}")
        store.update_message("a120", archived_at=dt.datetime(2024, 5, 1, tzinfo=dt.UTC))
        w = store.context("t1", max_messages=200)
        live = [f"{kind}{i}" for i in range(150) for kind in ("q", "a")]
        live = [i for i in live if i != "a120" and i not in {f"q{k}" for k in range(100, 110)}]
        assert w.ids == ["s", *live[-199:]]
        assert w.truncated
        w = store.context("t1", max_tokens=5 + 10 * 150)
        assert w.ids == ["s", *live[-150:]] and w.tokens == 1505
        assert store.context("t1", max_tokens=100_000).ids == ["s", *live]

    def test_context_reads_skip_archived_and_deleted_rows(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        store.append(
            "t1",
            [Message.system("sys", id="s")]
            + [Message.user(f"old {i}", id=f"o{i}") for i in range(40)]
            + [Message.user(f"new {i}", id=f"n{i}") for i in range(6)],
        )
        when = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
        for i in range(40):
            store.update_message(f"o{i}", archived_at=when)
        store.update_message("o7", pinned=True, archived_at=None)
        store.delete_message("n2")
        store.update_message("n1", pinned=True)
        store.append("t1", Message.system("late", id="s2"))
        store.delete_message("s2")
        tenant = store.tenant_id
        first = execute_op(
            store, ops.ContextPage(tenant, "t1", 1000, 2**63 - 1, with_mandatory=True)
        )
        assert [m.id for m in first.mandatory] == ["s", "o7", "n1"]
        live = [47, 46, 45, 43, 42, 9, 1]  # n5 n4 n3 n1 n0 o7 s: no archived, no deleted
        assert [seq for seq, _ in first.rows] == live
        page = execute_op(store, ops.ContextPage(tenant, "t1", 3, 45))
        assert page.mandatory is None
        assert [seq for seq, _ in page.rows] == [43, 42, 9]
        bodies = [
            b if isinstance(b, Message) else Message.model_validate_json(b) for _, b in page.rows
        ]
        assert [m.id for m in bodies] == ["n1", "n0", "o7"]
        window = store.context("t1", max_messages=100)
        assert [m.id for m in window.messages] == ["s", "o7", "n0", "n1", "n3", "n4", "n5"]
