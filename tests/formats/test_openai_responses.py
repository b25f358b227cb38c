"""The OpenAI Responses converter: round trips, grouping, normalisations, SDK
validation, responses, errors, drops and the store."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from tests.formats.payloads_openai import (
    CHAT_CORPUS,
    PNG,
    RESPONSE,
    RESPONSES_CORPUS,
    check_chat,
    check_responses,
    data_url,
    responses_payloads,
)

import convostore
from convostore.formats import DroppedContentWarning, DropReport, FormatError, convert
from convostore.formats.openai_chat import from_openai_chat
from convostore.formats.openai_responses import from_openai_responses, to_openai_responses
from convostore.model import (
    AudioPart,
    Citation,
    CodePart,
    DataPart,
    FilePart,
    FinishReason,
    HostedToolPart,
    ImagePart,
    Message,
    ReasoningPart,
    RefusalPart,
    Role,
    TextPart,
    TokenUsage,
    ToolCallPart,
    ToolResultPart,
)


def _round_trip(payload: list[dict[str, Any]]) -> list[Message]:
    original = copy.deepcopy(payload)
    messages = from_openai_responses(payload)
    report = DropReport()
    out = to_openai_responses(messages, report=report)
    assert out == original
    assert not report, report.summary()
    assert payload == original  # the input is not changed
    check_responses(out)
    return messages


# -- round trips ---------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(RESPONSES_CORPUS))
def test_corpus_round_trips(name: str) -> None:
    _round_trip(RESPONSES_CORPUS[name])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(responses_payloads())
def test_generated_payloads_round_trip(payload: list[dict[str, Any]]) -> None:
    _round_trip(payload)


def test_model_side_items_group_into_one_assistant_message() -> None:
    messages = _round_trip(RESPONSES_CORPUS["reasoning before parallel calls"])
    assert [(m.role, len(m.parts)) for m in messages] == [
        (Role.SYSTEM, 1),
        (Role.USER, 1),
        (Role.ASSISTANT, 3),
        (Role.TOOL, 1),
        (Role.TOOL, 1),
        (Role.ASSISTANT, 1),
    ]
    assert messages[0].provider_role == "developer"
    reasoning, first, second = messages[2].parts
    assert reasoning == ReasoningPart(
        text="",
        summary=["Two cities: two calls."],
        encrypted_content="gAAAAABencrypted",
        provider_id="rs_1",
    )
    assert first == ToolCallPart(
        tool_call_id="call_a",
        tool_name="weather",
        args={"city": "Paris"},
        provider_id="fc_1",
        status="completed",
    )
    assert second.args_text == '{ "city": "Rome" }'  # type: ignore[union-attr]
    assert [m.tool_call_id for m in messages[3:5]] == ["call_b", "call_a"]
    assert messages[3].content == '{"temp_c": 24}'
    final = messages[5].parts[0]
    assert isinstance(final, TextPart)
    assert (final.provider_id, final.status, final.provider_metadata) == (
        "msg_1",
        "completed",
        {"openai": {"phase": "final_answer"}},
    )


def test_text_parts_of_one_item_regroup() -> None:
    messages = _round_trip(RESPONSES_CORPUS["citations, refusal and reasoning text"])
    user, assistant = messages
    assert [p.type for p in user.parts] == ["text", "image", "file", "file", "file"]
    doc = user.parts[4]
    assert isinstance(doc, FilePart) and (doc.data, doc.mime_type) == (
        b"%PDF-1.7 minimal",
        "",
    )
    thought1, thought2, text, refusal, lone_refusal, easy = assistant.parts
    assert (thought1.text, thought2.text) == ("First thought.", "Second thought.")  # type: ignore[union-attr]
    assert thought2 == ReasoningPart(text="Second thought.", provider_id="rs_2")
    assert isinstance(text, TextPart) and [c.kind for c in text.citations] == [
        "url_citation",
        "file_citation",
        "container_file_citation",
        "file_path",
    ]
    assert text.citations[1] == Citation(
        kind="file_citation", file_id="file-doc", filename="doc.pdf", index=3
    )
    assert refusal == RefusalPart(text="The rest I won't.", provider_id="msg_2")
    assert lone_refusal == RefusalPart(text="No.", provider_id="msg_3")
    assert easy == TextPart(
        text="Replayed without an id.", provider_metadata={"openai": {"phase": "commentary"}}
    )


def test_hosted_items_are_kept_whole() -> None:
    messages = _round_trip(RESPONSES_CORPUS["hosted tools"])
    hosted = [(m.role, p) for m in messages for p in m.parts]
    assert all(isinstance(p, HostedToolPart) for _, p in hosted)
    kinds = {p.item_type: (role, p) for role, p in hosted}  # type: ignore[union-attr]
    assert kinds["web_search_call"][1].tool_name == "web_search"  # type: ignore[union-attr]
    assert kinds["computer_call_output"][0] is Role.TOOL
    assert kinds["mcp_approval_response"][0] is Role.TOOL
    assert kinds["local_shell_call_output"][0] is Role.TOOL
    assert kinds["mcp_call"][1].tool_name == "convostore"  # type: ignore[union-attr]
    assert kinds["item_reference"][0] is Role.ASSISTANT
    tool_messages = [m for m in messages if m.role is Role.TOOL]
    assert all(m.tool_call_id for m in tool_messages)


def test_custom_outputs_stay_custom_without_their_call() -> None:
    messages = _round_trip(RESPONSES_CORPUS["custom tool and empty contents"])
    earlier = messages[-2].parts[0]
    assert isinstance(earlier, ToolResultPart)
    assert earlier.provider_metadata == {"openai": {"tool_kind": "custom"}}
    lookup = messages[-3].parts[0]
    assert isinstance(lookup, ToolResultPart) and lookup.tool_name == "lookup"


# -- other spellings ---------------------------------------------------------------

_NORMALISED: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {
    "one input_text is a string; type and status of input messages go": (
        [
            {
                "type": "message",
                "role": "user",
                "status": "completed",
                "content": [{"type": "input_text", "text": "hi"}],
            }
        ],
        [{"role": "user", "content": "hi"}],
    ),
    "assistant easy message with a list": (
        [
            {
                "type": "message",
                "role": "assistant",
                "content": [
                    {"type": "output_text", "text": "a", "annotations": []},
                    {"type": "input_text", "text": "b"},
                ],
            }
        ],
        [{"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}],
    ),
    "empty logprobs, null encrypted content and a single empty text go": (
        [
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [],
                "content": [{"type": "reasoning_text", "text": ""}],
                "encrypted_content": None,
            },
            {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "status": "completed",
                "content": [
                    {"type": "output_text", "text": "x", "annotations": [], "logprobs": []}
                ],
            },
        ],
        [
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": "x", "annotations": []}],
            },
        ],
    ),
    "an image without detail gets auto": (
        [{"role": "user", "content": [{"type": "input_image", "image_url": "https://a/b.png"}]}],
        [
            {
                "role": "user",
                "content": [
                    {"type": "input_image", "detail": "auto", "image_url": "https://a/b.png"}
                ],
            }
        ],
    ),
    "an output message without status is completed": (
        [
            {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "content": [{"type": "refusal", "refusal": "no"}],
            }
        ],
        [
            {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "refusal", "refusal": "no"}],
            }
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(_NORMALISED))
def test_other_spellings_normalise_idempotently(name: str) -> None:
    given_, expected = _NORMALISED[name]
    once = to_openai_responses(from_openai_responses(given_))
    assert once == expected
    assert to_openai_responses(from_openai_responses(once)) == once
    check_responses(once)


def test_request_body_with_instructions() -> None:
    body = {"model": "gpt-5", "instructions": "Be brief.", "input": "Hi"}
    system, user = from_openai_responses(body)
    assert (system.role, system.provider_role, system.content) == (
        Role.SYSTEM,
        "developer",
        "Be brief.",
    )
    assert user.content == "Hi"
    assert to_openai_responses([system, user]) == [
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]
    items = RESPONSES_CORPUS["reasoning before parallel calls"]
    assert to_openai_responses(from_openai_responses({"input": items})) == items


# -- responses -----------------------------------------------------------------


def test_response_from_the_sdk_object() -> None:
    from openai.types.responses import Response

    sdk = Response.model_validate(RESPONSE)
    (msg,) = from_openai_responses(sdk)
    assert [p.parts for p in from_openai_responses(RESPONSE)] == [msg.parts]
    assert [p.type for p in msg.parts] == ["reasoning", "hosted-tool", "text", "tool-call"]
    meta = msg.metadata
    assert (meta.model, meta.provider, meta.response_id) == (
        "o4-mini-2025-04-16",
        "openai",
        "resp_123",
    )
    assert (meta.finish_reason, meta.provider_finish_reason) == (
        FinishReason.TOOL_CALLS,
        "completed",
    )
    assert meta.token_usage == TokenUsage(
        prompt_tokens=200,
        completion_tokens=50,
        total_tokens=250,
        cached_input_tokens=128,
        cache_write_tokens=0,
        reasoning_tokens=20,
    )
    # The output goes back as input as it came (but for the empty logprobs).
    expected = copy.deepcopy(RESPONSE["output"])
    del expected[2]["content"][0]["logprobs"]
    report = DropReport()
    assert to_openai_responses([msg], report=report) == expected
    assert not report
    check_responses(expected)


@pytest.mark.parametrize(
    ("status", "details", "finish", "raw"),
    [
        ("incomplete", {"reason": "max_output_tokens"}, FinishReason.LENGTH, "max_output_tokens"),
        ("incomplete", {"reason": "content_filter"}, FinishReason.CONTENT_FILTER, "content_filter"),
        ("incomplete", None, FinishReason.OTHER, "incomplete"),
        ("completed", None, FinishReason.STOP, "completed"),
        ("failed", None, FinishReason.ERROR, "failed"),
        ("cancelled", None, FinishReason.OTHER, "cancelled"),
        ("in_progress", None, None, "in_progress"),
    ],
)
def test_finish_reasons(
    status: str, details: dict[str, Any] | None, finish: FinishReason | None, raw: str
) -> None:
    resp = {
        "id": "resp_1",
        "object": "response",
        "status": status,
        "incomplete_details": details,
        "model": "gpt-5",
        "output": [{"role": "assistant", "content": "partial"}],
        "usage": {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7},
    }
    meta = from_openai_responses(resp)[0].metadata
    assert (meta.finish_reason, meta.provider_finish_reason) == (finish, raw)
    assert meta.token_usage == TokenUsage.of(3, 4)


def test_usage_goes_on_the_last_assistant_message() -> None:
    resp = {
        "id": "resp_2",
        "object": "response",
        "status": "completed",
        "model": "gpt-5",
        "output": [
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "ran by a program"},
            {"role": "assistant", "content": "done"},
        ],
        "usage": {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3},
    }
    first, tool, last = from_openai_responses(resp)
    assert (first.metadata.response_id, first.metadata.token_usage) == ("resp_2", None)
    assert tool.metadata.response_id is None
    assert last.metadata.token_usage == TokenUsage.of(1, 2)
    assert last.metadata.finish_reason is FinishReason.TOOL_CALLS


# -- malformed payloads --------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"messages": []}, "input"),
        (5, "input"),
        ([{"content": "x"}], "input[0].type"),
        ([{"type": "message", "role": "wizard", "content": "x"}], "input[0].role"),
        ([{"role": "user", "content": [{"type": "input_video"}]}], "input[0].content[0].type"),
        ([{"role": "user", "content": 3}], "input[0].content"),
        (
            [{"type": "function_call", "call_id": "", "name": "f", "arguments": "{}"}],
            "input[0].call_id",
        ),
        ([{"type": "function_call", "call_id": "c", "name": "f"}], "input[0].arguments"),
        ([{"type": "function_call_output", "output": "x"}], "input[0].call_id"),
        (
            [{"type": "function_call_output", "call_id": "c", "output": [{"type": "refusal"}]}],
            "input[0].output[0].type",
        ),
        ([{"type": "reasoning", "id": "rs", "summary": [{}]}], "input[0].summary[0].text"),
        (
            [{"role": "assistant", "type": "message", "content": [{"type": "audio"}]}],
            "input[0].content[0].type",
        ),
        (
            [
                {
                    "role": "assistant",
                    "id": "m",
                    "content": [{"type": "output_text", "text": "x", "annotations": [{}]}],
                }
            ],
            "input[0].content[0].annotations[0].type",
        ),
        (
            [{"role": "user", "content": [{"type": "input_file", "file_data": "not base64!"}]}],
            "input[0].content[0].file_data",
        ),
        ({"object": "response", "output": [{"type": 7}]}, "output[0].type"),
        ({"output": [], "usage": {"input_tokens": "many"}}, "usage.input_tokens"),
    ],
)
def test_malformed_payloads_name_the_field(payload: Any, field: str) -> None:
    with pytest.raises(FormatError) as caught:
        from_openai_responses(payload)
    assert caught.value.field == field


# -- messages of other formats -------------------------------------------------


def test_anthropic_shaped_messages() -> None:
    """Reasoning signed by another provider cannot be replayed; tool results
    inside a user message become outputs; a custom call's result is custom."""
    messages = [
        Message.user("Weather?"),
        Message.assistant().with_parts(
            ReasoningPart(text="Call it.", signature="anthropic-sig"),
            ReasoningPart(text="", encrypted_content="opaque", redacted=True),
            TextPart(text="Checking.", citations=[Citation(kind="url_citation", url="https://a")]),
            ToolCallPart(tool_call_id="toolu_1", tool_name="weather", args={"city": "Paris"}),
            ToolCallPart(tool_call_id="toolu_2", tool_name="grammar", args="x", tool_kind="custom"),
        ),
        Message(
            role=Role.USER,
            parts=[
                ToolResultPart(tool_call_id="toolu_1", result={"temp_c": 18}, is_error=True),
                ToolResultPart(
                    tool_call_id="toolu_2",
                    content=[TextPart(text="see"), ImagePart(data=PNG, media_type="image/png")],
                ),
                TextPart(text="Thanks!"),
            ],
        ),
    ]
    report = DropReport()
    out = to_openai_responses(messages, report=report)
    assert out == [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": "Checking."},
        {
            "type": "function_call",
            "call_id": "toolu_1",
            "name": "weather",
            "arguments": '{"city":"Paris"}',
        },
        {"type": "custom_tool_call", "call_id": "toolu_2", "name": "grammar", "input": "x"},
        {"type": "function_call_output", "call_id": "toolu_1", "output": '{"temp_c":18}'},
        {
            "type": "custom_tool_call_output",
            "call_id": "toolu_2",
            "output": [
                {"type": "input_text", "text": "see"},
                {"type": "input_image", "detail": "auto", "image_url": data_url("image/png", PNG)},
            ],
        },
        {"role": "user", "content": "Thanks!"},
    ]
    assert [(d.message_index, d.part_index, d.what) for d in report] == [
        (1, 0, "reasoning"),
        (1, 1, "reasoning"),
        (1, 2, "text.citations"),
        (2, 0, "tool-result.is_error"),
    ]
    check_responses(out)


