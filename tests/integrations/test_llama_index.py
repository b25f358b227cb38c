"""The LlamaIndex chat store against its contract.

The ``llama-index-core`` source distribution ships no tests, so these follow
the contract of ``AsyncDBChatStore`` as its reference implementation,
``SQLAlchemyChatStore``, behaves: a differential test runs random operation
sequences against the reference (on aiosqlite) and the adapter and compares
every result; the others check exact round trips, what convostore sees, and
``Memory`` end to end.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from llama_index.core.base.llms.types import (
    AudioBlock,
    ChatMessage,
    DocumentBlock,
    ImageBlock,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.core.memory import Memory
from llama_index.core.memory.memory import BaseMemoryBlock
from llama_index.core.storage.chat_store.base_db import MessageStatus
from llama_index.core.storage.chat_store.sql import SQLAlchemyChatStore
from sqlalchemy import select

import convostore
from convostore import Role, ToolCallPart, ToolResultPart
from convostore.integrations.llama_index import ConvostoreChatStore
from convostore.integrations.llama_index._convert import FORMAT

BACKENDS = ["memory", "sqlite", "postgres"]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def opened(url: str) -> ConvostoreChatStore:
    """A chat store opening a store of its own; the async backends (PostgreSQL's)
    are bound to the event loop that opens them, so each test opens and closes
    it in the loop it runs in."""
    return ConvostoreChatStore(url=url)


def _png() -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"\x00" * 8


def rich_messages(tmp: str) -> list[ChatMessage]:
    Path(tmp, "dog.png").write_bytes(_png())
    return [
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(role="developer", content="Answer in French."),
        ChatMessage(
            role="user",
            blocks=[
                TextBlock(text="What is in these?"),
                ImageBlock(image=_png(), detail="low"),
                ImageBlock(url="https://example.com/cat.png"),
                ImageBlock(path=f"{tmp}/dog.png", image_mimetype="image/png"),
                AudioBlock(audio=b"RIFF0000WAVEfmt ", format="wav"),
                DocumentBlock(data=b"%PDF-1.4 tiny", title="report"),
            ],
            additional_kwargs={"session_id": "s1", "raw": b"\x00\x01", "nested": {"a": [1]}},
        ),
        ChatMessage(
            role="assistant",
            blocks=[
                ThinkingBlock(content="Look them up.", additional_information={"sig": "x"}),
                ToolCallBlock(tool_call_id="call_1", tool_name="lookup", tool_kwargs={"q": 1}),
                ToolCallBlock(tool_name="raw", tool_kwargs='{"q": 2}'),
            ],
        ),
        ChatMessage(
            role="tool", content="found", additional_kwargs={"tool_call_id": "call_1", "name": "x"}
        ),
        ChatMessage(role="tool", content="no call id"),
        ChatMessage(role="chatbot", content="A cat, a dog."),
        ChatMessage(role="assistant", blocks=[]),
    ]


def _same(got: list[ChatMessage], given: list[ChatMessage]) -> None:
    """What a store returns is the ChatMessage rebuilt from its JSON dump, as the
    reference store returns it, and dumps to the same JSON as the original."""
    expected = [ChatMessage.model_validate(m.model_dump(mode="json")) for m in given]
    assert got == expected
    assert [m.model_dump(mode="json") for m in got] == [m.model_dump(mode="json") for m in given]


@pytest.mark.parametrize("store_url", BACKENDS, indirect=True)
def test_round_trip_is_exact_and_convostore_sees_parts(store_url: str, tmp_path: Any) -> None:
    given = rich_messages(str(tmp_path))

    async def go() -> None:
        async with opened(store_url) as chat_store:
            await chat_store.add_messages("k1", given[:3])
            for m in given[3:]:
                await chat_store.add_message("k1", m)
            _same(await chat_store.get_messages("k1"), given)
            stored = await chat_store.store.load_messages("k1")
            assert all(m.native is not None and m.native.format == FORMAT for m in stored)
            assert [m.role for m in stored] == [
                Role.SYSTEM,
                Role.SYSTEM,
                Role.USER,
                Role.ASSISTANT,
                Role.TOOL,
                Role.TOOL,
                Role.ASSISTANT,
                Role.ASSISTANT,
            ]
            assert stored[1].provider_role == "developer"
            assert [p.type for p in stored[2].parts] == [
                "text",
                "image",
                "image",
                "image",
                "audio",
                "file",
            ]
            assert stored[2].content == "What is in these?"
            calls = stored[3].tool_calls
            assert next((c.tool_call_id, c.tool_name, c.args) for c in calls) == (
                "call_1",
                "lookup",
                {"q": 1},
            )
            assert isinstance(calls[1], ToolCallPart) and calls[1].args == {"q": 2}
            assert stored[4].tool_call_id == "call_1"
            assert isinstance(stored[4].parts[0], ToolResultPart)
            assert stored[4].parts[0].result == "found"
            thread = await chat_store.store.get_thread("k1")
            assert thread.tool_call_count == 2 and thread.turn_count == 1
            hits = await chat_store.store.search("dog")
            assert [h.message.id for h in hits.items] == [stored[6].id]

    run(go())


_texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20)
_blocks = st.one_of(
    st.builds(TextBlock, text=_texts),
    st.builds(lambda b: ImageBlock(image=_png() + b), st.binary(max_size=8)),
    st.builds(lambda t: ImageBlock(url=f"https://example.com/{t}.png"), st.integers(0, 9)),
    st.builds(lambda b: AudioBlock(audio=b"RIFF" + b, format="wav"), st.binary(max_size=8)),
    st.builds(lambda t: DocumentBlock(data=b"%PDF-1.4 " + t.encode(), title=t), _texts),
    st.builds(lambda t: ThinkingBlock(content=t or None), _texts),
    st.builds(
        lambda i, kw: ToolCallBlock(tool_call_id=i, tool_name="f", tool_kwargs=kw),
        st.none() | st.sampled_from(["c1", "c2"]),
        st.dictionaries(st.sampled_from(["x", "y"]), st.integers()) | _texts,
    ),
)
_chat_messages = st.builds(
    lambda role, blocks, extra: ChatMessage(role=role, blocks=blocks, additional_kwargs=extra),
    st.sampled_from(["system", "user", "assistant", "developer", "chatbot", "model", "tool"]),
    st.lists(_blocks, max_size=3),
    st.dictionaries(
        st.sampled_from(["a", "tool_calls", "tool_call_id", "name"]),
        st.integers() | _texts,
        max_size=2,
    ),
)


@pytest.mark.parametrize("store_url", ["memory", "sqlite"], indirect=True)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(_chat_messages, max_size=6))
def test_round_trip_property(store_url: str, given: list[ChatMessage]) -> None:
    key = str(uuid.uuid4())

    async def go() -> None:
        async with opened(store_url) as chat_store:
            await chat_store.set_messages(key, given)
            _same(await chat_store.get_messages(key), given)
            _same(await chat_store.get_messages(key, status=None), given)

    run(go())


# the differential test -----------------------------------------------------------

_status = st.sampled_from([MessageStatus.ACTIVE, MessageStatus.ARCHIVED])
_any_status = st.sampled_from([None, MessageStatus.ACTIVE, MessageStatus.ARCHIVED])
_keys = st.sampled_from(["a", "b"])
_ops = st.one_of(
    st.tuples(st.just("add"), _keys, _chat_messages, _status),
    st.tuples(
        st.just("add_many"), _keys, st.lists(_chat_messages, min_size=1, max_size=3), _status
    ),
    st.tuples(st.just("set"), _keys, st.lists(_chat_messages, max_size=3), _status),
    st.tuples(
        st.just("get"),
        _keys,
        _any_status,
        st.none() | st.integers(0, 4),
        st.none() | st.integers(0, 4),
    ),
    st.tuples(st.just("count"), _keys, _any_status),
    st.tuples(st.just("delete_one"), _keys, st.integers(0, 6)),
    st.tuples(st.just("delete"), _keys, _any_status),
    st.tuples(st.just("delete_oldest"), _keys, st.integers(0, 4)),
    st.tuples(st.just("archive_oldest"), _keys, st.integers(0, 4)),
    st.tuples(st.just("keys")),
)


_A, _R = MessageStatus.ACTIVE, MessageStatus.ARCHIVED
_M = [
    ChatMessage(role="user", content="one"),
    ChatMessage(role="assistant", content="two"),
    ChatMessage(role="user", content="three"),
]


async def _row_id(ref: SQLAlchemyChatStore, key: str, position: int) -> int | None:
    """The reference's row id of the message at ``position`` of ``key``."""
    session_factory, table = await ref._initialize()
    async with session_factory() as session:
        rows = (
            await session.execute(
                select(table.c.id).where(table.c.key == key).order_by(table.c.timestamp, table.c.id)
            )
        ).fetchall()
    return rows[position][0] if position < len(rows) else None


async def _apply(store: Any, op: tuple[Any, ...], prefix: str, ref: bool) -> Any:
    name, *args = op
    if name == "keys":
        return sorted(k[len(prefix) :] for k in await store.get_keys() if k.startswith(prefix))
    key = prefix + args[0]
    if name == "add":
        return await store.add_message(key, args[1], status=args[2])
    if name == "add_many":
        return await store.add_messages(key, args[1], status=args[2])
    if name == "set":
        return await store.set_messages(key, args[1], status=args[2])
    if name == "get":
        return await store.get_messages(key, status=args[1], limit=args[2], offset=args[3])
    if name == "count":
        return await store.count_messages(key, status=args[1])
    if name == "delete_one":
        position = args[1]
        idx = await _row_id(store, key, position) if ref else position + 1
        return None if idx is None else await store.delete_message(key, idx)
    if name == "delete":
        return await store.delete_messages(key, status=args[1])
    if name == "delete_oldest":
        return await store.delete_oldest_messages(key, args[1])
    return await store.archive_oldest_messages(key, args[1])


@pytest.mark.parametrize("store_url", BACKENDS, indirect=True)
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(_ops, max_size=12))
@example([("add", "a", _M[0], _A), ("delete", "a", None), ("keys",), ("count", "a", None)])
@example(
    [
        ("add_many", "a", _M, _A),
        ("archive_oldest", "a", 2),
        ("get", "a", _R, None, None),
        ("delete", "a", _R),
        ("count", "a", None),
        ("keys",),
    ]
)
@example(
    [
        ("add", "b", _M[0], _R),
        ("add", "b", _M[1], _A),
        ("get", "b", _A, None, None),
        ("delete_one", "b", 0),
        ("get", "b", None, None, None),
        ("delete_one", "b", 5),
    ]
)
@example(
    [
        ("set", "a", _M, _A),
        ("delete_oldest", "a", 2),
        ("get", "a", None, 1, 0),
        ("set", "a", [], _A),
        ("keys",),
        ("archive_oldest", "a", 1),
    ]
)
def test_behaves_as_the_reference_store(store_url: str, ops: list[tuple[Any, ...]]) -> None:
    prefix = f"{uuid.uuid4()}-"

    async def go() -> None:
        async with opened(store_url) as chat_store:
            reference = SQLAlchemyChatStore(table_name="llama_index_memory")
            try:
                for op in ops:
                    expected = await _apply(reference, op, prefix, ref=True)
                    got = await _apply(chat_store, op, prefix, ref=False)
                    assert got == expected, op
                for key in ("a", "b"):
                    assert await chat_store.get_messages(
                        prefix + key, status=None
                    ) == await reference.get_messages(prefix + key, status=None)
            finally:
                engine = reference._async_engine
                if engine is not None:
                    await engine.dispose()

    run(go())


