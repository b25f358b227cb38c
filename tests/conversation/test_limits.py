"""``max_messages`` at O(1) per add (issue 16, item 5), with tool results and
reasoning kept with their call (items 6 and 7), on every backend and face."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from convostore import Message, Role, ToolCallPart, open_store
from convostore.context import validate_context
from convostore.conversation import ConversationManager, SessionConfig
from convostore.model import ReasoningPart

from .conftest import Env
from .helpers import Spy


def reasoning() -> Message:
    return Message(role=Role.ASSISTANT, parts=[ReasoningPart(text="let me think")])


def call(*ids: str) -> Message:
    return Message.assistant("").with_parts(
        [ToolCallPart(tool_call_id=i, tool_name="f", args={}) for i in ids]
    )


class RowCounter(Spy):
    """A spy that also sums the rows of every page read."""

    def __init__(self, store: Any) -> None:
        super().__init__(store)
        self.rows = 0

    def __getattr__(self, name: str) -> Any:
        attr = super().__getattr__(name)
        if name != "list_messages":
            return attr

        def counted(*a: Any, **kw: Any) -> Any:
            page = attr(*a, **kw)
            self.rows += len(page.items)
            return page

        return counted


def test_adds_past_the_limit_read_a_few_messages_not_the_whole_limit() -> None:
    # what the conversation layer asks the store for does not depend on the backend
    spy = RowCounter(open_store("memory://"))
    conv = ConversationManager(spy, SessionConfig(max_messages=100)).create("t")  # type: ignore[arg-type]
    for i in range(150):
        conv.add(Role.USER, f"m{i}")
    spy.calls.clear()
    spy.rows = 0
    for i in range(100):
        conv.add(Role.USER, f"n{i}")
    assert spy.calls.count("append") == 100
    assert spy.calls.count("update_message") == 100  # one archived per add
    # a short read forward from the oldest active message, not ~100 rows per add
    assert spy.rows <= 100 * 20
    assert [m.content for m in conv.messages()] == [f"n{i}" for i in range(100)]


def test_the_limit_holds_with_another_writer_on_the_thread(env: Env) -> None:
    manager = env.manager(SessionConfig(max_messages=5))
    a = manager.create("t")
    b = manager.get("t")
    for i in range(12):
        (a if i % 3 else b).add(Role.USER, f"m{i}")
        if i % 4 == 0:
            env.store.append("t", [Message.assistant(f"direct {i}")])
    a.add(Role.USER, "last")
    active = a.messages()
    assert len(active) == 5
    assert active[-1].content == "last"


def test_the_limit_counts_right_after_pins_and_clears(env: Env) -> None:
    conv = env.manager(SessionConfig(max_messages=3)).create("t")
    ids = [conv.add(Role.USER, f"m{i}").id for i in range(3)]
    conv.pin(ids[0])  # pinned: no longer counts against the limit
    conv.add(Role.USER, "m3")
    assert [m.content for m in conv.messages()] == ["m0", "m1", "m2", "m3"]
    conv.add(Role.USER, "m4")
    assert [m.content for m in conv.messages()] == ["m0", "m2", "m3", "m4"]
    conv.clear_messages()
    for i in range(5, 9):
        conv.add(Role.USER, f"m{i}")
    assert [m.content for m in conv.messages()] == ["m0", "m6", "m7", "m8"]


def test_archiving_keeps_reasoning_with_the_call_it_precedes(env: Env) -> None:
    conv = env.manager(SessionConfig(max_messages=4)).create("t")
    conv.add(Role.USER, "q")
    conv.add_message(reasoning())
    conv.add_message(call("c1"))
    conv.add_message(Message.tool("ok", "c1"))
    conv.add(Role.ASSISTANT, "a")
    # five messages, limit four: the user message leaves, and nothing else has to
    assert [m.role for m in conv.messages()] == [
        Role.ASSISTANT,
        Role.ASSISTANT,
        Role.TOOL,
        Role.ASSISTANT,
    ]
    conv.add(Role.USER, "q2")
    # the reasoning must leave now, and its call with it, and the call's result
    active = conv.messages()
    assert [m.content for m in active] == ["a", "q2"]
    assert validate_context(active, "openai-responses") == []


def test_archiving_pairs_reused_call_ids_turn_by_turn(env: Env) -> None:
    conv = env.manager(SessionConfig(max_messages=5)).create("t")
    for n in range(3):
        conv.add(Role.USER, f"q{n}")
        conv.add_message(call("call_0"))
        conv.add_message(Message.tool(f"r{n}", "call_0"))
        conv.add(Role.ASSISTANT, f"a{n}")
    active = conv.messages()
    assert [m.content for m in active] == ["a1", "q2", "", "r2", "a2"]
    w = conv.context()
    assert [m.content for m in w.messages] == ["a1", "q2", "", "r2", "a2"]
    assert validate_context(w.messages, "openai-chat") == []


def test_a_window_keeps_both_exchanges_of_a_reused_call_id(env: Env) -> None:
    conv = env.manager().create("t", system_prompt="sys")
    for n in range(2):
        conv.add(Role.USER, f"q{n}")
        conv.add_message(call("call_0"))
        conv.add_message(Message.tool(f"r{n}", "call_0"))
        conv.add(Role.ASSISTANT, f"a{n}")
    w = conv.context()
    assert [m.content for m in w.messages] == ["sys", "q0", "", "r0", "a0", "q1", "", "r1", "a1"]
    assert w.omitted == []


def test_a_trailing_reasoning_message_is_left_out_of_the_window(env: Env) -> None:
    conv = env.manager().create("t")
    conv.add(Role.USER, "q")
    r = conv.add_message(reasoning())
    w = conv.context()
    assert [m.content for m in w.messages] == ["q"] and w.omitted == [r.id]
    assert validate_context(w.messages, "openai-responses") == []


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.sampled_from(["chat", "tool1", "tool3", "think", "reuse"]), max_size=14),
    st.integers(1, 6),
)
def test_trimming_keeps_whole_exchanges(script: list[str], limit: int) -> None:
    # a fresh store per example: the rule is the conversation layer's, the same on
    # every backend (the env tests above run it on each)
    store = open_store("memory://")
    conv = ConversationManager(store, SessionConfig(max_messages=limit)).create("t")
    for n, step in enumerate(script):
        conv.add(Role.USER, f"q{n}")
        if step == "think":
            conv.add_message(reasoning())
            step = "tool1"
        if step != "chat":
            count = 1 if step == "reuse" else int(step[-1])
            ids = ["call_0"] if step == "reuse" else [f"c{n}_{i}" for i in range(count)]
            conv.add_message(call(*ids))
            for i in ids:
                conv.add_message(Message.tool("ok", i))
        conv.add(Role.ASSISTANT, f"a{n}")
    active = conv.messages()
    assert len(active) <= limit
    issues = {i.code for i in validate_context(active, "openai-responses")}
    assert not issues & {"result_without_call", "call_without_result", "reasoning_not_followed"}
    # the O(1) path and a full scan agree on what stays
    fresh = ConversationManager(store, SessionConfig(max_messages=limit)).get("t")
    assert fresh is not None and fresh.enforce_limits() == 0


def test_a_message_pinned_through_another_handle_is_not_archived(env: Env) -> None:
    manager = env.manager(SessionConfig(max_messages=3))
    a = manager.create("t")
    first = a.add(Role.USER, "m0")
    a.add(Role.USER, "m1")
    a.add(Role.USER, "m2")
    b = manager.get("t")
    b.pin(first.id)  # a does not know: no append moved the thread on
    a.add(Role.USER, "m3")
    assert [m.content for m in a.messages()] == ["m0", "m1", "m2", "m3"]
    assert env.store.get_message(first.id).archived_at is None
    a.add(Role.USER, "m4")
    assert [m.content for m in a.messages()] == ["m0", "m2", "m3", "m4"]
    assert first.id in a.context().ids
