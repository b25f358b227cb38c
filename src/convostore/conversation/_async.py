"""A live conversation over an :class:`~convostore.AsyncStore`: the source of both faces.

:class:`~convostore.conversation.Conversation` and its
:class:`~convostore.conversation.SessionState` are generated from this file by
``scripts/gen_sync.py``. Every change is written through to the store as it
happens (one append, one message update, one revision-checked state update,
retried on conflict), so nothing rewrites the session, concurrent writers do
not overwrite each other, and a crash loses nothing that was acknowledged.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, overload

from convostore.context import ContextWindow, call_ids
from convostore.conversation._base import ConversationBase, StateView
from convostore.conversation._rules import (
    Entry,
    Tail,
    clear_state,
    message_of,
    pop_data,
    pop_var,
    set_data,
    set_var,
    to_retire,
)
from convostore.conversation.config import (
    RESERVED_METADATA_KEY,
    STATE_RETRIES,
    SessionConfig,
    Turn,
    backoff,
    reserved,
)
from convostore.errors import NotFoundError, RevisionConflictError, ValidationError
from convostore.model import Message, Role, SearchHit, Thread, ThreadState, utcnow
from convostore.store import ops
from convostore.store.api import AsyncStore
from convostore.tokens import token_count_for, with_token_count

if TYPE_CHECKING:
    from convostore.formats import DropReport

__all__ = ["AsyncConversation", "AsyncSessionState"]


class AsyncSessionState(StateView):
    """Session state of an :class:`AsyncConversation`: string variables and typed
    data, stored with the thread. Reads use the handle's cached thread; writes
    go to the store at once."""

    def __init__(self, conv: AsyncConversation) -> None:
        super().__init__(conv)
        self._conv = conv

    async def set(self, key: str, value: str) -> None:
        """Set the string variable ``key``."""
        await self._conv._change_state(set_var(key, value))

    async def remove(self, key: str) -> str | None:
        """Remove a variable; returns its value, or None if it was not set."""
        old = self.get(key)
        await self._conv._change_state(pop_var(key))
        return old

    async def set_data(self, key: str, value: Any) -> None:
        """Store ``value`` (anything pydantic can dump to JSON) under ``key``."""
        await self._conv._change_state(set_data(key, value))

    async def remove_data(self, key: str) -> None:
        """Remove the data under ``key``, if any."""
        await self._conv._change_state(pop_data(key))

    async def clear(self) -> None:
        """Remove every variable and all data."""
        await self._conv._change_state(clear_state)


class AsyncConversation(ConversationBase):
    """A live session over an :class:`~convostore.AsyncStore` thread.

    Get one from the conversation manager or :meth:`open`. Reads of messages
    and turns go to the store; ``state`` reads, ``system_prompt``,
    ``is_expired()`` and ``age()`` use the thread as this handle last saw it
    (:meth:`refresh` re-reads it).
    """

    def __init__(
        self,
        store: AsyncStore,
        thread: Thread,
        config: SessionConfig | None = None,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        created: bool = False,
    ) -> None:
        super().__init__(thread, config, clock=clock, created=created)
        self._store = store
        self.state = AsyncSessionState(self)

    @classmethod
    async def open(
        cls,
        store: AsyncStore,
        thread_id: str,
        config: SessionConfig | None = None,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> AsyncConversation:
        """A handle on an existing thread.

        Raises:
            ThreadNotFoundError: no such thread.
        """
        return cls(store, await store.get_thread(thread_id), config, clock=clock)

    # public operations ------------------------------------------------------------

    async def refresh(self) -> Thread:
        """Re-read the thread (state, metadata, times) from the store."""
        thread = await self._store.get_thread(self.id)
        self._set_thread(thread)
        return thread

    async def add(self, role: Role | str, text: str, **fields: Any) -> Message:
        """Append a message of ``role`` with ``text``; see :meth:`add_message`."""
        return await self.add_message(message_of(role, text, fields))

    async def add_message(self, message: Message) -> Message:
        """Append a message and return it as stored (with ``seq`` and ``turn``).

        A user message opens a turn, tool messages join it, an assistant
        message answers it. The token count is computed and stored with the
        message if it has none. Past ``config.max_messages`` the oldest messages
        leave the active history (archived or deleted, see :class:`SessionConfig`).
        A system message replaces the system prompt (in place) when there is one.
        """
        return await self._add_message(message)

    async def messages(self, *, include_archived: bool = False) -> list[Message]:
        """All messages of the active history in order (with archived ones on request)."""
        return await self._pages(include_archived=include_archived)

    async def recent(self, n: int) -> list[Message]:
        """The newest ``n`` messages of the active history, oldest first."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValidationError("must be a non-negative integer", field="n")
        out: list[Message] = []
        cursor: str | None = None
        size = min(max(n, 1) + 8, self._store.limits.max_list_limit)
        while len(out) < n:
            page = await self._store.list_messages(
                self.id, limit=size, cursor=cursor, from_end=cursor is None
            )
            for m in reversed(page.items):
                if m.archived_at is None:
                    out.append(m)
                    if len(out) == n:
                        break
            if page.prev_cursor is None:
                break
            cursor = page.prev_cursor
        out.reverse()
        return out

    async def by_role(self, role: Role | str) -> list[Message]:
        """The messages of the active history with ``role``, in order."""
        r = Role(role)
        return [m for m in await self.messages() if m.role is r]

    async def search(
        self, query: str, *, limit: int | None = None, **filters: Any
    ) -> list[SearchHit]:
        """The messages of this conversation matching ``query``, best first
        (the store's :meth:`~convostore.AsyncStore.search` within this
        thread: the same query language and filters but ``thread_id``),
        at most ``limit`` (20 unless given). Archived messages are found too."""
        page = await self._store.search(query, thread_id=self.id, limit=limit, **filters)
        return page.items

    async def current_turn(self) -> int:
        """The number of turns so far (0 before the first user message)."""
        thread = await self.refresh()
        return max(0, thread.turn_count - self._turn_base())

    async def last_turn(self) -> Turn | None:
        """The newest turn, or None before the first user message."""
        return await self._get_turn(None)

    async def get_turn(self, number: int) -> Turn | None:
        """Turn ``number`` (1-based); None for 0 or past the end."""
        return await self._get_turn(number)

    @overload
    async def context(
        self,
        max_tokens: int | None = None,
        max_messages: int | None = None,
        *,
        start_on_user: bool = False,
        format: None = None,
        report: DropReport | None = None,
    ) -> ContextWindow: ...

    @overload
    async def context(
        self,
        max_tokens: int | None = None,
        max_messages: int | None = None,
        *,
        start_on_user: bool = False,
        format: str,
        report: DropReport | None = None,
    ) -> Any: ...

    async def context(
        self,
        max_tokens: int | None = None,
        max_messages: int | None = None,
        *,
        start_on_user: bool = False,
        format: str | None = None,
        report: DropReport | None = None,
    ) -> ContextWindow | Any:
        """The newest messages that fit, ready for a model (see :mod:`convostore.context`).

        Without a budget, ``config.max_tokens`` applies. With ``format``, the
        window is that provider's payload (see :mod:`convostore.formats`).

        Raises:
            ContextBudgetError: the system prompt and pinned messages alone do not fit.
        """
        if max_tokens is None and max_messages is None:
            max_tokens = self._config.max_tokens
        if format is not None:
            return await self._store.context(
                self.id,
                max_tokens=max_tokens,
                max_messages=max_messages,
                start_on_user=start_on_user,
                counter=self._config.counter,
                format=format,
                report=report,
            )
        return await self._store.context(
            self.id,
            max_tokens=max_tokens,
            max_messages=max_messages,
            start_on_user=start_on_user,
            counter=self._config.counter,
        )

    async def total_tokens(self) -> int:
        """Tokens of the active history, from the counts stored per message."""
        live = await self._pages(include_archived=False)
        counter = self._config.counter or self._store.token_counter
        return sum(token_count_for(m, counter).tokens for m in live)

    async def clear_messages(self) -> int:
        """Empty the active history, keeping the system prompt and pinned messages.

        Messages are archived (or deleted, per ``config.overflow``), and turn
        numbering starts again. Returns how many messages left.
        """
        thread = await self.refresh()
        keep_system = self._config.persist_system_prompt
        messages = await self._pages(include_archived=False)
        gone = [m for m in messages if not m.pinned and not (keep_system and m.role is Role.SYSTEM)]
        n = await self._retire(gone)
        self._tail = None
        await self._set_reserved(turn_base=thread.turn_count)
        return n

    async def set_system_prompt(self, text: str) -> None:
        """Set or replace the system prompt (in place, keeping its position)."""
        if not isinstance(text, str):
            raise ValidationError("must be a string", field="text")
        if self._config.persist_system_prompt:
            # Replaced in place when there is one; otherwise appended, and a
            # context window puts it first wherever it is in the thread.
            await self._add_message(Message.system(text))
        else:
            await self._set_reserved(system_prompt=text)

    async def pin(self, message_id: str, pinned: bool = True) -> Message:
        """Pin a message so it stays in every context window and is never trimmed."""
        msg = await self._store.update_message(message_id, pinned=pinned)
        self._touched()
        self._tail = None  # a pinned message stops counting against the limit
        return msg

    async def enforce_limits(self) -> int:
        """Apply ``config.max_messages`` now; returns how many messages left."""
        return await self._enforce_limit()

    # thread writes ------------------------------------------------------------------

    async def _update_thread(self, change: Callable[[Thread], dict[str, Any]]) -> Thread:
        """Read-modify-write of thread fields with ``expected_revision``, retried
        on conflict so concurrent changes to other keys are kept."""
        thread = self._thread
        if self._stale:
            thread = await self.refresh()
        for attempt in range(STATE_RETRIES):
            fields = change(thread)
            try:
                thread = await self._store.update_thread(
                    self.id, expected_revision=thread.revision, **fields
                )
            except RevisionConflictError:
                if attempt == STATE_RETRIES - 1:
                    raise
                if attempt:
                    await asyncio.sleep(backoff(attempt))
                thread = await self.refresh()
                continue
            self._set_thread(thread)
            return thread
        raise AssertionError("unreachable")  # pragma: no cover

    async def _change_state(self, change: Callable[[ThreadState], None]) -> None:
        def fields(thread: Thread) -> dict[str, Any]:
            state = thread.state.model_copy(deep=True)
            change(state)
            return {"state": state}

        await self._update_thread(fields)

    async def _set_reserved(self, **values: Any) -> None:
        def fields(thread: Thread) -> dict[str, Any]:
            meta = dict(thread.metadata)
            meta[RESERVED_METADATA_KEY] = {**reserved(thread), **values}
            return {"metadata": meta}

        await self._update_thread(fields)

    # messages -------------------------------------------------------------------------

    async def _add_message(self, message: Message, *, replace_prompt: bool = True) -> Message:
        if message.role is Role.SYSTEM and replace_prompt:
            # One system prompt per thread: a system message replaces it.
            prompt = await self._prompt_message()
            if prompt is not None:
                updated = await self._rewrite(prompt, message)
                await self._set_reserved(system_prompt=message.content)
                return updated
        msg = with_token_count(message, self._config.counter or self._store.token_counter)
        (stored,) = await self._store.append(self.id, msg)
        self._touched()
        await self._after_append(stored)
        if message.role is Role.SYSTEM and replace_prompt:
            await self._set_reserved(system_prompt=message.content)
        return stored

    async def _prompt_message(self) -> Message | None:
        """The thread's system prompt: its earliest live system message.

        Read with the store's indexed read of a thread's mandatory messages
        (live system and pinned ones), the read a context window starts with,
        so finding it costs the same however long the thread is.
        """
        read = await self._store._run(
            ops.ContextPage(self._store.tenant_id, self.id, 1, 2**63 - 1, with_mandatory=True)
        )
        return next((m for m in read.mandatory or [] if m.role is Role.SYSTEM), None)

    async def _rewrite(self, prompt: Message, new: Message) -> Message:
        """Replace the system prompt's text in place (same id and seq)."""
        counted = with_token_count(
            new.model_copy(update={"token_count": None}),
            self._config.counter or self._store.token_counter,
        )
        updated = await self._store.update_message(
            prompt.id,
            parts=list(new.parts),
            content=new.content,
            token_count=counted.token_count,
            token_counter=counted.token_counter,
        )
        self._touched()
        return updated

    async def _retire(self, messages: Sequence[Message | Entry]) -> int:
        now = self._clock()
        done = 0
        for m in messages:
            try:
                if self._config.overflow == "delete":
                    gone = await self._store.delete_message(m.id)
                else:
                    gone = await self._store.update_message(m.id, archived_at=now)
            except (NotFoundError, ValidationError):
                # Gone, or pinned meanwhile through another handle (a store
                # refuses to archive a pinned message): what we remember is off.
                self._tail = None
                continue
            if gone.pinned:
                # Pinned meanwhile through another handle: it stays in.
                if self._config.overflow == "delete":
                    await self._store.restore_message(m.id)
                else:
                    await self._store.update_message(m.id, archived_at=None)
                self._tail = None
                continue
            done += 1
        if done:
            self._touched()
        return done

    async def _after_append(self, stored: Message) -> int:
        """Apply ``max_messages`` after this handle appended ``stored``.

        When the store gave ``stored`` the seq right after the last one this
        handle saw, nobody else appended in between, so what the handle
        remembers of the active history still holds: it counts the message in
        and, past the limit, retires the oldest message(s) it remembers, with
        no read. O(1) per add. In any other case it falls back to the scan of
        :meth:`_enforce_limit`.
        """
        limit = self._config.max_messages
        if limit is None:
            return 0
        tail = self._tail
        seq = stored.seq or 0
        if tail is None or seq != tail.last_seq + 1:
            return await self._enforce_limit(seen_seq=seq)
        tail.last_seq = seq
        if self._protected(stored):
            tail.protected_calls.update(call_ids(stored))
            return 0
        entry = Entry.of(stored)
        if not tail.active and to_retire([entry], 0, tail.protected_calls):
            # The result of a call that already left: it follows its call.
            return await self._retire([entry])
        tail.active.append(entry)
        if len(tail.active) <= limit:
            return 0
        n = to_retire(tail.active, len(tail.active) - limit, tail.protected_calls)
        gone = [tail.active.popleft() for _ in range(n)]
        return await self._retire(gone)

    async def _enforce_limit(self, seen_seq: int = 0) -> int:
        """Move the oldest messages beyond ``max_messages`` out of the active history.

        Reads backwards from the newest message only until the first message
        already out (archived) or the start: O(max_messages) per call. Leaves
        the handle remembering the active history for the O(1) path.
        """
        self._tail = None
        limit = self._config.max_messages
        if limit is None:
            return 0
        size = min(limit + 2, self._store.limits.max_list_limit)
        found: list[Message] = []  # newest first
        protected_calls: set[str] = set()
        newest = seen_seq
        cursor: str | None = None
        while True:
            page = await self._store.list_messages(
                self.id, limit=size, cursor=cursor, from_end=cursor is None
            )
            boundary = False
            for m in reversed(page.items):
                newest = max(newest, m.seq or 0)
                if self._protected(m):
                    protected_calls.update(call_ids(m))
                    continue
                if m.archived_at is not None:
                    boundary = True
                    break
                found.append(m)
            if boundary or page.prev_cursor is None:
                break
            cursor = page.prev_cursor
        active = [Entry.of(m) for m in reversed(found)]
        n = to_retire(active, max(0, len(active) - limit), protected_calls)
        # Remembered before retiring: a retire that meets a surprise forgets it.
        self._tail = Tail(newest, deque(active[n:]), protected_calls)
        return await self._retire(active[:n])

    async def _pages(self, *, include_archived: bool) -> list[Message]:
        out: list[Message] = []
        cursor: str | None = None
        while True:
            page = await self._store.list_messages(self.id, limit=500, cursor=cursor)
            out.extend(m for m in page.items if include_archived or m.archived_at is None)
            if page.next_cursor is None:
                return out
            cursor = page.next_cursor

    async def _get_turn(self, number: int | None) -> Turn | None:
        thread = await self.refresh()
        current = max(0, thread.turn_count - self._turn_base())
        if number is None:
            number = current
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= current:
            return None
        target = self._turn_base() + number
        found: list[Message] = []
        cursor: str | None = None
        while True:
            page = await self._store.list_messages(
                self.id, limit=50, cursor=cursor, from_end=cursor is None
            )
            older = False
            for m in reversed(page.items):
                if m.turn == target:
                    found.append(m)
                elif m.turn is not None and m.turn < target:
                    older = True
            if older or page.prev_cursor is None:
                break
            cursor = page.prev_cursor
        found.reverse()
        return Turn.of(number, found)

    async def _renew(self, fields: dict[str, Any]) -> None:
        """Turn this (expired, claimed) thread into a fresh session in place.

        Its whole active history is archived, system prompt and pinned
        messages included, so it stays in the store (exported, and listed
        with the archived messages); state is emptied, turn numbering starts
        again and the new session's fields and system prompt are applied.
        """
        old = await self._pages(include_archived=False)
        now = self._clock()
        for m in old:
            try:
                await self._store.update_message(m.id, archived_at=now, pinned=False)
            except NotFoundError:
                continue
        self._tail = None
        thread = await self.refresh()
        prompt = fields.pop("system_prompt", None)
        if prompt and self._config.persist_system_prompt:
            await self._add_message(Message.system(prompt), replace_prompt=False)
        user_meta = fields.pop("metadata", None)
        changes = {k: v for k, v in fields.items() if v is not None}
        turn_base = thread.turn_count
        renewed_at = self._clock().timestamp()

        def renewed(t: Thread) -> dict[str, Any]:
            meta = (
                dict(user_meta)
                if user_meta is not None
                else {k: v for k, v in t.metadata.items() if k != RESERVED_METADATA_KEY}
            )
            meta[RESERVED_METADATA_KEY] = {
                "system_prompt": prompt,
                "turn_base": turn_base,
                "renewed_at": renewed_at,
            }
            return {**changes, "metadata": meta, "state": ThreadState()}

        await self._update_thread(renewed)
