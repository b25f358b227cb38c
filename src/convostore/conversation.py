"""The conversation layer: live session handles over a store.

A :class:`Conversation` is what an application holds while it talks to a model:
it adds messages and tracks turns, keeps session state, trims the active
history to a limit and hands back a model-ready context window. Unlike the
seed's ``ConversationSession`` it is not a value that gets saved as a whole:
every change is written through to the store as it happens (one append, one
message update, one state update), so nothing rewrites the session, concurrent
writers do not overwrite each other (state updates use ``expected_revision``
and retry), and a crash loses nothing that was acknowledged.

:class:`ConversationManager` creates, finds, expires and retires sessions.

Each operation is written once, as a generator that yields store calls and
receives their results; the sync and async faces only differ in how they run
those calls, so they behave identically.
"""

from __future__ import annotations

import asyncio
import builtins
import datetime as dt
import random
import time
from collections import deque
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, cast, overload

from pydantic import BaseModel, ConfigDict, JsonValue, TypeAdapter

from convostore.context import (
    ContextWindow,
    call_ids,
    is_mandatory,
    is_reasoning_only,
    result_ids,
    select_window,
)
from convostore.errors import (
    ConvostoreError,
    NotFoundError,
    RevisionConflictError,
    ThreadDeletedError,
    ThreadExistsError,
    ThreadNotFoundError,
    ValidationError,
)
from convostore.model import Message, Role, Thread, ThreadState, utcnow
from convostore.store import ops
from convostore.store.rules.validation import translate_validation
from convostore.tokens import TokenCounter, token_count_for, with_token_count

if TYPE_CHECKING:
    from convostore.store import AsyncStore, Store

__all__ = [
    "RESERVED_METADATA_KEY",
    "AsyncConversation",
    "AsyncConversationManager",
    "AsyncSessionState",
    "Conversation",
    "ConversationManager",
    "SessionConfig",
    "SessionState",
    "Turn",
]

T = TypeVar("T")

#: Thread metadata key under which the conversation layer keeps its own
#: bookkeeping (system prompt, turn numbering after a clear). Other keys are the
#: caller's.
RESERVED_METADATA_KEY = "convostore.conversation"

_STATE_RETRIES = 16
_DELETED_HINT = (
    "restore it (Store.restore_thread) to continue it, or purge it "
    "(delete(..., purge=True)) to start over under this id"
)
_REPLACE_STALE_AFTER = dt.timedelta(seconds=30)


