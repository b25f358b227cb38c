"""Pydantic AI's ``ConversationStore`` over convostore branches.

A conversation is a convostore branch tree rooted at the thread named by its
``conversation_id``. Its *lines* are threads with fixed ids: the root ``cid``,
then ``cid#1``, ``cid#2``, ...; the newest line is the *head line*, whose
history is the conversation's history (each entry one convostore message, its
id the entry's id). Saving an extension of the history appends to the head
line; a save or a ``branch`` that moves the head elsewhere forks the head
line (or the line storing the branch point) into the next line. The record
(head, usage, deferred tool requests, scope, fork origin, branches left,
revision, time) is the head line's ``state.data["pydantic_ai"]``, written in
the same transaction as the entries; ``title`` and ``metadata`` are the root
thread's; ``scope`` is every line's ``user_id``.

A fork (:meth:`ConversationStore.fork`) is a branch of the source's tree
rooted at the new conversation's id: it shares the source's entries, as the
base class means it to.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any

try:
    from pydantic import TypeAdapter
    from pydantic_ai.conversation_store import (
        ConversationConflict,
        ConversationDetails,
        ConversationEntry,
        ConversationRecord,
        ConversationStore,
    )
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "convostore.integrations.pydantic_ai needs Pydantic AI: "
        "pip install 'convostore[pydantic-ai]'"
    ) from exc

from convostore.errors import (
    ConflictError,
    MessageNotFoundError,
    NotFoundError,
    RevisionConflictError,
    ThreadExistsError,
)
from convostore.model import Message, StateChange, Thread, ThreadState
from convostore.model.state import StateUpdate
from convostore.store.api import AsyncStore

__all__ = ["STATE_KEY", "ConvostoreConversationStore"]

#: The key of ``thread.state.data`` that holds a line's conversation record.
STATE_KEY = "pydantic_ai"
_PARENT = "pydantic_ai.parent_id"
_LINE = re.compile(r"^(?P<cid>.+)#(?P<k>[0-9]+)$")
_RECORD = TypeAdapter(ConversationRecord)
_OWN = ("title", "metadata")


def _line_id(cid: str, k: int) -> str:
    return cid if k == 0 else f"{cid}#{k}"


def _line_number(cid: str, thread_id: str) -> int | None:
    if thread_id == cid:
        return 0
    match = _LINE.match(thread_id)
    if match is None or match["cid"] != cid:
        return None
    return int(match["k"])


def _record_json(record: ConversationRecord) -> dict[str, Any]:
    dumped: dict[str, Any] = _RECORD.dump_python(record, mode="json")
    for key in _OWN:
        dumped.pop(key, None)
    return dumped


def _caller_metadata(thread: Thread) -> dict[str, Any] | None:
    own = {k: v for k, v in thread.metadata.items() if not k.startswith("convostore.")}
    return own or None


# The converters live in ``convostore.integrations.pydantic_ai``, which
# re-exports this module's store: imported where they are used, so either
# module can be imported first.


def _entry(message: Message) -> ConversationEntry:
    from convostore.integrations.pydantic_ai import from_message

    parent = message.metadata.extra.get(_PARENT)
    return ConversationEntry(
        id=message.id,
        parent_id=parent if isinstance(parent, str) else None,
        message=from_message(message),
    )


def _message(entry: ConversationEntry) -> Message:
    from convostore.integrations.pydantic_ai import to_message

    converted = to_message(entry.message, id=entry.id)
    metadata = converted.metadata.model_copy(update={"extra": {_PARENT: entry.parent_id}})
    return converted.model_copy(update={"metadata": metadata})


class _Retry(Exception):
    """The conversation changed between the read and the write: read it again."""


@dataclasses.dataclass
class _Head:
    """What one ``store.branches`` read says of a conversation."""

    root: Thread | None
    line: Thread | None  # the newest line
    k: int  # its number (-1 without lines)
    record: ConversationRecord | None  # the head line's record


class ConvostoreConversationStore(ConversationStore):
    """A Pydantic AI ``ConversationStore`` keeping each conversation as a
    convostore branch tree (see the module's documentation)."""

    def __init__(self, store: AsyncStore) -> None:
        self.store = store

    @classmethod
    def from_url(cls, url: str) -> ConvostoreConversationStore:
        """A store over ``open_async_store(url)`` (open it with ``await store.store.open()``
        or ``async with store.store``)."""
        from convostore import open_async_store

        return cls(open_async_store(url))

    # reading -------------------------------------------------------------------

    async def _head(self, cid: str) -> _Head:
        try:
            tree = await self.store.branches(cid)
        except NotFoundError:
            return _Head(None, None, -1, None)
        root: Thread | None = None
        line: Thread | None = None
        k = -1
        for branch in tree:
            number = _line_number(cid, branch.thread.id)
            if number is None:
                continue
            if number == 0:
                root = branch.thread
            if number > k:
                line, k = branch.thread, number
        if root is None or line is None:
            return _Head(None, None, -1, None)
        return _Head(root, line, k, self._record_of(root, line, cid))

    @staticmethod
    def _record_of(root: Thread, line: Thread, cid: str) -> ConversationRecord | None:
        data = line.state.data.get(STATE_KEY)
        if not isinstance(data, dict) or data.get("conversation_id") != cid:
            return None
        record = _RECORD.validate_python(data)
        record.title = root.title
        record.metadata = _caller_metadata(root)
        return record

    async def read_record(self, conversation_id: str) -> ConversationRecord | None:
        return (await self._head(conversation_id)).record

    async def read_records(
        self, *, scope: str | None = None, limit: int | None = None
    ) -> Sequence[ConversationRecord]:
        threads: list[Thread] = []
        cursor: str | None = None
        while True:
            page = await self.store.list_threads(user_id=scope, cursor=cursor, limit=200)
            threads.extend(page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        by_id = {t.id: t for t in threads}
        heads: dict[str, tuple[int, Thread]] = {}
        for thread in threads:
            data = thread.state.data.get(STATE_KEY)
            cid = data.get("conversation_id") if isinstance(data, dict) else None
            match = _LINE.match(thread.id)
            # Every line of a conversation, with a record or not (one without is deleted).
            for candidate in {cid, thread.id, match["cid"] if match else None} - {None}:
                number = _line_number(str(candidate), thread.id)
                if number is not None and number > heads.get(str(candidate), (-1, thread))[0]:
                    heads[str(candidate)] = (number, thread)
        records: list[ConversationRecord] = []
        for cid, (_, line) in heads.items():
            root = by_id.get(cid)
            record = None if root is None else self._record_of(root, line, cid)
            if record is not None and (scope is None or record.scope == scope):
                records.append(record)
        records.sort(key=lambda r: r.updated_at, reverse=True)
        return records[:limit]

    async def read_entry(self, entry_id: str) -> ConversationEntry:
        try:
            return _entry(await self.store.get_message(entry_id))
        except MessageNotFoundError as exc:
            raise KeyError(entry_id) from exc

    async def read_history(
        self, head_id: str | None, *, limit: int | None = None
    ) -> list[ConversationEntry]:
        """The history up to ``head_id`` in one read of the thread that stores it
        (its history is every line's history up to it)."""
        if head_id is None or limit == 0:
            return []
        try:
            head = await self.store.get_message(head_id)
        except MessageNotFoundError as exc:
            raise KeyError(head_id) from exc
        seq = head.seq or 0
        stored = await self.store.load_messages(head.thread_id or "")
        kept = [m for m in stored if (m.seq or 0) <= seq]
        if limit is not None:
            kept = kept[-limit:]
        return [_entry(m) for m in kept]

    # writing -------------------------------------------------------------------

    async def write_record(
        self,
        record: ConversationRecord,
        *,
        new_entries: Sequence[ConversationEntry] = (),
        expected_revision: str | None,
    ) -> None:
        cid = record.conversation_id
        if _LINE.match(cid):
            raise ConversationConflict(
                cid, message=f"Conversation ids ending in '#<number>' name lines: {cid!r}."
            )
        while True:
            head = await self._head(cid)
            stored = head.record
            if (stored.revision if stored is not None else None) != expected_revision:
                raise ConversationConflict(cid)
            try:
                await self._write(head, record, list(new_entries))
                return
            except (RevisionConflictError, _Retry):
                # Saved, moved or deleted since: or only retitled (an update of
                # the root), which a save must not conflict with. Check again.
                continue
            except (ThreadExistsError, MessageNotFoundError, ConflictError) as exc:
                raise ConversationConflict(cid) from exc

    async def _write(
        self, head: _Head, record: ConversationRecord, new: list[ConversationEntry]
    ) -> None:
        state = StateChange(thread=StateUpdate(changes={STATE_KEY: _record_json(record)}))
        messages = [_message(e) for e in new]
        point = new[0].parent_id if new else record.head_id
        if head.line is None or head.record is None:
            await self._create(head, record, point, messages, state)
        elif point == head.record.head_id:
            # An extension of the head line: one append, revision-checked.
            await self.store.append(
                head.line.id, messages, expected_revision=head.line.revision, state=state
            )
        else:
            await self._move(head, record, point, messages)

    async def _known(self, cid: str, entry_id: str) -> Message:
        try:
            return await self.store.get_message(entry_id)
        except MessageNotFoundError as exc:
            raise ConversationConflict(cid) from exc

    async def _create(
        self,
        head: _Head,
        record: ConversationRecord,
        point: str | None,
        messages: list[Message],
        state: StateChange,
    ) -> None:
        cid = record.conversation_id
        data = ThreadState(data={STATE_KEY: _record_json(record)})
        if point is not None:
            # A fork: a branch of the tree storing its fork point, rooted at `cid`.
            source = await self._known(cid, point)
            if head.root is not None:
                raise ConversationConflict(
                    cid, message=f"Conversation {cid!r} left threads a fork still reads."
                )
            await self.store.fork_thread(
                source.thread_id or "",
                at=point,
                id=cid,
                messages=messages,
                user_id=record.scope,
                state=data,
            )
            await self._clear_own(cid)
            return
        if head.line is None:
            try:
                root = await self.store.create_thread(id=cid, user_id=record.scope)
            except ThreadExistsError:
                raise _Retry from None  # created concurrently: read it again
            await self.store.append(cid, messages, expected_revision=root.revision, state=state)
            return
        if head.k == 0 and head.line.message_count == 0:
            # Created, but its first write never came: adopt it.
            await self.store.append(
                cid, messages, expected_revision=head.line.revision, state=state
            )
            return
        # Deleted, its threads kept for a fork that reads them: a new line.
        await self.store.fork_thread(
            head.line.id,
            at_seq=0,
            id=_line_id(cid, head.k + 1),
            messages=messages,
            user_id=record.scope,
            state=data,
            expected_revision=head.line.revision,
            supersede=True,
        )

    async def _clear_own(self, cid: str) -> None:
        """A fork takes no title or metadata from its source."""
        root = await self.store.get_thread(cid)
        if root.title is not None or _caller_metadata(root):
            await self.store.update_thread(cid, title=None, metadata=None)

    async def _move(
        self, head: _Head, record: ConversationRecord, point: str | None, messages: list[Message]
    ) -> None:
        assert head.line is not None and head.record is not None
        cid = record.conversation_id
        line = _line_id(cid, head.k + 1)
        data = ThreadState(data={STATE_KEY: _record_json(record)})
        fork: dict[str, Any] = {"id": line, "messages": messages, "state": data}
        if record.scope is not None:
            fork["user_id"] = record.scope
        try:
            # The point in the head line's history: one fork, which supersedes it.
            await self.store.fork_thread(
                head.line.id,
                **({"at_seq": 0} if point is None else {"at": point}),
                expected_revision=head.line.revision,
                supersede=True,
                **fork,
            )
            return
        except MessageNotFoundError:
            pass
        # The point is on a branch the conversation left: mark the head line
        # moving (its record's revision changes, so no writer holding it can
        # extend it), then fork the line that stores the point.
        source = await self._known(cid, point or "")
        moving = dataclasses.replace(head.record, revision=f"{head.record.revision}~{line}")
        await self.store.update_thread(
            head.line.id,
            expected_revision=head.line.revision,
            state=ThreadState(
                variables=head.line.state.variables,
                data={**head.line.state.data, STATE_KEY: _record_json(moving)},
            ),
        )
        await self.store.fork_thread(source.thread_id or "", at=point, **fork)

    async def write_details(
        self,
        conversation_id: str,
        details: ConversationDetails,
        *,
        expected_revision: str,
        expected: ConversationDetails | None = None,
    ) -> ConversationRecord:
        for key in [*details, *(expected or {})]:
            if key not in _OWN:
                raise NotImplementedError(f"{type(self).__name__} does not store {key!r}")
        head = await self._head(conversation_id)
        stored = head.record
        if stored is None or head.root is None or stored.revision != expected_revision:
            raise ConversationConflict(conversation_id)
        if expected and any(getattr(stored, k) != v for k, v in expected.items()):
            raise ConversationConflict(conversation_id)
        fields: dict[str, Any] = {}
        if "title" in details:
            fields["title"] = details["title"]
        if "metadata" in details:
            fields["metadata"] = details["metadata"]
        try:
            root = await self.store.update_thread(
                conversation_id, expected_revision=head.root.revision, **fields
            )
        except (RevisionConflictError, NotFoundError) as exc:
            raise ConversationConflict(conversation_id) from exc
        return dataclasses.replace(stored, title=root.title, metadata=_caller_metadata(root))

    async def delete_record(self, conversation_id: str, *, expected_revision: str) -> None:
        """Delete a conversation: its record is cleared from the head line in one
        revision-checked write (the delete itself), then the record of every other
        line, then each line is purged, newest first, unless another
        conversation's fork still reads it (those are kept, without a record)."""
        head = await self._head(conversation_id)
        if head.record is None or head.line is None or head.record.revision != expected_revision:
            raise ConversationConflict(conversation_id)
        try:
            await self._clear(conversation_id, head.line, head.line.revision)
        except (RevisionConflictError, NotFoundError) as exc:
            raise ConversationConflict(conversation_id) from exc
        tree = await self.store.branches(conversation_id)
        lines = sorted(
            (
                (n, b.thread)
                for b in tree
                if (n := _line_number(conversation_id, b.thread.id)) is not None
            ),
            key=lambda item: item[0],
            reverse=True,
        )
        for n, thread in lines:
            if thread.id != head.line.id and (STATE_KEY in thread.state.data or n == 0):
                await self._clear(conversation_id, thread, None)
        for _, thread in lines:
            try:
                await self.store.purge_thread(thread.id)
            except ConflictError:
                continue  # a fork reads it: kept, without a record

    async def _clear(self, cid: str, thread: Thread, revision: int | None) -> None:
        data = {k: v for k, v in thread.state.data.items() if k != STATE_KEY}
        fields: dict[str, Any] = {"state": ThreadState(variables=thread.state.variables, data=data)}
        if _line_number(cid, thread.id) == 0:
            fields.update(title=None, metadata=None)  # a conversation made again starts bare
        await self.store.update_thread(thread.id, expected_revision=revision, **fields)
