"""One system prompt per thread (issue 16, item 10) and what opens and completes
a turn (item 12), on every backend and face."""

from __future__ import annotations

from convostore import ImagePart, Message, Role, ToolCallPart, ToolResultPart
from convostore.conversation import SessionConfig
from convostore.model import ReasoningPart

from .conftest import Env


def systems(env: Env, thread_id: str) -> list[str]:
    return [
        m.content
        for m in env.store.list_messages(thread_id, limit=1000).items
        if m.role is Role.SYSTEM and m.archived_at is None
    ]


# --- item 10 ------------------------------------------------------------------------


def test_set_system_prompt_after_the_conversation_started_leads_every_window(env: Env) -> None:
    conv = env.manager().create("t")
    conv.add(Role.USER, "hi")
    conv.add(Role.ASSISTANT, "hello")
    conv.set_system_prompt("be brief")
    assert [m.content for m in conv.context().messages] == ["be brief", "hi", "hello"]
    assert [m.content for m in conv.context(max_messages=2).messages] == ["be brief", "hello"]
    assert env.store.context("t").messages[0].content == "be brief"


def test_set_system_prompt_replaces_in_place_however_long_the_thread(env: Env) -> None:
    conv = env.manager(SessionConfig(max_messages=None)).create("t", system_prompt="v1")
    for i in range(30):
        conv.add(Role.USER if i % 2 == 0 else Role.ASSISTANT, f"m{i}")
    first = env.store.list_messages("t", limit=1).items[0]
    conv.set_system_prompt("v2")
    conv.set_system_prompt("v3")
    assert systems(env, "t") == ["v3"]
    prompt = env.store.get_message(first.id)
    assert prompt.content == "v3" and prompt.seq == first.seq
    assert conv.system_prompt == "v3"
    w = conv.context()
    assert w[0].content == "v3" and sum(m.role is Role.SYSTEM for m in w) == 1


def test_a_prompt_set_late_is_found_and_replaced_after_many_messages(env: Env) -> None:
    conv = env.manager(SessionConfig(max_messages=None)).create("t")
    for i in range(25):
        conv.add(Role.USER, f"m{i}")
    conv.set_system_prompt("late v1")
    for i in range(25):
        conv.add(Role.USER, f"n{i}")
    conv.set_system_prompt("late v2")
    assert systems(env, "t") == ["late v2"]
    assert conv.context()[0].content == "late v2"


def test_adding_a_system_message_replaces_the_prompt(env: Env) -> None:
    conv = env.manager().create("t", system_prompt="v1")
    conv.add(Role.USER, "q")
    replaced = conv.add(Role.SYSTEM, "v2")
    assert replaced.content == "v2" and replaced.seq == 1
    conv.add_message(Message.system("v3"))
    assert systems(env, "t") == ["v3"]
    assert conv.system_prompt == "v3"
    assert [m.content for m in conv.messages()] == ["v3", "q"]


def test_a_system_message_appended_through_the_store_is_ordinary_history(env: Env) -> None:
    conv = env.manager().create("t", system_prompt="you are helpful")
    conv.add(Role.USER, "q1")
    conv.add(Role.ASSISTANT, "a1")
    env.store.append(
        "t", [Message.system("note: the user moved to Rome", token_count=500, token_counter="test")]
    )
    conv.add(Role.USER, "q2")
    conv.add(Role.ASSISTANT, "a2")
    w = conv.context()
    assert w.messages[0].content == "you are helpful"
    assert sum(m.role is Role.SYSTEM for m in w) == 2  # in, while it fits
    small = conv.context(max_tokens=w.tokens - 400)
    assert [m.content for m in small.messages] == ["you are helpful", "q2", "a2"]


# --- item 12 ------------------------------------------------------------------------


def test_an_image_only_reply_completes_its_turn(env: Env) -> None:
    conv = env.manager().create("t")
    conv.add(Role.USER, "draw a cat")
    conv.add_message(Message(role=Role.ASSISTANT, parts=[ImagePart(image_id="img_1")]))
    turn = conv.last_turn()
    assert turn is not None and turn.is_complete
    assert turn.assistant_response is not None
    assert turn.assistant_response.parts == [ImagePart(image_id="img_1")]


def test_reasoning_alone_does_not_complete_a_turn(env: Env) -> None:
    conv = env.manager().create("t")
    conv.add(Role.USER, "think")
    conv.add_message(Message(role=Role.ASSISTANT, parts=[ReasoningPart(text="hmm")]))
    turn = conv.last_turn()
    assert turn is not None and not turn.is_complete
    conv.add(Role.ASSISTANT, "42")
    turn = conv.last_turn()
    assert turn is not None and turn.is_complete and turn.assistant_response is not None
    assert turn.assistant_response.content == "42"


def test_an_anthropic_style_tool_result_belongs_to_the_current_turn(env: Env) -> None:
    conv = env.manager().create("t")
    conv.add(Role.USER, "weather?")
    conv.add_message(
        Message.assistant("").with_parts(
            [ToolCallPart(tool_call_id="toolu_1", tool_name="weather", args={})]
        )
    )
    conv.add_message(
        Message(
            role=Role.USER,
            parts=[ToolResultPart(tool_call_id="toolu_1", tool_name="weather", result="sunny")],
        )
    )
    conv.add(Role.ASSISTANT, "It is sunny.")
    assert conv.current_turn() == 1
    turn = conv.get_turn(1)
    assert turn is not None and turn.is_complete
    assert turn.user_message.content == "weather?"
    assert [m.role for m in turn.tool_calls] == [Role.USER]
    assert len(turn.messages) == 4
    assert turn.assistant_response is not None
    assert turn.assistant_response.content == "It is sunny."
