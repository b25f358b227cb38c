# Generated from src/convostore/conversation/_async.py by scripts/gen_sync.py: do not edit.
# Change the async source and run `make generate`.
"""The sync twin of :mod:`convostore.conversation._async`, generated from it.

The same classes, methods, arguments and documentation, called without
``await``; see the source module for how it is built.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

from convostore.context import ContextWindow, call_ids
from convostore.conversation._base import (
    ConversationBase,
    StateView,
)
from convostore.conversation._base import (
    state_update_fields as _update,
)
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
from convostore.model import (
    Branch,
    Message,
    Role,
    ScopedState,
    SearchHit,
    StateChange,
    Thread,
    ThreadState,
    merged_view,
    prefixed_view,
    split_prefixed,
    utcnow,
)
from convostore.store import ops
from convostore.store.api import Store
from convostore.tokens import token_count_for, with_token_count

if TYPE_CHECKING:
    from convostore.formats import DropReport

__all__ = ["Conversation", "SessionState"]


class SessionState(StateView):
    """Session state of an :class:`Conversation`: string variables and typed
    data, stored with the thread. Reads use the handle's cached thread; writes
    go to the store at once."""

    def __init__(self, conv: Conversation) -> None:
        super().__init__(conv)
        self._conv = conv

    def set(self, key: str, value: str) -> None:
        """Set the string variable ``key``."""
        self._conv._change_state(set_var(key, value))

    def remove(self, key: str) -> str | None:
        """Remove a variable; returns its value, or None if it was not set."""
        old = self.get(key)
        self._conv._change_state(pop_var(key))
        return old

    def set_data(self, key: str, value: Any) -> None:
        """Store ``value`` (anything pydantic can dump to JSON) under ``key``."""
        self._conv._change_state(set_data(key, value))

    def remove_data(self, key: str) -> None:
        """Remove the data under ``key``, if any."""
        self._conv._change_state(pop_data(key))

    def clear(self) -> None:
        """Remove every variable and all data."""
        self._conv._change_state(clear_state)


class Conversation(ConversationBase):
    """A live session over an :class:`~convostore.Store` thread.

    Get one from the conversation manager or :meth:`open`. Reads of messages
    and turns go to the store; ``state`` reads, ``system_prompt``,
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
        super().__init__(thread, config, clock=clock, created=created)
        self._store = store
        self.state = SessionState(self)

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

    # public operations ------------------------------------------------------------

    def refresh(self) -> Thread:
        """Re-read the thread (state, metadata, times) from the store."""
        thread = self._store.get_thread(self.id)
        self._set_thread(thread)
        return thread

    def add(
        self,
        role: Role | str,
        text: str,
        *,
        state: StateChange | Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> Message:
        """Append a message of ``role`` with ``text``; see :meth:`add_message`."""
        return self.add_message(message_of(role, text, fields), state=state)

    def add_message(
        self, message: Message, *, state: StateChange | Mapping[str, Any] | None = None
    ) -> Message:
        """Append a message and return it as stored (with ``seq`` and ``turn``).

        A user message opens a turn, tool messages join it, an assistant
        message answers it. The token count is computed and stored with the
        message if it has none. Past ``config.max_messages`` the oldest messages
        leave the active history (archived or deleted, see :class:`SessionConfig`).
        A system message replaces the system prompt (in place) when there is one.

        ``state`` (a :class:`~convostore.StateChange`) changes thread, user and
        app state in the append's transaction: the message and the state
        changes are stored together or not at all.
        """
        return self._add_message(message, state=state)

    # scoped state -----------------------------------------------------------------

    def user_state(self) -> ScopedState:
        """The state shared by every thread of this conversation's user.

        Raises:
            ValidationError: the conversation has no user.
        """
        return self._store.get_state("user", user_id=self._user())

    def app_state(self) -> ScopedState:
        """The state shared by every thread of the tenant."""
        return self._store.get_state("app")

    def update_user_state(
        self,
        changes: Mapping[str, Any] | None = None,
        *,
        remove: Iterable[str] | None = None,
        replace: Mapping[str, Any] | None = None,
        expected_revision: int | None = None,
    ) -> ScopedState:
        """Write the user's state (see :meth:`~convostore.Store.update_state`)."""
        return self._store.update_state(
            "user", user_id=self._user(), **_update(changes, remove, replace, expected_revision)
        )

    def update_app_state(
        self,
        changes: Mapping[str, Any] | None = None,
        *,
        remove: Iterable[str] | None = None,
        replace: Mapping[str, Any] | None = None,
        expected_revision: int | None = None,
    ) -> ScopedState:
        """Write the tenant's app state (see :meth:`~convostore.Store.update_state`)."""
        return self._store.update_state(
            "app", **_update(changes, remove, replace, expected_revision)
        )

    def merged_state(self) -> dict[str, Any]:
        """App, user, thread and temp state as one dict; a key in several
        scopes takes the narrowest one's value: temp over thread over user
        over app. User and app state are read from the store, thread state is
        the handle's (:meth:`refresh` re-reads it)."""
        return merged_view(*self._scopes())

    def prefixed_state(self) -> dict[str, Any]:
        """The four scopes as one dict with ``app:``, ``user:`` and ``temp:``
        prefixes and thread keys as they are: the form of Google ADK's
        ``session.state``."""
        return prefixed_view(*self._scopes())

    def apply_state_delta(self, delta: Mapping[str, Any]) -> None:
        """Apply a prefixed delta (``{"user:k": v, "temp:k": v, "k": v}``; ``None``
        removes a key): temp keys go to :attr:`temp`, the others to the store in
        one atomic write (see :func:`~convostore.split_prefixed`)."""
        change, temp = split_prefixed(delta)
        if not change.empty:
            self._store.append(self.id, [], state=change)
            self.refresh()
        self.temp.update(temp)

    def _scopes(self) -> tuple[dict[str, Any], ...]:
        app = self._store.get_state("app")
        user = None
        if self._thread.user_id is not None:
            user = self._store.get_state("user", user_id=self._thread.user_id)
        return self._views(app, user)

    def messages(self, *, include_archived: bool = False) -> list[Message]:
        """All messages of the active history in order (with archived ones on request)."""
        return self._pages(include_archived=include_archived)

    def recent(self, n: int) -> list[Message]:
        """The newest ``n`` messages of the active history, oldest first."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValidationError("must be a non-negative integer", field="n")
        out: list[Message] = []
        cursor: str | None = None
        size = min(max(n, 1) + 8, self._store.limits.max_list_limit)
        while len(out) < n:
            page = self._store.list_messages(
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

    def by_role(self, role: Role | str) -> list[Message]:
        """The messages of the active history with ``role``, in order."""
        r = Role(role)
        return [m for m in self.messages() if m.role is r]

    def search(self, query: str, *, limit: int | None = None, **filters: Any) -> list[SearchHit]:
        """The messages of this conversation matching ``query``, best first
        (the store's :meth:`~convostore.Store.search` within this
        thread: the same query language and filters but ``thread_id``),
        at most ``limit`` (20 unless given). Archived messages are found too."""
        page = self._store.search(query, thread_id=self.id, limit=limit, **filters)
        return page.items

    def current_turn(self) -> int:
        """The number of turns so far (0 before the first user message)."""
        thread = self.refresh()
        return max(0, thread.turn_count - self._turn_base())

    def last_turn(self) -> Turn | None:
        """The newest turn, or None before the first user message."""
        return self._get_turn(None)

    def get_turn(self, number: int) -> Turn | None:
        """Turn ``number`` (1-based); None for 0 or past the end."""
        return self._get_turn(number)

    @overload
    def context(
        self,
        max_tokens: int | None = None,
        max_messages: int | None = None,
        *,
        start_on_user: bool = False,
        format: None = None,
        report: DropReport | None = None,
    ) -> ContextWindow: ...

    @overload
    def context(
        self,
        max_tokens: int | None = None,
        max_messages: int | None = None,
        *,
        start_on_user: bool = False,
        format: str,
        report: DropReport | None = None,
    ) -> Any: ...

    def context(
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
            return self._store.context(
                self.id,
                max_tokens=max_tokens,
                max_messages=max_messages,
                start_on_user=start_on_user,
                counter=self._config.counter,
                format=format,
                report=report,
            )
        return self._store.context(
            self.id,
            max_tokens=max_tokens,
            max_messages=max_messages,
            start_on_user=start_on_user,
            counter=self._config.counter,
        )

    def total_tokens(self) -> int:
        """Tokens of the active history, from the counts stored per message."""
        live = self._pages(include_archived=False)
        counter = self._config.counter or self._store.token_counter
        return sum(token_count_for(m, counter).tokens for m in live)

    def clear_messages(self) -> int:
        """Empty the active history, keeping the system prompt and pinned messages.

        Messages are archived (or deleted, per ``config.overflow``), and turn
        numbering starts again. Returns how many messages left.
        """
        thread = self.refresh()
        keep_system = self._config.persist_system_prompt
        messages = self._pages(include_archived=False)
        gone = [m for m in messages if not m.pinned and not (keep_system and m.role is Role.SYSTEM)]
        n = self._retire(gone)
        self._tail = None
        self._set_reserved(turn_base=thread.turn_count)
        return n

    def clear(
        self,
        *,
        mode: Literal["archive", "delete", "purge"] | None = None,
        keep: Literal["mandatory", "system", "none"] = "mandatory",
    ) -> int:
        """Empty the active history in one atomic store call (see
        :meth:`~convostore.Store.clear_messages`); turn numbering starts
        again. Returns how many messages left.

        ``mode`` defaults to ``config.overflow`` (``archive`` unless told);
        ``purge`` removes them for good. ``keep`` defaults to the system prompt
        and pinned messages; ``"none"`` clears everything, like a session's
        ``clear_session``.
        """
        n = self._store.clear_messages(self.id, mode=mode or self._config.overflow, keep=keep)
        self._tail = None
        thread = self.refresh()
        self._set_reserved(turn_base=thread.turn_count)
        return n

    def pop(self) -> Message | None:
        """Remove the newest message for good and return it (``None`` when
        there is none), atomically: a concurrent pop never gets the same one."""
        popped = self._store.pop_message(self.id)
        self._after_removal()
        return popped

    def purge_message(self, message_id: str) -> Message:
        """Remove one message for good; the later messages move down one seq."""
        gone = self._store.purge_message(message_id)
        self._after_removal()
        return gone

    def restore_message(self, message_id: str) -> Message:
        """Bring a soft-deleted message back, at its seq."""
        msg = self._store.restore_message(message_id)
        self._touched()
        self._tail = None
        return msg

    def replace(self, messages: Sequence[Message]) -> list[Message]:
        """Make ``messages`` the whole history in one atomic store call (see
        :meth:`~convostore.Store.replace_messages`), counted with the
        conversation's token counter; turn numbering starts from them."""
        counter = self._config.counter or self._store.token_counter
        stored = self._store.replace_messages(
            self.id, [with_token_count(m, counter) for m in messages]
        )
        self._tail = None
        self.refresh()
        if self._turn_base():
            self._set_reserved(turn_base=0)
        return stored

    def _after_removal(self) -> None:
        """After messages left for good: forget the remembered tail, and keep
        the turn offset of a cleared history within the turns left."""
        self._tail = None
        thread = self.refresh()
        if self._turn_base() > thread.turn_count:
            self._set_reserved(turn_base=thread.turn_count)

    def set_system_prompt(self, text: str) -> None:
        """Set or replace the system prompt (in place, keeping its position)."""
        if not isinstance(text, str):
            raise ValidationError("must be a string", field="text")
        if self._config.persist_system_prompt:
            # Replaced in place when there is one; otherwise appended, and a
            # context window puts it first wherever it is in the thread.
            self._add_message(Message.system(text))
        else:
            self._set_reserved(system_prompt=text)

    def pin(self, message_id: str, pinned: bool = True) -> Message:
        """Pin a message so it stays in every context window and is never trimmed."""
        msg = self._store.update_message(message_id, pinned=pinned)
        self._touched()
        self._tail = None  # a pinned message stops counting against the limit
        return msg

    def enforce_limits(self) -> int:
        """Apply ``config.max_messages`` now; returns how many messages left."""
        return self._enforce_limit()

    # branches -----------------------------------------------------------------------

    def _on(self, thread: Thread) -> Conversation:
        """A handle with this one's store, config and clock on ``thread``."""
        return type(self)(self._store, thread, self._config, clock=self._clock)

    def fork(
        self,
        *,
        at: str | None = None,
        messages: Sequence[Message] = (),
        **fields: Any,
    ) -> Conversation:
        """A conversation on a new branch of this one, sharing its history up to
        and including message ``at`` (all of it by default), with ``messages``
        appended; ``fields`` are those of :meth:`Store.fork_thread`. This
        handle stays on its own thread."""
        thread = self._store.fork_thread(self.id, at=at, messages=list(messages), **fields)
        return self._on(thread)

    def edit(self, message_id: str, text: str | None = None, **fields: Any) -> Conversation:
        """Edit a message of this conversation as a new branch (the original is
        kept): the branch shares the history before the message and ends with
        the edited copy (``text`` as its content, or ``fields`` as for
        :meth:`Store.update_message`). Returns a conversation on the
        branch, ready for the new reply."""
        if text is not None:
            fields["content"] = text
        return self._on(self._store.edit_in_branch(message_id, **fields))

    def regenerate(
        self, message_id: str | None = None, *, messages: Sequence[Message] = ()
    ) -> Conversation:
        """A conversation on a new branch in place of a reply (the newest
        assistant message by default): it shares the history before the reply,
        and ``messages`` (the new reply, when it is known) are appended to it.

        Raises:
            NotFoundError: no ``message_id`` is given and there is no assistant
                message to regenerate.
        """
        if message_id is None:
            replies = self.by_role(Role.ASSISTANT)
            if not replies:
                raise NotFoundError(f"conversation {self.id!r} has no assistant message")
            message_id = replies[-1].id
        return self._on(self._store.regenerate(message_id, messages=list(messages)))

    def branches(self) -> list[Branch]:
        """The branches of this conversation's tree (see :meth:`Store.branches`)."""
        return self._store.branches(self.id)

    def switch_to(self, branch_id: str) -> Conversation:
        """Make ``branch_id`` the active branch of this conversation's tree, the
        one the conversation manager resumes, and return a handle on it."""
        self._store.set_active_branch(branch_id)
        return self._on(self._store.get_thread(branch_id))

    # thread writes ------------------------------------------------------------------

    def _update_thread(self, change: Callable[[Thread], dict[str, Any]]) -> Thread:
        """Read-modify-write of thread fields with ``expected_revision``, retried
        on conflict so concurrent changes to other keys are kept."""
        thread = self._thread
        if self._stale:
            thread = self.refresh()
        for attempt in range(STATE_RETRIES):
            fields = change(thread)
            try:
                thread = self._store.update_thread(
                    self.id, expected_revision=thread.revision, **fields
                )
            except RevisionConflictError:
                if attempt == STATE_RETRIES - 1:
                    raise
                if attempt:
                    time.sleep(backoff(attempt))
                thread = self.refresh()
                continue
            self._set_thread(thread)
            return thread
        raise AssertionError("unreachable")  # pragma: no cover

    def _change_state(self, change: Callable[[ThreadState], None]) -> None:
        def fields(thread: Thread) -> dict[str, Any]:
            state = thread.state.model_copy(deep=True)
            change(state)
            return {"state": state}

        self._update_thread(fields)

    def _set_reserved(self, **values: Any) -> None:
        def fields(thread: Thread) -> dict[str, Any]:
            meta = dict(thread.metadata)
            meta[RESERVED_METADATA_KEY] = {**reserved(thread), **values}
            return {"metadata": meta}

        self._update_thread(fields)

    # messages -------------------------------------------------------------------------

    def _add_message(
        self,
        message: Message,
        *,
        replace_prompt: bool = True,
        state: StateChange | Mapping[str, Any] | None = None,
    ) -> Message:
        if message.role is Role.SYSTEM and replace_prompt:
            # One system prompt per thread: a system message replaces it.
            prompt = self._prompt_message()
            if prompt is not None:
                updated = self._rewrite(prompt, message)
                self._set_reserved(system_prompt=message.content)
                if state is not None:
                    self._store.append(self.id, [], state=state)
                    self.refresh()
                return updated
        msg = with_token_count(message, self._config.counter or self._store.token_counter)
        (stored,) = self._store.append(self.id, msg, state=state)
        self._touched()
        if state is not None:
            self.refresh()  # the thread's state may have changed
        self._after_append(stored)
        if message.role is Role.SYSTEM and replace_prompt:
            self._set_reserved(system_prompt=message.content)
        return stored

    def _prompt_message(self) -> Message | None:
        """The thread's system prompt: its earliest live system message.

        Read with the store's indexed read of a thread's mandatory messages
        (live system and pinned ones), the read a context window starts with,
        so finding it costs the same however long the thread is.
        """
        read = self._store._run(
            ops.ContextPage(self._store.tenant_id, self.id, 1, 2**63 - 1, with_mandatory=True)
        )
        return next((m for m in read.mandatory or [] if m.role is Role.SYSTEM), None)

    def _rewrite(self, prompt: Message, new: Message) -> Message:
        """Replace the system prompt's text in place (same id and seq)."""
        counted = with_token_count(
            new.model_copy(update={"token_count": None}),
            self._config.counter or self._store.token_counter,
        )
        updated = self._store.update_message(
            prompt.id,
            parts=list(new.parts),
            content=new.content,
            token_count=counted.token_count,
            token_counter=counted.token_counter,
        )
        self._touched()
        return updated

    def _retire(self, messages: Sequence[Message | Entry]) -> int:
        now = self._clock()
        done = 0
        for m in messages:
            try:
                if self._config.overflow == "delete":
                    gone = self._store.delete_message(m.id)
                else:
                    gone = self._store.update_message(m.id, archived_at=now)
            except (NotFoundError, ValidationError):
                # Gone, or pinned meanwhile through another handle (a store
                # refuses to archive a pinned message): what we remember is off.
                self._tail = None
                continue
            if gone.pinned:
                # Pinned meanwhile through another handle: it stays in.
                if self._config.overflow == "delete":
                    self._store.restore_message(m.id)
                else:
                    self._store.update_message(m.id, archived_at=None)
                self._tail = None
                continue
            done += 1
        if done:
            self._touched()
        return done

    def _after_append(self, stored: Message) -> int:
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
            return self._enforce_limit(seen_seq=seq)
        tail.last_seq = seq
        if self._protected(stored):
            tail.protected_calls.update(call_ids(stored))
            return 0
        entry = Entry.of(stored)
        if not tail.active and to_retire([entry], 0, tail.protected_calls):
            # The result of a call that already left: it follows its call.
            return self._retire([entry])
        tail.active.append(entry)
        if len(tail.active) <= limit:
            return 0
        n = to_retire(tail.active, len(tail.active) - limit, tail.protected_calls)
        gone = [tail.active.popleft() for _ in range(n)]
        return self._retire(gone)

    def _enforce_limit(self, seen_seq: int = 0) -> int:
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
            page = self._store.list_messages(
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
        return self._retire(active[:n])

    def _pages(self, *, include_archived: bool) -> list[Message]:
        out: list[Message] = []
        cursor: str | None = None
        while True:
            page = self._store.list_messages(self.id, limit=500, cursor=cursor)
            out.extend(m for m in page.items if include_archived or m.archived_at is None)
            if page.next_cursor is None:
                return out
            cursor = page.next_cursor

    def _get_turn(self, number: int | None) -> Turn | None:
        thread = self.refresh()
        current = max(0, thread.turn_count - self._turn_base())
        if number is None:
            number = current
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= current:
            return None
        target = self._turn_base() + number
        found: list[Message] = []
        cursor: str | None = None
        while True:
            page = self._store.list_messages(
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

    def _renew(self, fields: dict[str, Any]) -> None:
        """Turn this (expired, claimed) thread into a fresh session in place.

        Its whole active history is archived, system prompt and pinned
        messages included, so it stays in the store (exported, and listed
        with the archived messages); state is emptied, turn numbering starts
        again and the new session's fields and system prompt are applied.
        """
        old = self._pages(include_archived=False)
        now = self._clock()
        for m in old:
            try:
                self._store.update_message(m.id, archived_at=now, pinned=False)
            except NotFoundError:
                continue
        self._tail = None
        thread = self.refresh()
        prompt = fields.pop("system_prompt", None)
        if prompt and self._config.persist_system_prompt:
            self._add_message(Message.system(prompt), replace_prompt=False)
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

        self._update_thread(renewed)
