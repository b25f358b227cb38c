"""Edits keep a message whole: its parts, content and token count agree after
any change, as if it had been appended so."""

from __future__ import annotations

import datetime as dt

import pytest

from convostore._ids import new_id
from convostore.errors import ValidationError
from convostore.model import Message, TextPart, ToolCallPart, ToolResultPart
from convostore.testing.contract.base import (
    ContractBase,
    StoreLike,
    all_messages,
    fingerprint,
    setup_basic,
)

__all__ = ["EditContract"]


class EditContract(ContractBase):
    """Edits of a message keep its parts, content and counts consistent."""

    def _as_appended(self, store: StoreLike, message: Message) -> Message:
        """``message`` as appending it afresh would store it (in a scratch thread)."""
        scratch = store.create_thread()
        fresh = message.model_copy(
            update={
                "id": new_id("msg"),
                "thread_id": None,
                "seq": None,
                "turn": None,
                "token_count": None,
                "token_counter": None,
                "updated_at": None,
            }
        )
        stored: Message
        (stored,) = store.append(
            scratch.id,
            Message.model_validate(fresh.model_dump(exclude={"content"} if fresh.parts else set())),
        )
        store.purge_thread(scratch.id)
        return stored

    def _check_whole(self, store: StoreLike, message_id: str) -> Message:
        got: Message = store.get_message(message_id)
        fresh = self._as_appended(store, got.model_copy(update={"content": ""}))
        assert (got.content, got.parts) == (fresh.content, fresh.parts)
        assert (got.token_count, got.token_counter) == (fresh.token_count, fresh.token_counter)
        tid = got.thread_id
        assert tid is not None
        live = all_messages(store, tid)
        assert store.get_thread(tid).token_count == sum(m.token_count or 0 for m in live)
        return got

    def test_editing_content_rewrites_the_parts_and_the_count(self, store: StoreLike) -> None:
        setup_basic(store)
        long = "A much longer answer, with several clauses and numbers 1234567. " * 20
        before = store.get_message("m2")
        edited = store.update_message("m2", content=long)
        assert edited.parts == [TextPart(text=long)] and edited.content == long
        assert edited.token_count is not None and edited.token_count > before.token_count
        assert self._check_whole(store, "m2") == edited
        window = store.context("t1", max_tokens=10_000)
        assert window.messages[-1].parts == [TextPart(text=long)]
        assert window.tokens == sum(m.token_count or 0 for m in window.messages)
        # Editing the parts derives the content and counts again too.
        edited = store.update_message("m2", parts=[TextPart(text="ok")])
        assert edited.content == "ok"
        self._check_whole(store, "m2")
        # Emptying the content leaves no empty text part behind.
        assert store.update_message("m2", content="").parts == []
        self._check_whole(store, "m2")

    def test_editing_content_keeps_calls_and_edits_a_tool_result(self, store: StoreLike) -> None:
        setup_basic(store)
        call = ToolCallPart(tool_call_id="c1", tool_name="calc", args={"x": 1})
        store.append(
            "t1",
            [
                Message.assistant("", id="a1", parts=[call]),
                Message.tool("41", "c1", id="r1", tool_name="calc"),
            ],
        )
        edited = store.update_message("a1", content="Let me compute.")
        assert edited.parts == [TextPart(text="Let me compute."), call]
        self._check_whole(store, "a1")
        result = store.update_message("r1", content="42")
        assert [p.result for p in result.parts if isinstance(p, ToolResultPart)] == ["42"]
        assert result.content == "42"
        self._check_whole(store, "r1")

    def test_an_edit_that_cannot_be_meant_writes_nothing(self, store: StoreLike) -> None:
        setup_basic(store)
        store.append(
            "t1",
            Message.user(
                "",
                id="u2",
                parts=[
                    ToolResultPart(tool_call_id="c1", result="a"),
                    ToolResultPart(tool_call_id="c2", result="b"),
                ],
            ),
        )
        before = fingerprint(store, "t1")
        with pytest.raises(ValidationError) as err:
            store.update_message("u2", content="c")
        assert err.value.field == "message.content"
        assert fingerprint(store, "t1") == before

    def test_an_explicit_count_in_the_edit_is_kept(self, store: StoreLike) -> None:
        setup_basic(store)
        edited = store.update_message("m2", content="x" * 50, token_count=7, token_counter="mine")
        assert (edited.token_count, edited.token_counter) == (7, "mine")
        assert store.get_thread("t1").token_count == sum(
            m.token_count or 0 for m in all_messages(store, "t1")
        )

    def test_a_metadata_update_keeps_reserved_keys(self, store: StoreLike) -> None:
        own = {"system_prompt": "be brief", "turn_base": 3}
        store.create_thread(id="t1", metadata={"convostore.conversation": own, "a": 1})
        assert store.update_thread("t1", metadata={"b": 2}).metadata == {
            "b": 2,
            "convostore.conversation": own,
        }
        assert store.update_thread("t1", metadata=None).metadata == {"convostore.conversation": own}
        assert store.get_thread("t1").metadata == {"convostore.conversation": own}
        # Naming a reserved key replaces it.
        assert store.update_thread("t1", metadata={"convostore.conversation": {}}).metadata == {
            "convostore.conversation": {}
        }

    def test_pinning_an_archived_message_brings_it_back(self, store: StoreLike) -> None:
        setup_basic(store)
        store.update_message("m1", archived_at=dt.datetime.now(dt.UTC))
        assert store.context("t1", max_tokens=10_000).ids == ["m2"]
        pinned = store.update_message("m1", pinned=True)
        assert pinned.pinned and pinned.archived_at is None
        assert store.context("t1", max_tokens=10_000).ids == ["m1", "m2"]
        before = fingerprint(store, "t1")
        with pytest.raises(ValidationError) as err:
            store.update_message("m1", archived_at=dt.datetime.now(dt.UTC))
        assert err.value.field == "message.archived_at"
        assert fingerprint(store, "t1") == before
