"""The public faces of a store: :class:`Store` and its twin :class:`AsyncStore`.

Both have the same method names and arguments. All argument checking and
operation building lives in :class:`_Builder`, shared by the twins, so the
faces differ only in how they hand an operation to the backend.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, overload

from convostore.errors import ValidationError
from convostore.model import (
    ID_RULE,
    ConversationSnapshot,
    HealthReport,
    Message,
    MessagePatch,
    Page,
    Thread,
    ThreadPatch,
    ThreadState,
    ThreadSummary,
    is_identifier,
)
from convostore.store import ops
from convostore.store.backend import AsyncBackend, Backend
from convostore.store.rules.paging import decode_cursor
from convostore.store.rules.snapshots import check_snapshot_version, rekey_snapshot
from convostore.store.rules.validation import (
    check_appendable,
    check_filter_text,
    check_limit,
    incomplete_import_thread,
    translate_validation,
)
from convostore.store.rules.window import plan_context
from convostore.store.settings import Limits, StoreSettings

if TYPE_CHECKING:
    from convostore.context import ContextWindow
    from convostore.tokens import TokenCounter

__all__ = ["AsyncStore", "Store"]

B = TypeVar("B", Backend, AsyncBackend)
MessageLike = Message | Mapping[str, Any]

_DEFAULT_TENANT = "default"


def _check_id(value: Any, field: str) -> str:
    if not is_identifier(value):
        raise ValidationError(ID_RULE, field=field)
    return value


def _check_revision(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError("must be a non-negative integer", field="expected_revision")
    return value


class _Builder(Generic[B]):
    """Argument checks and operation records shared by both faces."""

    def __init__(
        self,
        backend: B,
        tenant: str = _DEFAULT_TENANT,
        *,
        token_counter: TokenCounter | str | None = None,
        _owner: bool = True,
    ):
        from convostore.tokens import counter_for

        self._backend: B = backend
        self._tenant = _check_id(tenant, "tenant")
        self._owner = _owner
        self._counter = (
            backend.settings.token_counter if token_counter is None else counter_for(token_counter)
        )

    @property
    def token_counter(self) -> TokenCounter:
        """What this store counts a message's tokens with when the message does
        not carry a count (the ``token_counter`` option; the heuristic unless
        told). Used by every append, edit and import, and by context windows."""
        return self._counter

    @property
    def tenant_id(self) -> str:
        """The tenant every call of this store is scoped to."""
        return self._tenant

    @property
    def backend(self) -> B:
        return self._backend

    @property
    def limits(self) -> Limits:
        """The size limits every write is checked against (the store's settings)."""
        return self._backend.settings.limits

    @property
    def settings(self) -> StoreSettings:
        """Limits, token counter and clock of this store."""
        return self._backend.settings

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._backend.describe()!r}, tenant={self._tenant!r})"

    # thread ops --------------------------------------------------------------

    def _create_thread(self, thread: Thread | None, fields: dict[str, Any]) -> ops.CreateThread:
        with translate_validation("thread"):
            if thread is None:
                clean = {k: v for k, v in fields.items() if v is not None}
                if isinstance(clean.get("state"), Mapping):
                    clean["state"] = ThreadState.model_validate(clean["state"])
                thread = Thread.model_validate({**clean, "tenant_id": self._tenant})
            elif fields and any(v is not None for v in fields.values()):
                raise ValidationError("pass a Thread or keyword fields, not both", field="thread")
        if not isinstance(thread, Thread):
            raise ValidationError("must be a Thread", field="thread")
        if "tenant_id" in thread.model_fields_set and thread.tenant_id != self._tenant:
            raise ValidationError(
                f"is {thread.tenant_id!r} but this store is bound to {self._tenant!r}",
                field="thread.tenant_id",
            )
        # The times not given come from the store's clock.
        unset = {"created_at", "updated_at"} - thread.model_fields_set
        now = self._backend.settings.now() if unset else None
        times = dict.fromkeys(unset, now)
        fresh = thread.model_copy(
            update={
                **times,
                "tenant_id": self._tenant,
                "revision": 0,
                "message_count": 0,
                "live_message_count": 0,
                "turn_count": 0,
                "tool_call_count": 0,
                "token_count": 0,
                "deleted_at": None,
            }
        )
        fresh.usage = type(thread.usage)()
        fresh.cost = type(thread.cost)()
        return ops.CreateThread(self._tenant, fresh)

    def _update_thread(
        self, thread_id: str, rev: int | None, fields: dict[str, Any]
    ) -> ops.UpdateThread:
        with translate_validation("thread"):
            patch = ThreadPatch.model_validate(fields)
        return ops.UpdateThread(
            self._tenant, _check_id(thread_id, "thread_id"), patch, _check_revision(rev)
        )

    def _filter(
        self, user_id: str | None, agent_name: str | None, include_deleted: bool
    ) -> ops.ThreadFilter:
        if user_id is not None:
            _check_id(user_id, "user_id")
        check_filter_text(agent_name, "agent_name")
        return ops.ThreadFilter(
            user_id=user_id, agent_name=agent_name, include_deleted=bool(include_deleted)
        )

    def _list_threads(
        self,
        user_id: str | None,
        agent_name: str | None,
        include_deleted: bool,
        limit: int | None,
        cursor: str | None,
    ) -> ops.ListThreads:
        after = None
        if cursor is not None:
            us, tid = decode_cursor(cursor, "threads", ("time", "id"))
            after = (us, tid)
        return ops.ListThreads(
            self._tenant,
            self._filter(user_id, agent_name, include_deleted),
            check_limit(limit, 50, self.limits),
            after,
        )

    # message ops ------------------------------------------------------------

    def _append(
        self, thread_id: str, messages: MessageLike | Iterable[MessageLike], rev: int | None
    ) -> ops.Append:
        _check_id(thread_id, "thread_id")
        if isinstance(messages, Message | Mapping):
            messages = [messages]
        if isinstance(messages, str | bytes) or not isinstance(messages, Iterable):
            raise ValidationError("must be a message or an iterable of messages", field="messages")
        batch: list[Message] = []
        for i, m in enumerate(messages):
            if isinstance(m, Message):
                batch.append(m)
            elif isinstance(m, Mapping):
                with translate_validation(f"messages.{i}"):
                    batch.append(Message.model_validate(m))
            else:
                raise ValidationError("must be a Message or a mapping", field=f"messages.{i}")
            check_appendable(batch[-1], f"messages.{i}")
        if len(batch) > self.limits.max_batch:
            raise ValidationError(
                f"at most {self.limits.max_batch} messages per append", field="messages"
            )
        return ops.Append(
            self._tenant, thread_id, tuple(batch), _check_revision(rev), self._counter
        )

    def _update_message(
        self, message_id: str, rev: int | None, fields: dict[str, Any]
    ) -> ops.UpdateMessage:
        with translate_validation("message"):
            patch = MessagePatch.model_validate(fields)
        return ops.UpdateMessage(
            self._tenant,
            _check_id(message_id, "message_id"),
            patch,
            _check_revision(rev),
            self._counter,
        )

    def _list_messages(
        self,
        thread_id: str,
        limit: int | None,
        cursor: str | None,
        from_end: bool,
        include_deleted: bool,
    ) -> ops.ListMessages:
        _check_id(thread_id, "thread_id")
        limit = check_limit(limit, 100, self.limits)
        after, before = 0, None
        if cursor is not None:
            tid, direction, seq = decode_cursor(cursor, "messages", ("id", "direction", "seq"))
            if tid != thread_id:
                raise ValidationError("belongs to another thread", field="cursor")
            if direction == "after":
                after = seq
            else:
                before = seq
        elif from_end:
            before = 2**63 - 1
        return ops.ListMessages(
            self._tenant, thread_id, limit, after, before, bool(include_deleted)
        )

    def _begin_import(self, thread: Thread) -> ops.CreateThread:
        op = self._create_thread(thread, {})
        return ops.CreateThread(
            op.tenant, incomplete_import_thread(op.thread, self._backend.settings.now())
        )

    def _import_append(
        self, thread_id: str, messages: MessageLike | Iterable[MessageLike]
    ) -> ops.Append:
        op = self._append(thread_id, messages, None)
        return ops.Append(op.tenant, op.thread_id, op.messages, None, op.counter, importing=True)

    def _finish_import(self, thread_id: str, expected_count: int | None) -> ops.RestoreThread:
        if expected_count is not None and (
            isinstance(expected_count, bool)
            or not isinstance(expected_count, int)
            or expected_count < 0
        ):
            raise ValidationError("must be a non-negative integer", field="expected_count")
        return ops.RestoreThread(
            self._tenant,
            _check_id(thread_id, "thread_id"),
            None,
            finish_import=True,
            expected_count=expected_count,
        )

    def _by_execution(
        self, execution_id: str, thread_id: str | None, limit: int | None
    ) -> ops.ByExecution:
        if thread_id is not None:
            _check_id(thread_id, "thread_id")
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 2**63 - 1
        ):
            raise ValidationError("must be a positive integer", field="limit")
        return ops.ByExecution(
            self._tenant, _check_id(execution_id, "execution_id"), thread_id, limit
        )

    def _recent(self, thread_id: str, n: int, include_deleted: bool) -> ops.Recent:
        _check_id(thread_id, "thread_id")
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValidationError("must be a non-negative integer", field="n")
        return ops.Recent(
            self._tenant, thread_id, min(n, self.limits.max_list_limit), bool(include_deleted)
        )

    def _import(
        self,
        snapshot: ConversationSnapshot | Mapping[str, Any] | str | bytes,
        thread_id: str | None,
        new_ids: bool = False,
    ) -> ops.ImportThread:
        if thread_id is not None:
            _check_id(thread_id, "thread_id")
        if not isinstance(snapshot, ConversationSnapshot):
            with translate_validation("snapshot"):
                if isinstance(snapshot, str | bytes):
                    import json

                    try:
                        snapshot = json.loads(snapshot)
                    except ValueError as exc:
                        raise ValidationError(f"not JSON: {exc}", field="snapshot") from None
                check_snapshot_version(snapshot)
                snapshot = ConversationSnapshot.model_validate(snapshot)
        if not isinstance(new_ids, bool):
            raise ValidationError("must be true or false", field="new_ids")
        if new_ids:
            snapshot = rekey_snapshot(snapshot, thread_id)
            thread_id = snapshot.thread.id
        return ops.ImportThread(self._tenant, self._counted(snapshot), thread_id)

    def _counted(self, snapshot: ConversationSnapshot) -> ConversationSnapshot:
        """The snapshot with this store's counts on the messages that carry none."""
        from convostore.tokens import count_batch

        counts = count_batch(list(snapshot.messages), self._counter)
        if all(tc is None for tc in counts):
            return snapshot
        msgs = [
            m
            if tc is None
            else m.model_copy(update={"token_count": tc.tokens, "token_counter": tc.counter})
            for m, tc in zip(snapshot.messages, counts, strict=True)
        ]
        return snapshot.model_copy(update={"messages": msgs})

    def _context(
        self,
        thread_id: str,
        max_tokens: int | None,
        max_messages: int | None,
        start_on_user: bool,
        counter: TokenCounter | None,
    ) -> Generator[ops.Op[Any], Any, ContextWindow]:
        return plan_context(
            self._tenant,
            _check_id(thread_id, "thread_id"),
            max_tokens,
            max_messages,
            bool(start_on_user),
            counter or self._counter,
        )

    def _view_args(self, name: str) -> tuple[B, str]:
        return self._backend, _check_id(name, "tenant")


