"""The Anthropic Messages converter: round trips, Anthropic's own request types,
responses, the structural rules of ``to_anthropic``, what is dropped,
malformed payloads and a real store."""

from __future__ import annotations

import base64
import collections.abc
import copy
import itertools
import types
import typing
from typing import Any

import anthropic.types as at
import pydantic
import pytest
import typing_extensions
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.formats.payloads_anthropic import payloads, variants
from tests.formats.payloads_gemini import payloads as gemini_payloads

import convostore
from convostore.formats import (
    DroppedContentWarning,
    DropReport,
    FormatError,
    from_format,
    to_format,
)
from convostore.formats.anthropic import from_anthropic, to_anthropic
from convostore.formats.gemini import from_gemini
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
PDF64 = base64.b64encode(b"%PDF-1.4 tiny").decode()
SIG = base64.b64encode(b"anthropic-signature-bytes").decode()

# ---------------------------------------------------------------------------
# Anthropic's request types, checked strictly (a TypedDict lets unknown keys
# through, so every key is checked against the annotations as well).


def _problems(value: Any, tp: Any, path: str) -> list[str]:
    """Why ``value`` is not a ``tp`` (empty when it is)."""
    origin = typing.get_origin(tp)
    if tp is Any or tp is object:
        return []
    if origin is typing.Annotated or origin in (typing.Required, typing.NotRequired):
        return _problems(value, typing.get_args(tp)[0], path)
    if origin is typing.Union or origin is types.UnionType:
        branches = [_problems(value, arg, path) for arg in typing.get_args(tp)]
        if any(not b for b in branches):
            return []
        # The branch that got deepest says best what is wrong.
        return max(branches, key=lambda b: max(len(p.partition(":")[0]) for p in b))
    if origin is typing.Literal:
        return [] if value in typing.get_args(tp) else [f"{path}: {value!r} not in {tp}"]
    if tp is type(None):
        return [] if value is None else [f"{path}: must be null"]
    if typing_extensions.is_typeddict(tp):
        if not isinstance(value, dict):
            return [f"{path}: must be an object for {tp.__name__}"]
        hints = typing.get_type_hints(tp, include_extras=True)
        out = [f"{path}.{k}: unknown key of {tp.__name__}" for k in value if k not in hints]
        for key, hint in hints.items():
            if key in value:
                out += _problems(value[key], hint, f"{path}.{key}")
            elif typing.get_origin(hint) is typing.Required:
                out.append(f"{path}.{key}: required by {tp.__name__}")
        return out
    if origin in (list, collections.abc.Iterable, collections.abc.Sequence):
        if not isinstance(value, list):
            return [f"{path}: must be a list"]
        (item,) = typing.get_args(tp)
        return [p for k, v in enumerate(value) for p in _problems(v, item, f"{path}[{k}]")]
    if origin in (dict, collections.abc.Mapping):
        return [] if isinstance(value, dict) else [f"{path}: must be an object"]
    if tp is bool:
        return [] if isinstance(value, bool) else [f"{path}: must be a boolean"]
    if tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{path}: must be an integer"]
    if tp is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{path}: must be a number"]
    if isinstance(tp, type):
        return [] if isinstance(value, tp) else [f"{path}: must be {tp.__name__}"]
    return [f"{path}: cannot check {tp}"]


_MESSAGE = pydantic.TypeAdapter(at.MessageParam)
_SYSTEM = pydantic.TypeAdapter(at.TextBlockParam)


def assert_valid_request(payload: dict[str, Any]) -> None:
    """``payload`` is what ``messages.create`` takes as ``system`` and
    ``messages``: by pydantic over the SDK's types, and key by key."""
    assert set(payload) <= {"system", "messages"}
    problems: list[str] = []
    for k, block in enumerate(payload.get("system", [])):
        _SYSTEM.validate_python(block)
        problems += _problems(block, at.TextBlockParam, f"system[{k}]")
    for k, m in enumerate(payload["messages"]):
        _MESSAGE.validate_python(m)
        problems += _problems(m, at.MessageParam, f"messages[{k}]")
    assert not problems, problems


