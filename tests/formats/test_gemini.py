"""The Google Gemini converter: round trips, the google-genai SDK's own types,
responses, generated call ids, the structural rules of ``to_gemini``, what is
dropped, malformed payloads and a real store."""

from __future__ import annotations

import base64
import copy
import itertools
from typing import Any

import pytest
from google.genai import types as gt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.formats.payloads_anthropic import payloads as anthropic_payloads
from tests.formats.payloads_gemini import camel, payloads, variants

import convostore
from convostore.formats import (
    DroppedContentWarning,
    DropReport,
    FormatError,
    from_format,
    to_format,
)
from convostore.formats.anthropic import from_anthropic
from convostore.formats.gemini import GENERATED_ID, from_gemini, to_gemini
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
    MessageMetadata,
    ReasoningPart,
    RefusalPart,
    Role,
    SourcePart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from convostore.model.attachment import attachment_ref

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
PNG64 = base64.b64encode(PNG).decode()
WAV64 = base64.b64encode(b"RIFF\x00\x00\x00\x00WAVEfmt ").decode()
SIG = base64.b64encode(b"gemini-thought-signature").decode()
SIG2 = base64.b64encode(b"\xfb\xff\xfe another signature").decode()

# ---------------------------------------------------------------------------
# the SDK's own types: a Content validates (unknown keys are refused by the
# SDK's models) and dumps back to exactly what was written


_OWN_KEYS = frozenset({"args", "response", "part_metadata"})


def _as_python(value: Any, key: str = "") -> Any:
    """``value`` with its base64 fields as bytes, as the SDK holds them."""
    if key in _OWN_KEYS:
        return value
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == "thought_signature" or (key == "inline_data" and k == "data"):
                out[k] = base64.b64decode(v)
            else:
                out[k] = _as_python(v, k)
        return out
    if isinstance(value, list):
        return [_as_python(v) for v in value]
    return value


def assert_valid_request(payload: dict[str, Any]) -> None:
    """Every content of ``payload`` is a ``google.genai.types.Content`` that
    holds all of it."""
    assert set(payload) <= {"contents", "system_instruction"}
    contents = list(payload["contents"])
    if "system_instruction" in payload:
        contents.append(payload["system_instruction"])
    for c in contents:
        model = gt.Content.model_validate(c)
        assert model.model_dump(exclude_none=True) == _as_python(c)


def test_the_sdk_check_finds_unknown_keys() -> None:
    with pytest.raises(ValueError, match="Extra inputs"):
        assert_valid_request(
            {"contents": [{"role": "user", "parts": [{"text": "x", "colour": 1}]}]}
        )


# ---------------------------------------------------------------------------
# a corpus of real-shaped payloads