class Store(_Builder[Backend]):
    """A conversation store bound to one tenant (``default`` unless told otherwise).

    Open one with :func:`convostore.open_store`. A store is a context manager;
    :meth:`tenant` returns a view of the same store bound to another tenant.
    A thread or message of another tenant behaves exactly like one that does
    not exist.
    """

    def _run(self, op: ops.Op[Any]) -> Any:
        return self._backend.execute(op)

    def tenant(self, name: str) -> Store:
        """A view of this store bound to tenant ``name``; it shares the backend."""
        backend, tenant = self._view_args(name)
        return Store(backend, tenant, token_counter=self._counter, _owner=False)

    def close(self) -> None:
        """Release the backend. Closing a tenant view does nothing."""
        if self._owner:
            self._backend.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # threads ------------------------------------------------------------------

    def create_thread(
        self,
        thread: Thread | None = None,
        /,
        *,
        id: str | None = None,
        user_id: str | None = None,
        agent_name: str | None = None,
        model: str | None = None,
        title: str | None = None,
        metadata: dict[str, Any] | None = None,
        state: ThreadState | Mapping[str, Any] | None = None,
    ) -> Thread:
        """Create a thread from a :class:`Thread` or from keyword fields.

        Raises:
            ThreadExistsError: the id is taken in this tenant.
        """
        fields = dict(
            id=id,
            user_id=user_id,
            agent_name=agent_name,
            model=model,
            title=title,
            metadata=metadata,
            state=state,
        )
        return self._run(self._create_thread(thread, fields))  # type: ignore[no-any-return]

    def get_thread(self, thread_id: str) -> Thread:
        """The thread, soft-deleted or not. Raises ThreadNotFoundError."""
        return self._run(ops.GetThread(self._tenant, _check_id(thread_id, "thread_id")))  # type: ignore[no-any-return]

    def update_thread(
        self, thread_id: str, *, expected_revision: int | None = None, **fields: Any
    ) -> Thread:
        """Change the fields given (``title``, ``metadata``, ``state``, ``user_id``,
        ``agent_name``, ``model``, ``ended_at``); ``None`` clears a field."""
        return self._run(self._update_thread(thread_id, expected_revision, fields))  # type: ignore[no-any-return]

    def delete_thread(self, thread_id: str, *, expected_revision: int | None = None) -> Thread:
        """Soft-delete: hidden from listings, kept until purged or restored."""
        return self._run(  # type: ignore[no-any-return]
            ops.DeleteThread(
                self._tenant,
                _check_id(thread_id, "thread_id"),
                _check_revision(expected_revision),
            )
        )

    def restore_thread(self, thread_id: str, *, expected_revision: int | None = None) -> Thread:
        return self._run(  # type: ignore[no-any-return]
            ops.RestoreThread(
                self._tenant,
                _check_id(thread_id, "thread_id"),
                _check_revision(expected_revision),
            )
        )

    def purge_thread(self, thread_id: str, *, expected_revision: int | None = None) -> None:
        """Remove the thread and all its messages for good."""
        self._run(
            ops.PurgeThread(
                self._tenant, _check_id(thread_id, "thread_id"), _check_revision(expected_revision)
            )
        )

    # imports in steps ----------------------------------------------------------

    def begin_import(self, thread: Thread) -> Thread:
        """Create ``thread`` as an import in progress: empty, soft-deleted and marked
        (``metadata["convostore.import"] == "incomplete"``), so that no listing,
        summary or ordinary write sees it until :meth:`finish_import`.

        Fill it with :meth:`import_append` in batches of any size: an import of
        any length costs the memory of one batch, and one that fails or is
        interrupted stays hidden (``list_threads(include_deleted=True)`` shows
        it, marked) until it is finished or purged.

        Raises:
            ThreadExistsError: the id is taken.
        """
        return self._run(self._begin_import(thread))  # type: ignore[no-any-return]

    def import_append(
        self, thread_id: str, messages: MessageLike | Iterable[MessageLike]
    ) -> list[Message]:
        """:meth:`append` to an import in progress (and only to one)."""
        return self._run(self._import_append(thread_id, messages))  # type: ignore[no-any-return]

    def import_delete_message(self, message_id: str) -> Message:
        """:meth:`delete_message` of a message of an import in progress."""
        return self._run(  # type: ignore[no-any-return]
            ops.DeleteMessage(
                self._tenant, _check_id(message_id, "message_id"), None, importing=True
            )
        )

    def finish_import(self, thread_id: str, *, expected_count: int | None = None) -> Thread:
        """Make an import in progress a whole, visible thread, in one write.

        Raises:
            ValidationError: the thread does not hold ``expected_count`` messages
                (it stays an import in progress).
            ConflictError: the thread is not an import in progress.
        """
        return self._run(self._finish_import(thread_id, expected_count))  # type: ignore[no-any-return]

    def list_threads(
        self,
        *,
        user_id: str | None = None,
        agent_name: str | None = None,
        include_deleted: bool = False,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Thread]:
        """One page of threads, newest activity first; pass ``next_cursor`` on."""
        return self._run(self._list_threads(user_id, agent_name, include_deleted, limit, cursor))  # type: ignore[no-any-return]

    def count_threads(
        self,
        *,
        user_id: str | None = None,
        agent_name: str | None = None,
        include_deleted: bool = False,
    ) -> int:
        return self._run(  # type: ignore[no-any-return]
            ops.CountThreads(
                self._tenant,
                self._filter(
                    user_id,
                    agent_name,
                    include_deleted,
                ),
            )
        )

    def summaries(
        self,
        *,
        user_id: str | None = None,
        agent_name: str | None = None,
        include_deleted: bool = False,
        limit: int | None = None,
    ) -> list[ThreadSummary]:
        """Counts and times per thread, newest activity first, from the thread counters."""
        lim = None if limit is None else check_limit(limit, 50, self.limits)
        return self._run(  # type: ignore[no-any-return]
            ops.Summaries(
                self._tenant,
                self._filter(
                    user_id,
                    agent_name,
                    include_deleted,
                ),
                lim,
            )
        )

    # messages -----------------------------------------------------------------

    def append(
        self,
        thread_id: str,
        messages: MessageLike | Iterable[MessageLike],
        *,
        expected_revision: int | None = None,
    ) -> list[Message]:
        """Append one message or a batch, atomically.

        Returns the stored messages (with ``seq`` and ``turn``) in batch order. A
        message whose id is already stored with the same content is not added
        again; the stored copy is returned in its place.

        Raises:
            ThreadNotFoundError, ThreadDeletedError, RevisionConflictError,
            DuplicateMessageError, ValidationError.
        """
        return self._run(self._append(thread_id, messages, expected_revision))  # type: ignore[no-any-return]

    def get_message(self, message_id: str) -> Message:
        return self._run(ops.GetMessage(self._tenant, _check_id(message_id, "message_id")))  # type: ignore[no-any-return]

    def update_message(
        self, message_id: str, *, expected_revision: int | None = None, **fields: Any
    ) -> Message:
        """Change a stored message (``parts``, ``content``, ``pinned``, ``metadata``,
        ``name``, ``native``, ``token_count``, ``token_counter``, ``archived_at``)."""
        return self._run(self._update_message(message_id, expected_revision, fields))  # type: ignore[no-any-return]

    def delete_message(self, message_id: str, *, expected_revision: int | None = None) -> Message:
        """Soft-delete a message: it keeps its seq and is listed only on request."""
        return self._run(  # type: ignore[no-any-return]
            ops.DeleteMessage(
                self._tenant,
                _check_id(message_id, "message_id"),
                _check_revision(expected_revision),
            )
        )

    def restore_message(self, message_id: str, *, expected_revision: int | None = None) -> Message:
        """Undo a soft delete: the message is live again, at its seq (a live one is
        returned unchanged)."""
        return self._run(  # type: ignore[no-any-return]
            ops.RestoreMessage(
                self._tenant,
                _check_id(message_id, "message_id"),
                _check_revision(expected_revision),
            )
        )

    def list_messages(
        self,
        thread_id: str,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        from_end: bool = False,
        include_deleted: bool = False,
    ) -> Page[Message]:
        """A page of messages in seq order.

        Starts at the oldest message, or with ``from_end=True`` at the newest page.
        ``next_cursor`` pages forward (newer), ``prev_cursor`` backward (older).
        """
        return self._run(  # type: ignore[no-any-return]
            self._list_messages(
                thread_id,
                limit,
                cursor,
                from_end,
                include_deleted,
            )
        )

    def iter_messages(
        self, thread_id: str, *, batch: int = 500, include_deleted: bool = False
    ) -> Iterator[Message]:
        """Every message of a thread in seq order, read a page at a time."""
        cursor = None
        while True:
            page = self.list_messages(
                thread_id, limit=batch, cursor=cursor, include_deleted=include_deleted
            )
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    @overload
    def load_messages(
        self, thread_id: str, *, include_deleted: bool = ..., as_dicts: Literal[False] = ...
    ) -> list[Message]: ...
    @overload
    def load_messages(
        self, thread_id: str, *, include_deleted: bool = ..., as_dicts: Literal[True]
    ) -> list[dict[str, Any]]: ...

    def load_messages(
        self, thread_id: str, *, include_deleted: bool = False, as_dicts: bool = False
    ) -> list[Message] | list[dict[str, Any]]:
        """Every message of a thread, in seq order, read at once.

        With ``as_dicts=True`` the fast path skips building models and returns
        each message in its stored JSON form: plain dicts in which fields at
        their defaults are left out, and so is ``parts`` when it is the one
        text part of ``content`` (or ``content`` when it is the text of
        ``parts``); ``Message.model_validate(d)`` gives the message back.
        Use :meth:`iter_messages` to read a long thread in pages instead of
        holding it whole.
        """
        return self._run(  # type: ignore[no-any-return]
            ops.LoadMessages(
                self._tenant,
                _check_id(thread_id, "thread_id"),
                bool(include_deleted),
                bool(as_dicts),
            )
        )

    def recent(
        self, thread_id: str, n: int = 20, *, include_deleted: bool = False
    ) -> list[Message]:
        """The newest ``n`` messages, oldest first. Costs O(n), not O(thread)."""
        return self._run(self._recent(thread_id, n, include_deleted))  # type: ignore[no-any-return]

    def messages_by_execution(
        self, execution_id: str, *, thread_id: str | None = None, limit: int | None = None
    ) -> list[Message]:
        """The live messages of one agent execution, in (thread, seq) order.

        ``limit`` keeps the first ``limit`` of them; ``None`` returns all.
        """
        return self._run(self._by_execution(execution_id, thread_id, limit))  # type: ignore[no-any-return]

    # snapshots and health -----------------------------------------------------

    def export_thread(self, thread_id: str) -> ConversationSnapshot:
        """The whole thread, deleted messages included, as a versioned snapshot."""
        return self._run(ops.ExportThread(self._tenant, _check_id(thread_id, "thread_id")))  # type: ignore[no-any-return]

    def import_thread(
        self,
        snapshot: ConversationSnapshot | Mapping[str, Any] | str | bytes,
        *,
        thread_id: str | None = None,
        new_ids: bool = False,
    ) -> Thread:
        """Create a thread in this tenant from a snapshot (optionally under a new id).

        By default the import is an exact copy: message ids, times and deletion
        marks are kept, so importing a thread beside the one it was exported
        from fails on the message ids. With ``new_ids=True`` the messages get
        fresh ids (their parent links re-pointed to match) and the thread gets
        ``thread_id`` or a fresh id: a copy of a thread within one tenant.

        Raises:
            UnsupportedSnapshotVersionError: the snapshot's version is unknown.
            ThreadExistsError: the thread id is taken.
            DuplicateMessageError: a message id is taken (import with ``new_ids``).
        """
        return self._run(self._import(snapshot, thread_id, new_ids))  # type: ignore[no-any-return]

    def context(
        self,
        thread_id: str,
        *,
        max_tokens: int | None = None,
        max_messages: int | None = None,
        start_on_user: bool = False,
        counter: TokenCounter | None = None,
    ) -> ContextWindow:
        """The newest messages of a thread that fit a budget, ready for a model.

        The system prompt and pinned messages are always in; a tool call and all
        its results are in or out together. Costs O(window), not O(thread).

        Raises:
            ContextBudgetError: the mandatory messages alone exceed the budget.
        """
        plan = self._context(thread_id, max_tokens, max_messages, start_on_user, counter)
        try:
            op = next(plan)
            while True:
                op = plan.send(self._run(op))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def health_check(self, *, full: bool = False) -> HealthReport:
        """Whether the store can serve reads and writes now, and why not.

        The default check is cheap enough for a readiness probe: the store
        answers, its schema is current, a write transaction can be begun and
        rolled back, the files are writable, disk space is left, and what
        costs little of the integrity check (on SQLite: the header, the
        schema and a full ``quick_check`` of a small database). ``full=True``
        also reads every stored page or file to check its integrity, which
        takes time in proportion to the size of the store.

        Never raises for a store that is unwell: the report's ``checks`` name
        each problem.
        """
        return self._run(ops.HealthCheck(self._tenant, full=bool(full)))  # type: ignore[no-any-return]