# atomicity, Memory ------------------------------------------------------------------


@pytest.mark.parametrize("store_url", BACKENDS, indirect=True)
def test_concurrent_archives_never_take_a_message_twice(store_url: str) -> None:
    async def go() -> None:
        async with opened(store_url) as chat_store:
            await chat_store.add_messages("k", [ChatMessage(content=str(i)) for i in range(12)])
            taken = await asyncio.gather(
                *(chat_store.archive_oldest_messages("k", 2) for _ in range(8))
            )
            texts = [m.content for batch in taken for m in batch]
            assert sorted(texts, key=int) == [str(i) for i in range(12)]
            assert await chat_store.count_messages("k") == 0
            assert await chat_store.count_messages("k", MessageStatus.ARCHIVED) == 12

    run(go())


class Recorder(BaseMemoryBlock[str]):
    """A memory block that keeps what short-term memory flushed into it."""

    flushed: list[ChatMessage] = []

    async def _aget(self, messages: list[ChatMessage] | None = None, **kwargs: Any) -> str:
        return " | ".join(m.content or "" for m in self.flushed)

    async def _aput(self, messages: list[ChatMessage]) -> None:
        self.flushed.extend(messages)


def _turns(n: int) -> list[ChatMessage]:
    return [
        ChatMessage(role="user" if i % 2 == 0 else "assistant", content=f"message {i} " * 5)
        for i in range(n)
    ]