CORPUS: dict[str, dict[str, Any]] = {
    "thinking model: parallel calls without ids, the signature on the first call": {
        "system_instruction": {"parts": [{"text": "You are a weather bot."}]},
        "contents": [
            {"role": "user", "parts": [{"text": "Weather in Paris and Rome?"}]},
            {
                "role": "model",
                "parts": [
                    {"text": "Two cities, two calls.", "thought": True},
                    {
                        "function_call": {"name": "weather", "args": {"city": "Paris"}},
                        "thought_signature": SIG,
                    },
                    {"function_call": {"name": "weather", "args": {"city": "Rome"}}},
                ],
            },
            {
                "role": "user",
                "parts": [
                    {"function_response": {"name": "weather", "response": {"output": {"t": 18}}}},
                    {"function_response": {"name": "weather", "response": {"error": "timeout"}}},
                ],
            },
            {
                "role": "model",
                "parts": [{"text": "Paris is 18 °C; Rome timed out.", "thought_signature": SIG2}],
            },
        ],
    },
    "multimodal input: inline image and audio, files by URI, a clipped video": {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {
                        "inline_data": {
                            "mime_type": "image/png",
                            "data": PNG64,
                            "display_name": "chart.png",
                        },
                        "media_resolution": {"level": "MEDIA_RESOLUTION_HIGH"},
                    },
                    {"inline_data": {"mime_type": "audio/wav", "data": WAV64}},
                    {
                        "file_data": {
                            "file_uri": "https://generativelanguage.googleapis.com/v1beta/files/abc",
                            "mime_type": "application/pdf",
                            "display_name": "report.pdf",
                        }
                    },
                    {
                        "file_data": {
                            "file_uri": "https://generativelanguage.googleapis.com/v1beta/files/xyz"
                        }
                    },
                    {
                        "file_data": {"file_uri": "gs://bucket/clip.mp4", "mime_type": "video/mp4"},
                        "video_metadata": {"start_offset": "10s", "end_offset": "20s", "fps": 2.0},
                    },
                    {
                        "inline_data": {
                            "mime_type": "text/plain",
                            "data": base64.b64encode(b"notes").decode(),
                        }
                    },
                    {"text": "Summarise all of it.", "part_metadata": {"source": "upload", "n": 6}},
                ],
            },
        ]
    },
    "code execution with a signature, and an image the model made": {
        "contents": [
            {"role": "user", "parts": [{"text": "Plot 2+2."}]},
            {
                "role": "model",
                "parts": [
                    {
                        "executable_code": {"language": "PYTHON", "code": "print(2 + 2)"},
                        "thought_signature": SIG,
                    },
                    {"code_execution_result": {"outcome": "OUTCOME_OK", "output": "4\n"}},
                    {"code_execution_result": {"outcome": "OUTCOME_FAILED"}},
                    {
                        "inline_data": {"mime_type": "image/png", "data": PNG64},
                        "thought_signature": SIG2,
                    },
                    {"text": "It is 4."},
                ],
            },
        ]
    },
    "calls with ids, a rich function response and its options": {
        "contents": [
            {"role": "user", "parts": [{"text": "Screenshot the page."}]},
            {
                "role": "model",
                "parts": [
                    {
                        "function_call": {
                            "id": "fc_1",
                            "name": "screenshot",
                            "args": {"url": "https://x.test"},
                        }
                    },
                    {"function_call": {"id": "fc_2", "name": "noop"}},
                ],
            },
            {
                "role": "user",
                "parts": [
                    {
                        "function_response": {
                            "id": "fc_1",
                            "name": "screenshot",
                            "response": {"output": "captured"},
                            "parts": [{"inline_data": {"mime_type": "image/png", "data": PNG64}}],
                            "will_continue": False,
                            "scheduling": "SILENT",
                        }
                    },
                    {"function_response": {"id": "fc_2", "name": "noop", "response": {}}},
                    {"text": "Thanks."},
                ],
            },
        ]
    },
    "empty parts, a bare signature and server-side tool parts": {
        "contents": [
            {"role": "user", "parts": []},
            {
                "role": "model",
                "parts": [
                    {"thought_signature": SIG},
                    {
                        "tool_call": {
                            "id": "tc_1",
                            "tool_type": "GOOGLE_SEARCH_WEB",
                            "args": {"queryText": "pi"},
                        }
                    },
                    {
                        "tool_response": {
                            "id": "tc_1",
                            "tool_type": "GOOGLE_SEARCH_WEB",
                            "response": {"hits": 3},
                        }
                    },
                    {"text": ""},
                ],
            },
        ]
    },
}


@pytest.mark.parametrize("name", list(CORPUS))
def test_corpus_round_trips_exactly(name: str) -> None:
    payload = CORPUS[name]
    assert to_gemini(from_gemini(copy.deepcopy(payload))) == payload


@pytest.mark.parametrize("name", list(CORPUS))
def test_corpus_is_a_valid_request(name: str) -> None:
    assert_valid_request(to_gemini(from_gemini(CORPUS[name])))


@pytest.mark.parametrize("name", list(CORPUS))
def test_the_rest_spelling_reads_the_same(name: str) -> None:
    payload = CORPUS[name]
    assert to_gemini(from_gemini(camel(payload))) == payload