def test_the_strict_check_finds_unknown_and_missing_keys() -> None:
    good = {"role": "user", "content": [{"type": "text", "text": "hi"}]}
    assert _problems(good, at.MessageParam, "m") == []
    unknown = {"role": "user", "content": [{"type": "text", "text": "hi", "colour": 1}]}
    assert any("unknown key" in p for p in _problems(unknown, at.MessageParam, "m"))
    missing = {"role": "user", "content": [{"type": "tool_result"}]}
    assert _problems(missing, at.MessageParam, "m")


# ---------------------------------------------------------------------------
# a corpus of real-shaped payloads

CORPUS: dict[str, dict[str, Any]] = {
    "plain chat with a cached system prompt": {
        "system": [
            {"type": "text", "text": "You are terse."},
            {"type": "text", "text": "Long context...", "cache_control": {"type": "ephemeral"}},
        ],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Hello"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "Hi."}]},
        ],
    },
    "parallel calls, thinking before them, results with an error and an image": {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Two cities: two calls.", "signature": SIG},
                    {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"},
                    {"type": "text", "text": "Checking both."},
                    {
                        "type": "tool_use",
                        "id": "toolu_01",
                        "name": "weather",
                        "input": {"city": "Paris"},
                    },
                    {
                        "type": "tool_use",
                        "id": "toolu_02",
                        "name": "weather",
                        "input": {"city": "Rome", "units": ["c", "f"], "when": None},
                        "cache_control": {"type": "ephemeral"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_01", "content": '{"temp": 18}'},
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_02",
                        "content": [
                            {"type": "text", "text": "radar:"},
                            {
                                "type": "image",
                                "source": {
                                    "type": "base64",
                                    "media_type": "image/png",
                                    "data": PNG64,
                                },
                            },
                        ],
                        "is_error": True,
                    },
                    {"type": "text", "text": "Also, be quick."},
                ],
            },
            {
                "role": "assistant",
                "content": [{"type": "text", "text": "Paris 18 °C; Rome failed."}],
            },
        ]
    },
    "documents, citations and search results": {
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "document",
                        "source": {
                            "type": "base64",
                            "media_type": "application/pdf",
                            "data": PDF64,
                        },
                        "title": "Report",
                        "context": "Q3 numbers",
                        "citations": {"enabled": True},
                        "cache_control": {"type": "ephemeral", "ttl": "1h"},
                    },
                    {
                        "type": "document",
                        "source": {
                            "type": "text",
                            "media_type": "text/plain",
                            "data": "The sky is blue.",
                        },
                        "citations": {"enabled": False},
                    },
                    {"type": "document", "source": {"type": "url", "url": "https://x.test/a.pdf"}},
                    {"type": "document", "source": {"type": "file", "file_id": "file_011"}},
                    {
                        "type": "document",
                        "source": {
                            "type": "content",
                            "content": [
                                {"type": "text", "text": "chunk one"},
                                {"type": "text", "text": "two"},
                            ],
                        },
                        "title": "Chunks",
                    },
                    {
                        "type": "search_result",
                        "source": "https://kb.test/1",
                        "title": "KB",
                        "content": [{"type": "text", "text": "Blue skies."}],
                        "citations": {"enabled": True},
                    },
                    {"type": "text", "text": "What colour is the sky?"},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "text",
                        "text": "Blue.",
                        "citations": [
                            {
                                "type": "char_location",
                                "cited_text": "The sky is blue.",
                                "document_index": 1,
                                "document_title": None,
                                "start_char_index": 0,
                                "end_char_index": 16,
                            },
                            {
                                "type": "page_location",
                                "cited_text": "blue",
                                "document_index": 0,
                                "document_title": "Report",
                                "start_page_number": 2,
                                "end_page_number": 3,
                            },
                            {
                                "type": "content_block_location",
                                "cited_text": "chunk one",
                                "document_index": 4,
                                "document_title": "Chunks",
                                "start_block_index": 0,
                                "end_block_index": 1,
                            },
                            {
                                "type": "search_result_location",
                                "cited_text": "Blue skies.",
                                "search_result_index": 0,
                                "source": "https://kb.test/1",
                                "title": "KB",
                                "start_block_index": 0,
                                "end_block_index": 1,
                            },
                        ],
                    }
                ],
            },
        ]
    },
    "server tools: web search and code execution, with a pause": {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Search and compute."}]},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "server_tool_use",
                        "id": "srvtoolu_1",
                        "name": "web_search",
                        "input": {"query": "pi digits"},
                    },
                    {
                        "type": "web_search_tool_result",
                        "tool_use_id": "srvtoolu_1",
                        "content": [
                            {
                                "type": "web_search_result",
                                "url": "https://pi.test",
                                "title": "Pi",
                                "encrypted_content": "EqgfCioIARgBIiQ3YTAw",
                                "page_age": "April 30, 2025",
                            }
                        ],
                    },
                    {
                        "type": "text",
                        "text": "Pi starts 3.14.",
                        "citations": [
                            {
                                "type": "web_search_result_location",
                                "cited_text": "3.14159",
                                "encrypted_index": "Eo8BCioIAhgBIiQyYjQ",
                                "title": None,
                                "url": "https://pi.test",
                            }
                        ],
                    },
                    {
                        "type": "server_tool_use",
                        "id": "srvtoolu_2",
                        "name": "code_execution",
                        "input": {"code": "print(22/7)"},
                    },
                    {
                        "type": "code_execution_tool_result",
                        "tool_use_id": "srvtoolu_2",
                        "content": {
                            "type": "code_execution_tool_result_error",
                            "error_code": "unavailable",
                        },
                    },
                ],
            },
        ]
    },
    "MCP and container upload blocks are kept whole": {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "container_upload", "file_id": "file_abc"},
                    {"type": "text", "text": "Use the file."},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "mcp_tool_use",
                        "id": "mcptoolu_1",
                        "name": "echo",
                        "server_name": "tools",
                        "input": {"x": 1},
                    },
                    {
                        "type": "mcp_tool_result",
                        "tool_use_id": "mcptoolu_1",
                        "is_error": False,
                        "content": [{"type": "text", "text": "1"}],
                    },
                ],
            },
        ]
    },
    "empty content, a mid-history system message, images of every source": {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "url", "url": "https://x.test/cat.jpg"}},
                    {"type": "image", "source": {"type": "file", "file_id": "file_img"}},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": PNG64},
                        "cache_control": {"type": "ephemeral"},
                    },
                ],
            },
            {"role": "assistant", "content": []},
            {
                "role": "system",
                "content": [{"type": "text", "text": "From now on, answer in French."}],
            },
            {"role": "user", "content": [{"type": "text", "text": "Et maintenant ?"}]},
        ]
    },
    "tool result with no content, empty string and a search result": {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "go"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "t1", "name": "ping", "input": {}},
                    {"type": "tool_use", "id": "t2", "name": "ping", "input": {}},
                    {"type": "tool_use", "id": "t3", "name": "kb", "input": {"q": "x"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t1"},
                    {"type": "tool_result", "tool_use_id": "t2", "content": ""},
                    {
                        "type": "tool_result",
                        "tool_use_id": "t3",
                        "content": [
                            {
                                "type": "search_result",
                                "source": "kb://1",
                                "title": "One",
                                "content": [{"type": "text", "text": "x is 1"}],
                            },
                            {"type": "text", "text": "done"},
                        ],
                    },
                ],
            },
        ]
    },
}