def test_chat_and_responses_convert_both_ways() -> None:
    for payload in CHAT_CORPUS.values():
        converted = convert(payload, source="openai-chat", target="openai-responses")
        check_responses(converted.payload)
        kinds = {d.what for d in converted.dropped}
        assert kinds <= {"name", "audio"}, kinds  # (assistant audio goes back by id only)
    for payload in RESPONSES_CORPUS.values():
        converted = convert(payload, source="openai-responses", target="openai-chat")
        check_chat(converted.payload)
    chat = CHAT_CORPUS["parallel calls, interleaved results"]
    items = to_openai_responses(from_openai_chat(chat), report=DropReport())
    assert items[2:5] == [
        {"role": "assistant", "content": "Let me check."},
        {
            "type": "function_call",
            "call_id": "call_a",
            "name": "weather",
            "arguments": '{"city":"Paris"}',
        },
        {
            "type": "function_call",
            "call_id": "call_b",
            "name": "weather",
            "arguments": '{ "city": "Rome" }',
        },
    ]


def test_dropped_content_is_reported() -> None:
    msg = Message(
        role=Role.ASSISTANT,
        name="bot",
        parts=[
            HostedToolPart(
                provider="anthropic", item_type="server_tool_use", payload={"id": "srvtoolu_1"}
            ),
            DataPart(name="weather", data={"t": 1}),
            CodePart(code="print(1)", language="python"),
            AudioPart(provider_id="audio_1"),
            ReasoningPart(text="t", provider_id="rs_1", signature="sig"),
            TextPart(text="t", provider_id="msg_1", citations=[Citation(kind="char_location")]),
        ],
    )
    user = Message(
        role=Role.USER,
        parts=[
            AudioPart(data=b"x", media_type="audio/wav"),
            ImagePart(data=b"????"),
            FilePart(filename="nothing.pdf"),
            FilePart(text="plain text document", title="Doc"),
        ],
    )
    orphan = Message(role=Role.TOOL, parts=[TextPart(text="who am I answering?")])
    report = DropReport()
    out = to_openai_responses([msg, user, orphan], report=report)
    assert [(d.message_index, d.part_index, d.what) for d in report] == [
        (0, 0, "hosted-tool"),
        (0, 1, "data"),
        (0, 2, "code"),
        (0, 3, "audio"),
        (0, 4, "reasoning.signature"),
        (0, 5, "citation"),
        (0, None, "name"),
        (1, 0, "audio"),
        (1, 1, "image"),
        (1, 2, "file"),
        (2, None, "message"),
    ]
    assert out[-1] == {"role": "user", "content": "plain text document"}
    assert report.target == "openai-responses"
    check_responses(out)
    with pytest.warns(DroppedContentWarning, match="openai-responses"):
        to_openai_responses([msg])


