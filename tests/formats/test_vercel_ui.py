"""The Vercel AI SDK 5 ``UIMessage`` converter: round trips, the AI SDK's own
validator (under node), conversions from other formats' messages, what is
dropped, malformed payloads and a real store."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import pytest
from hypothesis import HealthCheck, given, settings
from tests.formats.payloads_vercel_ui import payloads, variant_payloads

import convostore
from convostore.formats import (
    DroppedContentWarning,
    DropReport,
    FormatError,
    from_format,
    to_format,
)
from convostore.formats.vercel_ui import (
    UI_METADATA,
    UI_NEW_MESSAGE,
    UI_NO_STEP_START,
    from_vercel_ui,
    to_vercel_ui,
)
from convostore.model import (
    AudioPart,
    Citation,
    CodePart,
    DataPart,
    FilePart,
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

HERE = Path(__file__).resolve().parent
NODE_DIR = HERE / "node_validate"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
PNG_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()
PDF_URL = "data:application/pdf;base64," + base64.b64encode(b"%PDF-1.4 tiny").decode()

# ---------------------------------------------------------------------------
# the corpus: real-shaped payloads, as useChat and streamText write them

WEATHER_RUN = [
    {
        "id": "sys",
        "role": "system",
        "parts": [{"type": "text", "text": "You are a helpful assistant."}],
    },
    {
        "id": "u1",
        "role": "user",
        "metadata": {"createdAt": 1735000000000},
        "parts": [{"type": "text", "text": "Weather in Paris and Rome?"}],
    },
    {
        "id": "a1",
        "role": "assistant",
        "metadata": {"model": "gpt-4o", "totalUsage": {"inputTokens": 120, "outputTokens": 30}},
        "parts": [
            {"type": "step-start"},
            {
                "type": "reasoning",
                "text": "Two cities: call the tool twice.",
                "state": "done",
                "providerMetadata": {"anthropic": {"signature": "sig-abc"}},
            },
            {
                "type": "tool-weather",
                "toolCallId": "call_1",
                "state": "output-available",
                "input": {"city": "Paris"},
                "output": {"temp_c": 18},
                "callProviderMetadata": {"openai": {"itemId": "fc_1"}},
            },
            {
                "type": "tool-weather",
                "toolCallId": "call_2",
                "state": "output-error",
                "input": {"city": "Rome"},
                "errorText": "upstream timeout",
            },
            {"type": "step-start"},
            {"type": "text", "text": "Paris: 18 °C. Rome: unavailable.", "state": "done"},
        ],
    },
]

CORPUS: dict[str, list[dict[str, Any]]] = {
    "weather run: parallel calls, error, reasoning, steps": WEATHER_RUN,
    "no step-start, simple text": [
        {"id": "u", "role": "user", "parts": [{"type": "text", "text": "hi"}]},
        {"id": "a", "role": "assistant", "parts": [{"type": "text", "text": "hello"}]},
    ],
    "empty assistant and empty text": [
        {"id": "u", "role": "user", "parts": [{"type": "text", "text": ""}]},
        {"id": "a", "role": "assistant", "parts": []},
        {"id": "b", "role": "assistant", "parts": [{"type": "step-start"}]},
    ],
    "consecutive assistant messages": [
        {
            "id": "a",
            "role": "assistant",
            "parts": [{"type": "step-start"}, {"type": "text", "text": "1"}],
        },
        {
            "id": "b",
            "role": "assistant",
            "parts": [{"type": "step-start"}, {"type": "text", "text": "2"}],
        },
        {"id": "c", "role": "assistant", "parts": [{"type": "text", "text": "3"}]},
    ],
    "streaming state: partial input, streaming text": [
        {"id": "u", "role": "user", "parts": [{"type": "text", "text": "go"}]},
        {
            "id": "a",
            "role": "assistant",
            "parts": [
                {"type": "step-start"},
                {"type": "text", "text": "Let me", "state": "streaming"},
                {
                    "type": "tool-search",
                    "toolCallId": "c1",
                    "state": "input-streaming",
                    "input": {"q": "pa"},
                    "rawInput": '{"q": "pa',
                },
                {"type": "tool-search", "toolCallId": "c2", "state": "input-streaming"},
                {
                    "type": "tool-lookup",
                    "toolCallId": "c3",
                    "state": "input-available",
                    "input": {},
                },
            ],
        },
    ],
    "dynamic tools, preliminary output, unparsable input": [
        {
            "id": "a",
            "role": "assistant",
            "parts": [
                {"type": "step-start"},
                {
                    "type": "dynamic-tool",
                    "toolName": "mcp_fetch",
                    "toolCallId": "d1",
                    "state": "output-available",
                    "input": {"url": "https://example.com"},
                    "output": {"content": [{"type": "text", "text": "ok"}]},
                    "preliminary": True,
                },
                {
                    "type": "dynamic-tool",
                    "dynamic": False,
                    "toolName": "weather",
                    "toolCallId": "d2",
                    "state": "input-available",
                    "input": None,
                },
                {
                    "type": "tool-calc",
                    "toolCallId": "d3",
                    "state": "output-error",
                    "rawInput": "{not json",
                    "errorText": "Invalid input for tool calc",
                },
            ],
        }
    ],
    "provider-executed (hosted) tools and sources": [
        {"id": "u", "role": "user", "parts": [{"type": "text", "text": "news?"}]},
        {
            "id": "a",
            "role": "assistant",
            "parts": [
                {"type": "step-start"},
                {
                    "type": "tool-web_search",
                    "toolCallId": "srvtoolu_1",
                    "state": "output-available",
                    "input": {"query": "news"},
                    "output": [{"url": "https://news.example", "title": "News"}],
                    "providerExecuted": True,
                },
                {
                    "type": "dynamic-tool",
                    "toolName": "code_execution",
                    "toolCallId": "srvtoolu_2",
                    "state": "output-error",
                    "input": {"code": "1/0"},
                    "errorText": "ZeroDivisionError",
                    "providerExecuted": True,
                },
                {
                    "type": "source-url",
                    "sourceId": "s1",
                    "url": "https://news.example",
                    "title": "News",
                    "providerMetadata": {"anthropic": {"citedText": "..."}},
                },
                {
                    "type": "source-document",
                    "sourceId": "s2",
                    "mediaType": "application/pdf",
                    "title": "Report",
                    "filename": "report.pdf",
                },
                {"type": "text", "text": "Here is the news [1]."},
            ],
        },
    ],
    "files: inline image, named image, pdf, link, audio, odd data URL": [
        {
            "id": "u",
            "role": "user",
            "parts": [
                {"type": "text", "text": "Look"},
                {"type": "file", "mediaType": "image/png", "url": PNG_URL},
                {"type": "file", "mediaType": "image/png", "filename": "cat.png", "url": PNG_URL},
                {
                    "type": "file",
                    "mediaType": "application/pdf",
                    "filename": "a.pdf",
                    "url": PDF_URL,
                },
                {"type": "file", "mediaType": "image/jpeg", "url": "https://example.com/x.jpg"},
                {"type": "file", "mediaType": "audio/wav", "url": "data:audio/wav;base64,UklGRg=="},
                {"type": "file", "mediaType": "text/plain", "url": "data:text/plain,hello%20world"},
                {
                    "type": "file",
                    "mediaType": "image/png",
                    "url": PNG_URL,
                    "providerMetadata": {"openai": {"imageDetail": "low"}},
                },
            ],
        },
        {
            "id": "a",
            "role": "assistant",
            "parts": [
                {"type": "step-start"},
                {"type": "file", "mediaType": "image/png", "url": PNG_URL},
            ],
        },
    ],
    "data parts and message metadata": [
        {
            "id": "u",
            "role": "user",
            "metadata": None,
            "parts": [
                {"type": "text", "text": "hi"},
                {"type": "data-context", "data": {"page": 3}},
            ],
        },
        {
            "id": "a",
            "role": "assistant",
            "metadata": ["any", "json"],
            "parts": [
                {"type": "data-weather", "id": "w1", "data": {"status": "loading"}},
                {"type": "step-start"},
                {"type": "data-notification", "data": None},
                {"type": "text", "text": "done"},
            ],
        },
    ],
    "tool call id reused by a later step": [
        {
            "id": "a",
            "role": "assistant",
            "parts": [
                {"type": "step-start"},
                {"type": "tool-t", "toolCallId": "call_0", "state": "input-available", "input": 1},
                {"type": "step-start"},
                {
                    "type": "tool-t",
                    "toolCallId": "call_0",
                    "state": "output-available",
                    "input": 2,
                    "output": 3,
                },
                {"type": "step-start"},
                {
                    "type": "tool-t",
                    "toolCallId": "call_0",
                    "state": "output-available",
                    "input": 4,
                    "output": 5,
                },
            ],
        }
    ],
}

# ---------------------------------------------------------------------------
# the AI SDK's validator, under node


def _skip_or_fail(reason: str) -> NoReturn:
    """Skip the test, or fail it in CI (``CI=true``), where the check must run."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"AI SDK validation cannot run in CI: {reason}")
    pytest.skip(f"AI SDK validation skipped: {reason}")