def test_corpus_maps_to_typed_parts() -> None:
    system, user, model, results, answer = from_gemini(
        CORPUS["thinking model: parallel calls without ids, the signature on the first call"]
    )
    assert system.role is Role.SYSTEM and system.content == "You are a weather bot."
    assert user.role is Role.USER
    thought, first, second = model.parts
    assert thought == ReasoningPart(text="Two cities, two calls.")
    assert isinstance(first, ToolCallPart) and isinstance(second, ToolCallPart)
    assert first.signature == SIG and second.signature is None
    assert GENERATED_ID.fullmatch(first.tool_call_id) and first.provider_id is None
    assert first.tool_call_id != second.tool_call_id
    assert model.role is Role.ASSISTANT and model.metadata.provider == "google"
    r1, r2 = results.parts
    assert results.role is Role.USER and not results.opens_turn
    assert isinstance(r1, ToolResultPart) and isinstance(r2, ToolResultPart)
    assert (r1.tool_call_id, r2.tool_call_id) == (first.tool_call_id, second.tool_call_id)
    assert (r1.result, r1.is_error) == ({"output": {"t": 18}}, False)
    assert (r2.tool_name, r2.is_error) == ("weather", True)
    assert answer.parts == [TextPart(text="Paris is 18 °C; Rome timed out.", signature=SIG2)]


def test_media_and_options_map_to_typed_fields() -> None:
    (user,) = from_gemini(
        CORPUS["multimodal input: inline image and audio, files by URI, a clipped video"]
    )
    image, audio, pdf, unknown, video, notes, text = user.parts
    assert image == ImagePart(
        media_type="image/png",
        data=PNG,
        provider_metadata={
            "google": {
                "inline_data": {"display_name": "chart.png"},
                "media_resolution": {"level": "MEDIA_RESOLUTION_HIGH"},
            }
        },
    )
    assert isinstance(audio, AudioPart) and audio.media_type == "audio/wav"
    assert pdf == FilePart(
        mime_type="application/pdf",
        filename="report.pdf",
        provider_file_id="https://generativelanguage.googleapis.com/v1beta/files/abc",
    )
    assert isinstance(unknown, FilePart) and unknown.mime_type == ""
    assert isinstance(video, FilePart) and video.provider_metadata["google"]["video_metadata"]
    assert notes == FilePart(mime_type="text/plain", data=b"notes")
    assert isinstance(text, TextPart) and text.provider_metadata == {
        "google": {"part_metadata": {"source": "upload", "n": 6}}
    }


def test_code_execution_and_server_tools() -> None:
    _, model = from_gemini(CORPUS["code execution with a signature, and an image the model made"])
    code, ok, failed, image, _ = model.parts
    assert code == CodePart(language="python", code="print(2 + 2)", signature=SIG)
    assert isinstance(ok, HostedToolPart) and isinstance(failed, HostedToolPart)
    assert (ok.provider, ok.item_type, ok.tool_name) == (
        "gemini",
        "code_execution_result",
        "code_execution",
    )
    assert (ok.status, ok.is_error, failed.is_error) == ("OUTCOME_OK", False, True)
    assert isinstance(image, ImagePart) and image.provider_metadata == {
        "google": {"thought_signature": SIG2}
    }

    _, model = from_gemini(CORPUS["empty parts, a bare signature and server-side tool parts"])
    bare, tool_call, tool_response, empty = model.parts
    assert bare == ReasoningPart(text="", signature=SIG, redacted=True)
    assert isinstance(tool_call, HostedToolPart) and tool_call.tool_call_id == "tc_1"
    assert tool_call.tool_name == "GOOGLE_SEARCH_WEB"
    assert isinstance(tool_response, HostedToolPart) and tool_response.item_type == "tool_response"
    assert empty == TextPart(text="")


def test_given_ids_are_kept_and_rich_responses_read() -> None:
    _, model, results = from_gemini(
        CORPUS["calls with ids, a rich function response and its options"]
    )
    assert [p.tool_call_id for p in model.tool_calls] == ["fc_1", "fc_2"]
    assert model.tool_calls[1].args is None
    shot, noop, _ = results.parts
    assert isinstance(shot, ToolResultPart) and isinstance(noop, ToolResultPart)
    assert shot.tool_call_id == "fc_1" and shot.content == [
        ImagePart(media_type="image/png", data=PNG)
    ]
    assert shot.provider_metadata == {
        "google": {"function_response": {"will_continue": False, "scheduling": "SILENT"}}
    }
    assert noop.result == {}


# ---------------------------------------------------------------------------
# generated payloads


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(payloads())
def test_generated_payloads_round_trip_exactly(payload: dict[str, Any]) -> None:
    assert to_gemini(from_gemini(copy.deepcopy(payload))) == payload


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(payloads())
def test_generated_payloads_are_valid_requests(payload: dict[str, Any]) -> None:
    assert_valid_request(to_gemini(from_gemini(payload)))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_other_spellings_read_back_in_the_canonical_one(data: st.DataObject) -> None:
    payload = data.draw(payloads())
    variant = data.draw(variants(payload))
    once = to_gemini(from_gemini(variant))
    assert once == payload
    assert to_gemini(from_gemini(once)) == once


