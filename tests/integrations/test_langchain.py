"""The LangChain chat message history over convostore: LangChain's documented
``BaseChatMessageHistory`` contract point by point, exact round trips (also
over generated messages), and what convostore sees of the messages."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
    message_to_dict,
)

import convostore
from convostore import ImagePart
from convostore.integrations.langchain import (
    FORMAT,
    ConvostoreChatMessageHistory,
    from_langchain,
)

pytestmark = pytest.mark.parametrize("store_url", ["memory", "sqlite", "postgres"], indirect=True)


@pytest.fixture
def store(store_url: str) -> Iterator[convostore.Store]:
    with convostore.open_store(store_url) as opened:
        yield opened


@pytest.fixture
async def astore(store_url: str) -> AsyncIterator[convostore.AsyncStore]:
    async with convostore.open_async_store(store_url) as opened:
        yield opened


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def rich_messages() -> list[BaseMessage]:
    """One of every message LangChain has, with every field it keeps."""
    return [
        SystemMessage("You are terse.", id="sys-1"),
        HumanMessage(
            content=[
                {"type": "text", "text": "What is in these?"},
                {"type": "image", "base64": "aGVsbG8=", "mime_type": "image/png"},
                {"type": "image", "url": "https://example.com/cat.png"},
                {"type": "image_url", "image_url": {"url": "https://example.com/dog.png"}},
            ],
            name="alice",
            id="h-1",
            additional_kwargs={"client": {"ip": "10.0.0.1"}},
        ),
        AIMessage(
            content=[
                {"type": "thinking", "thinking": "Look closer.", "signature": "EqQBCkgIAxAB"},
                {"type": "text", "text": "A cat and a dog."},
            ],
            tool_calls=[{"name": "zoom", "args": {"factor": 2}, "id": "call_1"}],
            invalid_tool_calls=[
                {"name": "pan", "args": "{bad json", "id": "call_2", "error": "not JSON"}
            ],
            response_metadata={
                "model_provider": "anthropic",
                "model_name": "claude-sonnet-4",
                "stop_reason": "tool_use",
            },
            usage_metadata={
                "input_tokens": 120,
                "output_tokens": 9,
                "total_tokens": 129,
                "input_token_details": {"cache_read": 100},
                "output_token_details": {"reasoning": 4},
            },
            id="run-1",
        ),
        ToolMessage(
            content="zoomed",
            tool_call_id="call_1",
            name="zoom",
            artifact={"pixels": [1, 2, 3]},
            status="success",
        ),
        ToolMessage(
            content=[{"type": "text", "text": "no pan"}], tool_call_id="call_2", status="error"
        ),
        AIMessage(
            content=[{"type": "reasoning", "reasoning": "v1 block", "extras": {"signature": "s"}}],
            response_metadata={"output_version": "v1"},
        ),
        AIMessageChunk(
            content="partial",
            tool_call_chunks=[{"name": "zoom", "args": '{"factor":', "id": "call_3", "index": 0}],
            chunk_position="last",
        ),
        ChatMessage(content="Looks fine to me.", role="critic"),
        ChatMessage(content="As the assistant.", role="assistant"),
        FunctionMessage(content="42", name="answer"),
        HumanMessage(content="Thanks!"),
    ]


def test_sync_round_trip_is_exact(store: convostore.Store) -> None:
    history = ConvostoreChatMessageHistory("s-1", store)
    sent = rich_messages()
    history.add_messages(sent)
    assert history.messages == sent
    assert [message_to_dict(m) for m in history.messages] == [message_to_dict(m) for m in sent]
    assert [type(m) for m in history.messages] == [type(m) for m in sent]


@pytest.mark.anyio
async def test_async_round_trip_is_exact(astore: convostore.AsyncStore) -> None:
    history = ConvostoreChatMessageHistory("s-1", astore)
    sent = rich_messages()
    await history.aadd_messages(sent[:3])
    await history.aadd_messages(sent[3:])
    assert await history.aget_messages() == sent
    await history.aclear()
    assert await history.aget_messages() == []


@pytest.mark.anyio
async def test_async_methods_are_the_stores_own(
    astore: convostore.AsyncStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over an async store nothing runs in an executor (LangChain's fallback)."""
    import langchain_core.chat_history as ch

    def no_executor(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the executor fallback was used")

    monkeypatch.setattr(ch, "run_in_executor", no_executor)
    history = ConvostoreChatMessageHistory("s-2", astore)
    await history.aadd_messages([HumanMessage("hi")])
    assert await history.aget_messages() == [HumanMessage("hi")]
    await history.aclear()
    with pytest.raises(ValueError, match="async store"):
        _ = history.messages


@pytest.mark.anyio
async def test_async_methods_over_a_sync_store(store: convostore.Store) -> None:
    history = ConvostoreChatMessageHistory("s-3", store)
    await history.aadd_messages([HumanMessage("hi"), AIMessage("hello")])
    assert await history.aget_messages() == [HumanMessage("hi"), AIMessage("hello")]
    await history.aclear()
    assert history.messages == []


def test_the_contract_point_by_point(store: convostore.Store) -> None:
    """BaseChatMessageHistory's documented behaviour, as LangChain's own
    InMemory and SQL histories show it."""
    history = ConvostoreChatMessageHistory("a", store)
    other = ConvostoreChatMessageHistory("b", store)
    # A session that was never written reads as empty, and clears as a no-op.
    assert history.messages == []
    history.clear()
    # add_message, add_user_message and add_ai_message go through add_messages.
    history.add_user_message("Hello!")
    history.add_ai_message("Hi there!")
    history.add_message(HumanMessage("Whats cracking?"))
    history.add_messages([])
    assert history.messages == [
        HumanMessage("Hello!"),
        AIMessage("Hi there!"),
        HumanMessage("Whats cracking?"),
    ]
    # Sessions are separate; clearing one leaves the other.
    other.add_messages([HumanMessage("Hellox")])
    assert other.messages == [HumanMessage("Hellox")]
    history.clear()
    assert history.messages == []
    assert other.messages == [HumanMessage("Hellox")]
    # The same message added twice is stored twice, as a list would hold it.
    m = HumanMessage("again", id="same")
    history.add_messages([m, m])
    assert history.messages == [m, m]
    # str() is LangChain's buffer string of the messages.
    assert str(history) == "Human: again\nHuman: again"


def test_a_batch_is_one_atomic_append(store: convostore.Store) -> None:
    history = ConvostoreChatMessageHistory("atomic", store)
    history.add_messages([HumanMessage("first")])
    bad = [HumanMessage("ok"), AIMessage("x", additional_kwargs={"obj": object()})]
    with pytest.raises(ValueError, match="JSON"):
        history.add_messages(bad)
    assert history.messages == [HumanMessage("first")]
    assert store.get_thread("atomic").message_count == 1


def test_remove_message_is_refused(store: convostore.Store) -> None:
    history = ConvostoreChatMessageHistory("rm", store)
    with pytest.raises(ValueError, match="RemoveMessage"):
        history.add_messages([HumanMessage("a"), RemoveMessage(id="x")])
    assert history.messages == []


def test_what_convostore_sees(store: convostore.Store) -> None:
    history = ConvostoreChatMessageHistory("seen", store, user_id="alice", agent_name="bot")
    history.add_messages(rich_messages())
    thread = store.get_thread("seen")
    assert (thread.user_id, thread.agent_name) == ("alice", "bot")
    stored = store.load_messages("seen")
    roles = "system user assistant tool tool assistant assistant user assistant tool user"
    assert [m.role.value for m in stored] == roles.split()
    assert all(m.native is not None and m.native.format == FORMAT for m in stored)
    human, ai, tool = stored[1], stored[2], stored[3]
    assert [p.type for p in human.parts] == ["text", "image", "image", "image"]
    image = human.parts[1]
    assert isinstance(image, ImagePart) and image.attachment is not None
    assert store.get_attachment(image.attachment).data == b"hello"
    assert human.parts[2].url == "https://example.com/cat.png"  # type: ignore[union-attr]
    assert human.name == "alice"
    assert [p.type for p in ai.parts] == ["reasoning", "text", "tool-call", "tool-call"]
    assert ai.parts[0].signature == "EqQBCkgIAxAB"  # type: ignore[union-attr]
    assert ai.tool_calls[0].args == {"factor": 2}
    assert ai.tool_calls[1].args_text == "{bad json"
    assert ai.metadata.model == "claude-sonnet-4"
    assert ai.metadata.token_usage is not None
    assert ai.metadata.token_usage.cached_input_tokens == 100
    assert tool.tool_call_id == "call_1" and tool.content == "zoomed"
    assert stored[4].tool_results[0].is_error
    assert stored[7].provider_role == "critic"
    assert thread.tool_call_count == 3
    assert thread.usage.prompt_tokens == 120
    hits = store.search("cat and a dog").items
    assert [h.message.id for h in hits] == [ai.id]
    assert store.context("seen", max_tokens=10_000, format="openai-chat")


@pytest.mark.parametrize("mode", ["archive", "delete", "purge"])
def test_clear_modes(store: convostore.Store, mode: Any) -> None:
    history = ConvostoreChatMessageHistory("c", store, clear_mode=mode)
    history.add_messages([SystemMessage("sys"), HumanMessage("hi")])
    history.clear()
    assert history.messages == []
    kept = store.load_messages("c", include_deleted=True)
    assert len(kept) == (0 if mode == "purge" else 2)
    history.add_messages([HumanMessage("again")])
    assert history.messages == [HumanMessage("again")]


def test_from_url(tmp_path: Any, store_url: str) -> None:
    url = f"sqlite:///{tmp_path / 'lc.db'}"
    history = ConvostoreChatMessageHistory.from_url("u", url)
    history.add_messages([HumanMessage("persisted")])
    history.close()
    again = ConvostoreChatMessageHistory("u", url=url)
    assert again.messages == [HumanMessage("persisted")]
    again.close()
    with pytest.raises(ValueError, match="exactly one"):
        ConvostoreChatMessageHistory("u")


def test_a_message_written_through_convostore_reads_as_langchain(
    store: convostore.Store,
) -> None:
    store.create_thread(id="plain")
    store.append("plain", [convostore.Message.user("hi"), convostore.Message.assistant("yo")])
    got = ConvostoreChatMessageHistory("plain", store).messages
    assert [(type(m), m.content) for m in got] == [(HumanMessage, "hi"), (AIMessage, "yo")]


# generated messages -----------------------------------------------------------

_text = st.text(st.characters(blacklist_categories=["Cs", "Cc"]), max_size=30)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=6,
)
_kwargs = st.dictionaries(st.sampled_from(["a", "b", "extra"]), _json, max_size=2)
_ids = st.none() | st.text("abc123-_", min_size=1, max_size=8)
_blocks = st.lists(
    st.one_of(
        _text,
        st.builds(lambda t: {"type": "text", "text": t}, _text),
        st.builds(
            lambda t, s: {"type": "reasoning", "reasoning": t, "extras": {"signature": s}},
            _text,
            _text,
        ),
        st.just({"type": "image", "base64": "aGk=", "mime_type": "image/png"}),
        st.builds(lambda u: {"type": "image", "url": f"https://x.test/{u}"}, _ids),
    ),
    max_size=3,
)
_content = _text | _blocks
_calls = st.lists(
    st.builds(
        lambda n, a, i: {"name": n, "args": a, "id": i},
        _text,
        st.dictionaries(_text, _json, max_size=2),
        st.text("abc123", min_size=1, max_size=6),
    ),
    max_size=2,
)
_usage = st.none() | st.builds(
    lambda i, o: {"input_tokens": i, "output_tokens": o, "total_tokens": i + o},
    st.integers(0, 10_000),
    st.integers(0, 10_000),
)
_message = st.one_of(
    st.builds(HumanMessage, content=_content, id=_ids, name=st.none() | _text),
    st.builds(SystemMessage, content=_content, additional_kwargs=_kwargs),
    st.builds(
        AIMessage,
        content=_content,
        tool_calls=_calls,
        usage_metadata=_usage,
        response_metadata=_kwargs,
        id=_ids,
    ),
    st.builds(
        AIMessageChunk,
        content=_content,
        tool_call_chunks=st.lists(
            st.builds(
                lambda n, a, i: {"name": n, "args": a, "id": i, "index": 0},
                _text,
                _text,
                _ids,
            ),
            max_size=1,
        ),
    ),
    st.builds(
        ToolMessage,
        content=_content,
        tool_call_id=st.text("abc", min_size=1, max_size=4),
        artifact=_json,
        status=st.sampled_from(["success", "error"]),
    ),
    st.builds(ChatMessage, content=_content, role=st.sampled_from(["critic", "user", "x"])),
)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(batch=st.lists(_message, min_size=1, max_size=5))
def test_generated_messages_round_trip_exactly(
    store: convostore.Store, batch: list[BaseMessage]
) -> None:
    thread = f"gen-{uuid.uuid4().hex}"
    history = ConvostoreChatMessageHistory(thread, store)
    history.add_messages(batch)
    assert history.messages == batch
    for msg in batch:
        assert from_langchain(msg).native is not None
