"""Pydantic AI's ``ConversationStore`` over convostore branches: the contract of
its ABC, method by method, on every backend; the same results as the
reference ``InMemoryConversationStore`` for random sequences of operations;
convostore's own reads of a branched conversation; races."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import gc
import itertools
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("pydantic_ai")

from pydantic_ai import Agent
from pydantic_ai.conversation import Conversation
from pydantic_ai.conversation_store import (
    ConversationConflict,
    ConversationEntry,
    ConversationRecord,
    ConversationStore,
    InMemoryConversationStore,
)
from pydantic_ai.exceptions import UserError
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from convostore import open_async_store
from convostore.errors import RevisionConflictError, ThreadExistsError
from convostore.integrations.pydantic_ai import (
    ConvostoreConversationStore,
    from_message,
    to_message,
)
from convostore.store.api import AsyncStore

T = TypeVar("T")
T0 = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
_count = itertools.count()


def request(text: str) -> ModelRequest:
    return ModelRequest(parts=[UserPromptPart(text, timestamp=T0)])


def response(text: str) -> ModelResponse:
    return ModelResponse(parts=[TextPart(text)], timestamp=T0)


def turn() -> list[ModelMessage]:
    n = next(_count)
    return [request(f"question {n}"), response(f"answer {n}")]


@pytest.fixture(autouse=True)
def _collected() -> Iterator[None]:
    """What a test's event loops leave behind is collected in the test, not in a later one."""
    yield
    gc.collect()


def run(url: str, body: Callable[[ConvostoreConversationStore], Awaitable[T]]) -> T:
    async def main() -> T:
        async with open_async_store(url) as store:
            return await body(ConvostoreConversationStore(store))

    return asyncio.run(main())


async def saved(
    cs: ConversationStore, cid: str, *turns: int, scope: str | None = None
) -> Conversation:
    conversation = await cs.load(cid) or Conversation(conversation_id=cid)
    for _ in turns or (1,):
        conversation.messages.extend(turn())
    await cs.save(conversation, scope=scope)
    loaded = await cs.load(cid)
    assert loaded is not None
    return loaded


# the contract, method by method ------------------------------------------------


def test_save_and_load_round_trip(store_url: str) -> None:
    async def body(cs: ConvostoreConversationStore) -> None:
        assert await cs.load("c") is None
        conversation = Conversation(conversation_id="c")
        conversation.messages.extend(turn())
        entries = await cs.save(conversation, scope="u")
        assert [e.parent_id for e in entries] == [None, entries[0].id]
        loaded = await cs.load("c")
        assert loaded is not None and loaded.messages == conversation.messages
        assert loaded.revision == conversation.revision
        assert await cs.load_entries("c") == entries
        assert (await cs.load("c", limit=1)).messages == conversation.messages[1:]  # type: ignore[union-attr]
        assert await cs.read_entry(entries[1].id) == entries[1]
        # A second save appends only what is new, to the same line.
        loaded.messages.extend(more := turn())
        new = await cs.save(loaded)
        assert [e.message for e in new] == more and new[0].parent_id == entries[1].id
        thread = await cs.store.get_thread("c")
        assert thread.message_count == 4 and thread.user_id == "u"
        assert await cs.save(loaded) == []  # nothing new

    run(store_url, body)