@pytest.mark.parametrize("name", list(CORPUS))
def test_corpus_round_trips_exactly(name: str) -> None:
    payload = CORPUS[name]
    assert to_anthropic(from_anthropic(copy.deepcopy(payload))) == payload


@pytest.mark.parametrize("name", [n for n in CORPUS if "MCP" not in n])
def test_corpus_is_a_valid_request(name: str) -> None:
    assert_valid_request(to_anthropic(from_anthropic(CORPUS[name])))


def test_mcp_blocks_are_valid_beta_blocks() -> None:
    from anthropic.types.beta import BetaMessageParam

    out = to_anthropic(from_anthropic(CORPUS["MCP and container upload blocks are kept whole"]))
    adapter = pydantic.TypeAdapter(BetaMessageParam)
    for k, m in enumerate(out["messages"]):
        adapter.validate_python(m)
        assert _problems(m, BetaMessageParam, f"messages[{k}]") == []


def test_corpus_maps_to_typed_parts() -> None:
    msgs = from_anthropic(
        CORPUS["parallel calls, thinking before them, results with an error and an image"]
    )
    user, assistant, results, answer = msgs
    assert user.role is Role.USER and user.content == "Weather in Paris and Rome?"
    thinking, redacted, text, call1, call2 = assistant.parts
    assert thinking == ReasoningPart(text="Two cities: two calls.", signature=SIG)
    assert redacted == ReasoningPart(
        text="", redacted=True, encrypted_content="EmwKAhgBEgy3va3pzix"
    )
    assert isinstance(text, TextPart)
    assert call1 == ToolCallPart(
        tool_call_id="toolu_01", tool_name="weather", args={"city": "Paris"}
    )
    assert call2.provider_metadata == {"anthropic": {"cache_control": {"type": "ephemeral"}}}
    assert assistant.metadata.provider == "anthropic"
    # a user message of tool results stays a user message, as tool traffic
    assert results.role is Role.USER
    r1, r2, extra = results.parts
    assert r1 == ToolResultPart(tool_call_id="toolu_01", tool_name="weather", result='{"temp": 18}')
    assert isinstance(r2, ToolResultPart) and r2.is_error and r2.result is None
    assert r2.tool_name == "weather"
    assert r2.content == [TextPart(text="radar:"), ImagePart(media_type="image/png", data=PNG)]
    assert extra == TextPart(text="Also, be quick.")
    assert answer.content.startswith("Paris")