class AsyncStore(_Builder[AsyncBackend]):
    """The async twin of :class:`Store`: same methods, awaited.

    Open one with :func:`convostore.open_async_store` and use it as an async
    context manager.
    """

    async def _run(self, op: ops.Op[Any]) -> Any:
        return await self._backend.execute(op)

    def tenant(self, name: str) -> AsyncStore:
        backend, tenant = self._view_args(name)
        return AsyncStore(backend, tenant, token_counter=self._counter, _owner=False)

    async def open(self) -> AsyncStore:
        await self._backend.aopen()
        return self

    async def close(self) -> None:
        if self._owner:
            await self._backend.aclose()

    async def __aenter__(self) -> AsyncStore:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def create_thread(
        self,
        thread: Thread | None = None,
        /,
        *,
        id: str | None = None,
        user_id: str | None = None,
        agent_name: str | None = None,
        model: str | None = None,
        title: str | None = None,
        metadata: dict[str, Any] | None = None,
        state: ThreadState | Mapping[str, Any] | None = None,
    ) -> Thread:
        fields = dict(
            id=id,
            user_id=user_id,
            agent_name=agent_name,
            model=model,
            title=title,
            metadata=metadata,
            state=state,
        )
        return await self._run(self._create_thread(thread, fields))  # type: ignore[no-any-return]

    async def get_thread(self, thread_id: str) -> Thread:
        return await self._run(ops.GetThread(self._tenant, _check_id(thread_id, "thread_id")))  # type: ignore[no-any-return]

    async def update_thread(
        self, thread_id: str, *, expected_revision: int | None = None, **fields: Any
    ) -> Thread:
        return await self._run(self._update_thread(thread_id, expected_revision, fields))  # type: ignore[no-any-return]

    async def delete_thread(
        self, thread_id: str, *, expected_revision: int | None = None
    ) -> Thread:
        return await self._run(  # type: ignore[no-any-return]
            ops.DeleteThread(
                self._tenant, _check_id(thread_id, "thread_id"), _check_revision(expected_revision)
            )
        )

    async def restore_thread(
        self, thread_id: str, *, expected_revision: int | None = None
    ) -> Thread:
        return await self._run(  # type: ignore[no-any-return]
            ops.RestoreThread(
                self._tenant, _check_id(thread_id, "thread_id"), _check_revision(expected_revision)
            )
        )

    async def purge_thread(self, thread_id: str, *, expected_revision: int | None = None) -> None:
        await self._run(
            ops.PurgeThread(
                self._tenant, _check_id(thread_id, "thread_id"), _check_revision(expected_revision)
            )
        )

    async def begin_import(self, thread: Thread) -> Thread:
        """See :meth:`Store.begin_import`."""
        return await self._run(self._begin_import(thread))  # type: ignore[no-any-return]

    async def import_append(
        self, thread_id: str, messages: MessageLike | Iterable[MessageLike]
    ) -> list[Message]:
        """See :meth:`Store.import_append`."""
        return await self._run(self._import_append(thread_id, messages))  # type: ignore[no-any-return]

    async def import_delete_message(self, message_id: str) -> Message:
        """See :meth:`Store.import_delete_message`."""
        return await self._run(  # type: ignore[no-any-return]
            ops.DeleteMessage(
                self._tenant, _check_id(message_id, "message_id"), None, importing=True
            )
        )

    async def finish_import(self, thread_id: str, *, expected_count: int | None = None) -> Thread:
        """See :meth:`Store.finish_import`."""
        return await self._run(self._finish_import(thread_id, expected_count))  # type: ignore[no-any-return]

    async def list_threads(
        self,
        *,
        user_id: str | None = None,
        agent_name: str | None = None,
        include_deleted: bool = False,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Thread]:
        return await self._run(  # type: ignore[no-any-return]
            self._list_threads(user_id, agent_name, include_deleted, limit, cursor)
        )

    async def count_threads(
        self,
        *,
        user_id: str | None = None,
        agent_name: str | None = None,
        include_deleted: bool = False,
    ) -> int:
        return await self._run(  # type: ignore[no-any-return]
            ops.CountThreads(self._tenant, self._filter(user_id, agent_name, include_deleted))
        )

    async def summaries(
        self,
        *,
        user_id: str | None = None,
        agent_name: str | None = None,
        include_deleted: bool = False,
        limit: int | None = None,
    ) -> list[ThreadSummary]:
        lim = None if limit is None else check_limit(limit, 50, self.limits)
        return await self._run(  # type: ignore[no-any-return]
            ops.Summaries(self._tenant, self._filter(user_id, agent_name, include_deleted), lim)
        )

    async def append(
        self,
        thread_id: str,
        messages: MessageLike | Iterable[MessageLike],
        *,
        expected_revision: int | None = None,
    ) -> list[Message]:
        return await self._run(self._append(thread_id, messages, expected_revision))  # type: ignore[no-any-return]

    async def get_message(self, message_id: str) -> Message:
        return await self._run(ops.GetMessage(self._tenant, _check_id(message_id, "message_id")))  # type: ignore[no-any-return]

    async def update_message(
        self, message_id: str, *, expected_revision: int | None = None, **fields: Any
    ) -> Message:
        return await self._run(self._update_message(message_id, expected_revision, fields))  # type: ignore[no-any-return]

    async def delete_message(
        self, message_id: str, *, expected_revision: int | None = None
    ) -> Message:
        return await self._run(  # type: ignore[no-any-return]
            ops.DeleteMessage(
                self._tenant,
                _check_id(message_id, "message_id"),
                _check_revision(expected_revision),
            )
        )

    async def restore_message(
        self, message_id: str, *, expected_revision: int | None = None
    ) -> Message:
        return await self._run(  # type: ignore[no-any-return]
            ops.RestoreMessage(
                self._tenant,
                _check_id(message_id, "message_id"),
                _check_revision(expected_revision),
            )
        )

    async def list_messages(
        self,
        thread_id: str,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        from_end: bool = False,
        include_deleted: bool = False,
    ) -> Page[Message]:
        return await self._run(  # type: ignore[no-any-return]
            self._list_messages(thread_id, limit, cursor, from_end, include_deleted)
        )

    async def iter_messages(
        self, thread_id: str, *, batch: int = 500, include_deleted: bool = False
    ) -> AsyncIterator[Message]:
        cursor = None
        while True:
            page = await self.list_messages(
                thread_id, limit=batch, cursor=cursor, include_deleted=include_deleted
            )
            for m in page.items:
                yield m
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    @overload
    async def load_messages(
        self, thread_id: str, *, include_deleted: bool = ..., as_dicts: Literal[False] = ...
    ) -> list[Message]: ...
    @overload
    async def load_messages(
        self, thread_id: str, *, include_deleted: bool = ..., as_dicts: Literal[True]
    ) -> list[dict[str, Any]]: ...

    async def load_messages(
        self, thread_id: str, *, include_deleted: bool = False, as_dicts: bool = False
    ) -> list[Message] | list[dict[str, Any]]:
        return await self._run(  # type: ignore[no-any-return]
            ops.LoadMessages(
                self._tenant,
                _check_id(thread_id, "thread_id"),
                bool(include_deleted),
                bool(as_dicts),
            )
        )

    async def recent(
        self, thread_id: str, n: int = 20, *, include_deleted: bool = False
    ) -> list[Message]:
        return await self._run(self._recent(thread_id, n, include_deleted))  # type: ignore[no-any-return]

    async def messages_by_execution(
        self, execution_id: str, *, thread_id: str | None = None, limit: int | None = None
    ) -> list[Message]:
        """See :meth:`Store.messages_by_execution`."""
        return await self._run(  # type: ignore[no-any-return]
            self._by_execution(execution_id, thread_id, limit)
        )

    async def export_thread(self, thread_id: str) -> ConversationSnapshot:
        return await self._run(ops.ExportThread(self._tenant, _check_id(thread_id, "thread_id")))  # type: ignore[no-any-return]

    async def import_thread(
        self,
        snapshot: ConversationSnapshot | Mapping[str, Any] | str | bytes,
        *,
        thread_id: str | None = None,
        new_ids: bool = False,
    ) -> Thread:
        """See :meth:`Store.import_thread`."""
        return await self._run(self._import(snapshot, thread_id, new_ids))  # type: ignore[no-any-return]

    async def context(
        self,
        thread_id: str,
        *,
        max_tokens: int | None = None,
        max_messages: int | None = None,
        start_on_user: bool = False,
        counter: TokenCounter | None = None,
    ) -> ContextWindow:
        plan = self._context(thread_id, max_tokens, max_messages, start_on_user, counter)
        try:
            op = next(plan)
            while True:
                op = plan.send(await self._run(op))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    async def health_check(self, *, full: bool = False) -> HealthReport:
        """See :meth:`Store.health_check`."""
        return await self._run(ops.HealthCheck(self._tenant, full=bool(full)))  # type: ignore[no-any-return]