def test_every_documented_conflict(store_url: str) -> None:
    async def body(cs: ConvostoreConversationStore) -> None:
        first = await saved(cs, "c", scope="u")
        stale = dataclasses.replace(first)
        first.messages.extend(turn())
        await cs.save(first)
        stale.messages.extend(turn())
        with pytest.raises(ConversationConflict):  # saved since it was loaded
            await cs.save(stale)
        fresh = Conversation(conversation_id="c", messages=turn())
        with pytest.raises(ConversationConflict):  # exists, not loaded from the store
            await cs.save(fresh)
        with pytest.raises(ConversationConflict):  # saved with another scope
            await cs.save(first, scope="other")
        assert await cs.load("c", scope="other") is None
        with pytest.raises(ConversationConflict):  # branch from a stale revision
            await cs.branch("c", at=1, expected_revision=stale.revision)
        await saved(cs, "d")
        with pytest.raises(ConversationConflict):  # fork onto an existing id
            await cs.fork("c", new_conversation_id="d")
        record = await cs.read_record("c")
        assert record is not None
        gone = dataclasses.replace(record, head_id="no-such-entry")
        with pytest.raises(ConversationConflict):  # head_id names an unknown entry
            await cs.write_record(gone, expected_revision=record.revision)
        with pytest.raises(ConversationConflict):
            await cs.write_record(
                dataclasses.replace(record, conversation_id="n", head_id="x"),
                expected_revision=None,
            )
        await cs.update("c", title="mine")
        with pytest.raises(ConversationConflict):  # title isn't expected_title
            await cs.update("c", title="agent's", expected_title=None)
        assert (await cs.read_record("c")).title == "mine"  # type: ignore[union-attr]
        with pytest.raises(ConversationConflict):
            await cs.write_details("c", {"title": "x"}, expected_revision=stale.revision)
        with pytest.raises(ConversationConflict):
            await cs.delete_record("c", expected_revision=stale.revision)
        with pytest.raises(UserError):
            await cs.update("missing", title="x")
        with pytest.raises(NotImplementedError):
            await cs.write_details("c", {"colour": 1}, expected_revision=record.revision)  # type: ignore[typeddict-unknown-key]
        await cs.delete("c", scope="other")  # another scope: left as it is
        assert await cs.load("c") is not None

    run(store_url, body)


def test_update_keeps_the_revision_and_a_save_keeps_the_update(store_url: str) -> None:
    async def body(cs: ConvostoreConversationStore) -> None:
        loaded = await saved(cs, "c")
        updated = await cs.update("c", title="Trip", metadata={"model": "m"})
        assert (updated.title, updated.metadata, updated.revision) == (
            "Trip",
            {"model": "m"},
            loaded.revision,
        )
        loaded.messages.extend(turn())
        await cs.save(loaded)  # read before the update: no conflict, and it's kept
        record = await cs.read_record("c")
        assert record is not None and (record.title, record.metadata) == ("Trip", {"model": "m"})
        cleared = await cs.update("c", title=None, metadata=None)
        assert (cleared.title, cleared.metadata) == (None, None)

    run(store_url, body)


def test_branch_moves_the_head_onto_a_new_line_and_back(store_url: str) -> None:
    async def body(cs: ConvostoreConversationStore) -> None:
        loaded = await saved(cs, "c", 1, 2)
        old = loaded.messages
        branched = await cs.branch("c", at=2, expected_revision=loaded.revision)
        assert branched.messages == old[:2]
        branched.messages.extend(new := turn())
        await cs.save(branched)
        assert [b.thread.id for b in await cs.store.branches("c")] == ["c", "c#1"]
        record = await cs.read_record("c")
        assert record is not None and len(record.branches) == 1
        assert (await cs.load("c")).messages == old[:2] + new  # type: ignore[union-attr]
        # Back to the branch it left (not in the head line's history).
        back = await cs.branch(
            "c", from_entry=record.branches[0], expected_revision=record.revision
        )
        assert back.messages == old
        assert (await cs.load("c")).messages == old  # type: ignore[union-attr]
        # To an empty history, and a save that rewrites the history.
        empty = await cs.branch("c", at=0, expected_revision=back.revision)
        assert empty.messages == [] and (await cs.load("c")).messages == []  # type: ignore[union-attr]
        rewritten = Conversation(
            conversation_id="c", messages=[*old[:1], *turn()], revision=empty.revision
        )
        await cs.save(rewritten)
        assert (await cs.load("c")).messages == rewritten.messages  # type: ignore[union-attr]
        assert len(await cs.store.branches("c")) == 4  # the empty line was extended

    run(store_url, body)