def test_tool_results_alone_do_not_open_a_turn() -> None:
    msgs = from_anthropic(
        {
            "messages": [
                {"role": "user", "content": "q"},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "a", "name": "f", "input": {}}],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "a", "content": "r"}],
                },
            ]
        }
    )
    assert [m.opens_turn for m in msgs] == [True, False, False]


def test_documents_citations_and_hosted_blocks_map_to_typed_fields() -> None:
    user, assistant = from_anthropic(CORPUS["documents, citations and search results"])
    pdf, text, url, file, chunks, search, _ = user.parts
    assert pdf == FilePart(
        mime_type="application/pdf",
        data=b"%PDF-1.4 tiny",
        title="Report",
        context="Q3 numbers",
        citations_enabled=True,
        provider_metadata={"anthropic": {"cache_control": {"type": "ephemeral", "ttl": "1h"}}},
    )
    assert text == FilePart(
        mime_type="text/plain", text="The sky is blue.", citations_enabled=False
    )
    assert url == FilePart(url="https://x.test/a.pdf")
    assert file == FilePart(provider_file_id="file_011")
    assert isinstance(chunks, FilePart) and chunks.text == "chunk one\ntwo"
    assert isinstance(search, HostedToolPart) and search.item_type == "search_result"
    (answer,) = assistant.parts
    assert isinstance(answer, TextPart)
    char, page, block, result = answer.citations
    assert char == Citation(
        kind="char_location",
        cited_text="The sky is blue.",
        document_index=1,
        start_index=0,
        end_index=16,
    )
    assert (page.start_index, page.end_index, page.document_title) == (2, 3, "Report")
    assert (block.start_index, block.end_index) == (0, 1)
    assert (result.url, result.index, result.title) == ("https://kb.test/1", 0, "KB")

    _, server = from_anthropic(CORPUS["server tools: web search and code execution, with a pause"])
    search_call, search_result, cited, _, code_result = server.parts
    assert isinstance(search_call, HostedToolPart) and isinstance(search_result, HostedToolPart)
    assert (search_call.tool_name, search_call.tool_call_id) == ("web_search", "srvtoolu_1")
    assert (search_result.tool_name, search_result.tool_call_id) == ("web_search", "srvtoolu_1")
    assert not search_result.is_error
    assert isinstance(code_result, HostedToolPart) and code_result.is_error
    assert (
        isinstance(cited, TextPart) and cited.citations[0].encrypted_index == "Eo8BCioIAhgBIiQyYjQ"
    )


def test_a_search_result_in_a_tool_result_is_kept_whole() -> None:
    msgs = from_anthropic(CORPUS["tool result with no content, empty string and a search result"])
    r1, r2, r3 = msgs[2].parts
    assert isinstance(r1, ToolResultPart) and r1.result is None and r1.content == []
    assert isinstance(r2, ToolResultPart) and r2.result == ""
    assert isinstance(r3, ToolResultPart) and r3.content == [TextPart(text="done")]
    assert r3.provider_metadata["anthropic"]["content"][0]["type"] == "search_result"  # type: ignore[index]