@settings(max_examples=50, suppress_health_check=[HealthCheck.too_slow])
@given(payloads())
def test_sdk_content_objects_read_the_same(payload: dict[str, Any]) -> None:
    contents = [gt.Content.model_validate(c) for c in payload["contents"]]
    body: dict[str, Any] = {"contents": contents}
    if "system_instruction" in payload:
        body["system_instruction"] = gt.Content.model_validate(payload["system_instruction"])
    assert to_gemini(from_gemini(body)) == payload


def test_generated_ids_are_stable_and_pair_by_name_in_order() -> None:
    payload = {
        "contents": [
            {"role": "user", "parts": [{"text": "go"}]},
            {
                "role": "model",
                "parts": [
                    {"function_call": {"name": "a", "args": {"n": 1}}},
                    {"function_call": {"name": "b"}},
                    {"function_call": {"name": "a", "args": {"n": 2}}},
                ],
            },
            {
                "role": "user",
                "parts": [
                    {"function_response": {"name": "b", "response": {"output": "B"}}},
                    {"function_response": {"name": "a", "response": {"output": "A1"}}},
                    {"function_response": {"name": "a", "response": {"output": "A2"}}},
                    {"function_response": {"name": "c", "response": {"output": "?"}}},
                ],
            },
        ]
    }
    first, again = from_gemini(payload), from_gemini(payload)
    calls = [p.tool_call_id for p in first[1].parts]
    assert calls == [p.tool_call_id for p in again[1].parts]
    results = [p.tool_call_id for p in first[2].parts]
    assert results[:3] == [calls[1], calls[0], calls[2]]
    assert GENERATED_ID.fullmatch(results[3]) and results[3] not in calls
    assert to_gemini(first) == payload


def test_ids_of_other_formats_are_written() -> None:
    msgs = [
        Message.user("q"),
        Message.assistant().with_parts(
            ToolCallPart(tool_call_id="call_abc", tool_name="f", args={})
        ),
        Message.tool("done", "call_abc"),
    ]
    out = to_gemini(msgs)
    assert out["contents"][1:] == [
        {
            "role": "model",
            "parts": [{"function_call": {"id": "call_abc", "name": "f", "args": {}}}],
        },
        {
            "role": "user",
            "parts": [
                {
                    "function_response": {
                        "id": "call_abc",
                        "name": "f",
                        "response": {"output": "done"},
                    }
                }
            ],
        },
    ]


# ---------------------------------------------------------------------------
# responses

RESPONSE: dict[str, Any] = {
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [
                    {"text": "The user wants Oslo.", "thought": True},
                    {
                        "function_call": {"name": "weather", "args": {"city": "Oslo"}},
                        "thought_signature": SIG,
                    },
                ],
            },
            "finish_reason": "STOP",
            "index": 0,
        }
    ],
    "usage_metadata": {
        "prompt_token_count": 100,
        "candidates_token_count": 20,
        "cached_content_token_count": 60,
        "thoughts_token_count": 15,
        "tool_use_prompt_token_count": 5,
        "total_token_count": 140,
    },
    "model_version": "gemini-2.5-flash",
    "response_id": "resp_abc123",
}


def _check_response(msgs: list[Message]) -> None:
    (m,) = msgs
    assert m.role is Role.ASSISTANT
    assert [p.type for p in m.parts] == ["reasoning", "tool-call"]
    assert m.parts[1].signature == SIG  # type: ignore[union-attr]
    meta = m.metadata
    assert (meta.model, meta.provider, meta.response_id) == (
        "gemini-2.5-flash",
        "google",
        "resp_abc123",
    )
    # Gemini says STOP when it calls tools; convostore says what happened.
    assert meta.finish_reason is FinishReason.TOOL_CALLS
    assert meta.provider_finish_reason == "STOP"
    usage = meta.token_usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (105, 35, 140)
    assert (usage.cached_input_tokens, usage.reasoning_tokens) == (60, 15)


def test_a_response_dict_gives_the_assistant_message_with_metadata() -> None:
    _check_response(from_gemini(RESPONSE))