def test_fork_is_a_branch_of_the_source_tree(store_url: str) -> None:
    async def body(cs: ConvostoreConversationStore) -> None:
        source = await saved(cs, "c", 1, 2, scope="u")
        await cs.update("c", title="source")
        fork = await cs.fork("c", at=2, new_conversation_id="f")
        assert fork.messages == source.messages[:2]
        record = await cs.read_record("f")
        assert record is not None
        assert (record.forked_from, record.scope, record.title) == ("c", "u", None)
        assert record.forked_at == (await cs.load_entries("c"))[1].id  # type: ignore[index]
        thread = await cs.store.get_thread("f")
        assert thread.root_thread_id == "c" and thread.message_count == 2
        fork.messages.extend(turn())
        await cs.save(fork)
        assert sorted(r.conversation_id for r in await cs.list_conversations(scope="u")) == [
            "c",
            "f",
        ]
        # Deleting the source keeps what the fork reads.
        await cs.delete("c")
        assert await cs.load("c") is None
        assert (await cs.load("f")).messages[:2] == source.messages[:2]  # type: ignore[union-attr]
        assert [r.conversation_id for r in await cs.list_conversations()] == ["f"]
        # And the source's id can be used again, for a new conversation.
        again = await saved(cs, "c")
        assert len(again.messages) == 2 and (await cs.read_record("c")).title is None  # type: ignore[union-attr]
        stale = dataclasses.replace(source)
        with pytest.raises(ConversationConflict):  # a copy loaded before the delete
            await cs.save(stale)

    run(store_url, body)


def test_list_and_delete(store_url: str) -> None:
    async def body(cs: ConvostoreConversationStore) -> None:
        await saved(cs, "a", scope="u")
        await saved(cs, "b", scope="v")
        b = await cs.load("b")
        await cs.branch("b", at=0, expected_revision=b.revision)  # type: ignore[union-attr]
        await saved(cs, "c", scope="u")
        await cs.store.create_thread(id="plain")  # not a conversation
        assert [r.conversation_id for r in await cs.list_conversations()] == ["c", "b", "a"]
        assert [r.conversation_id for r in await cs.list_conversations(scope="u")] == ["c", "a"]
        assert [r.conversation_id for r in await cs.list_conversations(limit=1)] == ["c"]
        with pytest.raises(UserError):
            await cs.list_conversations(limit=-1)
        await cs.delete("b")
        assert await cs.load("b") is None
        ids = {t.id for t in (await cs.store.list_threads(include_deleted=True)).items}
        assert ids == {"a", "c", "plain"}  # every line purged
        await cs.delete("b")  # absent: nothing to do

    run(store_url, body)


def test_a_root_without_a_record_is_absent_and_adopted(store_url: str) -> None:
    async def body(cs: ConvostoreConversationStore) -> None:
        await cs.store.create_thread(id="c")  # a crash after the first of two writes
        assert await cs.load("c") is None
        await saved(cs, "c")
        assert (await cs.store.get_thread("c")).message_count == 2

    run(store_url, body)


# convostore's own reads of a branched conversation ----------------------------------


def test_convostore_reads_a_branched_line_as_a_plain_thread(store_url: str) -> None:
    async def body(cs: ConvostoreConversationStore) -> None:
        loaded = await saved(cs, "c", 1, 2, 3)
        branched = await cs.branch("c", at=3, expected_revision=loaded.revision)
        branched.messages.extend(turn() + turn())
        await cs.save(branched)
        history = (await cs.load("c")).messages  # type: ignore[union-attr]
        store = cs.store
        await store.create_thread(id="plain")
        await store.append("plain", [to_message(m) for m in history])
        line = (await store.branches("c"))[-1].thread.id
        assert line == "c#1"

        def texts(messages: list[Any]) -> list[Any]:
            return [from_message(m) for m in messages]

        assert texts((await store.context(line, max_tokens=10_000)).messages) == texts(
            (await store.context("plain", max_tokens=10_000)).messages
        )
        assert (
            texts(await store.recent(line, 4))
            == texts(await store.recent("plain", 4))
            == history[-4:]
        )
        got, plain = await store.get_thread(line), await store.get_thread("plain")
        assert (
            (got.message_count, got.turn_count)
            == (plain.message_count, plain.turn_count)
            == (7, plain.turn_count)
        )

    run(store_url, body)