# ---------------------------------------------------------------------------
# generated payloads


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(payloads())
def test_generated_payloads_round_trip_exactly(payload: dict[str, Any]) -> None:
    assert to_anthropic(from_anthropic(copy.deepcopy(payload))) == payload


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(payloads())
def test_generated_payloads_are_valid_requests(payload: dict[str, Any]) -> None:
    assert_valid_request(to_anthropic(from_anthropic(payload)))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_other_spellings_read_back_in_the_canonical_one(data: st.DataObject) -> None:
    payload = data.draw(payloads())
    variant = data.draw(variants(payload))
    once = to_anthropic(from_anthropic(variant))
    assert once == payload
    assert to_anthropic(from_anthropic(once)) == once


def test_string_spellings_are_normalised() -> None:
    variant = {
        "system": "Be brief.",
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {
                "role": "assistant",
                "content": [{"type": "text", "text": "again", "citations": None}],
            },
        ],
    }
    once = to_anthropic(from_anthropic(variant))
    assert once == {
        "system": [{"type": "text", "text": "Be brief."}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
            {
                "role": "assistant",
                "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": "again"}],
            },
        ],
    }
    assert to_anthropic(from_anthropic(once)) == once


# ---------------------------------------------------------------------------
# responses


RESPONSE: dict[str, Any] = {
    "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [
        {"type": "thinking", "thinking": "Need the tool.", "signature": SIG},
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "toolu_9", "name": "weather", "input": {"city": "Oslo"}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 120,
        "output_tokens": 45,
        "cache_read_input_tokens": 1000,
        "cache_creation_input_tokens": 30,
        "output_tokens_details": {"thinking_tokens": 12},
    },
}


def _check_response(msgs: list[Message]) -> None:
    (m,) = msgs
    assert m.role is Role.ASSISTANT
    assert [p.type for p in m.parts] == ["reasoning", "text", "tool-call"]
    meta = m.metadata
    assert meta.model == "claude-sonnet-4-5"
    assert meta.provider == "anthropic"
    assert meta.response_id == "msg_01XFDUDYJgAACzvnptvVoYEL"
    assert meta.finish_reason is FinishReason.TOOL_CALLS
    assert meta.provider_finish_reason == "tool_use"
    usage = meta.token_usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (1150, 45, 1195)
    assert (usage.cached_input_tokens, usage.cache_write_tokens) == (1000, 30)
    assert usage.reasoning_tokens == 12


def test_a_response_dict_gives_the_assistant_message_with_metadata() -> None:
    _check_response(from_anthropic(RESPONSE))


def test_an_sdk_response_object_gives_the_same() -> None:
    obj = at.Message.model_validate(RESPONSE)
    _check_response(from_anthropic(obj))
    assert to_anthropic(from_anthropic(obj)) == to_anthropic(from_anthropic(RESPONSE))


def test_a_response_replays_as_its_content() -> None:
    replay = to_anthropic(from_anthropic(RESPONSE))
    assert replay == {"messages": [{"role": "assistant", "content": RESPONSE["content"]}]}


@pytest.mark.parametrize(
    ("stop", "reason"),
    [
        ("end_turn", FinishReason.STOP),
        ("max_tokens", FinishReason.LENGTH),
        ("stop_sequence", FinishReason.STOP_SEQUENCE),
        ("tool_use", FinishReason.TOOL_CALLS),
        ("pause_turn", FinishReason.PAUSE_TURN),
        ("refusal", FinishReason.REFUSAL),
        ("model_context_window_exceeded", FinishReason.LENGTH),
        ("something_new", FinishReason.OTHER),
    ],
)
def test_stop_reasons_are_normalised_and_kept(stop: str, reason: FinishReason) -> None:
    (m,) = from_anthropic({**RESPONSE, "stop_reason": stop})
    assert m.metadata.finish_reason is reason
    assert m.metadata.provider_finish_reason == stop


def test_usage_without_cache_fields() -> None:
    body = {**RESPONSE, "usage": {"input_tokens": 5, "output_tokens": 7}}
    (m,) = from_anthropic(body)
    assert m.metadata.token_usage is not None
    assert m.metadata.token_usage.model_dump() == {
        "prompt_tokens": 5,
        "completion_tokens": 7,
        "total_tokens": 12,
    }