def test_a_rest_response_reads_the_same() -> None:
    _check_response(from_gemini(camel(RESPONSE)))


def test_an_sdk_response_object_gives_the_same() -> None:
    obj = gt.GenerateContentResponse.model_validate(RESPONSE)
    _check_response(from_gemini(obj))
    assert to_gemini(from_gemini(obj)) == to_gemini(from_gemini(RESPONSE))


def test_a_response_replays_as_its_content() -> None:
    assert to_gemini(from_gemini(RESPONSE)) == {"contents": [RESPONSE["candidates"][0]["content"]]}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("STOP", FinishReason.STOP),
        ("MAX_TOKENS", FinishReason.LENGTH),
        ("SAFETY", FinishReason.CONTENT_FILTER),
        ("RECITATION", FinishReason.CONTENT_FILTER),
        ("PROHIBITED_CONTENT", FinishReason.CONTENT_FILTER),
        ("MALFORMED_FUNCTION_CALL", FinishReason.ERROR),
        ("LANGUAGE", FinishReason.OTHER),
        ("OTHER", FinishReason.OTHER),
    ],
)
def test_finish_reasons_are_normalised_and_kept(raw: str, reason: FinishReason) -> None:
    body = {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": "x"}]}, "finish_reason": raw}
        ]
    }
    (m,) = from_gemini(body)
    assert m.metadata.finish_reason is reason
    assert m.metadata.provider_finish_reason == raw


def test_a_blocked_prompt_gives_an_empty_filtered_message() -> None:
    (m,) = from_gemini(
        {"prompt_feedback": {"block_reason": "SAFETY"}, "usage_metadata": {"prompt_token_count": 8}}
    )
    assert m.parts == []
    assert m.metadata.finish_reason is FinishReason.CONTENT_FILTER
    assert m.metadata.provider_finish_reason == "SAFETY"
    assert m.metadata.token_usage is not None and m.metadata.token_usage.total_tokens == 8


def test_grounding_and_citations_become_citations_of_the_text() -> None:
    body = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [{"text": "Pi is 3.14."}, {"text": "It is irrational."}],
                },
                "finish_reason": "STOP",
                "grounding_metadata": {
                    "grounding_chunks": [
                        {"web": {"uri": "https://a.test", "title": "A"}},
                        {"web": {"uri": "https://b.test", "title": "B"}},
                    ],
                    "grounding_supports": [
                        {
                            "segment": {
                                "part_index": 1,
                                "start_index": 0,
                                "end_index": 17,
                                "text": "It is irrational.",
                            },
                            "grounding_chunk_indices": [0, 1],
                        }
                    ],
                },
                "citation_metadata": {
                    "citations": [
                        {
                            "start_index": 0,
                            "end_index": 5,
                            "uri": "https://c.test",
                            "license": "mit",
                        }
                    ]
                },
            }
        ]
    }
    (m,) = from_gemini(body)
    first, second = m.parts
    assert isinstance(first, TextPart) and isinstance(second, TextPart)
    assert first.citations == [
        Citation(
            kind="citation",
            url="https://c.test",
            start_index=0,
            end_index=5,
            details={"license": "mit"},
        )
    ]
    assert [(c.kind, c.url, c.title, c.cited_text) for c in second.citations] == [
        ("grounding", "https://a.test", "A", "It is irrational."),
        ("grounding", "https://b.test", "B", "It is irrational."),
    ]
    # Gemini requests carry no citations.
    report = DropReport()
    to_gemini([m], report=report)
    assert [d.what for d in report] == ["text.citations", "text.citations"]


# ---------------------------------------------------------------------------
# to_gemini applies Gemini's rules to any messages


def call(call_id: str, name: str = "lookup", **args: Any) -> ToolCallPart:
    return ToolCallPart(tool_call_id=call_id, tool_name=name, args=args)