def _memory(chat_store: Any) -> tuple[Memory, Recorder]:
    block = Recorder(name="flushed", priority=0, flushed=[])
    memory = Memory.from_defaults(
        session_id="session-1",
        chat_store=chat_store,
        token_limit=200,
        token_flush_size=40,
        memory_blocks=[block],
    )
    return memory, block


@pytest.mark.parametrize("store_url", BACKENDS, indirect=True)
def test_memory_archives_into_blocks_as_with_the_reference(
    store_url: str,
) -> None:
    async def go() -> None:
        async with opened(store_url) as chat_store:
            reference = SQLAlchemyChatStore(table_name="llama_index_memory")
            ours, ours_block = _memory(chat_store)
            theirs, their_block = _memory(reference)
            assert ours.sql_store is chat_store
            for message in _turns(30):
                await ours.aput(message)
                await theirs.aput(message)
            assert ours_block.flushed and ours_block.flushed == their_block.flushed
            archived = await chat_store.get_messages("session-1", status=MessageStatus.ARCHIVED)
            # Memory tags what it flushes with the session id after archiving it
            assert [(m.role, m.blocks) for m in archived] == [
                (m.role, m.blocks) for m in ours_block.flushed
            ]
            assert await ours.aget() == await theirs.aget()
            assert await ours.aget_all() == await theirs.aget_all()
            window = await chat_store.store.context("session-1", max_tokens=100_000)
            active = await chat_store.get_messages("session-1")
            assert [m.content for m in window.messages] == [m.content for m in active]
            await ours.areset()
            assert await chat_store.count_messages("session-1", None) == 0
            assert reference._async_engine is not None
            await reference._async_engine.dispose()

    run(go())