def test_content_only_messages() -> None:
    messages = [
        Message(role=Role.SYSTEM, content="rules", parts=[]),
        Message(role=Role.ASSISTANT, content="", parts=[]),
        Message(role=Role.TOOL, tool_call_id="c", name="f", content="result", parts=[]),
        Message.tool('{"ok": true}', "c2", tool_name="g"),
        Message.assistant().with_parts(RefusalPart(text="I won't.")),  # e.g. from Chat
    ]
    out = to_openai_responses(messages)
    assert out == [
        {"role": "system", "content": "rules"},
        {"role": "assistant", "content": ""},
        {"type": "function_call_output", "call_id": "c", "output": "result", "name": "f"},
        {"type": "function_call_output", "call_id": "c2", "output": '{"ok": true}', "name": "g"},
        {"role": "assistant", "content": "I won't."},
    ]
    check_responses(out)


def test_attachments_are_resolved() -> None:
    ref = "sha256:" + "1" * 64
    msg = Message(
        role=Role.USER,
        parts=[
            ImagePart(attachment=ref, media_type="image/png", detail="low"),
            FilePart(attachment=ref, mime_type="application/pdf"),
        ],
    )
    out = to_openai_responses([msg], attachments=lambda r: PNG)
    assert out == [
        {
            "role": "user",
            "content": [
                {"type": "input_image", "detail": "low", "image_url": data_url("image/png", PNG)},
                {"type": "input_file", "file_data": data_url("application/pdf", PNG)},
            ],
        }
    ]