def test_system_tool_messages_and_merging() -> None:
    msgs = [
        Message.system("Be brief."),
        Message.system("Use metric units."),
        Message.user("Weather in Paris and Rome?"),
        Message.assistant().with_parts(ReasoningPart(text="two calls")),
        Message.assistant().with_parts(call("c1", city="Paris"), call("c2", city="Rome")),
        Message.tool('{"t": 18}', "c1"),
        Message(role=Role.TOOL, tool_call_id="c2", content="timeout"),
        Message(
            role=Role.TOOL,
            parts=[ToolResultPart(tool_call_id="c1", result={"t": 18}, is_error=False)],
        ),
        Message.user("Thanks"),
        Message.assistant("Paris is 18 °C."),
    ]
    out = to_gemini(msgs)
    assert out == {
        "system_instruction": {"parts": [{"text": "Be brief."}, {"text": "Use metric units."}]},
        "contents": [
            {"role": "user", "parts": [{"text": "Weather in Paris and Rome?"}]},
            {
                "role": "model",
                "parts": [
                    {"text": "two calls", "thought": True},
                    {"function_call": {"id": "c1", "name": "lookup", "args": {"city": "Paris"}}},
                    {"function_call": {"id": "c2", "name": "lookup", "args": {"city": "Rome"}}},
                ],
            },
            {
                "role": "user",
                "parts": [
                    {
                        "function_response": {
                            "id": "c1",
                            "name": "lookup",
                            "response": {"output": '{"t": 18}'},
                        }
                    },
                    {
                        "function_response": {
                            "id": "c2",
                            "name": "lookup",
                            "response": {"output": "timeout"},
                        }
                    },
                    {"function_response": {"id": "c1", "name": "lookup", "response": {"t": 18}}},
                    {"text": "Thanks"},
                ],
            },
            {"role": "model", "parts": [{"text": "Paris is 18 °C."}]},
        ],
    }
    assert_valid_request(out)


def test_errors_and_rich_tool_results() -> None:
    msgs = [
        Message.user("q"),
        Message.assistant().with_parts(call("c1"), call("c2")),
        Message.tool("boom", "c1", is_error=True),
        Message(
            role=Role.USER,
            parts=[
                ToolResultPart(
                    tool_call_id="c2",
                    content=[TextPart(text="chart"), ImagePart(media_type="image/png", data=PNG)],
                )
            ],
        ),
    ]
    out = to_gemini(msgs)
    assert out["contents"][2]["parts"] == [
        {"function_response": {"id": "c1", "name": "lookup", "response": {"error": "boom"}}},
        {
            "function_response": {
                "id": "c2",
                "name": "lookup",
                "response": {"output": "chart"},
                "parts": [{"inline_data": {"mime_type": "image/png", "data": PNG64}}],
            }
        },
    ]
    assert_valid_request(out)


def test_a_late_tool_result_joins_the_turn_after_its_call() -> None:
    msgs = [
        Message.user("start"),
        Message.assistant().with_parts(call("c1")),
        Message.user("hurry up"),
        Message.assistant("working on it"),
        Message.tool("found", "c1"),
    ]
    out = to_gemini(msgs)
    assert [c["role"] for c in out["contents"]] == ["user", "model", "user", "model"]
    assert out["contents"][2]["parts"][0]["function_response"]["id"] == "c1"


def test_a_mid_history_system_message_is_sent_as_user_text_and_reported() -> None:
    msgs = [Message.user("hi"), Message.assistant("hello"), Message.system("Now be formal.")]
    report = DropReport()
    out = to_gemini(msgs, report=report)
    assert out["contents"][-1] == {"role": "user", "parts": [{"text": "Now be formal."}]}
    assert [(d.message_index, d.what) for d in report] == [(2, "system-role")]


def test_binary_parts_from_urls_attachments_and_text_documents() -> None:
    msgs = [
        Message(
            role=Role.USER,
            parts=[
                ImagePart(attachment=attachment_ref(PNG)),
                ImagePart(url="data:image/png;base64," + PNG64),
                ImagePart(url="https://x.test/cat.jpg", media_type="image/jpeg"),
                FilePart(text="plain words", title="Notes"),
                FilePart(
                    provider_file_id="file_anthropic",
                    url="https://x.test/a.pdf",
                    mime_type="application/pdf",
                ),
            ],
        )
    ]
    out = to_gemini(msgs, attachments={attachment_ref(PNG): PNG}.__getitem__)
    inline = {"inline_data": {"mime_type": "image/png", "data": PNG64}}
    assert out["contents"][0]["parts"] == [
        inline,
        inline,
        {"file_data": {"file_uri": "https://x.test/cat.jpg", "mime_type": "image/jpeg"}},
        {
            "inline_data": {
                "mime_type": "text/plain",
                "data": base64.b64encode(b"plain words").decode(),
                "display_name": "Notes",
            }
        },
        {"file_data": {"file_uri": "https://x.test/a.pdf", "mime_type": "application/pdf"}},
    ]
    assert_valid_request(out)


