"""Model-ready windows: ``store.context(..., format=...)`` returns the
provider's payload, chosen under that provider's rules, on every backend and
in both faces; the HTTP route does the same."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterator

import pytest

import convostore
from convostore import ImagePart, Message, ReasoningPart, TextPart, ToolCallPart
from convostore.errors import ValidationError
from convostore.formats import FORMATS, DropReport, to_format
from convostore.formats.window import framing
from convostore.store import Store

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def conversation() -> list[Message]:
    return [
        Message.system("Be brief."),
        Message.assistant("Hello! How can I help?"),  # before the first user turn
        Message.user("Weather in Paris and Rome?").with_parts(
            TextPart(text="Weather in Paris and Rome?"),
            ImagePart(data=PNG, media_type="image/png"),
        ),
        Message.assistant().with_parts(
            ReasoningPart(text="Two cities: two calls.", signature="sig-1"),
            ToolCallPart(tool_call_id="c1", tool_name="weather", args={"city": "Paris"}),
            ToolCallPart(tool_call_id="c2", tool_name="weather", args={"city": "Rome"}),
        ),
        Message.tool('{"temp": 18}', "c1", tool_name="weather"),
        Message.tool('{"temp": 24}', "c2", tool_name="weather"),
        Message.assistant("Paris 18 °C, Rome 24 °C."),
    ]


@pytest.fixture(params=["memory://", "sqlite", "json"])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    url = request.param
    if url == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'c.db'}"
    elif url == "json":
        url = f"json:///{tmp_path_factory.mktemp('json')}"
    with convostore.open_store(url) as s:
        yield s


def _thread(store: Store) -> str:
    t = store.create_thread()
    store.append(t.id, conversation())
    return t.id


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_payload_is_the_window_converted(store: Store, fmt: str) -> None:
    tid = _thread(store)
    payload = store.context(tid, max_tokens=100_000, format=fmt)
    user_first = fmt in ("anthropic", "gemini")
    window = store.context(tid, max_tokens=100_000, start_on_user=user_first)
    resolve = lambda ref: store.get_attachment(ref).data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert payload == to_format(window.messages, fmt, attachments=resolve)
    # The image's bytes come back inline, whatever the format spells them as.
    import base64

    assert base64.b64encode(PNG).decode() in repr(payload)


def test_anthropic_starts_on_the_user_and_groups_results() -> None:
    with convostore.open_store("memory://") as store:
        tid = _thread(store)
        payload = store.context(tid, format="anthropic")
        roles = [m["role"] for m in payload["messages"]]
        assert roles[0] == "user"
        assert all(a != b for a, b in itertools.pairwise(roles))  # alternating
        results = [
            b
            for m in payload["messages"]
            for b in m["content"]
            if isinstance(b, dict) and b.get("type") == "tool_result"
        ]
        holders = {
            i
            for i, m in enumerate(payload["messages"])
            for b in m["content"]
            if isinstance(b, dict) and b.get("type") == "tool_result"
        }
        assert len(results) == 2 and len(holders) == 1  # one user turn holds both
        assert payload["system"] in ("Be brief.", [{"type": "text", "text": "Be brief."}])
        thinking = payload["messages"][1]["content"][0]
        assert thinking == {
            "type": "thinking",
            "thinking": "Two cities: two calls.",
            "signature": "sig-1",
        }


def test_chat_merges_parallel_calls_and_reports_what_it_drops() -> None:
    with convostore.open_store("memory://") as store:
        tid = _thread(store)
        report = DropReport()
        payload = store.context(tid, format="openai-chat", report=report)
        calls = [m for m in payload if m.get("tool_calls")]
        assert len(calls) == 1 and len(calls[0]["tool_calls"]) == 2
        assert [m["tool_call_id"] for m in payload if m["role"] == "tool"] == ["c1", "c2"]
        assert [(d.what, d.part_index) for d in report] == [("reasoning", 0)]


def test_a_budget_counts_the_framing_of_the_format() -> None:
    with convostore.open_store("memory://") as store:
        tid = _thread(store)
        plain = store.context(tid, max_tokens=100_000)
        extra = framing("openai-responses")
        framed = sum((m.token_count or 0) + extra(m) for m in plain.messages)
        assert framed != plain.tokens
        # A budget just under the framed size of the whole thread leaves some out.
        assert len(store.context(tid, max_tokens=framed, format="openai-responses")) >= 5
        smaller = store.context(tid, max_tokens=framed - 1, format="openai-responses")
        assert len(smaller) < len(store.context(tid, max_tokens=framed, format="openai-responses"))


def test_unknown_formats_are_refused() -> None:
    with convostore.open_store("memory://") as store:
        tid = _thread(store)
        with pytest.raises(ValidationError) as err:
            store.context(tid, format="cohere")
        assert err.value.field == "format"


@pytest.mark.anyio
async def test_the_async_face_returns_the_same_payload() -> None:
    async with convostore.open_async_store("memory://") as store:
        t = await store.create_thread()
        await store.append(t.id, conversation())
        got = await store.context(t.id, format="openai-responses")
    with convostore.open_store("memory://") as sync:
        tid = _thread(sync)
        want = sync.context(tid, format="openai-responses")
    assert len(got) == len(want) and [i.get("type") for i in got] == [i.get("type") for i in want]


def test_a_conversation_hands_back_the_payload_too() -> None:
    from convostore.conversation import Conversation

    with convostore.open_store("memory://") as store:
        tid = _thread(store)
        convo = Conversation.open(store, tid)
        assert convo.context(format="gemini") == store.context(
            tid, max_tokens=convo.config.max_tokens, format="gemini"
        )
        assert convo.context().messages  # without a format, the window as before