@pytest.mark.parametrize("store_url", ["memory", "sqlite"], indirect=True)
def test_memory_sync_methods(store_url: str) -> None:
    """Memory's sync methods run the chat store on an event loop of their own
    (each call a new one: the threaded backends do not mind, a native async one
    such as PostgreSQL's is bound to one loop, so it is left out here)."""
    chat_store = opened(store_url)
    memory, block = _memory(chat_store)
    memory.put_messages(_turns(10))
    for message in _turns(20)[10:]:
        memory.put(message)
    assert block.flushed
    assert memory.get_all() == [
        ChatMessage.model_validate(m.model_dump(mode="json")) for m in _turns(20)
    ]
    memory.set(_turns(2))
    assert memory.get_all(MessageStatus.ACTIVE) == _turns(2)
    assert memory.get()[-2:] == _turns(2)  # after the memory blocks
    memory.reset()
    assert memory.get_all() == []
    run(chat_store.aclose())


def test_construction_and_dump() -> None:
    with pytest.raises(ValueError, match="not both"):
        ConvostoreChatStore()

    async def go() -> None:
        async with convostore.open_async_store("memory://") as store:
            acme = ConvostoreChatStore(store.tenant("acme"))
            await acme.add_message("k", ChatMessage(content="hi"))
            assert await acme.get_keys() == ["k"]
            assert await ConvostoreChatStore(store).get_keys() == []
            assert acme.model_dump() == {"class_name": "ConvostoreChatStore", "url": None}

    run(go())
    memory = Memory.from_defaults(chat_store=ConvostoreChatStore(url="memory://"))
    assert isinstance(memory.sql_store, ConvostoreChatStore)