def test_the_registry_reaches_the_converter() -> None:
    payload = CORPUS["code execution with a signature, and an image the model made"]
    assert to_format(from_format(payload, "gemini"), "google-gemini") == payload


# ---------------------------------------------------------------------------
# what Gemini cannot hold is reported


def _whats(report: DropReport) -> list[tuple[int, int | None, str]]:
    return [(d.message_index, d.part_index, d.what) for d in report]


def test_foreign_and_unsendable_parts_are_reported() -> None:
    anthropic = MessageMetadata(provider="anthropic")
    msgs = [
        Message.user("hi", name="alice"),
        Message(
            role=Role.ASSISTANT,
            metadata=anthropic,
            parts=[
                ReasoningPart(text="claude thinking", signature="EqQBCkgI"),
                ReasoningPart(text="", redacted=True, encrypted_content="EmwK"),
                HostedToolPart(provider="anthropic", item_type="server_tool_use", payload={}),
                ToolCallPart(tool_call_id="toolu_1", tool_name="f", args="not an object"),
                TextPart(text="ok", signature="foreign"),
            ],
        ),
        Message(
            role=Role.USER,
            parts=[
                ToolResultPart(tool_call_id="toolu_1", result="r"),
                DataPart(name="weather", data={"t": 1}),
                SourcePart(source_id="s1", url="https://x.test"),
                ImagePart(attachment=attachment_ref(PNG)),
                AudioPart(media_type="audio/wav", data=b"RIFF", transcript="hello"),
                FilePart(data=b"\x00\x01"),
            ],
        ),
        Message(role=Role.TOOL, content="orphan"),
    ]
    report = DropReport()
    out = to_gemini(msgs, report=report)
    assert _whats(report) == [
        (0, None, "name"),
        (1, 0, "reasoning"),
        (1, 1, "reasoning"),
        (1, 2, "hosted-tool"),
        (1, 3, "tool-call.args"),
        (1, 4, "text.signature"),
        (2, 1, "data"),
        (2, 2, "source"),
        (2, 3, "image"),
        (2, 4, "audio.transcript"),
        (2, 5, "file"),
        (3, None, "tool-message"),
    ]
    assert report.target == "gemini"
    assert_valid_request(out)


def test_dropping_without_a_report_warns() -> None:
    msgs = [Message(role=Role.USER, parts=[TextPart(text="x"), DataPart(name="d", data=1)])]
    with pytest.warns(DroppedContentWarning, match="gemini"):
        to_gemini(msgs)


def test_refusals_are_sent_as_text() -> None:
    msgs = [Message.user("q"), Message(role=Role.ASSISTANT, parts=[RefusalPart(text="I can't.")])]
    out = to_gemini(msgs, report=(report := DropReport()))
    assert out["contents"][1] == {"role": "model", "parts": [{"text": "I can't."}]}
    assert not report


# ---------------------------------------------------------------------------
# malformed payloads


def _one(part: Any) -> dict[str, Any]:
    return {"contents": [{"role": "user", "parts": [part]}]}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (42, "payload"),
        ({"nothing": []}, "payload"),
        ({"contents": {}}, "contents"),
        ({"contents": ["hi"]}, "contents[0]"),
        ({"contents": [{"role": "assistant", "parts": []}]}, "contents[0].role"),
        ({"contents": [{"role": "user", "parts": "x"}]}, "contents[0].parts"),
        (_one({}), "contents[0].parts[0]"),
        (
            _one({"text": "a", "inline_data": {"mime_type": "x/y", "data": ""}}),
            "contents[0].parts[0]",
        ),
        (_one({"text": 1}), "contents[0].parts[0].text"),
        (
            _one({"inline_data": {"mime_type": "image/png", "data": "!!"}}),
            "contents[0].parts[0].inline_data.data",
        ),
        (_one({"function_call": {"args": {}}}), "contents[0].parts[0].function_call.name"),
        (
            _one({"function_call": {"name": "f", "args": [1]}}),
            "contents[0].parts[0].function_call.args",
        ),
        (
            _one({"function_response": {"name": "f", "response": 3}}),
            "contents[0].parts[0].function_response.response",
        ),
        (_one({"text": "a", "thought_signature": 5}), "contents[0].parts[0].thought_signature"),
        (_one({"thoughtSignature": SIG, "thought_signature": SIG}), "contents[0].parts[0]"),
        ({"usage_metadata": {"prompt_token_count": -1}}, "usage_metadata.prompt_token_count"),
    ],
)
def test_malformed_payloads_name_the_field(payload: Any, field: str) -> None:
    with pytest.raises(FormatError) as caught:
        from_gemini(payload)
    assert caught.value.field == field