# ---------------------------------------------------------------------------
# to_anthropic applies Anthropic's rules to any messages


def call(call_id: str, name: str = "lookup", **args: Any) -> ToolCallPart:
    return ToolCallPart(tool_call_id=call_id, tool_name=name, args=args)


def test_system_messages_tool_messages_and_merging() -> None:
    msgs = [
        Message.system("Be brief."),
        Message.system("Use metric units."),
        Message.user("Weather in Paris and Rome?"),
        Message.assistant().with_parts(ReasoningPart(text="two calls", signature=SIG)),
        Message.assistant().with_parts(call("c1", city="Paris"), call("c2", city="Rome")),
        Message.tool('{"t": 18}', "c1", tool_name="lookup"),
        Message.tool("timeout", "c2", tool_name="lookup", is_error=True),
        Message.user("Thanks"),
        Message.assistant("Paris is 18 °C."),
    ]
    out = to_anthropic(msgs)
    assert out == {
        "system": [
            {"type": "text", "text": "Be brief."},
            {"type": "text", "text": "Use metric units."},
        ],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "two calls", "signature": SIG},
                    {"type": "tool_use", "id": "c1", "name": "lookup", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "c2", "name": "lookup", "input": {"city": "Rome"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "c1", "content": '{"t": 18}'},
                    {
                        "type": "tool_result",
                        "tool_use_id": "c2",
                        "content": "timeout",
                        "is_error": True,
                    },
                    {"type": "text", "text": "Thanks"},
                ],
            },
            {"role": "assistant", "content": [{"type": "text", "text": "Paris is 18 °C."}]},
        ],
    }
    assert_valid_request(out)


def test_a_mid_history_system_message_stays_in_place() -> None:
    msgs = [Message.user("hi"), Message.assistant("hello"), Message.system("Now be formal.")]
    out = to_anthropic(msgs, report=(report := DropReport()))
    assert not report
    assert out["messages"][-1] == {
        "role": "system",
        "content": [{"type": "text", "text": "Now be formal."}],
    }
    assert "system" not in out
    assert [m.role for m in from_anthropic(out)] == [Role.USER, Role.ASSISTANT, Role.SYSTEM]


def test_a_late_tool_result_joins_the_turn_after_its_call() -> None:
    msgs = [
        Message.user("start"),
        Message.assistant().with_parts(call("c1")),
        Message.user("hurry up"),
        Message.assistant("working on it"),
        Message.tool("found", "c1"),
    ]
    out = to_anthropic(msgs)
    assert out["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "start"}]},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "c1", "name": "lookup", "input": {}}],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "c1", "content": "found"},
                {"type": "text", "text": "hurry up"},
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "working on it"}]},
    ]


def test_tool_results_in_a_user_message_come_first() -> None:
    msgs = [
        Message.user("q"),
        Message.assistant().with_parts(call("c1")),
        Message(
            role=Role.USER,
            parts=[TextPart(text="see:"), ToolResultPart(tool_call_id="c1", result="r")],
        ),
    ]
    content = to_anthropic(msgs)["messages"][2]["content"]
    assert [b["type"] for b in content] == ["tool_result", "text"]


def test_tool_messages_of_other_shapes() -> None:
    plain = Message(role=Role.TOOL, tool_call_id="c1", content="42")
    rich = Message(
        role=Role.TOOL,
        tool_call_id="c2",
        parts=[TextPart(text="chart"), ImagePart(media_type="image/png", data=PNG)],
    )
    json_result = Message(
        role=Role.TOOL, parts=[ToolResultPart(tool_call_id="c3", result={"ok": True})]
    )
    msgs = [Message.user("q"), Message.assistant().with_parts(call("c1"), call("c2"), call("c3"))]
    out = to_anthropic([*msgs, plain, rich, json_result])
    assert out["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "c1", "content": "42"},
        {
            "type": "tool_result",
            "tool_use_id": "c2",
            "content": [
                {"type": "text", "text": "chart"},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": PNG64},
                },
            ],
        },
        {"type": "tool_result", "tool_use_id": "c3", "content": '{"ok":true}'},
    ]
    assert_valid_request(out)