def _cache_root() -> Path:
    given_dir = os.environ.get("CONVOSTORE_NODE_CACHE")
    if given_dir:
        return Path(given_dir)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "convostore" / "node-validate"


def _install() -> Path:
    """The directory whose node_modules holds the pinned ``ai`` package,
    installed once (``npm ci`` from the lock file) and cached outside the
    checkout by the lock file's hash."""
    spec = (NODE_DIR / "package.json").read_bytes() + (NODE_DIR / "package-lock.json").read_bytes()
    target = _cache_root() / f"ai-{hashlib.sha256(spec).hexdigest()[:16]}"
    if (target / "node_modules" / "ai" / "package.json").is_file():
        return target
    npm = shutil.which("npm")
    if npm is None:
        _skip_or_fail("npm is not installed")
    shutil.rmtree(target, ignore_errors=True)  # a broken earlier install
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="install-", dir=target.parent))
    try:
        for name in ("package.json", "package-lock.json"):
            shutil.copy(NODE_DIR / name, work / name)
        try:
            done = subprocess.run(
                [str(npm), "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
                cwd=work,
                capture_output=True,
                text=True,
                timeout=120,
            )
        except subprocess.TimeoutExpired:
            _skip_or_fail("npm ci took longer than 120 s (is the npm registry reachable?)")
        if done.returncode != 0:
            _skip_or_fail(f"npm ci failed (is the npm registry reachable?): {done.stderr[-800:]}")
        with contextlib.suppress(OSError):  # another run installed it meanwhile
            work.rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


Validator = Callable[[list[list[dict[str, Any]]]], list[dict[str, Any]]]


@pytest.fixture(scope="session")
def ai_sdk_validate(tmp_path_factory: pytest.TempPathFactory) -> Validator:
    """Runs the AI SDK's ``safeValidateUIMessages`` over payloads; returns one
    ``{"ok": ..., "error": ...}`` per payload."""
    node = shutil.which("node")
    if node is None:
        _skip_or_fail("node is not installed")
    modules = _install()
    folder = tmp_path_factory.mktemp("ui-validate")

    def validate(batch: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
        source = folder / "input.json"
        source.write_text(json.dumps(batch), encoding="utf-8")
        done = subprocess.run(
            [str(node), str(NODE_DIR / "validate.mjs"), str(modules), str(source)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        results: list[dict[str, Any]] = json.loads(done.stdout)
        return results

    return validate


def _assert_valid(validate: Validator, batch: list[list[dict[str, Any]]]) -> None:
    results = validate(batch)
    bad = [(i, r["error"], batch[i]) for i, r in enumerate(results) if not r["ok"]]
    assert not bad, f"{len(bad)} payload(s) the AI SDK refuses; first: {bad[0]}"


# ---------------------------------------------------------------------------
# round trips


@pytest.mark.parametrize("name", list(CORPUS))
def test_corpus_round_trips_exactly(name: str) -> None:
    payload = CORPUS[name]
    assert to_vercel_ui(from_vercel_ui(payload)) == payload


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(payloads())
def test_round_trip_property(payload: list[dict[str, Any]]) -> None:
    report = DropReport()
    assert to_vercel_ui(from_vercel_ui(payload), report=report) == payload
    assert not report


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(variant_payloads())
def test_other_spellings_normalise_idempotently(payload: list[dict[str, Any]]) -> None:
    once = to_vercel_ui(from_vercel_ui(payload))
    assert to_vercel_ui(from_vercel_ui(once)) == once


def test_other_spellings_read_as_documented() -> None:
    payload = [
        {
            "id": "a",
            "role": "assistant",
            "parts": [
                {"type": "text", "text": "x", "providerMetadata": {}, "extra": 1},
                {"type": "source-url", "sourceId": "s", "url": "https://x", "title": None},
                {"type": "file", "mediaType": "image/png", "filename": "", "url": PNG_URL},
                {"type": "data-x"},
                {
                    "type": "tool-t",
                    "toolCallId": "c1",
                    "state": "input-streaming",
                    "input": None,
                    "providerExecuted": False,
                },
                {
                    "type": "tool-t",
                    "toolCallId": "c2",
                    "state": "output-error",
                    "rawInput": {"a": 1},
                    "errorText": "bad",
                    "callProviderMetadata": {},
                },
                {
                    "type": "tool-t",
                    "toolCallId": "c3",
                    "state": "output-available",
                    "input": 1,
                    "output": 2,
                    "preliminary": False,
                },
            ],
        }
    ]
    assert to_vercel_ui(from_vercel_ui(payload)) == [
        {
            "id": "a",
            "role": "assistant",
            "parts": [
                {"type": "text", "text": "x"},
                {"type": "source-url", "sourceId": "s", "url": "https://x"},
                {"type": "file", "mediaType": "image/png", "url": PNG_URL},
                {"type": "data-x", "data": None},
                {"type": "tool-t", "toolCallId": "c1", "state": "input-streaming"},
                {
                    "type": "tool-t",
                    "toolCallId": "c2",
                    "state": "output-error",
                    "errorText": "bad",
                    "rawInput": '{"a":1}',
                },
                {
                    "type": "tool-t",
                    "toolCallId": "c3",
                    "state": "output-available",
                    "input": 1,
                    "output": 2,
                },
            ],
        }
    ]


def test_messages_from_a_run() -> None:
    """One assistant UIMessage: per step an assistant message, each followed by
    the tool messages of its results; ids derived from the UIMessage's."""
    messages = from_vercel_ui(WEATHER_RUN)
    assert [(m.id, m.role.value) for m in messages] == [
        ("sys", "system"),
        ("u1", "user"),
        ("a1", "assistant"),
        ("a1~1", "tool"),
        ("a1~2", "tool"),
        ("a1~3", "assistant"),
    ]
    system, user, step1, ok, failed, step2 = messages
    assert system.content == "You are a helpful assistant."
    assert user.metadata.extra == {UI_METADATA: {"createdAt": 1735000000000}}
    assert step1.metadata.extra[UI_METADATA]["model"] == "gpt-4o"
    reasoning, call1, _ = step1.parts
    assert isinstance(reasoning, ReasoningPart)
    assert reasoning.status == "done"
    assert reasoning.provider_metadata == {"anthropic": {"signature": "sig-abc"}}
    assert isinstance(call1, ToolCallPart)
    assert (call1.tool_call_id, call1.tool_name, call1.args) == (
        "call_1",
        "weather",
        {"city": "Paris"},
    )
    assert call1.provider_metadata == {"openai": {"itemId": "fc_1"}}
    assert ok.tool_call_id == "call_1"
    assert ok.parts == [
        ToolResultPart(tool_call_id="call_1", tool_name="weather", result={"temp_c": 18})
    ]
    assert failed.parts == [
        ToolResultPart(
            tool_call_id="call_2", tool_name="weather", result="upstream timeout", is_error=True
        )
    ]
    assert failed.content == "upstream timeout"
    assert step2.content == "Paris: 18 °C. Rome: unavailable."
    assert step2.metadata == MessageMetadata()


def test_part_mapping() -> None:
    payload = CORPUS["files: inline image, named image, pdf, link, audio, odd data URL"]
    user = from_vercel_ui(payload)[0]
    _, image, named, pdf, link, audio, odd, detailed = user.parts
    assert image == ImagePart(media_type="image/png", data=PNG)
    assert named == FilePart(mime_type="image/png", filename="cat.png", data=PNG)
    assert isinstance(pdf, FilePart) and pdf.data == b"%PDF-1.4 tiny"
    assert link == ImagePart(media_type="image/jpeg", url="https://example.com/x.jpg")
    assert audio == AudioPart(media_type="audio/wav", data=b"RIFF")
    assert odd == FilePart(mime_type="text/plain", url="data:text/plain,hello%20world")
    assert isinstance(detailed, ImagePart)
    assert detailed.provider_metadata == {"openai": {"imageDetail": "low"}}

    [msg] = from_vercel_ui(CORPUS["dynamic tools, preliminary output, unparsable input"])[:1]
    dynamic, normalized, unparsable = msg.parts
    assert isinstance(dynamic, ToolCallPart) and dynamic.tool_kind == "dynamic"
    assert isinstance(normalized, ToolCallPart) and normalized.tool_kind == "dynamic-normalized"
    assert isinstance(unparsable, ToolCallPart)
    assert (unparsable.args, unparsable.args_text) == (None, "{not json")
    prelim = from_vercel_ui(CORPUS["dynamic tools, preliminary output, unparsable input"])[1]
    assert prelim.parts[0].status == "preliminary"  # type: ignore[union-attr]

    hosted = from_vercel_ui(CORPUS["provider-executed (hosted) tools and sources"])[1]
    search, code, url_source, doc_source, _ = hosted.parts
    assert isinstance(search, HostedToolPart)
    assert (search.provider, search.item_type, search.tool_name) == (
        "vercel-ui",
        "tool-web_search",
        "web_search",
    )
    assert (search.tool_call_id, search.status, search.is_error) == (
        "srvtoolu_1",
        "output-available",
        False,
    )
    assert isinstance(code, HostedToolPart) and code.is_error
    assert url_source == SourcePart(
        source_id="s1",
        url="https://news.example",
        title="News",
        provider_metadata={"anthropic": {"citedText": "..."}},
    )
    assert doc_source == SourcePart(
        source_id="s2", title="Report", media_type="application/pdf", filename="report.pdf"
    )

    data = from_vercel_ui(CORPUS["data parts and message metadata"])
    assert data[0].parts[1] == DataPart(name="context", data={"page": 3})
    assert data[0].metadata.extra == {UI_METADATA: None}
    assert data[1].parts == [DataPart(name="weather", data_id="w1", data={"status": "loading"})]
    assert data[1].metadata.extra == {UI_METADATA: ["any", "json"], UI_NO_STEP_START: True}

    streaming = from_vercel_ui(CORPUS["streaming state: partial input, streaming text"])[1]
    text_part, partial, _, waiting = streaming.parts
    assert isinstance(text_part, TextPart) and text_part.status == "streaming"
    assert isinstance(partial, ToolCallPart)
    assert (partial.status, partial.args, partial.args_text) == (
        "input-streaming",
        {"q": "pa"},
        '{"q": "pa',
    )
    assert isinstance(waiting, ToolCallPart) and waiting.status is None


def test_structural_markers() -> None:
    messages = from_vercel_ui(CORPUS["consecutive assistant messages"])
    assert [m.metadata.extra for m in messages] == [
        {},
        {UI_NEW_MESSAGE: True},
        {UI_NEW_MESSAGE: True, UI_NO_STEP_START: True},
    ]


def test_response_object_and_request_body() -> None:
    """A single UIMessage (what a chat route streams back) and a chat request
    body are read too."""
    response = WEATHER_RUN[2]
    messages = from_vercel_ui(response)
    assert [m.id for m in messages] == ["a1", "a1~1", "a1~2", "a1~3"]
    assert to_vercel_ui(messages) == [response]
    body = {"id": "chat_1", "messages": WEATHER_RUN, "trigger": "submit-message"}
    assert to_vercel_ui(from_vercel_ui(body)) == WEATHER_RUN
    assert to_vercel_ui(from_format(WEATHER_RUN, "vercel-ui")) == WEATHER_RUN
    assert to_format(from_format(WEATHER_RUN, "ai-sdk"), "vercel-ui") == WEATHER_RUN


def test_ids() -> None:
    fresh = from_vercel_ui([{"role": "user", "parts": [{"type": "text", "text": "x"}]}])
    assert fresh[0].id.startswith("msg_")
    empty = from_vercel_ui([{"id": "", "role": "assistant", "parts": []}])
    assert empty[0].id.startswith("msg_")
    long_id = "x" * 255
    parts = [{"type": "step-start"}, {"type": "step-start"}]
    msgs = from_vercel_ui([{"id": long_id, "role": "assistant", "parts": parts}])
    assert msgs[0].id == long_id
    assert len(msgs[1].id) == 255 and msgs[1].id.endswith("~1")
    assert to_vercel_ui(msgs) == [{"id": long_id, "role": "assistant", "parts": parts}]


# ---------------------------------------------------------------------------
# malformed payloads


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ("nope", "payload"),
        ({"messages": 3}, "messages"),
        ([3], "[0]"),
        ([{"id": "a", "role": "bot", "parts": []}], "[0].role"),
        ([{"id": "a\n", "role": "user", "parts": []}], "[0].id"),
        ([{"id": "a", "role": "user"}], "[0].parts"),
        ([{"id": "a", "role": "user", "parts": [{"text": "x"}]}], "[0].parts[0].type"),
        ([{"id": "a", "role": "user", "parts": [{"type": "image"}]}], "[0].parts[0].type"),
        ([{"id": "a", "role": "user", "parts": [{"type": "text"}]}], "[0].parts[0].text"),
        (
            [{"id": "a", "role": "user", "parts": [{"type": "text", "text": "x", "state": "x"}]}],
            "[0].parts[0].state",
        ),
        (
            [{"id": "a", "role": "user", "parts": [{"type": "step-start"}]}],
            "[0].parts[0].type",
        ),
        (
            [
                {
                    "id": "a",
                    "role": "user",
                    "parts": [{"type": "tool-x", "toolCallId": "c", "state": "input-available"}],
                }
            ],
            "[0].parts[0].type",
        ),
        (
            [
                {
                    "id": "a",
                    "role": "assistant",
                    "parts": [{"type": "tool-x", "state": "input-available"}],
                }
            ],
            "[0].parts[0].toolCallId",
        ),
        (
            [
                {
                    "id": "a",
                    "role": "assistant",
                    "parts": [{"type": "tool-x", "toolCallId": "c", "state": "done"}],
                }
            ],
            "[0].parts[0].state",
        ),
        (
            [
                {
                    "id": "a",
                    "role": "assistant",
                    "parts": [
                        {
                            "type": "tool-x",
                            "toolCallId": "c",
                            "state": "approval-requested",
                            "input": {},
                            "approval": {"id": "ap"},
                        }
                    ],
                }
            ],
            "[0].parts[0].state",
        ),
        (
            [
                {
                    "id": "a",
                    "role": "assistant",
                    "parts": [
                        {"type": "step-start"},
                        {"type": "tool-x", "toolCallId": "c", "state": "output-error"},
                    ],
                }
            ],
            "[0].parts[1].errorText",
        ),
        (
            [
                {
                    "id": "a",
                    "role": "assistant",
                    "parts": [
                        {
                            "type": "dynamic-tool",
                            "toolCallId": "c",
                            "state": "input-available",
                            "input": 1,
                        }
                    ],
                }
            ],
            "[0].parts[0].toolName",
        ),
        (
            [{"id": "a", "role": "user", "parts": [{"type": "file", "url": "https://x"}]}],
            "[0].parts[0].mediaType",
        ),
        (
            [
                {
                    "id": "a",
                    "role": "user",
                    "parts": [{"type": "text", "text": "x", "providerMetadata": {"openai": 1}}],
                }
            ],
            "[0].parts[0].providerMetadata.openai",
        ),
        ([{"id": "a", "role": "user", "parts": [{"type": "data-"}]}], "[0].parts[0].type"),
        ({"id": "a", "role": "user", "parts": [{"type": "text", "text": 1}]}, "parts[0].text"),
        ({"messages": [{"id": "a", "role": "x", "parts": []}]}, "messages[0].role"),
        ([{"id": "a", "role": "user", "metadata": {1, 2}, "parts": []}], "[0].metadata"),
    ],
)
def test_malformed_payloads(payload: Any, field: str) -> None:
    with pytest.raises(FormatError) as caught:
        from_vercel_ui(payload)
    assert caught.value.field == field


# ---------------------------------------------------------------------------
# messages of other formats


def _other_format_messages() -> list[Message]:
    """A conversation as other formats' converters produce it: Chat-style tool
    messages, Anthropic-style tool results inside a user message, reasoning
    on its own message, content without parts, a stored attachment."""
    return [
        Message.system("Be brief.", provider_role="developer"),
        Message.user("What is in this picture? And the weather?").with_parts(
            TextPart(text="What is in this picture? And the weather?"),
            ImagePart(
                media_type="image/png", attachment="sha256:" + hashlib.sha256(PNG).hexdigest()
            ),
        ),
        Message.assistant().with_parts(ReasoningPart(text="", summary=["Look, then call."])),
        Message.assistant("A cat.").with_parts(
            TextPart(text="A cat."),
            ToolCallPart(tool_call_id="c1", tool_name="weather", args={"city": "Oslo"}),
            ToolCallPart(tool_call_id="c2", tool_name="time", args=None),
        ),
        Message.tool('{"temp": 3}', "c1", tool_name="weather"),
        Message(role=Role.USER, parts=[ToolResultPart(tool_call_id="c2", result="noon")]),
        Message(role=Role.TOOL, tool_call_id="c3", content="late", parts=[]),
        Message(role=Role.ASSISTANT, content="It is 3 °C at noon.", parts=[]),
        Message.user("thanks"),
        Message.assistant("You're welcome."),
    ]


def test_messages_of_other_formats() -> None:
    resolved: list[str] = []

    def resolve(ref: str) -> bytes:
        resolved.append(ref)
        return PNG

    report = DropReport()
    msgs = _other_format_messages()
    out = to_vercel_ui(msgs, report=report, attachments=resolve)
    assert [m["id"] for m in out] == [msgs[i].id for i in (0, 1, 2, 8, 9)]
    assert len(out) == 5
    system, user, run, thanks, welcome = out
    assert system["role"] == "system"
    assert system["parts"] == [{"type": "text", "text": "Be brief."}]
    assert user["parts"][1] == {"type": "file", "mediaType": "image/png", "url": PNG_URL}
    assert resolved == ["sha256:" + hashlib.sha256(PNG).hexdigest()]
    assert run["role"] == "assistant"
    assert run["parts"] == [
        {"type": "step-start"},
        {"type": "reasoning", "text": "Look, then call."},
        {"type": "step-start"},
        {"type": "text", "text": "A cat."},
        {
            "type": "tool-weather",
            "toolCallId": "c1",
            "state": "output-available",
            "input": {"city": "Oslo"},
            "output": '{"temp": 3}',
        },
        {
            "type": "tool-time",
            "toolCallId": "c2",
            "state": "output-available",
            "input": None,
            "output": "noon",
        },
        {"type": "step-start"},
        {"type": "text", "text": "It is 3 °C at noon."},
    ]
    assert thanks["parts"] == [{"type": "text", "text": "thanks"}]
    assert welcome["parts"][0] == {"type": "step-start"}
    # the result for c3 has no call: reported
    assert [(d.message_index, d.what) for d in report] == [(6, "tool-result")]


def test_errors_and_rich_results_of_other_formats() -> None:
    messages = [
        Message.assistant().with_parts(
            ToolCallPart(tool_call_id="a", tool_name="f", args={"x": 1}),
            ToolCallPart(tool_call_id="b", tool_name="g", args={}, tool_kind="custom"),
            ToolCallPart(tool_call_id="c", tool_name="h", args={}, status="input-streaming"),
        ),
        Message(
            role=Role.USER,
            parts=[
                ToolResultPart(tool_call_id="a", result={"code": 500}, is_error=True),
                ToolResultPart(
                    tool_call_id="b",
                    content=[TextPart(text="line 1"), TextPart(text="line 2")],
                ),
            ],
        ),
    ]
    report = DropReport()
    [run] = to_vercel_ui(messages, report=report)
    assert run["parts"][1:] == [
        {
            "type": "tool-f",
            "toolCallId": "a",
            "state": "output-error",
            "input": {"x": 1},
            "errorText": '{"code":500}',
        },
        {
            "type": "tool-g",
            "toolCallId": "b",
            "state": "output-available",
            "input": {},
            "output": "line 1\nline 2",
        },
        {"type": "tool-h", "toolCallId": "c", "state": "input-streaming", "input": {}},
    ]
    assert [d.what for d in report] == ["tool-call.tool_kind"]


def test_dropped_content_is_reported() -> None:
    msg = Message.assistant().with_parts(
        TextPart(
            text="cited",
            citations=[Citation(kind="url_citation", url="https://x")],
            provider_id="msg_1",
            status="completed",
        ),
        ReasoningPart(text="", encrypted_content="opaque", redacted=True),
        ReasoningPart(text="why", signature="sig"),
        HostedToolPart(provider="anthropic", item_type="server_tool_use", payload={"id": "x"}),
        CodePart(code="print(1)", language="python"),
        RefusalPart(text="no"),
        ImagePart(provider_file_id="file_1"),
        ImagePart(url="https://x/y.png", detail="high"),
        AudioPart(transcript="hello", provider_id="audio_1"),
        FilePart(filename="a.txt", file_id="f1"),
        SourcePart(source_id="s", url="https://x", media_type="text/html"),
        ToolCallPart(tool_call_id="c", tool_name="t", args={"a": 1}, args_text='{"a": 1}'),
    )
    report = DropReport()
    [out] = to_vercel_ui([msg], report=report)
    assert [(d.part_index, d.what) for d in report] == [
        (0, "text.status"),
        (0, "text.citations"),
        (0, "text.provider_id"),
        (1, "reasoning"),
        (2, "reasoning.signature"),
        (3, "hosted-tool"),
        (4, "code"),
        (5, "refusal"),
        (6, "image"),
        (7, "image.detail"),
        (8, "audio"),
        (9, "file"),
        (10, "source.media_type"),
        (11, "tool-call.args_text"),
    ]
    assert all(d.message_id == msg.id for d in report)
    assert [p["type"] for p in out["parts"]] == [
        "step-start",
        "text",
        "reasoning",
        "file",
        "source-url",
        "tool-t",
    ]
    with pytest.warns(DroppedContentWarning, match="vercel-ui"):
        to_vercel_ui([msg])


def test_other_dropped_message_fields() -> None:
    messages = [
        Message.user("hi", name="alice"),
        Message(role=Role.USER, parts=[]),
        Message.tool("orphan", "c0"),
        Message.assistant("x").with_metadata(**{UI_METADATA: 1}),
        Message.assistant("y").with_metadata(**{UI_METADATA: 2}),
        Message(role=Role.TOOL, tool_call_id="c9", parts=[DataPart(name="d", data=1)]),
    ]
    report = DropReport()
    out = to_vercel_ui(messages, report=report)
    assert [(d.message_index, d.what) for d in report] == [
        (0, "name"),
        (1, "message"),
        (2, "tool-result"),
        (4, "metadata.ui_metadata"),
        (5, "data"),
        (5, "tool-result"),
    ]
    assert [m["role"] for m in out] == ["user", "assistant"]
    assert out[1]["metadata"] == 1


def test_data_parts_are_kept() -> None:
    """Data parts belong to this format (they are not model input here)."""
    msg = Message.user("x").with_parts(
        TextPart(text="x"), DataPart(name="k", data={"a": 1}, data_id="i")
    )
    report = DropReport()
    [out] = to_vercel_ui([msg], report=report)
    assert out["parts"][1] == {"type": "data-k", "id": "i", "data": {"a": 1}}
    assert not report


# ---------------------------------------------------------------------------
# the AI SDK's own validator


def test_the_ai_sdk_accepts_the_output(ai_sdk_validate: Validator) -> None:
    batch: list[list[dict[str, Any]]] = [to_vercel_ui(from_vercel_ui(p)) for p in CORPUS.values()]
    report = DropReport()
    batch.append(to_vercel_ui(_other_format_messages(), report=report, attachments=lambda _: PNG))
    batch.append(
        to_vercel_ui(
            [
                Message.assistant().with_parts(
                    ToolCallPart(tool_call_id="a", tool_name="f", args={"x": 1}),
                    ToolCallPart(
                        tool_call_id="c", tool_name="h", args={}, status="input-streaming"
                    ),
                    SourcePart(source_id="s"),
                    FilePart(text="plain text document"),
                    AudioPart(data=b"RIFF....WAVE"),
                ),
                Message.tool("err", "a", is_error=True),
            ]
        )
    )

    sampled: list[list[dict[str, Any]]] = []

    @settings(max_examples=250, database=None, suppress_health_check=list(HealthCheck))
    @given(payloads() | variant_payloads())
    def gather(payload: list[dict[str, Any]]) -> None:
        sampled.append(to_vercel_ui(from_vercel_ui(payload)))

    gather()
    _assert_valid(ai_sdk_validate, batch + sampled)


def test_the_validator_catches_what_it_should(ai_sdk_validate: Validator) -> None:
    """The check itself: an unknown key and an invalid state are refused."""
    results = ai_sdk_validate(
        [
            [{"id": "a", "role": "user", "parts": [{"type": "text", "text": "x"}]}],
            [{"id": "a", "role": "user", "parts": [{"type": "text", "text": "x", "extra": 1}]}],
            [{"id": "a", "role": "user", "parts": [{"type": "text", "text": "x", "state": "x"}]}],
            [{"id": "a", "role": "user", "parts": []}],
        ]
    )
    assert [r["ok"] for r in results] == [True, False, False, False]
    assert "extra" in results[1]["error"]


# ---------------------------------------------------------------------------
# a real store


def test_store_round_trip() -> None:
    payload = [m for p in CORPUS.values() for m in p]
    seen: set[str] = set()
    unique = []
    for i, m in enumerate(payload):  # one thread: ids must be unique
        m = {**m, "id": f"{m['id']}-{i}"}
        if m["id"] not in seen:
            seen.add(m["id"])
            unique.append(m)
    messages = from_vercel_ui(unique)
    with convostore.open_store("memory://") as store:
        thread = store.create_thread(user_id="u")
        store.append(thread.id, messages)
        back = store.load_messages(thread.id)
        # Bytes come back from the store's attachments, not from what was sent.
        out = to_vercel_ui(back, attachments=lambda ref: store.get_attachment(ref).data)
    assert [m.id for m in back] == [m.id for m in messages]
    assert out == unique
