"""The OpenAI Chat Completions converter: round trips, normalisations, SDK
validation, responses, errors, drops and the store."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from tests.formats.payloads_openai import (
    CHAT_COMPLETION,
    CHAT_CORPUS,
    CHAT_NORMALISED,
    PNG,
    chat_payloads,
    check_chat,
    data_url,
)

import convostore
from convostore.formats import DroppedContentWarning, DropReport, FormatError, convert
from convostore.formats.openai_chat import from_openai_chat, to_openai_chat
from convostore.model import (
    AudioPart,
    Citation,
    DataPart,
    FilePart,
    FinishReason,
    HostedToolPart,
    ImagePart,
    Message,
    ReasoningPart,
    RefusalPart,
    Role,
    SourcePart,
    TextPart,
    TokenUsage,
    ToolCallPart,
    ToolResultPart,
)


def _round_trip(payload: list[dict[str, Any]]) -> None:
    original = copy.deepcopy(payload)
    messages = from_openai_chat(payload)
    report = DropReport()
    out = to_openai_chat(messages, report=report)
    assert out == original
    assert not report, report.summary()
    assert payload == original  # the input is not changed
    check_chat(out)


# -- round trips ---------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CHAT_CORPUS))
def test_corpus_round_trips(name: str) -> None:
    _round_trip(CHAT_CORPUS[name])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chat_payloads())
def test_generated_payloads_round_trip(payload: list[dict[str, Any]]) -> None:
    _round_trip(payload)


@pytest.mark.parametrize("name", sorted(CHAT_NORMALISED))
def test_other_spellings_normalise_idempotently(name: str) -> None:
    given_, expected = CHAT_NORMALISED[name]
    once = to_openai_chat(from_openai_chat(given_))
    assert once == expected
    assert to_openai_chat(from_openai_chat(once)) == once
    check_chat(once)


def test_request_body_reads_its_messages() -> None:
    messages = CHAT_CORPUS["parallel calls, interleaved results"]
    body = {"model": "gpt-4o", "messages": messages, "temperature": 0}
    assert to_openai_chat(from_openai_chat(body)) == messages


def test_parts_read() -> None:
    system, user, assistant, tool_b, tool_a, final = from_openai_chat(
        CHAT_CORPUS["parallel calls, interleaved results"]
    )
    assert (system.role, system.provider_role, system.content) == (
        Role.SYSTEM,
        "developer",
        "Answer briefly.",
    )
    assert user.name == "alice"
    calls = assistant.tool_calls
    assert [c.tool_call_id for c in calls] == ["call_a", "call_b"]
    assert calls[0].args == {"city": "Paris"} and calls[0].args_text is None
    assert calls[1].args == {"city": "Rome"} and calls[1].args_text == '{ "city": "Rome" }'
    assert (tool_b.role, tool_b.tool_call_id, tool_b.content) == (
        Role.TOOL,
        "call_b",
        '{"temp_c": 24}',
    )
    assert tool_a.tool_results[0].content == [TextPart(text="18 C")]
    assert final.content == "Paris 18 °C, Rome 24 °C."

    user = from_openai_chat(CHAT_CORPUS["multimodal user"])[1]
    _text, url_image, inline, audio, doc, by_id, cached = user.parts
    assert url_image == ImagePart(url="https://example.com/cat.jpg")
    assert inline == ImagePart(data=PNG, media_type="image/png", detail="high")
    assert isinstance(audio, AudioPart) and audio.media_type == "audio/wav"
    assert isinstance(doc, FilePart) and (doc.mime_type, doc.filename) == (
        "application/pdf",
        "a.pdf",
    )
    assert by_id == FilePart(provider_file_id="file-abc123")
    assert cached.provider_metadata == {
        "openai": {"prompt_cache_breakpoint": {"mode": "explicit", "ttl": "12h"}}
    }

    custom = from_openai_chat(CHAT_CORPUS["refusal, custom tool, audio, empty content"])
    assert custom[1].parts == [RefusalPart(text="I can't help with that.")]
    call = custom[3].tool_calls[0]
    assert (call.tool_kind, call.args) == ("custom", "SELECT 1")
    assert custom[5].parts == [AudioPart(provider_id="audio_abc")]


# -- responses -----------------------------------------------------------------


def test_completion_from_the_sdk_object() -> None:
    from openai.types.chat import ChatCompletion

    sdk = ChatCompletion.model_validate(CHAT_COMPLETION)
    (msg,) = from_openai_chat(sdk)
    assert from_openai_chat(CHAT_COMPLETION)[0].parts == msg.parts
    assert msg.role is Role.ASSISTANT
    text, call = msg.parts
    assert text == TextPart(
        text="Checking. See example.",
        citations=[
            Citation(
                kind="url_citation",
                url="https://example.com",
                title="Example",
                start_index=10,
                end_index=21,
            )
        ],
    )
    assert call == ToolCallPart(tool_call_id="call_1", tool_name="weather", args={"city": "Paris"})
    meta = msg.metadata
    assert (meta.model, meta.provider, meta.response_id) == (
        "gpt-4o-2024-08-06",
        "openai",
        "chatcmpl-123",
    )
    assert (meta.finish_reason, meta.provider_finish_reason) == (
        FinishReason.TOOL_CALLS,
        "tool_calls",
    )
    assert meta.token_usage == TokenUsage(
        prompt_tokens=120,
        completion_tokens=30,
        total_tokens=150,
        cached_input_tokens=64,
        reasoning_tokens=12,
    )
    # Chat requests have no annotations: sending the reply back drops them.
    report = DropReport()
    out = to_openai_chat([msg], report=report)
    assert [d.what for d in report] == ["text.citations"]
    check_chat(out)


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("stop", FinishReason.STOP),
        ("length", FinishReason.LENGTH),
        ("content_filter", FinishReason.CONTENT_FILTER),
        ("function_call", FinishReason.TOOL_CALLS),
        ("something_new", FinishReason.OTHER),
    ],
)
def test_finish_reasons(raw: str, normalised: FinishReason) -> None:
    resp = {
        "id": "c",
        "model": "m",
        "choices": [{"finish_reason": raw, "message": {"role": "assistant", "content": "x"}}],
    }
    meta = from_openai_chat(resp)[0].metadata
    assert (meta.finish_reason, meta.provider_finish_reason) == (normalised, raw)
    assert meta.token_usage is None


def test_audio_reply_keeps_bytes_and_transcript() -> None:
    from openai.types.chat import ChatCompletion

    resp = {
        "id": "c",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-audio-preview",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "audio": {
                        "id": "audio_1",
                        "data": "UklGRg==",
                        "expires_at": 2,
                        "transcript": "Hello.",
                    },
                },
            }
        ],
    }
    (msg,) = from_openai_chat(ChatCompletion.model_validate(resp))
    assert msg.parts == [AudioPart(provider_id="audio_1", data=b"RIFF", transcript="Hello.")]
    assert to_openai_chat([msg]) == [{"role": "assistant", "audio": {"id": "audio_1"}}]


# -- malformed payloads --------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"role": "user"}, "messages"),
        ("hello", "messages"),
        ([{"content": "x"}], "messages[0].role"),
        ([{"role": "wizard", "content": "x"}], "messages[0].role"),
        ([{"role": "user", "content": [{"type": "video"}]}], "messages[0].content[0].type"),
        ([{"role": "user", "content": [{"text": "x"}]}], "messages[0].content[0].type"),
        ([{"role": "system", "content": [{"type": "image_url"}]}], "messages[0].content[0].type"),
        (
            [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}],
            "messages[0].content[0].image_url.url",
        ),
        (
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_audio", "input_audio": {"data": "***", "format": "wav"}}
                    ],
                }
            ],
            "messages[0].content[0].input_audio.data",
        ),
        ([{"role": "tool", "content": "x"}], "messages[0].tool_call_id"),
        ([{"role": "tool", "tool_call_id": "", "content": "x"}], "messages[0].tool_call_id"),
        (
            [
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "c", "type": "function", "function": {}}],
                }
            ],
            "messages[0].tool_calls[0].function.arguments",
        ),
        (
            [{"role": "assistant", "tool_calls": [{"id": "c", "type": "mystery"}]}],
            "messages[0].tool_calls[0].type",
        ),
        ([{"role": "assistant", "content": 5}], "messages[0].content"),
        ({"choices": []}, "choices"),
        ({"choices": [{"message": {"role": "user", "content": "x"}}]}, "choices[0].message.role"),
        (
            {"choices": [{"message": {"role": "assistant"}}], "usage": {"prompt_tokens": -1}},
            "usage.prompt_tokens",
        ),
    ],
)
def test_malformed_payloads_name_the_field(payload: Any, field: str) -> None:
    with pytest.raises(FormatError) as caught:
        from_openai_chat(payload)
    assert caught.value.field == field


# -- messages of other formats -------------------------------------------------


def test_anthropic_shaped_messages() -> None:
    """Reasoning with a signature, tool results inside a user message, an
    error result and images in a result."""
    messages = [
        Message.user("Weather?"),
        Message.assistant().with_parts(
            ReasoningPart(text="Call the tool.", signature="sig"),
            TextPart(text="Checking."),
            ToolCallPart(tool_call_id="toolu_1", tool_name="weather", args={"city": "Paris"}),
            ToolCallPart(tool_call_id="toolu_2", tool_name="camera", args={}),
        ),
        Message(
            role=Role.USER,
            parts=[
                ToolResultPart(tool_call_id="toolu_1", result={"temp_c": 18}),
                ToolResultPart(
                    tool_call_id="toolu_2",
                    is_error=False,
                    content=[TextPart(text="see"), ImagePart(data=PNG, media_type="image/png")],
                ),
                TextPart(text="Thanks!"),
            ],
        ),
        Message(
            role=Role.USER,
            parts=[ToolResultPart(tool_call_id="toolu_3", result="boom", is_error=True)],
        ),
    ]
    report = DropReport()
    out = to_openai_chat(messages, report=report)
    assert out == [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
                },
                {
                    "id": "toolu_2",
                    "type": "function",
                    "function": {"name": "camera", "arguments": "{}"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": '{"temp_c":18}'},
        {"role": "tool", "tool_call_id": "toolu_2", "content": [{"type": "text", "text": "see"}]},
        {"role": "user", "content": "Thanks!"},
        {"role": "tool", "tool_call_id": "toolu_3", "content": "boom"},
    ]
    assert [(d.message_index, d.part_index, d.what) for d in report] == [
        (1, 0, "reasoning"),
        (2, 1, "tool-result.image"),
        (3, 0, "tool-result.is_error"),
    ]
    check_chat(out)


def test_split_assistant_messages_join_for_their_calls() -> None:
    """A reasoning-only message is dropped; calls stored one message each
    make one assistant message, whose results follow."""
    messages = [
        Message.assistant().with_parts(ReasoningPart(text="hm", provider_id="rs_1")),
        Message.assistant().with_parts(ToolCallPart(tool_call_id="a", tool_name="f")),
        Message.assistant().with_parts(ToolCallPart(tool_call_id="b", tool_name="g", args=[1])),
        Message.tool("A", "a"),
        Message.tool("B", "b", tool_name="g"),
        Message.assistant("done"),
        Message.assistant("and more"),
        Message(role=Role.TOOL, tool_call_id="c", content="content only", parts=[]),
    ]
    report = DropReport()
    out = to_openai_chat(messages, report=report)
    call = {"type": "function"}
    assert out == [
        {
            "role": "assistant",
            "tool_calls": [
                {**call, "id": "a", "function": {"name": "f", "arguments": ""}},
                {**call, "id": "b", "function": {"name": "g", "arguments": "[1]"}},
            ],
        },
        {"role": "tool", "tool_call_id": "a", "content": "A"},
        {"role": "tool", "tool_call_id": "b", "content": "B"},
        {"role": "assistant", "content": "done"},
        {"role": "assistant", "content": "and more"},
        {"role": "tool", "tool_call_id": "c", "content": "content only"},
    ]
    assert [d.what for d in report] == ["reasoning"]
    check_chat(out)


def test_attachments_are_resolved_into_data_urls() -> None:
    ref = "sha256:" + "0" * 64
    msg = Message(
        role=Role.USER,
        parts=[
            ImagePart(attachment=ref),  # media type read from the bytes
            FilePart(attachment=ref, mime_type="application/pdf", filename="x.pdf"),
            AudioPart(attachment=ref, media_type="audio/mpeg"),
        ],
    )
    out = to_openai_chat([msg], attachments=lambda r: PNG)
    content = out[0]["content"]
    assert content[0] == {"type": "image_url", "image_url": {"url": data_url("image/png", PNG)}}
    assert content[1]["file"]["file_data"] == data_url("application/pdf", PNG)
    assert content[2]["input_audio"]["format"] == "mp3"
    check_chat(out)
    with pytest.warns(DroppedContentWarning, match="3 item"):
        assert to_openai_chat([msg]) == []  # no resolver: nothing to send


def test_dropped_content_is_reported() -> None:
    msg = Message(
        role=Role.ASSISTANT,
        name="bot",
        parts=[
            TextPart(text="x", signature="gemini-sig"),
            HostedToolPart(
                provider="anthropic", item_type="server_tool_use", payload={"id": "srvtoolu_1"}
            ),
            DataPart(name="weather", data={"t": 1}),
            SourcePart(source_id="s1", url="https://a"),
            AudioPart(data=b"x", media_type="audio/wav"),
            ImagePart(url="https://a/b.png"),
            ToolCallPart(
                tool_call_id="c",
                tool_name="f",
                provider_metadata={"openai": {"namespace": "ns"}},
            ),
        ],
    )
    user = Message(
        role=Role.USER,
        parts=[
            FilePart(url="https://a/b.pdf"),
            AudioPart(data=b"x", media_type="audio/ogg"),
            ImagePart(data=b"????"),
            ImagePart(url="https://a/c.png", alt_text="a cat"),
            TextPart(text="t", citations=[Citation(kind="char_location", cited_text="t")]),
        ],
    )
    system = Message(role=Role.SYSTEM, parts=[ImagePart(url="https://a/d.png")])
    orphan = Message(role=Role.TOOL, parts=[TextPart(text="who am I answering?")])
    report = DropReport()
    out = to_openai_chat([msg, user, system, orphan], report=report)
    assert [(d.message_index, d.part_index, d.what) for d in report] == [
        (0, 0, "text.signature"),
        (0, 1, "hosted-tool"),
        (0, 2, "data"),
        (0, 3, "source"),
        (0, 4, "audio"),
        (0, 5, "image"),
        (0, 6, "provider_metadata.openai.namespace"),
        (1, 0, "file"),
        (1, 1, "audio"),
        (1, 2, "image"),
        (1, 3, "image.alt_text"),
        (1, 4, "text.citations"),
        (2, 0, "image"),
        (3, None, "message"),
    ]
    assert report.items[2].reason == "application data is not sent to models"
    assert report.target == "openai-chat"
    check_chat(out)
    with pytest.warns(DroppedContentWarning, match="openai-chat"):
        to_openai_chat([msg])


def test_messages_without_parts_use_their_content() -> None:
    messages = [
        Message(role=Role.SYSTEM, content="rules", parts=[]),
        Message(role=Role.USER, content="", parts=[]),
        Message(role=Role.ASSISTANT, content="", parts=[]),
    ]
    assert to_openai_chat(messages) == [
        {"role": "system", "content": "rules"},
        {"role": "user", "content": ""},
        {"role": "assistant", "content": ""},
    ]


def test_outputs_of_dropped_hosted_calls_are_not_written() -> None:
    from tests.formats.payloads_openai import RESPONSES_CORPUS

    converted = convert(
        RESPONSES_CORPUS["hosted tools"], source="openai-responses", target="openai-chat"
    )
    assert converted.payload == []
    assert {d.what for d in converted.dropped} == {"hosted-tool"}


def test_convert_to_responses_validates() -> None:
    from tests.formats.payloads_openai import check_responses

    for payload in CHAT_CORPUS.values():
        converted = convert(payload, source="openai-chat", target="openai-responses")
        check_responses(converted.payload)


# -- the store -----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CHAT_CORPUS))
def test_stored_messages_convert_back(name: str) -> None:
    payload = CHAT_CORPUS[name]
    with convostore.open_store("memory://") as store:
        thread = store.create_thread(user_id="u")
        store.append(thread.id, from_openai_chat(payload))
        back = store.load_messages(thread.id)
        resolve = lambda ref: store.get_attachment(ref).data
        assert to_openai_chat(back, attachments=resolve) == payload
        dicts = store.load_messages(thread.id, as_dicts=True)
        again = [Message.model_validate(d) for d in dicts]
        assert to_openai_chat(again, attachments=resolve) == payload


def test_the_strict_sdk_check_refuses_unknown_and_missing_keys() -> None:
    from openai.types.chat import ChatCompletionMessageParam
    from tests.formats.payloads_openai import sdk_errors

    kind = list[ChatCompletionMessageParam]
    assert sdk_errors([{"role": "user", "content": "x"}], kind) == []
    assert sdk_errors([{"role": "user", "content": "x", "annotations": []}], kind)
    assert sdk_errors([{"role": "tool", "content": "x"}], kind)  # no tool_call_id
    bad_part = [{"role": "user", "content": [{"type": "text", "text": "x", "cache": 1}]}]
    assert sdk_errors(bad_part, kind)


def test_reached_by_format_name() -> None:
    from convostore.formats import from_format, to_format

    payload = CHAT_CORPUS["parallel calls, interleaved results"]
    for name in ("openai-chat", "openai.chat"):
        assert to_format(from_format(payload, name), name) == payload