def test_binary_parts_from_urls_attachments_and_sniffing() -> None:
    stored = ImagePart(attachment=attachment_ref(PNG))
    data_url = ImagePart(url="data:image/png;base64," + PNG64)
    doc = FilePart(filename="notes.txt", mime_type="text/plain", data=b"hello")
    msgs = [Message(role=Role.USER, parts=[stored, data_url, doc])]
    out = to_anthropic(msgs, attachments={attachment_ref(PNG): PNG}.__getitem__)
    image = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": PNG64},
    }
    assert out["messages"][0]["content"] == [
        image,
        image,
        {
            "type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": "hello"},
            "title": "notes.txt",
        },
    ]


def test_the_registry_reaches_the_converter() -> None:
    payload = CORPUS["plain chat with a cached system prompt"]
    assert to_format(from_format(payload, "anthropic"), "anthropic.messages") == payload


# ---------------------------------------------------------------------------
# what Anthropic cannot hold is reported


def _whats(report: DropReport) -> list[tuple[int, int | None, str]]:
    return [(d.message_index, d.part_index, d.what) for d in report]


def test_foreign_and_unsendable_parts_are_reported() -> None:
    openai = MessageMetadata(provider="openai")
    google = MessageMetadata(provider="google")
    msgs = [
        Message.user("hi", name="alice"),
        Message(
            role=Role.ASSISTANT,
            metadata=openai,
            parts=[
                ReasoningPart(
                    text="", summary=["thought"], encrypted_content="gAAA", provider_id="rs_1"
                ),
                TextPart(
                    text="see",
                    provider_id="msg_1",
                    citations=[Citation(kind="url_citation", url="https://x.test")],
                ),
                HostedToolPart(
                    provider="openai-responses", item_type="web_search_call", payload={}
                ),
            ],
        ),
        Message(
            role=Role.ASSISTANT,
            metadata=google,
            parts=[
                ReasoningPart(text="gemini thought", signature="c2ln"),
                ToolCallPart(tool_call_id="c1", tool_name="f", args={}, signature="c2ln"),
            ],
        ),
        Message(
            role=Role.USER,
            parts=[
                ToolResultPart(tool_call_id="c1", result="ok"),
                DataPart(name="weather", data={"t": 1}),
                AudioPart(media_type="audio/wav", data=b"RIFF"),
                SourcePart(source_id="s1", url="https://x.test"),
                CodePart(language="python", code="1"),
                ImagePart(attachment=attachment_ref(PNG)),
                ImagePart(url="https://x.test/a.png", alt_text="a cat"),
            ],
        ),
        Message(role=Role.TOOL, content="orphan"),
    ]
    report = DropReport()
    out = to_anthropic(msgs, report=report)
    assert _whats(report) == [
        (0, None, "name"),
        (1, 0, "reasoning"),
        (1, 1, "text.citations"),
        (1, 1, "text.provider_id"),
        (1, 2, "hosted-tool"),
        (2, 0, "reasoning"),
        (2, 1, "tool-call.signature"),
        (3, 1, "data"),
        (3, 2, "audio"),
        (3, 3, "source"),
        (3, 4, "code"),
        (3, 5, "image"),
        (3, 6, "image.alt_text"),
        (4, None, "tool-message"),
    ]
    assert report.target == "anthropic"
    assert all(d.message_id == msgs[d.message_index].id for d in report)
    assert_valid_request(out)


def test_reasoning_without_a_signature_is_reported() -> None:
    msgs = [
        Message.user("q"),
        Message.assistant().with_parts(ReasoningPart(text="local model"), TextPart(text="a")),
    ]
    report = DropReport()
    out = to_anthropic(msgs, report=report)
    assert _whats(report) == [(1, 0, "reasoning")]
    assert out["messages"][1]["content"] == [{"type": "text", "text": "a"}]


def test_dropping_without_a_report_warns() -> None:
    msgs = [Message(role=Role.USER, parts=[TextPart(text="x"), DataPart(name="d", data=1)])]
    with pytest.warns(DroppedContentWarning, match="anthropic"):
        to_anthropic(msgs)


def test_refusals_are_sent_as_text() -> None:
    msgs = [Message.user("q"), Message(role=Role.ASSISTANT, parts=[RefusalPart(text="I can't.")])]
    out = to_anthropic(msgs, report=(report := DropReport()))
    assert out["messages"][1]["content"] == [{"type": "text", "text": "I can't."}]
    assert not report