# -- the store -----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(RESPONSES_CORPUS))
def test_stored_messages_convert_back(name: str) -> None:
    payload = RESPONSES_CORPUS[name]
    with convostore.open_store("memory://") as store:
        thread = store.create_thread(user_id="u")
        store.append(thread.id, from_openai_responses(payload))
        back = store.load_messages(thread.id)
        resolve = lambda ref: store.get_attachment(ref).data
        assert to_openai_responses(back, attachments=resolve) == payload


def test_stored_dicts_keep_item_ids() -> None:
    """A lone text part equal to ``content`` is left out of the stored form only
    when it holds nothing else (its item id here)."""
    payload = RESPONSES_CORPUS["reasoning before parallel calls"]
    with convostore.open_store("memory://") as store:
        thread = store.create_thread(user_id="u")
        store.append(thread.id, from_openai_responses(payload))
        dicts = store.load_messages(thread.id, as_dicts=True)
        assert to_openai_responses([Message.model_validate(d) for d in dicts]) == payload


def test_the_strict_sdk_check_refuses_unknown_keys() -> None:
    from openai.types.responses import ResponseInputItemParam
    from tests.formats.payloads_openai import sdk_errors

    kind = list[ResponseInputItemParam]
    assert sdk_errors([{"role": "user", "content": "x"}], kind) == []
    assert sdk_errors([{"type": "message", "id": "m", "role": "user", "content": "x"}], kind)
    item = {"type": "function_call", "call_id": "c", "name": "f", "arguments": "", "x": 1}
    assert sdk_errors([item], kind)


def test_reached_by_format_name() -> None:
    from convostore.formats import from_format, to_format

    payload = RESPONSES_CORPUS["reasoning before parallel calls"]
    for name in ("openai-responses", "openai.responses"):
        assert to_format(from_format(payload, name), name) == payload