# races ----------------------------------------------------------------------------


def test_two_saves_from_the_same_load_one_wins(store_url: str) -> None:
    async def body(cs: ConvostoreConversationStore) -> None:
        loaded = await saved(cs, "c")
        one, two = dataclasses.replace(loaded), dataclasses.replace(loaded)
        one.messages = [*loaded.messages, *turn()]
        two.messages = [*loaded.messages, *turn()]
        results = await asyncio.gather(cs.save(one), cs.save(two), return_exceptions=True)
        assert sum(isinstance(r, ConversationConflict) for r in results) == 1
        assert (await cs.load("c")).messages in (one.messages, two.messages)  # type: ignore[union-attr]

    run(store_url, body)


def record_after(
    cs: ConvostoreConversationStore, head: Any, head_id: str | None
) -> ConversationRecord:
    return dataclasses.replace(head.record, head_id=head_id, revision=f"r{next(_count)}")


@pytest.mark.parametrize("first", ["extend", "move"])
@pytest.mark.parametrize("second", ["extend", "move"])
def test_writes_that_both_read_before_either_wrote(store_url: str, first: str, second: str) -> None:
    """The store-level guard under the base class's check: both writers read the
    same head line; whatever the first did, the second's write is refused."""

    async def body(cs: ConvostoreConversationStore) -> None:
        loaded = await saved(cs, "c", 1, 2)
        entries = await cs.load_entries("c")
        assert entries is not None
        head = await cs._head("c")

        def write(kind: str) -> tuple[ConversationRecord, list[ConversationEntry]]:
            parent = entries[-1].id if kind == "extend" else entries[1].id
            new = [ConversationEntry(parent_id=parent, message=request(f"{kind} {next(_count)}"))]
            return record_after(cs, head, new[-1].id), new

        await cs._write(head, *write(first))
        with pytest.raises((RevisionConflictError, ThreadExistsError)):
            await cs._write(head, *write(second))
        assert loaded.revision != (await cs.read_record("c")).revision  # type: ignore[union-attr]

    run(store_url, body)


def test_an_extend_racing_a_branch_one_wins(store_url: str) -> None:
    async def body(cs: ConvostoreConversationStore) -> None:
        loaded = await saved(cs, "c", 1, 2)
        extended = dataclasses.replace(loaded, messages=[*loaded.messages, *turn()])
        results = await asyncio.gather(
            cs.save(extended),
            cs.branch("c", at=1, expected_revision=loaded.revision),
            return_exceptions=True,
        )
        assert sum(isinstance(r, ConversationConflict) for r in results) == 1, results

    run(store_url, body)


# a real agent run -------------------------------------------------------------------


def test_an_agent_run_continues_a_stored_conversation(store_url: str) -> None:
    def reply(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[TextPart(f"reply {len(messages)}")])

    agent = Agent(FunctionModel(reply))

    async def body(cs: ConvostoreConversationStore) -> None:
        for prompt in ("Hi", "Again"):
            conversation = await cs.load("chat") or Conversation(conversation_id="chat")
            result = await agent.run(prompt, conversation=conversation)
            await cs.save(result)
        loaded = await cs.load("chat")
        assert loaded is not None and loaded.messages == result.all_messages()
        assert len(loaded.messages) == 4 and loaded.usage == result.usage

    run(store_url, body)


# the same results as the reference --------------------------------------------------