# ---------------------------------------------------------------------------
# a real store


def _store_round_trip(payload: dict[str, Any]) -> None:
    messages = from_gemini(payload)
    with convostore.open_store("memory://") as store:
        thread = store.create_thread(user_id="u")
        store.append(thread.id, messages)
        back = store.load_messages(thread.id)
        # Bytes come back from the store's attachments, not from what was sent.
        out = to_gemini(back, attachments=lambda ref: store.get_attachment(ref).data)
    assert [m.id for m in back] == [m.id for m in messages]
    assert out == payload


@pytest.mark.parametrize("name", list(CORPUS))
def test_a_store_keeps_what_the_round_trip_needs(name: str) -> None:
    _store_round_trip(CORPUS[name])


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(payloads())
def test_a_store_keeps_generated_payloads(payload: dict[str, Any]) -> None:
    _store_round_trip(payload)


# ---------------------------------------------------------------------------
# messages of another format


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(anthropic_payloads())
def test_anthropic_conversations_become_valid_requests(payload: dict[str, Any]) -> None:
    out = to_gemini(from_anthropic(payload), report=DropReport())
    assert_valid_request(out)
    roles = [c["role"] for c in out["contents"]]
    assert all(a != b for a, b in itertools.pairwise(roles))
    names = [
        p["function_response"].get("name")
        for c in out["contents"]
        for p in c["parts"]
        if "function_response" in p
    ]
    assert all(names)


def test_options_of_other_spellings_are_taken_and_unknown_ones_reported() -> None:
    msgs = [
        Message(
            role=Role.USER,
            parts=[
                TextPart(text="a", provider_metadata={"google": {"thoughtSignature": SIG}}),
                TextPart(text="b", provider_metadata={"google": {"colour": "red"}}),
                FilePart(
                    data=b"%PDF-1",
                    mime_type="application/pdf",
                    provider_metadata={"google": {"inline_data": {"displayName": "x", "size": 1}}},
                ),
            ],
        )
    ]
    report = DropReport()
    out = to_gemini(msgs, report=report)
    assert out["contents"][0]["parts"] == [
        {"text": "a", "thought_signature": SIG},
        {"text": "b"},
        {
            "inline_data": {
                "mime_type": "application/pdf",
                "data": base64.b64encode(b"%PDF-1").decode(),
                "display_name": "x",
            }
        },
    ]
    assert _whats(report) == [(0, 1, "text.provider_metadata"), (0, 2, "file.provider_metadata")]
    assert_valid_request(out)


def test_results_of_calls_not_in_the_conversation_are_reported() -> None:
    msgs = [
        Message.user("q"),
        Message(role=Role.USER, parts=[ToolResultPart(tool_call_id="gone", result="r")]),
        Message.tool("late", "also-gone"),
        Message(role=Role.TOOL, tool_call_id="gone-too", content="plain"),
    ]
    report = DropReport()
    out = to_gemini(msgs, report=report)
    assert out["contents"] == [{"role": "user", "parts": [{"text": "q"}]}]
    assert _whats(report) == [
        (1, 0, "tool-result"),
        (2, 0, "tool-result"),
        (3, None, "tool-message"),
    ]


def test_summarised_or_encrypted_reasoning_is_reported() -> None:
    msgs = [
        Message.user("q"),
        Message.assistant().with_parts(
            ReasoningPart(text="", summary=["s"], encrypted_content="gAAA"), TextPart(text="a")
        ),
    ]
    report = DropReport()
    out = to_gemini(msgs, report=report)
    assert out["contents"][1] == {"role": "model", "parts": [{"text": "a"}]}
    assert _whats(report) == [(1, 0, "reasoning")]