# ---------------------------------------------------------------------------
# malformed payloads


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (42, "payload"),
        ({"nothing": []}, "payload"),
        ({"messages": {}}, "messages"),
        ({"messages": ["hi"]}, "messages[0]"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user"}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        (
            {"messages": [{"role": "user", "content": [{"text": "x"}]}]},
            "messages[0].content[0].type",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]},
            "messages[0].content[0].text",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "q"},
                    {
                        "role": "assistant",
                        "content": [{"type": "tool_use", "name": "f", "input": {}}],
                    },
                ]
            },
            "messages[1].content[0].id",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "image",
                                "source": {
                                    "type": "base64",
                                    "media_type": "image/png",
                                    "data": "!!",
                                },
                            }
                        ],
                    }
                ]
            },
            "messages[0].content[0].source.data",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "tool_result", "tool_use_id": "a", "is_error": "no"}],
                    }
                ]
            },
            "messages[0].content[0].is_error",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "text", "text": "x", "citations": [{}]}]}
                ]
            },
            "messages[0].content[0].citations[0].type",
        ),
        ({"system": 3, "messages": []}, "system"),
        ({**RESPONSE, "usage": {"input_tokens": -1, "output_tokens": 0}}, "usage.input_tokens"),
    ],
)
def test_malformed_payloads_name_the_field(payload: Any, field: str) -> None:
    with pytest.raises(FormatError) as caught:
        from_anthropic(payload)
    assert caught.value.field == field


# ---------------------------------------------------------------------------
# a real store


def _store_round_trip(payload: dict[str, Any]) -> None:
    messages = from_anthropic(payload)
    with convostore.open_store("memory://") as store:
        thread = store.create_thread(user_id="u")
        store.append(thread.id, messages)
        back = store.load_messages(thread.id)
        # Bytes come back from the store's attachments, not from what was sent.
        out = to_anthropic(back, attachments=lambda ref: store.get_attachment(ref).data)
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
@given(gemini_payloads())
def test_gemini_conversations_become_valid_requests(payload: dict[str, Any]) -> None:
    report = DropReport()
    out = to_anthropic(from_gemini(payload), report=report)
    assert_valid_request(out)
    roles = [m["role"] for m in out["messages"] if m["role"] != "system"]
    assert all(a != b for a, b in itertools.pairwise(roles))
    assert not any(d.what == "reasoning.signature" for d in report)


def test_options_of_other_spellings_are_taken_and_unknown_ones_reported() -> None:
    msgs = [
        Message(
            role=Role.USER,
            parts=[
                TextPart(
                    text="a",
                    provider_metadata={"anthropic": {"cacheControl": {"type": "ephemeral"}}},
                ),
                TextPart(text="b", provider_metadata={"anthropic": {"colour": "red"}}),
            ],
        )
    ]
    report = DropReport()
    out = to_anthropic(msgs, report=report)
    assert out["messages"][0]["content"] == [
        {"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "b"},
    ]
    assert _whats(report) == [(0, 1, "text.provider_metadata")]


def test_results_of_calls_not_in_the_conversation_are_reported() -> None:
    msgs = [
        Message.user("q"),
        Message(role=Role.USER, parts=[ToolResultPart(tool_call_id="gone", result="r")]),
        Message.tool("late", "also-gone"),
        Message(role=Role.TOOL, tool_call_id="gone-too", content="plain"),
    ]
    report = DropReport()
    out = to_anthropic(msgs, report=report)
    assert out["messages"] == [{"role": "user", "content": [{"type": "text", "text": "q"}]}]
    assert _whats(report) == [
        (1, 0, "tool-result"),
        (2, 0, "tool-result"),
        (3, None, "tool-message"),
    ]


def test_a_tool_message_of_a_foreign_hosted_tool_is_reported_not_wrapped() -> None:
    hosted = HostedToolPart(
        provider="openai-responses", item_type="computer_call_output", payload={}, tool_call_id="c1"
    )
    msgs = [Message.user("q"), Message(role=Role.TOOL, tool_call_id="c1", parts=[hosted])]
    report = DropReport()
    out = to_anthropic(msgs, report=report)
    assert len(out["messages"]) == 1
    assert _whats(report) == [(1, 0, "hosted-tool")]