IDS = ["a", "b", "c"]
OPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("save"), st.sampled_from(IDS), st.integers(0, 2), st.none() | st.integers(0, 4)
        ),
        st.tuples(st.just("branch"), st.sampled_from(IDS), st.integers(0, 4), st.booleans()),
        st.tuples(
            st.just("fork"),
            st.sampled_from(IDS),
            st.none() | st.integers(0, 4),
            st.sampled_from(IDS),
        ),
        st.tuples(
            st.just("update"),
            st.sampled_from(IDS),
            st.none() | st.sampled_from(["t", "u"]),
            st.booleans(),
        ),
        st.tuples(st.just("delete"), st.sampled_from(IDS)),
        st.tuples(st.just("load"), st.sampled_from(IDS), st.none() | st.integers(0, 3)),
        st.tuples(st.just("list"), st.none() | st.sampled_from(["s"])),
    ),
    max_size=12,
)


def comparable(record: ConversationRecord) -> tuple[Any, ...]:
    """The fields a store doesn't mint (entry ids only as whether there is one)."""
    return (
        record.conversation_id,
        record.head_id is None,
        record.usage,
        record.deferred_tool_requests,
        record.scope,
        record.forked_from,
        record.forked_at is None,
        record.title,
        record.metadata,
        len(record.branches),
    )


async def apply(cs: ConversationStore, op: tuple[Any, ...], messages: list[ModelMessage]) -> Any:
    kind, *args = op
    try:
        if kind == "save":
            cid, turns, rewrite = args
            loaded = await cs.load(cid)
            if loaded is not None and rewrite is not None:
                kept = loaded.messages[: min(rewrite, len(loaded.messages))]
                loaded = Conversation(
                    conversation_id=cid, messages=list(kept), revision=loaded.revision
                )
            conversation = loaded or Conversation(conversation_id=cid)
            conversation.messages.extend(messages[: 2 * turns])
            stored = await cs.save(conversation, scope="s" if cid == "a" else None)
            return "save", [e.message for e in stored]
        if kind == "branch":
            cid, at, to_branch = args
            record = await cs.read_record(cid)
            if record is None:
                return "branch", None
            if to_branch and record.branches:
                branched = await cs.branch(
                    cid,
                    from_entry=record.branches[at % len(record.branches)],
                    expected_revision=record.revision,
                )
            else:
                history = await cs.load_entries(cid) or []
                branched = await cs.branch(
                    cid, at=min(at, len(history)), expected_revision=record.revision
                )
            return "branch", branched.messages
        if kind == "fork":
            cid, at, new = args
            forked = await cs.fork(cid, at=at, new_conversation_id=new)
            return "fork", forked.messages, forked.usage
        if kind == "update":
            cid, title, expect = args
            record = await cs.update(
                cid,
                title=title,
                metadata={"m": title} if title else None,
                **({"expected_title": None} if expect else {}),
            )
            return "update", comparable(record)
        if kind == "delete":
            await cs.delete(args[0])
            return "delete"
        if kind == "load":
            cid, limit = args
            loaded = await cs.load(cid, limit=limit)
            return "load", None if loaded is None else (loaded.messages, loaded.usage)
        records = await cs.list_conversations(scope=args[0])
        return "list", sorted(comparable(r) for r in records)
    except (ConversationConflict, UserError) as exc:
        return kind, type(exc).__name__


async def differential(cs: ConversationStore, ops: list[tuple[Any, ...]]) -> list[Any]:
    reference = InMemoryConversationStore()
    results = []
    for op in ops:
        messages = turn() + turn()
        ours, theirs = await apply(cs, op, messages), await apply(reference, op, messages)
        results.append((op, ours, theirs))
        assert ours == theirs, results
    return results


_tenants = itertools.count()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS)
def test_the_same_results_as_the_reference(store_url: str, ops: list[tuple[Any, ...]]) -> None:
    async def body(cs: ConvostoreConversationStore) -> None:
        store: AsyncStore = cs.store.tenant(f"t{next(_tenants)}")
        await differential(ConvostoreConversationStore(store), ops)

    run(store_url, body)