# --- configuration and values ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """How a conversation limits itself. Defaults are the seed's.

    Attributes:
        max_messages: the active history keeps at most this many messages
            besides the system prompt and pinned messages; older ones leave it
            (the results of a tool call that leaves go with it, so a few more
            may leave). ``None`` for no limit.
        max_tokens: the default token budget of :meth:`Conversation.context`.
        idle_timeout: a session idle for longer is expired (``None``: never).
            Seconds or a ``timedelta``.
        persist_system_prompt: store the system prompt as the thread's first
            message (and keep it through :meth:`Conversation.clear_messages`).
        overflow: what happens to messages leaving the active history:
            ``"archive"`` (default; they stay in the store, exported and listed
            with ``archived_at`` set, but out of context windows) or
            ``"delete"`` (soft-deleted).
        counter: counts tokens of messages that arrive without a count
            (default: the store's ``token_counter``).
    """

    max_messages: int | None = 100
    max_tokens: int = 8192
    idle_timeout: dt.timedelta | float | None = dt.timedelta(seconds=3600)
    persist_system_prompt: bool = True
    overflow: Literal["archive", "delete"] = "archive"
    counter: TokenCounter | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.max_messages is not None and (
            isinstance(self.max_messages, bool)
            or not isinstance(self.max_messages, int)
            or self.max_messages < 1
        ):
            raise ValidationError("must be a positive integer or None", field="max_messages")
        if (
            isinstance(self.max_tokens, bool)
            or not isinstance(self.max_tokens, int)
            or (self.max_tokens < 1)
        ):
            raise ValidationError("must be a positive integer", field="max_tokens")
        if self.overflow not in ("archive", "delete"):
            raise ValidationError("must be 'archive' or 'delete'", field="overflow")
        timeout = self.idle_timeout
        if timeout is not None and not isinstance(timeout, dt.timedelta):
            if isinstance(timeout, bool) or not isinstance(timeout, int | float):
                raise ValidationError("must be seconds, a timedelta or None", field="idle_timeout")
            object.__setattr__(self, "idle_timeout", dt.timedelta(seconds=timeout))
        if isinstance(self.idle_timeout, dt.timedelta) and self.idle_timeout.total_seconds() <= 0:
            raise ValidationError("must be positive", field="idle_timeout")

    @property
    def timeout(self) -> dt.timedelta | None:
        """``idle_timeout`` as a ``timedelta``."""
        return cast("dt.timedelta | None", self.idle_timeout)


class Turn(BaseModel):
    """One exchange: a user message, the tool traffic it caused, and the reply.

    ``number`` counts from 1 within the conversation (restarting after
    :meth:`Conversation.clear_messages`). ``tool_calls`` holds the tool
    messages (results) of the turn, as in the seed; ``messages`` holds every
    message of the turn in order.

    A turn is opened by a user message with user content (a user-role
    message holding only tool results, as Anthropic returns them, is tool
    traffic of the current turn and is listed in ``tool_calls``). The turn is
    complete once an assistant message that is neither a tool call nor
    reasoning alone has answered, whatever its parts (text, an image, a file).
    """

    model_config = ConfigDict(frozen=True)

    number: int
    user_message: Message
    tool_calls: list[Message]
    assistant_messages: list[Message]
    assistant_response: Message | None
    messages: list[Message]
    started_at: dt.datetime
    completed_at: dt.datetime | None

    @property
    def is_complete(self) -> bool:
        return self.assistant_response is not None

    def all_messages(self) -> list[Message]:
        """Every message of the turn, in order."""
        return list(self.messages)

    @classmethod
    def of(cls, number: int, messages: list[Message]) -> Turn | None:
        """Assemble a turn from its messages (seq order); None without its user message."""
        if not messages or not messages[0].opens_turn:
            return None
        assistants = [m for m in messages if m.role is Role.ASSISTANT]
        answers = [m for m in assistants if not is_reasoning_only(m)]
        last = answers[-1] if answers else None
        reply = last if last is not None and not call_ids(last) else None
        return cls(
            number=number,
            user_message=messages[0],
            tool_calls=[
                m
                for m in messages[1:]
                if m.role is Role.TOOL or (m.role is Role.USER and not m.opens_turn)
            ],
            assistant_messages=assistants,
            assistant_response=reply,
            messages=messages,
            started_at=messages[0].created_at,
            completed_at=reply.created_at if reply is not None else None,
        )


# --- store calls as values ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Call:
    method: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Sleep:
    seconds: float


_Plan = Generator["_Call | _Sleep", Any, T]


def _run_sync(store: Any, plan: _Plan[T]) -> T:
    value: Any = None
    error: ConvostoreError | None = None
    while True:
        try:
            step = plan.throw(error) if error is not None else plan.send(value)
        except StopIteration as stop:
            return cast(T, stop.value)
        value, error = None, None
        if isinstance(step, _Sleep):
            time.sleep(step.seconds)
            continue
        try:
            value = getattr(store, step.method)(*step.args, **step.kwargs)
        except ConvostoreError as exc:
            error = exc


async def _run_async(store: Any, plan: _Plan[T]) -> T:
    value: Any = None
    error: ConvostoreError | None = None
    while True:
        try:
            step = plan.throw(error) if error is not None else plan.send(value)
        except StopIteration as stop:
            return cast(T, stop.value)
        value, error = None, None
        if isinstance(step, _Sleep):
            await asyncio.sleep(step.seconds)
            continue
        try:
            value = await getattr(store, step.method)(*step.args, **step.kwargs)
        except ConvostoreError as exc:
            error = exc


def _backoff(attempt: int) -> _Sleep:
    return _Sleep(min(0.2, 0.002 * (2 ** min(attempt, 7))) * (0.5 + random.random()))


def _reserved(thread: Thread) -> dict[str, Any]:
    raw = thread.metadata.get(RESERVED_METADATA_KEY)
    return dict(raw) if isinstance(raw, dict) else {}


def _expired(thread: Thread, config: SessionConfig, now: dt.datetime) -> bool:
    timeout = config.timeout
    if timeout is None:
        return False
    active = thread.updated_at
    renewed = _reserved(thread).get("renewed_at")
    if isinstance(renewed, int | float):
        # Renewed by get_or_create, as of the manager's clock.
        active = max(active, dt.datetime.fromtimestamp(renewed, dt.UTC))
    return now - active > timeout


# --- the conversation handle ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Entry:
    """What the limit rule needs to know of an active message."""

    id: str
    seq: int
    is_assistant: bool
    results: tuple[str, ...]
    reasoning_only: bool

    @classmethod
    def of(cls, m: Message) -> _Entry:
        return cls(
            m.id, m.seq or 0, m.role is Role.ASSISTANT, tuple(result_ids(m)), is_reasoning_only(m)
        )


@dataclass(slots=True)
class _Tail:
    """What a handle remembers of its thread's active history: the messages that
    count against ``max_messages`` (live, not archived, neither pinned nor
    system), oldest first, and the newest seq it knows of."""

    last_seq: int
    active: deque[_Entry]
    protected_calls: set[str]  # call ids of the pinned and system messages seen


def _to_retire(active: Sequence[_Entry], excess: int, protected_calls: set[str]) -> int:
    """How many of the oldest ``active`` messages (oldest first) leave so that
    ``excess`` of them do and the history left starts at a clean point: not on
    a tool result whose call left (a result answers the nearest call before
    it, so none that stays can answer it, only a pinned one), and not on the
    message a reasoning-only message that left was reasoning for."""
    k = excess
    while k < len(active):
        head = active[k]
        if head.results and not all(a in protected_calls for a in head.results):
            k += 1
            continue
        if k > 0 and active[k - 1].reasoning_only and head.is_assistant:
            k += 1
            continue
        break
    return k


class _ConversationCore:
    """State and plans shared by :class:`Conversation` and :class:`AsyncConversation`."""

    def __init__(
        self,
        store: Any,
        thread: Thread,
        config: SessionConfig | None = None,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        created: bool = False,
    ) -> None:
        self._store = store
        self._thread = thread
        self._config = config or SessionConfig()
        self._clock = clock
        self._stale = False
        #: What this handle knows of the active history (see _Tail), or None.
        self._tail: _Tail | None = None
        #: Whether the call that returned this handle created the thread.
        self.created = created

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r}, user_id={self.user_id!r})"

    # cached facts ---------------------------------------------------------------

    @property
    def id(self) -> str:
        return self._thread.id

    @property
    def thread(self) -> Thread:
        """The thread as last read or written by this handle."""
        return self._thread

    @property
    def config(self) -> SessionConfig:
        return self._config

    @property
    def user_id(self) -> str | None:
        return self._thread.user_id

    @property
    def created_at(self) -> dt.datetime:
        return self._thread.created_at

    @property
    def updated_at(self) -> dt.datetime:
        return self._thread.updated_at

    @property
    def metadata(self) -> dict[str, JsonValue]:
        """The caller's thread metadata (without the conversation layer's key)."""
        return {k: v for k, v in self._thread.metadata.items() if k != RESERVED_METADATA_KEY}

    @property
    def system_prompt(self) -> str | None:
        value = _reserved(self._thread).get("system_prompt")
        return value if isinstance(value, str) else None

    def is_expired(self, now: dt.datetime | None = None) -> bool:
        """Idle for longer than ``config.idle_timeout`` (as of this handle's last
        read or write; :meth:`refresh` first to see other writers)."""
        return _expired(self._thread, self._config, now or self._clock())

    def age(self, now: dt.datetime | None = None) -> dt.timedelta:
        """Time since the conversation was created."""
        return (now or self._clock()) - self._thread.created_at

    def _set_thread(self, thread: Thread) -> None:
        self._thread = thread
        self._stale = False

    def _touched(self) -> None:
        """A write of ours advanced the thread; its cached revision is now old."""
        now = self._clock()
        if now > self._thread.updated_at:
            self._thread = self._thread.model_copy(update={"updated_at": now})
        self._stale = True

    # plans ----------------------------------------------------------------------

    def _p_refresh(self) -> _Plan[Thread]:
        thread = yield _Call("get_thread", (self.id,))
        self._set_thread(thread)
        return cast(Thread, thread)

    def _p_update_thread(self, change: Callable[[Thread], dict[str, Any]]) -> _Plan[Thread]:
        """Read-modify-write of thread fields with ``expected_revision``, retried
        on conflict so concurrent changes to other keys are kept."""
        thread = self._thread
        if self._stale:
            thread = yield from self._p_refresh()
        for attempt in range(_STATE_RETRIES):
            fields = change(thread)
            try:
                thread = yield _Call(
                    "update_thread", (self.id,), {**fields, "expected_revision": thread.revision}
                )
            except RevisionConflictError:
                if attempt == _STATE_RETRIES - 1:
                    raise
                if attempt:
                    yield _backoff(attempt)
                thread = yield from self._p_refresh()
                continue
            self._set_thread(thread)
            return cast(Thread, thread)
        raise AssertionError("unreachable")  # pragma: no cover

    def _p_state(self, change: Callable[[ThreadState], None]) -> _Plan[None]:
        def fields(thread: Thread) -> dict[str, Any]:
            state = thread.state.model_copy(deep=True)
            change(state)
            return {"state": state}

        yield from self._p_update_thread(fields)

    def _p_reserved(self, **values: Any) -> _Plan[None]:
        def fields(thread: Thread) -> dict[str, Any]:
            meta = dict(thread.metadata)
            meta[RESERVED_METADATA_KEY] = {**_reserved(thread), **values}
            return {"metadata": meta}

        yield from self._p_update_thread(fields)

    def _p_add_message(self, message: Message, *, replace_prompt: bool = True) -> _Plan[Message]:
        if message.role is Role.SYSTEM and replace_prompt:
            # One system prompt per thread: a system message replaces it.
            prompt = yield from self._p_prompt_message()
            if prompt is not None:
                updated = yield from self._p_rewrite(prompt, message)
                yield from self._p_reserved(system_prompt=message.content)
                return updated
        msg = with_token_count(message, self._config.counter or self._store.token_counter)
        (stored,) = yield _Call("append", (self.id, msg))
        self._touched()
        yield from self._p_after_append(cast(Message, stored))
        if message.role is Role.SYSTEM and replace_prompt:
            yield from self._p_reserved(system_prompt=message.content)
        return cast(Message, stored)

    def _p_prompt_message(self) -> _Plan[Message | None]:
        """The thread's system prompt: its earliest live system message.

        Read with the store's indexed read of a thread's mandatory messages
        (live system and pinned ones), the read a context window starts with,
        so finding it costs the same however long the thread is.
        """
        read = yield _Call(
            "_run",
            (ops.ContextPage(self._store.tenant_id, self.id, 1, 2**63 - 1, with_mandatory=True),),
        )
        mandatory = cast("ops.ContextRows", read).mandatory or []
        return next((m for m in mandatory if m.role is Role.SYSTEM), None)

    def _p_rewrite(self, prompt: Message, new: Message) -> _Plan[Message]:
        """Replace the system prompt's text in place (same id and seq)."""
        counted = with_token_count(
            new.model_copy(update={"token_count": None}),
            self._config.counter or self._store.token_counter,
        )
        updated = yield _Call(
            "update_message",
            (prompt.id,),
            {
                "parts": list(new.parts),
                "content": new.content,
                "token_count": counted.token_count,
                "token_counter": counted.token_counter,
            },
        )
        self._touched()
        return cast(Message, updated)

    def _protected(self, m: Message) -> bool:
        return m.pinned or m.role is Role.SYSTEM

    def _p_retire(self, messages: Sequence[Message | _Entry]) -> _Plan[int]:
        now = self._clock()
        done = 0
        for m in messages:
            try:
                if self._config.overflow == "delete":
                    gone = yield _Call("delete_message", (m.id,))
                else:
                    gone = yield _Call("update_message", (m.id,), {"archived_at": now})
            except (NotFoundError, ValidationError):
                # Gone, or pinned meanwhile through another handle (a store
                # refuses to archive a pinned message): what we remember is off.
                self._tail = None
                continue
            if cast(Message, gone).pinned:
                # Pinned meanwhile through another handle: it stays in.
                if self._config.overflow == "delete":
                    yield _Call("restore_message", (m.id,))
                else:
                    yield _Call("update_message", (m.id,), {"archived_at": None})
                self._tail = None
                continue
            done += 1
        if done:
            self._touched()
        return done

    def _p_after_append(self, stored: Message) -> _Plan[int]:
        """Apply ``max_messages`` after this handle appended ``stored``.

        When the store gave ``stored`` the seq right after the last one this
        handle saw, nobody else appended in between, so what the handle
        remembers of the active history still holds: it counts the message in
        and, past the limit, retires the oldest message(s) it remembers, with
        no read. O(1) per add. In any other case it falls back to the scan of
        :meth:`_p_enforce_limit`.
        """
        limit = self._config.max_messages
        if limit is None:
            return 0
        tail = self._tail
        seq = stored.seq or 0
        if tail is None or seq != tail.last_seq + 1:
            return (yield from self._p_enforce_limit(seen_seq=seq))
        tail.last_seq = seq
        if self._protected(stored):
            tail.protected_calls.update(call_ids(stored))
            return 0
        entry = _Entry.of(stored)
        if not tail.active and _to_retire([entry], 0, tail.protected_calls):
            # The result of a call that already left: it follows its call.
            return (yield from self._p_retire([entry]))
        tail.active.append(entry)
        if len(tail.active) <= limit:
            return 0
        n = _to_retire(tail.active, len(tail.active) - limit, tail.protected_calls)
        gone = [tail.active.popleft() for _ in range(n)]
        return (yield from self._p_retire(gone))

    def _p_enforce_limit(self, seen_seq: int = 0) -> _Plan[int]:
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
            page = yield _Call(
                "list_messages",
                (self.id,),
                {"limit": size, "cursor": cursor, "from_end": cursor is None},
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
        active = [_Entry.of(m) for m in reversed(found)]
        n = _to_retire(active, max(0, len(active) - limit), protected_calls)
        # Remembered before retiring: a retire that meets a surprise forgets it.
        self._tail = _Tail(newest, deque(active[n:]), protected_calls)
        return (yield from self._p_retire(active[:n]))

    def _p_pages(self, *, include_archived: bool) -> _Plan[list[Message]]:
        out: list[Message] = []
        cursor: str | None = None
        while True:
            page = yield _Call("list_messages", (self.id,), {"limit": 500, "cursor": cursor})
            out.extend(m for m in page.items if include_archived or m.archived_at is None)
            if page.next_cursor is None:
                return out
            cursor = page.next_cursor

    def _p_recent(self, n: int) -> _Plan[list[Message]]:
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValidationError("must be a non-negative integer", field="n")
        out: list[Message] = []
        cursor: str | None = None
        size = min(max(n, 1) + 8, self._store.limits.max_list_limit)
        while len(out) < n:
            page = yield _Call(
                "list_messages",
                (self.id,),
                {"limit": size, "cursor": cursor, "from_end": cursor is None},
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

    def _turn_base(self) -> int:
        base = _reserved(self._thread).get("turn_base", 0)
        return base if isinstance(base, int) else 0

    def _p_current_turn(self) -> _Plan[int]:
        thread = yield from self._p_refresh()
        return max(0, thread.turn_count - self._turn_base())

    def _p_get_turn(self, number: int | None) -> _Plan[Turn | None]:
        thread = yield from self._p_refresh()
        current = max(0, thread.turn_count - self._turn_base())
        if number is None:
            number = current
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= current:
            return None
        target = self._turn_base() + number
        found: list[Message] = []
        cursor: str | None = None
        while True:
            page = yield _Call(
                "list_messages",
                (self.id,),
                {"limit": 50, "cursor": cursor, "from_end": cursor is None},
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

    def _p_clear(self) -> _Plan[int]:
        thread = yield from self._p_refresh()
        keep_system = self._config.persist_system_prompt
        messages = yield from self._p_pages(include_archived=False)
        gone = [m for m in messages if not m.pinned and not (keep_system and m.role is Role.SYSTEM)]
        n = yield from self._p_retire(gone)
        self._tail = None
        yield from self._p_reserved(turn_base=thread.turn_count)
        return n

    def _p_renew(self, fields: dict[str, Any]) -> _Plan[None]:
        """Turn this (expired, claimed) thread into a fresh session in place.

        Its whole active history is archived, system prompt and pinned
        messages included, so it stays in the store (exported, and listed
        with the archived messages); state is emptied, turn numbering starts
        again and the new session's fields and system prompt are applied.
        """
        old = yield from self._p_pages(include_archived=False)
        now = self._clock()
        for m in old:
            try:
                yield _Call("update_message", (m.id,), {"archived_at": now, "pinned": False})
            except NotFoundError:
                continue
        self._tail = None
        thread = yield from self._p_refresh()
        prompt = fields.pop("system_prompt", None)
        if prompt and self._config.persist_system_prompt:
            yield from self._p_add_message(Message.system(prompt), replace_prompt=False)
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

        yield from self._p_update_thread(renewed)

    def _p_set_system_prompt(self, text: str) -> _Plan[None]:
        if not isinstance(text, str):
            raise ValidationError("must be a string", field="text")
        if self._config.persist_system_prompt:
            # Replaced in place when there is one; otherwise appended, and a
            # context window puts it first wherever it is in the thread.
            yield from self._p_add_message(Message.system(text))
        else:
            yield from self._p_reserved(system_prompt=text)

    def _p_context(
        self, max_tokens: int | None, max_messages: int | None, start_on_user: bool
    ) -> _Plan[ContextWindow]:
        if max_tokens is None and max_messages is None:
            max_tokens = self._config.max_tokens
        if hasattr(self._store, "context"):
            window = yield _Call(
                "context",
                (self.id,),
                {
                    "max_tokens": max_tokens,
                    "max_messages": max_messages,
                    "start_on_user": start_on_user,
                    "counter": self._config.counter,
                },
            )
            return cast(ContextWindow, window)
        live = yield from self._p_pages(include_archived=False)
        return select_window(
            [m for m in live if is_mandatory(m)],
            reversed(live),
            max_tokens=max_tokens,
            max_messages=max_messages,
            start_on_user=start_on_user,
            counter=self._config.counter,
        )

    def _p_total_tokens(self) -> _Plan[int]:
        live = yield from self._p_pages(include_archived=False)
        counter = self._config.counter or self._store.token_counter
        return sum(token_count_for(m, counter).tokens for m in live)

    def _p_pin(self, message_id: str, pinned: bool) -> _Plan[Message]:
        msg = yield _Call("update_message", (message_id,), {"pinned": pinned})
        self._touched()
        self._tail = None  # a pinned message stops counting against the limit
        return cast(Message, msg)


def _message(role: Role | str, text: str, fields: dict[str, Any]) -> Message:
    with translate_validation("message"):
        return Message(role=Role(role), content=text, **fields)


class _StateView:
    """Reads of session state, from the handle's cached thread."""

    def __init__(self, conv: _ConversationCore) -> None:
        self._conv = conv

    @property
    def variables(self) -> dict[str, str]:
        """A copy of the string variables."""
        return dict(self._conv.thread.state.variables)

    @property
    def data(self) -> dict[str, JsonValue]:
        """A copy of the typed data, as JSON values."""
        return dict(self._conv.thread.state.data)

    def get(self, key: str, default: str | None = None) -> str | None:
        """The string variable ``key``, or ``default``."""
        return self._conv.thread.state.variables.get(key, default)

    @overload
    def get_data(self, key: str, type_: type[T]) -> T | None: ...
    @overload
    def get_data(self, key: str, type_: type[T], default: T) -> T: ...
    @overload
    def get_data(self, key: str) -> JsonValue: ...

    def get_data(self, key: str, type_: Any = None, default: Any = None) -> Any:
        """The data stored under ``key`` read back as ``type_`` (any type pydantic
        can validate: models, dataclasses, TypedDicts, builtins), or ``default``.

        Raises:
            ValidationError: the stored value does not fit ``type_``.
        """
        data = self._conv.thread.state.data
        if key not in data:
            return default
        if type_ is None:
            return data[key]
        with translate_validation(f"state.data.{key}"):
            return TypeAdapter(type_).validate_python(data[key])

    def __contains__(self, key: object) -> bool:
        return key in self._conv.thread.state.variables


def _dump(value: Any) -> JsonValue:
    with translate_validation("value"):
        return cast(JsonValue, TypeAdapter(type(value)).dump_python(value, mode="json"))


def _check_key(key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise ValidationError("must be a non-empty string", field="key")
    return key


def _set_var(key: str, value: str) -> Callable[[ThreadState], None]:
    _check_key(key)
    if not isinstance(value, str):
        raise ValidationError("variables are strings; use set_data for other values", field="value")
    return lambda s: s.variables.__setitem__(key, value)


def _set_data(key: str, value: Any) -> Callable[[ThreadState], None]:
    _check_key(key)
    dumped = _dump(value)
    return lambda s: s.data.__setitem__(key, dumped)


def _pop_var(key: str) -> Callable[[ThreadState], None]:
    return lambda s: s.variables.__delitem__(key) if key in s.variables else None


def _pop_data(key: str) -> Callable[[ThreadState], None]:
    return lambda s: s.data.__delitem__(key) if key in s.data else None


def _clear(s: ThreadState) -> None:
    s.variables.clear()
    s.data.clear()


class SessionState(_StateView):
    """Session state of a :class:`Conversation`: string variables and typed data,
    stored with the thread. Writes go to the store at once."""

    def set(self, key: str, value: str) -> None:
        self._conv._run(self._conv._p_state(_set_var(key, value)))  # type: ignore[attr-defined]

    def remove(self, key: str) -> str | None:
        """Remove a variable; returns its value, or None if it was not set."""
        old = self.get(key)
        self._conv._run(self._conv._p_state(_pop_var(key)))  # type: ignore[attr-defined]
        return old

    def set_data(self, key: str, value: Any) -> None:
        self._conv._run(self._conv._p_state(_set_data(key, value)))  # type: ignore[attr-defined]

    def remove_data(self, key: str) -> None:
        self._conv._run(self._conv._p_state(_pop_data(key)))  # type: ignore[attr-defined]

    def clear(self) -> None:
        """Remove every variable and all data."""
        self._conv._run(self._conv._p_state(_clear))  # type: ignore[attr-defined]


class AsyncSessionState(_StateView):
    """The async twin of :class:`SessionState`: reads are plain, writes awaited."""

    async def set(self, key: str, value: str) -> None:
        await self._conv._arun(self._conv._p_state(_set_var(key, value)))  # type: ignore[attr-defined]

    async def remove(self, key: str) -> str | None:
        old = self.get(key)
        await self._conv._arun(self._conv._p_state(_pop_var(key)))  # type: ignore[attr-defined]
        return old

    async def set_data(self, key: str, value: Any) -> None:
        await self._conv._arun(self._conv._p_state(_set_data(key, value)))  # type: ignore[attr-defined]

    async def remove_data(self, key: str) -> None:
        await self._conv._arun(self._conv._p_state(_pop_data(key)))  # type: ignore[attr-defined]

    async def clear(self) -> None:
        await self._conv._arun(self._conv._p_state(_clear))  # type: ignore[attr-defined]


class Conversation(_ConversationCore):
    """A live session over a :class:`~convostore.Store` thread.

    Get one from :class:`ConversationManager` or :meth:`open`. Reads of
    messages and turns go to the store; ``state`` reads, ``system_prompt``,
    ``is_expired()`` and ``age()`` use the thread as this handle last saw it
    (:meth:`refresh` re-reads it).
    """

    def __init__(
        self,
        store: Store,
        thread: Thread,
        config: SessionConfig | None = None,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        created: bool = False,
    ) -> None:
        super().__init__(store, thread, config, clock=clock, created=created)
        self.state = SessionState(self)

    def _run(self, plan: _Plan[T]) -> T:
        return _run_sync(self._store, plan)

    @classmethod
    def open(
        cls,
        store: Store,
        thread_id: str,
        config: SessionConfig | None = None,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> Conversation:
        """A handle on an existing thread.

        Raises:
            ThreadNotFoundError: no such thread.
        """
        return cls(store, store.get_thread(thread_id), config, clock=clock)

    def refresh(self) -> Thread:
        """Re-read the thread (state, metadata, times) from the store."""
        return self._run(self._p_refresh())

    def add(self, role: Role | str, text: str, **fields: Any) -> Message:
        """Append a message of ``role`` with ``text``; see :meth:`add_message`."""
        return self.add_message(_message(role, text, fields))

    def add_message(self, message: Message) -> Message:
        """Append a message and return it as stored (with ``seq`` and ``turn``).

        A user message opens a turn, tool messages join it, an assistant
        message answers it. The token count is computed and stored with the
        message if it has none. Past ``config.max_messages`` the oldest messages
        leave the active history (archived or deleted, see :class:`SessionConfig`).
        """
        return self._run(self._p_add_message(message))

    def messages(self, *, include_archived: bool = False) -> list[Message]:
        """All messages of the active history in order (with archived ones on request)."""
        return self._run(self._p_pages(include_archived=include_archived))

    def recent(self, n: int) -> list[Message]:
        """The newest ``n`` messages of the active history, oldest first."""
        return self._run(self._p_recent(n))

    def by_role(self, role: Role | str) -> list[Message]:
        r = Role(role)
        return [m for m in self.messages() if m.role is r]

    def current_turn(self) -> int:
        """The number of turns so far (0 before the first user message)."""
        return self._run(self._p_current_turn())

    def last_turn(self) -> Turn | None:
        return self._run(self._p_get_turn(None))

    def get_turn(self, number: int) -> Turn | None:
        """Turn ``number`` (1-based); None for 0 or past the end."""
        return self._run(self._p_get_turn(number))

    def context(
        self,
        max_tokens: int | None = None,
        max_messages: int | None = None,
        *,
        start_on_user: bool = False,
    ) -> ContextWindow:
        """The newest messages that fit, ready for a model (see :mod:`convostore.context`).

        Without a budget, ``config.max_tokens`` applies.

        Raises:
            ContextBudgetError: the system prompt and pinned messages alone do not fit.
        """
        return self._run(self._p_context(max_tokens, max_messages, start_on_user))

    def total_tokens(self) -> int:
        """Tokens of the active history, from the counts stored per message."""
        return self._run(self._p_total_tokens())

    def clear_messages(self) -> int:
        """Empty the active history, keeping the system prompt and pinned messages.

        Messages are archived (or deleted, per ``config.overflow``), and turn
        numbering starts again. Returns how many messages left.
        """
        return self._run(self._p_clear())

    def set_system_prompt(self, text: str) -> None:
        """Set or replace the system prompt (in place, keeping its position)."""
        self._run(self._p_set_system_prompt(text))

    def pin(self, message_id: str, pinned: bool = True) -> Message:
        """Pin a message so it stays in every context window and is never trimmed."""
        return self._run(self._p_pin(message_id, pinned))

    def enforce_limits(self) -> int:
        """Apply ``config.max_messages`` now; returns how many messages left."""
        return self._run(self._p_enforce_limit())


class AsyncConversation(_ConversationCore):
    """The async twin of :class:`Conversation`: same names, I/O awaited."""

    def __init__(
        self,
        store: AsyncStore,
        thread: Thread,
        config: SessionConfig | None = None,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        created: bool = False,
    ) -> None:
        super().__init__(store, thread, config, clock=clock, created=created)
        self.state = AsyncSessionState(self)

    async def _arun(self, plan: _Plan[T]) -> T:
        return await _run_async(self._store, plan)

    @classmethod
    async def open(
        cls,
        store: AsyncStore,
        thread_id: str,
        config: SessionConfig | None = None,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> AsyncConversation:
        return cls(store, await store.get_thread(thread_id), config, clock=clock)

    async def refresh(self) -> Thread:
        return await self._arun(self._p_refresh())

    async def add(self, role: Role | str, text: str, **fields: Any) -> Message:
        return await self.add_message(_message(role, text, fields))

    async def add_message(self, message: Message) -> Message:
        return await self._arun(self._p_add_message(message))

    async def messages(self, *, include_archived: bool = False) -> list[Message]:
        return await self._arun(self._p_pages(include_archived=include_archived))

    async def recent(self, n: int) -> list[Message]:
        return await self._arun(self._p_recent(n))

    async def by_role(self, role: Role | str) -> list[Message]:
        r = Role(role)
        return [m for m in await self.messages() if m.role is r]

    async def current_turn(self) -> int:
        return await self._arun(self._p_current_turn())

    async def last_turn(self) -> Turn | None:
        return await self._arun(self._p_get_turn(None))

    async def get_turn(self, number: int) -> Turn | None:
        return await self._arun(self._p_get_turn(number))

    async def context(
        self,
        max_tokens: int | None = None,
        max_messages: int | None = None,
        *,
        start_on_user: bool = False,
    ) -> ContextWindow:
        return await self._arun(self._p_context(max_tokens, max_messages, start_on_user))

    async def total_tokens(self) -> int:
        return await self._arun(self._p_total_tokens())

    async def clear_messages(self) -> int:
        return await self._arun(self._p_clear())

    async def set_system_prompt(self, text: str) -> None:
        await self._arun(self._p_set_system_prompt(text))

    async def pin(self, message_id: str, pinned: bool = True) -> Message:
        return await self._arun(self._p_pin(message_id, pinned))

    async def enforce_limits(self) -> int:
        return await self._arun(self._p_enforce_limit())


# --- the manager ------------------------------------------------------------------

C = TypeVar("C", bound=_ConversationCore)


class _ManagerCore(Generic[C]):
    _conversation_class: type[C]

    def __init__(
        self,
        store: Any,
        config: SessionConfig | None = None,
        *,
        enabled: bool = True,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        if store is None and enabled:
            raise ValidationError("an enabled manager needs a store", field="store")
        self._store = store
        self._config = config or SessionConfig()
        self._enabled = bool(enabled)
        self._clock = clock

    @property
    def config(self) -> SessionConfig:
        return self._config

    @property
    def is_enabled(self) -> bool:
        """False in disabled mode, where nothing is stored and every call is a no-op."""
        return self._enabled

    @property
    def store(self) -> Any:
        return self._store

    def _wrap(self, store: Any, thread: Thread, created: bool = False) -> C:
        return self._conversation_class(
            store, thread, self._config, clock=self._clock, created=created
        )

    def _p_create(
        self, store: Any, conversation_id: str | None, fields: dict[str, Any]
    ) -> _Plan[C]:
        system_prompt = fields.pop("system_prompt", None)
        metadata = dict(fields.pop("metadata", None) or {})
        metadata[RESERVED_METADATA_KEY] = {"system_prompt": system_prompt, "turn_base": 0}
        thread = yield _Call(
            "create_thread", (), {"id": conversation_id, "metadata": metadata, **fields}
        )
        conv = self._wrap(store, thread, created=True)
        if system_prompt and self._config.persist_system_prompt:
            yield from conv._p_add_message(Message.system(system_prompt), replace_prompt=False)
        return conv

    def _p_get(self, conversation_id: str) -> _Plan[C | None]:
        try:
            thread = yield _Call("get_thread", (conversation_id,))
        except ThreadNotFoundError:
            return None
        if thread.deleted_at is not None:
            return None
        return self._wrap(self._store, thread)

    def _p_get_or_create(self, conversation_id: str, fields: dict[str, Any]) -> _Plan[C]:
        for attempt in range(200):
            try:
                thread: Thread = yield _Call("get_thread", (conversation_id,))
            except ThreadNotFoundError:
                try:
                    return (yield from self._p_create(self._store, conversation_id, dict(fields)))
                except ThreadExistsError:
                    continue  # another caller created it first: use theirs
            if thread.deleted_at is not None:
                # Deleted is restorable: never purged, nor silently brought back.
                raise ThreadDeletedError(conversation_id, _DELETED_HINT)
            now = self._clock()
            claim = _reserved(thread).get("replacing")
            if isinstance(claim, int | float) and now.timestamp() - claim < (
                _REPLACE_STALE_AFTER.total_seconds()
            ):
                yield _backoff(attempt)  # someone is replacing it right now
                continue
            if claim is None and not _expired(thread, self._config, now):
                return self._wrap(self._store, thread)
            # Expired: start a fresh session in its place. Claim it with a
            # revision-checked write so that exactly one caller does the replacing
            # (a claim left by a caller that died is taken over once stale).
            meta = dict(thread.metadata)
            meta[RESERVED_METADATA_KEY] = {**_reserved(thread), "replacing": now.timestamp()}
            try:
                claimed = yield _Call(
                    "update_thread",
                    (conversation_id,),
                    {"metadata": meta, "expected_revision": thread.revision},
                )
            except (RevisionConflictError, ThreadNotFoundError, ThreadDeletedError):
                continue
            conv = self._wrap(self._store, claimed, created=True)
            yield from conv._p_renew(dict(fields))
            return conv
        raise ConvostoreError(f"could not get or create conversation {conversation_id!r}")

    def _p_ids(self, user_id: str | None) -> _Plan[list[str]]:
        ids: list[str] = []
        for thread in (yield from self._p_threads(user_id)):
            ids.append(thread.id)
        return ids

    def _p_threads(self, user_id: str | None) -> _Plan[list[Thread]]:
        out: list[Thread] = []
        cursor: str | None = None
        while True:
            page = yield _Call(
                "list_threads", (), {"user_id": user_id, "limit": 200, "cursor": cursor}
            )
            out.extend(page.items)
            if page.next_cursor is None:
                return out
            cursor = page.next_cursor

    def _p_remove(self, thread: Thread, purge: bool, check: bool) -> _Plan[bool]:
        rev = thread.revision if check else None
        try:
            if purge:
                yield _Call("purge_thread", (thread.id,), {"expected_revision": rev})
            else:
                yield _Call("delete_thread", (thread.id,), {"expected_revision": rev})
        except (NotFoundError, RevisionConflictError):
            return False  # gone already, or written to since we looked: keep it
        return True

    def _p_delete(self, conversation_id: str, purge: bool) -> _Plan[bool]:
        try:
            thread = yield _Call("get_thread", (conversation_id,))
        except ThreadNotFoundError:
            return False
        if thread.deleted_at is not None and not purge:
            return False
        return (yield from self._p_remove(thread, purge, check=False))

    def _p_cleanup(self, now: dt.datetime | None, purge: bool) -> _Plan[int]:
        if self._config.timeout is None:
            return 0
        now = now or self._clock()
        threads = yield from self._p_threads(None)
        n = 0
        for t in threads:
            if _expired(t, self._config, now) and (yield from self._p_remove(t, purge, True)):
                n += 1
        return n

    def _p_enforce(self, max_sessions: int, purge: bool, per_user: bool = False) -> _Plan[int]:
        if (
            isinstance(max_sessions, bool)
            or not isinstance(max_sessions, int)
            or (max_sessions < 0)
        ):
            raise ValidationError("must be a non-negative integer", field="max_sessions")
        threads = yield from self._p_threads(None)  # newest activity first
        seen: dict[str | None, int] = {}
        n = 0
        for t in threads:
            owner = t.user_id if per_user else None
            seen[owner] = seen.get(owner, 0) + 1
            if seen[owner] > max_sessions and (yield from self._p_remove(t, purge, True)):
                n += 1
        return n


def _fields(
    user_id: str | None,
    system_prompt: str | None,
    metadata: Mapping[str, Any] | None,
    agent_name: str | None,
    model: str | None,
    title: str | None,
) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "system_prompt": system_prompt,
        "metadata": dict(metadata) if metadata else None,
        "agent_name": agent_name,
        "model": model,
        "title": title,
    }


class ConversationManager(_ManagerCore[Conversation]):
    """Creates, finds, expires and retires conversations in a :class:`~convostore.Store`.

    Args:
        store: where conversations live; may be ``None`` when disabled.
        config: the :class:`SessionConfig` given to every conversation.
        enabled: ``False`` switches history off (seed 003): conversations still
            work, in memory only, and listing, counting and retention calls are
            no-ops that return nothing.
        clock: the time source, for expiry.
    """

    _conversation_class = Conversation

    def __init__(
        self,
        store: Store | None,
        config: SessionConfig | None = None,
        *,
        enabled: bool = True,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        super().__init__(store, config, enabled=enabled, clock=clock)

    def _run(self, plan: _Plan[T]) -> T:
        return _run_sync(self._store, plan)

    def _detached(self, conversation_id: str | None, fields: dict[str, Any]) -> Conversation:
        from convostore.store import Store
        from convostore.store.memory import MemoryBackend

        store = Store(MemoryBackend())
        return _run_sync(store, self._p_create(store, conversation_id, fields))

    def create(
        self,
        conversation_id: str | None = None,
        *,
        user_id: str | None = None,
        system_prompt: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        agent_name: str | None = None,
        model: str | None = None,
        title: str | None = None,
    ) -> Conversation:
        """Start a conversation (id generated when not given).

        Raises:
            ThreadExistsError: the id is taken.
        """
        fields = _fields(user_id, system_prompt, metadata, agent_name, model, title)
        if not self._enabled:
            return self._detached(conversation_id, fields)
        return self._run(self._p_create(self._store, conversation_id, fields))

    def get(self, conversation_id: str) -> Conversation | None:
        """The conversation, or None if there is none (or it was deleted)."""
        if not self._enabled:
            return None
        return self._run(self._p_get(conversation_id))

    def get_or_create(
        self,
        conversation_id: str,
        *,
        user_id: str | None = None,
        system_prompt: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        agent_name: str | None = None,
        model: str | None = None,
        title: str | None = None,
    ) -> Conversation:
        """The conversation ``conversation_id``, created if missing.

        An expired session is replaced by a fresh one in place: its messages are
        archived (kept in the store, exported and listed with the archived
        ones, out of context windows), its state is emptied, turn numbering
        restarts and the system prompt given here is applied. Safe under
        concurrency: of many simultaneous calls for a new (or expired) id,
        across threads, tasks and processes, exactly one creates (or renews)
        it (``created`` is True on the handle it gets) and the others get that
        same conversation.

        Raises:
            ThreadDeletedError: the conversation was deleted (soft, restorable);
                it is never purged implicitly: restore it through the store, or
                purge it with ``delete(id, purge=True)`` first.
        """
        fields = _fields(user_id, system_prompt, metadata, agent_name, model, title)
        if not self._enabled:
            return self._detached(conversation_id, fields)
        return self._run(self._p_get_or_create(conversation_id, fields))

    def update(self, conversation: Conversation, **fields: Any) -> Conversation:
        """Change thread fields (``title``, ``metadata``, ``user_id``, ``agent_name``,
        ``model``, ``ended_at``) and refresh the handle.

        Messages and state are written as they change, so with no fields this
        only re-reads the thread.
        """
        if not self._enabled:
            return conversation
        if fields:
            if "metadata" in fields:
                user_meta = dict(fields.pop("metadata") or {})
                conversation._run(
                    conversation._p_update_thread(
                        lambda t: {"metadata": {**user_meta, RESERVED_METADATA_KEY: _reserved(t)}}
                    )
                )
            if fields:
                conversation._run(conversation._p_update_thread(lambda t: dict(fields)))
        else:
            conversation.refresh()
        return conversation

    def delete(self, conversation_id: str, *, purge: bool = False) -> bool:
        """Delete a conversation (soft, restorable through the store; ``purge=True``
        removes it for good). Returns whether there was one to delete."""
        if not self._enabled:
            return False
        return self._run(self._p_delete(conversation_id, purge))

    def list(self) -> builtins.list[str]:
        """Ids of all conversations, most recently active first."""
        if not self._enabled:
            return []
        return self._run(self._p_ids(None))

    def list_for_user(self, user_id: str) -> builtins.list[str]:
        """Ids of a user's conversations, most recently active first."""
        if not self._enabled:
            return []
        return self._run(self._p_ids(user_id))

    def count(self) -> int:
        if not self._enabled:
            return 0
        assert self._store is not None
        return cast(int, self._store.count_threads())

    def cleanup_expired(self, *, now: dt.datetime | None = None, purge: bool = False) -> int:
        """Delete conversations idle past ``config.idle_timeout``; returns how many.

        They are soft-deleted (restorable through the store); ``purge=True``
        removes them and their messages for good. A conversation written to
        while this runs is kept.
        """
        if not self._enabled:
            return 0
        return self._run(self._p_cleanup(now, purge))

    def enforce_max_sessions(
        self, max_sessions: int, *, purge: bool = False, per_user: bool = False
    ) -> int:
        """Keep the ``max_sessions`` most recently active conversations, delete the
        rest (seed 003's retention); returns how many were deleted.

        They are soft-deleted (restorable through the store); ``purge=True``
        removes them for good.

        With ``per_user=True`` the limit applies to each user's conversations
        (those without a user count as one more user). A conversation written to
        since it was listed is kept.
        """
        if not self._enabled:
            return 0
        return self._run(self._p_enforce(max_sessions, purge, per_user))


class AsyncConversationManager(_ManagerCore[AsyncConversation]):
    """The async twin of :class:`ConversationManager`."""

    _conversation_class = AsyncConversation

    def __init__(
        self,
        store: AsyncStore | None,
        config: SessionConfig | None = None,
        *,
        enabled: bool = True,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        super().__init__(store, config, enabled=enabled, clock=clock)

    async def _arun(self, plan: _Plan[T]) -> T:
        return await _run_async(self._store, plan)

    async def _detached(
        self, conversation_id: str | None, fields: dict[str, Any]
    ) -> AsyncConversation:
        from convostore.store import AsyncStore
        from convostore.store.backend import ThreadedAsyncBackend
        from convostore.store.memory import MemoryBackend

        store = AsyncStore(ThreadedAsyncBackend(MemoryBackend(), inline=True))
        return await _run_async(store, self._p_create(store, conversation_id, fields))

    async def create(
        self,
        conversation_id: str | None = None,
        *,
        user_id: str | None = None,
        system_prompt: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        agent_name: str | None = None,
        model: str | None = None,
        title: str | None = None,
    ) -> AsyncConversation:
        fields = _fields(user_id, system_prompt, metadata, agent_name, model, title)
        if not self._enabled:
            return await self._detached(conversation_id, fields)
        return await self._arun(self._p_create(self._store, conversation_id, fields))

    async def get(self, conversation_id: str) -> AsyncConversation | None:
        if not self._enabled:
            return None
        return await self._arun(self._p_get(conversation_id))

    async def get_or_create(
        self,
        conversation_id: str,
        *,
        user_id: str | None = None,
        system_prompt: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        agent_name: str | None = None,
        model: str | None = None,
        title: str | None = None,
    ) -> AsyncConversation:
        fields = _fields(user_id, system_prompt, metadata, agent_name, model, title)
        if not self._enabled:
            return await self._detached(conversation_id, fields)
        return await self._arun(self._p_get_or_create(conversation_id, fields))

    async def update(self, conversation: AsyncConversation, **fields: Any) -> AsyncConversation:
        if not self._enabled:
            return conversation
        if fields:
            if "metadata" in fields:
                user_meta = dict(fields.pop("metadata") or {})
                await conversation._arun(
                    conversation._p_update_thread(
                        lambda t: {"metadata": {**user_meta, RESERVED_METADATA_KEY: _reserved(t)}}
                    )
                )
            if fields:
                await conversation._arun(conversation._p_update_thread(lambda t: dict(fields)))
        else:
            await conversation.refresh()
        return conversation

    async def delete(self, conversation_id: str, *, purge: bool = False) -> bool:
        if not self._enabled:
            return False
        return await self._arun(self._p_delete(conversation_id, purge))

    async def list(self) -> builtins.list[str]:
        if not self._enabled:
            return []
        return await self._arun(self._p_ids(None))

    async def list_for_user(self, user_id: str) -> builtins.list[str]:
        if not self._enabled:
            return []
        return await self._arun(self._p_ids(user_id))

    async def count(self) -> int:
        if not self._enabled:
            return 0
        assert self._store is not None
        return cast(int, await self._store.count_threads())

    async def cleanup_expired(self, *, now: dt.datetime | None = None, purge: bool = False) -> int:
        if not self._enabled:
            return 0
        return await self._arun(self._p_cleanup(now, purge))

    async def enforce_max_sessions(
        self, max_sessions: int, *, purge: bool = False, per_user: bool = False
    ) -> int:
        if not self._enabled:
            return 0
        return await self._arun(self._p_enforce(max_sessions, purge, per_user))
