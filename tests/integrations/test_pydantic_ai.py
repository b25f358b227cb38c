"""The Pydantic AI adapter: message histories stored on a thread come back exactly."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convostore import open_async_store, open_store
from convostore.errors import ValidationError
from convostore.model import Message
from convostore.model.parts import ReasoningPart, ToolCallPart, ToolResultPart

pytest.importorskip("pydantic_ai")

from pydantic_ai import Agent
from pydantic_ai.messages import (
    AudioUrl,
    BinaryContent,
    DocumentUrl,
    FilePart,
    ImageUrl,
    ModelMessage,
    ModelMessagesTypeAdapter,
    ModelRequest,
    ModelResponse,
    SystemPromptPart,
    TextPart,
    ThinkingPart,
    ToolReturnPart,
    UserPromptPart,
    VideoUrl,
)
from pydantic_ai.messages import (
    ToolCallPart as PaiToolCall,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.usage import RequestUsage

from convostore.integrations.pydantic_ai import (
    FORMAT,
    AsyncPydanticAIHistory,
    PydanticAIHistory,
    from_message,
    to_message,
)

T0 = dt.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=dt.UTC)


def dumped(messages: list[ModelMessage]) -> Any:
    return ModelMessagesTypeAdapter.dump_python(messages, mode="json")


def rich_history() -> list[ModelMessage]:
    """One message of every part kind the adapter converts, with every field set."""
    return [
        ModelRequest(
            parts=[
                SystemPromptPart("Be terse.", timestamp=T0),
                UserPromptPart(
                    [
                        "Look at these",
                        ImageUrl("https://example.com/a.png"),
                        BinaryContent(b"\x00\x01wav", media_type="audio/wav"),
                        DocumentUrl("https://example.com/d.pdf"),
                        AudioUrl("https://example.com/s.mp3"),
                        VideoUrl("https://example.com/v.mp4"),
                    ],
                    timestamp=T0,
                ),
            ],
            instructions="Answer in French.",
            run_id="run-1",
        ),
        ModelResponse(
            parts=[
                ThinkingPart(
                    "Let me think", signature="sig-abc", id="th1", provider_name="anthropic"
                ),
                TextPart("Je regarde."),
                PaiToolCall("lookup", {"q": "lisbon", "n": 2}, tool_call_id="call-1"),
                PaiToolCall("raw", '{"a": 1', tool_call_id="call-2"),
                FilePart(BinaryContent(b"PNG", media_type="image/png")),
            ],
            usage=RequestUsage(input_tokens=12, output_tokens=7),
            model_name="claude-x",
            provider_name="anthropic",
            provider_response_id="resp-1",
            finish_reason="tool_call",
            timestamp=T0,
            run_id="run-1",
        ),
        ModelRequest(
            parts=[
                ToolReturnPart("lookup", {"city": "Lisbon"}, tool_call_id="call-1", timestamp=T0),
                ToolReturnPart(
                    tool_name="raw",
                    content="bad json",
                    tool_call_id="call-2",
                    outcome="retried",
                    timestamp=T0,
                ),
            ],
            run_id="run-1",
        ),
        ModelResponse(parts=[TextPart("Lisbonne.")], model_name="claude-x", timestamp=T0),
    ]


def test_round_trip_is_exact_on_every_backend(store_url: str) -> None:
    history = rich_history()
    with open_store(store_url) as store:
        store.create_thread(id="chat")
        adapter = PydanticAIHistory(store, "chat")
        adapter.append(history[:2])
        adapter.append(history[2:])
        loaded = adapter.load()
        assert dumped(loaded) == dumped(history)
        # What the framework's own adapter round-trips (bytes of an image come
        # back as its BinaryImage, as they do from ModelMessagesTypeAdapter).
        assert loaded == ModelMessagesTypeAdapter.validate_python(dumped(history))
        assert dumped(adapter.load(last=2)) == dumped(history[2:])


def test_roles_parts_and_counters_are_convostore_s_own(store_url: str) -> None:
    with open_store(store_url) as store:
        store.create_thread(id="chat")
        stored = PydanticAIHistory(store, "chat").append(rich_history())
        assert [m.role for m in stored] == ["user", "assistant", "tool", "assistant"]
        assert all(m.native is not None and m.native.format == FORMAT for m in stored)
        calls = stored[1].tool_calls
        assert [(c.tool_call_id, c.args, c.args_text) for c in calls] == [
            ("call-1", {"q": "lisbon", "n": 2}, None),
            ("call-2", None, '{"a": 1'),
        ]
        assert isinstance(stored[1].parts[0], ReasoningPart)
        assert stored[1].parts[0].signature == "sig-abc"
        results = stored[2].tool_results
        assert [(r.tool_call_id, r.is_error) for r in results] == [
            ("call-1", False),
            ("call-2", True),
        ]
        assert stored[1].metadata.model == "claude-x"
        assert stored[1].metadata.token_usage is not None
        assert stored[1].metadata.token_usage.total_tokens == 19
        assert "Look at these" in stored[0].content
        thread = store.get_thread("chat")
        assert thread.message_count == 4
        assert thread.tool_call_count == 2
        assert thread.turn_count == 1
        hits = store.search("Lisbonne", thread_id="chat")
        assert [h.message.id for h in hits.items] == [stored[3].id]
        window = store.context("chat", max_tokens=100_000)
        assert [m.id for m in window.messages] == [m.id for m in stored]


def test_a_system_only_request_is_a_system_message() -> None:
    message = to_message(ModelRequest(parts=[SystemPromptPart("rules", timestamp=T0)]))
    assert message.role == "system" and message.content == "rules"


def test_a_message_from_elsewhere_is_refused() -> None:
    with pytest.raises(ValidationError):
        from_message(Message.user("hi"))


def test_async_face_and_a_real_agent_run(tmp_path: Any) -> None:
    def reply(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[TextPart(f"seen {len(messages)}")])

    agent = Agent(FunctionModel(reply), system_prompt="Be brief.")

    async def run() -> None:
        async with open_async_store(f"sqlite:///{tmp_path / 'a.db'}") as store:
            await store.create_thread(id="chat")
            history = AsyncPydanticAIHistory(store, "chat")
            first = await agent.run("one", message_history=await history.load())
            await history.append(first.new_messages())
            second = await agent.run("two", message_history=await history.load())
            await history.append(second.new_messages())
            assert dumped(await history.load()) == dumped(second.all_messages())
            assert (await store.get_thread("chat")).message_count == 4

    asyncio.run(run())


# convostore refuses NUL and lone surrogates on every backend (PostgreSQL cannot
# store them), so the histories drawn here hold neither.
texts = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=20)
ids = st.text(alphabet="abcdefghij0123456789", min_size=1, max_size=8)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=6,
)
request_parts = st.one_of(
    st.builds(lambda t: SystemPromptPart(t, timestamp=T0), texts),
    st.builds(lambda t: UserPromptPart(t, timestamp=T0), texts),
    st.builds(
        lambda t, u: UserPromptPart([t, ImageUrl(f"https://example.com/{u}.png")], timestamp=T0),
        texts,
        ids,
    ),
    st.builds(
        lambda n, c, i: ToolReturnPart(n, c, tool_call_id=i, timestamp=T0), ids, json_values, ids
    ),
)
response_parts = st.one_of(
    st.builds(TextPart, texts),
    st.builds(lambda t, s: ThinkingPart(t, signature=s), texts, st.none() | ids),
    st.builds(
        lambda n, a, i: PaiToolCall(n, a, tool_call_id=i),
        ids,
        st.dictionaries(ids, json_values, max_size=3),
        ids,
    ),
)
messages = st.one_of(
    st.builds(
        lambda parts, ins: ModelRequest(parts=parts, instructions=ins),
        st.lists(request_parts, min_size=1, max_size=4),
        st.none() | texts,
    ),
    st.builds(
        lambda parts, model, i, o: ModelResponse(
            parts=parts,
            model_name=model,
            usage=RequestUsage(input_tokens=i, output_tokens=o),
            timestamp=T0,
        ),
        st.lists(response_parts, min_size=1, max_size=4),
        st.none() | ids,
        st.integers(0, 10_000),
        st.integers(0, 10_000),
    ),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(messages, min_size=1, max_size=6))
def test_any_history_round_trips(history: list[ModelMessage]) -> None:
    store = open_store("memory://")
    store.create_thread(id="t")
    adapter = PydanticAIHistory(store, "t")
    stored = adapter.append(history)
    assert len(stored) == len(history)
    assert dumped(adapter.load()) == dumped(history)
    for m in stored:
        for part in m.parts:
            if isinstance(part, ToolCallPart | ToolResultPart):
                assert part.tool_call_id
