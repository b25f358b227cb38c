"""What a backend is: the contract between the store's faces and its storage.

Every call of :class:`~convostore.Store` and :class:`~convostore.AsyncStore`
checks its arguments and becomes one record of :mod:`convostore.store.ops`,
which the backend executes. That is the whole protocol:

* :class:`Backend` - a blocking backend: ``execute(op)``, ``close()``;
* :class:`AsyncBackend` - a natively asynchronous one: ``await execute(op)``,
  ``aopen()``, ``aclose()``;
* :class:`ThreadedAsyncBackend` - the async face of any blocking backend, its
  operations run on worker threads.

Most backends do not implement ``execute`` themselves: they subclass
:class:`CoreBackend`, implement its twelve primitives (below) and inherit
every other operation, derived once here from those primitives with the pure
rules of :mod:`convostore.store.rules`. A backend overrides a derived
operation only to make it faster (one indexed read instead of several), never
to change what it does: the conformance suite (:mod:`convostore.testing`)
checks both.

==========================  =================================================
primitive                   what it must do
==========================  =================================================
``create_thread``           store a new thread; ``ThreadExistsError`` if taken
``get_thread``              the thread, deleted or not; ``ThreadNotFoundError``
``modify_thread``           read-check-write one thread atomically
``purge_thread``            remove a thread and its messages for good
``list_threads``            a page of threads, newest activity first
``append``                  :func:`~convostore.store.rules.append.plan_checked`
                            and :func:`~convostore.store.rules.append.apply_append`,
                            stored atomically with the thread
``get_message``             one message by id; ``MessageNotFoundError``
``modify_message``          read-check-write one message and its thread atomically
``list_messages``           a page of a thread's messages in seq order
``messages_by_execution``   the live messages of one execution, (thread, seq) order
``import_thread``           store a normalised snapshot atomically
``close``                   release what the backend holds
==========================  =================================================

Derived (override for speed only): ``update_thread``, ``delete_thread``,
``restore_thread``, ``count_threads``, ``summaries``, ``update_message``,
``delete_message``, ``restore_message``, ``recent``, ``load_messages``,
``export_thread``, ``mandatory``, ``context_page``, ``health_check``,
``search`` (a scan of the tenant's messages; the SQL engines use their
full-text index instead).

A backend is found by the scheme of a store URL: see
:mod:`convostore.store.registry`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, TypeVar

from convostore.errors import ThreadNotFoundError, ValidationError
from convostore.model import (
    Attachment,
    AttachmentInfo,
    ConversationSnapshot,
    HealthCheckResult,
    HealthReport,
    Message,
    Page,
    SearchHit,
    Thread,
    ThreadSummary,
)
from convostore.store import ops
from convostore.store.rules.codec import as_stored_dicts, collector_paused, to_us
from convostore.store.rules.patches import (
    apply_message_patch,
    apply_thread_patch,
    message_deleted,
    message_restored,
    restored,
    soft_deleted,
)
from convostore.store.rules.search import matches, passes, search_page
from convostore.store.rules.snapshots import snapshot_of
from convostore.store.rules.window import is_mandatory
from convostore.store.settings import DEFAULT_SETTINGS, Limits, StoreSettings, resolve_settings

T = TypeVar("T")

__all__ = ["AsyncBackend", "Backend", "Capabilities", "CoreBackend", "ThreadedAsyncBackend"]

#: Past any seq: ``before_seq`` of a read from the end of a thread.
END = 2**63 - 1
_PAGE = 1000


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a backend offers beyond the contract every backend keeps.

    The conformance suite runs the tests of a capability only on backends
    that declare it.
    """

    durable: bool = True
    """What was acknowledged survives the process (and, with a file or a
    server behind it, a crash of the machine as far as its sync setting goes)."""
    multi_process: bool = False
    """Several processes may open the same store and write to it at once."""
    attachments: bool = False
    """It stores attachments: the four ``*attach*`` operations below. Without
    them a write that carries bytes is refused with a ValidationError."""

    def as_dict(self) -> dict[str, bool]:
        return asdict(self)


class Backend(ABC):
    """A blocking backend: it executes operation records.

    ``settings`` (limits, token counter, clock) are the store's; ``limits=``
    is a shortcut that replaces only the limits.
    """

    kind: ClassVar[str] = "backend"
    capabilities: ClassVar[Capabilities] = Capabilities()

    def __init__(
        self, *, settings: StoreSettings | None = None, limits: Limits | None = None
    ) -> None:
        self.settings = resolve_settings(settings, limits)

    @property
    def limits(self) -> Limits:
        """The size limits every write is checked against."""
        return self.settings.limits

    def now(self) -> dt.datetime:
        """The current time by the store's clock: every time a backend records."""
        return self.settings.clock()

    @abstractmethod
    def execute(self, op: ops.Op[T]) -> T:
        """Carry out ``op`` and return its result; raise the typed errors of
        :mod:`convostore.errors`, never a driver's."""

    @abstractmethod
    def close(self) -> None:
        """Release what the backend holds; idempotent."""

    def open(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Acquire what needs acquiring after construction; idempotent (the
        twin of :meth:`AsyncBackend.aopen`)."""

    def describe(self) -> str:
        """A human-readable location of the store, without secrets."""
        return self.kind


class CoreBackend(Backend):
    """A backend made of primitives: implement the twelve abstract methods and
    every other operation is derived from them (see the module docs).

    ``execute`` calls the method named by the record's ``name``. Handlers run
    with the record's tenant; a thread or message of another tenant must
    behave exactly like one that does not exist.
    """

    def execute(self, op: ops.Op[T]) -> T:
        handler: Callable[[ops.Op[T]], T] = getattr(self, op.name)
        return handler(op)

    # primitives --------------------------------------------------------------

    @abstractmethod
    def create_thread(self, op: ops.CreateThread) -> Thread:
        """Store ``op.thread`` (checked with ``encode_thread``).

        Raises ThreadExistsError."""

    @abstractmethod
    def get_thread(self, op: ops.GetThread) -> Thread:
        """The thread, soft-deleted or not. Raises ThreadNotFoundError."""

    @abstractmethod
    def modify_thread(
        self,
        tenant: str,
        thread_id: str,
        expected: int | None,
        change: Callable[[Thread], Thread],
        *,
        writable: bool = True,
    ) -> Thread:
        """Read the thread under the backend's write lock or transaction, check
        the expected revision (``check_revision``) and, with ``writable``, that
        it is not deleted (``check_writable``); apply ``change`` and store its
        result unless it returned the very thread it was given. Returns the
        thread as stored."""

    @abstractmethod
    def purge_thread(self, op: ops.PurgeThread) -> None:
        """Remove the thread and its messages (after ``check_revision``)."""

    @abstractmethod
    def list_threads(self, op: ops.ListThreads) -> Page[Thread]:
        """Up to ``op.limit`` threads matching ``op.filter``, newest activity first
        (``updated_at`` then id, both descending), after ``op.after``; build the
        page with ``rules.paging.thread_page`` from ``limit + 1`` rows."""

    @abstractmethod
    def append(self, op: ops.Append) -> list[Message]:
        """Append atomically: read the thread and the stored messages whose ids
        are in the batch, ``plan_checked``, ``apply_append`` at :meth:`now`,
        check what is stored with ``encode_message``/``encode_thread``, store
        the messages and the thread together, answer with ``fill_slots``."""

    @abstractmethod
    def get_message(self, op: ops.GetMessage) -> Message:
        """One message by id in the tenant. Raises MessageNotFoundError."""

    @abstractmethod
    def modify_message(
        self,
        tenant: str,
        message_id: str,
        expected: int | None,
        change: Callable[[Thread, Message], tuple[Thread, Message]],
        *,
        importing: bool = False,
    ) -> Message:
        """Read the message and its thread under the write lock or transaction,
        ``check_revision`` and ``check_writable(thread, importing=importing)``,
        apply ``change`` and store both results unless the message came back
        unchanged (the same object). Returns the message as stored."""

    @abstractmethod
    def list_messages(self, op: ops.ListMessages) -> Page[Message]:
        """A page of messages (see :class:`~convostore.store.ops.ListMessages`),
        built with ``rules.paging.message_page`` from ``limit + 1`` rows.
        Raises ThreadNotFoundError."""

    @abstractmethod
    def messages_by_execution(self, op: ops.ByExecution) -> list[Message]:
        """The live messages with ``op.execution_id`` (in ``op.thread_id`` if
        given), in (thread id, seq) order, at most ``op.limit``."""

    @abstractmethod
    def import_thread(self, op: ops.ImportThread) -> Thread:
        """Store ``normalize_import(...)``'s thread and messages atomically.

        Raises ThreadExistsError, DuplicateMessageError (an id stored in the
        tenant)."""

    # attachments (with ``capabilities.attachments``) -----------------------------

    def attach(self, op: ops.Attach) -> list[AttachmentInfo]:
        """In one transaction: store each of ``op.blobs`` the tenant does not
        hold (an existing one keeps its info), record each reference of
        ``op.refs`` for ``op.thread_id``, and check that every referenced
        attachment is stored (AttachmentNotFoundError, nothing written, if
        not). Returns the stored info of each blob."""
        raise _no_attachments(self)

    def get_attachment(self, op: ops.GetAttachment) -> Attachment | AttachmentInfo:
        """The tenant's attachment ``op.ref``. Raises AttachmentNotFoundError."""
        raise _no_attachments(self)

    def release_attachments(self, op: ops.ReleaseAttachments) -> int:
        """Drop the references recorded for ``op.thread_id`` and remove the
        attachments no reference is left for; how many were removed."""
        raise _no_attachments(self)

    def purge_attachments(self, op: ops.PurgeAttachments) -> int:
        """Drop references whose message is not stored and that were recorded
        before ``op.before``, then remove the attachments stored before it that
        no reference is left for; how many were removed."""
        raise _no_attachments(self)

    # derived: thread writes --------------------------------------------------

    def update_thread(self, op: ops.UpdateThread) -> Thread:
        return self.modify_thread(
            op.tenant,
            op.thread_id,
            op.expected_revision,
            lambda t: apply_thread_patch(t, op.patch, self.now()),
        )

    def delete_thread(self, op: ops.DeleteThread) -> Thread:
        return self.modify_thread(
            op.tenant,
            op.thread_id,
            op.expected_revision,
            lambda t: soft_deleted(t, self.now()),
            writable=False,
        )

    def restore_thread(self, op: ops.RestoreThread) -> Thread:
        return self.modify_thread(
            op.tenant,
            op.thread_id,
            op.expected_revision,
            lambda t: restored(
                t, self.now(), finish_import=op.finish_import, expected_count=op.expected_count
            ),
            writable=False,
        )

    # derived: thread reads ---------------------------------------------------

    def _each_thread(self, tenant: str, flt: ops.ThreadFilter, limit: int | None) -> list[Thread]:
        out: list[Thread] = []
        after: tuple[int, str] | None = None
        while limit is None or len(out) < limit:
            size = _PAGE if limit is None else min(_PAGE, limit - len(out))
            page = self.list_threads(ops.ListThreads(tenant, flt, size, after))
            out.extend(page.items)
            if page.next_cursor is None or not page.items:
                break
            last = page.items[-1]
            after = (to_us(last.updated_at), last.id)
        return out

    def count_threads(self, op: ops.CountThreads) -> int:
        return len(self._each_thread(op.tenant, op.filter, None))

    def summaries(self, op: ops.Summaries) -> list[ThreadSummary]:
        return [ThreadSummary.of(t) for t in self._each_thread(op.tenant, op.filter, op.limit)]

    # derived: message writes -------------------------------------------------

    def update_message(self, op: ops.UpdateMessage) -> Message:
        return self.modify_message(
            op.tenant,
            op.message_id,
            op.expected_revision,
            lambda t, m: apply_message_patch(t, m, op.patch, self.now(), op.counter),
        )

    def delete_message(self, op: ops.DeleteMessage) -> Message:
        return self.modify_message(
            op.tenant,
            op.message_id,
            op.expected_revision,
            lambda t, m: message_deleted(t, m, self.now()),
            importing=op.importing,
        )

    def restore_message(self, op: ops.RestoreMessage) -> Message:
        return self.modify_message(
            op.tenant,
            op.message_id,
            op.expected_revision,
            lambda t, m: message_restored(t, m, self.now()),
        )

    # derived: message reads --------------------------------------------------

    def recent(self, op: ops.Recent) -> list[Message]:
        page = self.list_messages(
            ops.ListMessages(op.tenant, op.thread_id, op.n, 0, END, op.include_deleted)
        )
        return page.items

    def _all_messages(self, tenant: str, thread_id: str, include_deleted: bool) -> list[Message]:
        out: list[Message] = []
        after = 0
        while True:
            page = self.list_messages(
                ops.ListMessages(tenant, thread_id, _PAGE, after, None, include_deleted)
            )
            out.extend(page.items)
            if page.next_cursor is None or not page.items:
                return out
            after = page.items[-1].seq or 0

    def load_messages(self, op: ops.LoadMessages) -> list[Any]:
        with collector_paused(self.settings.pause_gc_on_load):
            out = self._all_messages(op.tenant, op.thread_id, op.include_deleted)
            return as_stored_dicts(out) if op.as_dicts else out

    def export_thread(self, op: ops.ExportThread) -> ConversationSnapshot:
        """The thread and its messages up to its ``message_count``: messages
        appended while the export reads are past the cut and left out."""
        thread = self.get_thread(ops.GetThread(op.tenant, op.thread_id))
        with collector_paused(self.settings.pause_gc_on_load):
            msgs = [
                m
                for m in self._all_messages(op.tenant, op.thread_id, True)
                if (m.seq or 0) <= thread.message_count
            ]
        return snapshot_of(thread, msgs, self.now())

    def mandatory(self, op: ops.Mandatory) -> list[Message]:
        """The thread's mandatory messages (``rules.window.is_mandatory``); a
        backend overrides this with one indexed read."""
        return [m for m in self._all_messages(op.tenant, op.thread_id, False) if is_mandatory(m)]

    def context_page(self, op: ops.ContextPage) -> ops.ContextRows:
        """A page for a context window: live, unarchived messages only. Backends
        override this with one indexed read of exactly those rows that leaves
        the bodies undecoded until the window uses them; this default steps
        over archived messages, so its cost grows with them."""
        mandatory = (
            self.mandatory(ops.Mandatory(op.tenant, op.thread_id)) if op.with_mandatory else None
        )
        rows: list[tuple[int, Message | str]] = []
        before = op.before_seq
        while len(rows) < op.limit:
            page = self.list_messages(
                ops.ListMessages(op.tenant, op.thread_id, op.limit, 0, before)
            )
            rows.extend((m.seq or 0, m) for m in reversed(page.items) if m.archived_at is None)
            if page.prev_cursor is None or not page.items:
                break
            before = page.items[0].seq or 0
        return ops.ContextRows(mandatory, rows[: op.limit])

    # derived: search ---------------------------------------------------------

    def _search_threads(self, op: ops.Search) -> list[Thread]:
        f = op.filter
        flt = ops.ThreadFilter(f.user_id, f.agent_name, f.include_deleted)
        if f.thread_id is None:
            return self._each_thread(op.tenant, flt, None)
        try:
            t = self.get_thread(ops.GetThread(op.tenant, f.thread_id))
        except ThreadNotFoundError:
            return []
        wanted = (
            (flt.include_deleted or t.deleted_at is None)
            and (flt.user_id is None or t.user_id == flt.user_id)
            and (flt.agent_name is None or t.agent_name == flt.agent_name)
        )
        return [t] if wanted else []

    def search(self, op: ops.Search) -> Page[SearchHit]:
        """A scan of every message of the tenant's threads that pass the
        filters, scored by ``rules.search.matches``: its cost grows with the
        tenant's messages, which suits the memory and JSON backends."""
        scored: list[tuple[float, Message]] = []
        for t in self._search_threads(op):
            for m in self._all_messages(op.tenant, t.id, op.filter.include_deleted):
                if passes(m, op.filter):
                    found, score = matches(m, op.terms)
                    if found:
                        scored.append((score, m))
        return search_page(scored, op)

    # derived: health ---------------------------------------------------------

    def health_check(self, op: ops.HealthCheck) -> HealthReport:
        """``open``: the store answers a read. Backends with files or a server
        add their own checks (schema, writable, disk space, integrity)."""
        try:
            self.list_threads(ops.ListThreads(op.tenant, ops.ThreadFilter(), 1))
            check = HealthCheckResult(name="open", ok=True, detail=self.describe())
        except Exception as exc:  # a health check reports, it does not raise
            check = HealthCheckResult(name="open", ok=False, detail=str(exc))
        return HealthReport.of(self.kind, [check], {}, full=op.full)


def _no_attachments(backend: Backend) -> ValidationError:
    return ValidationError(f"the {backend.kind} backend does not store attachments", field="data")


class AsyncBackend(ABC):
    """A natively asynchronous backend."""

    kind: ClassVar[str] = "backend"
    capabilities: ClassVar[Capabilities] = Capabilities()
    settings: StoreSettings = DEFAULT_SETTINGS

    @property
    def limits(self) -> Limits:
        """The size limits every write is checked against."""
        return self.settings.limits

    @abstractmethod
    async def execute(self, op: ops.Op[T]) -> T:
        """Carry out ``op`` and return its result (see :meth:`Backend.execute`)."""

    @abstractmethod
    async def aclose(self) -> None:
        """Release what the backend holds; idempotent."""

    async def aopen(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Acquire resources that need the event loop (pools); idempotent."""

    def describe(self) -> str:
        """A human-readable location of the store, without secrets."""
        return self.kind


class ThreadedAsyncBackend(AsyncBackend):
    """The async face of a blocking backend: its operations run on worker threads.

    A cancelled call does not interrupt the worker: the operation either
    completes as a whole or not at all, exactly as in the sync face, and the
    caller that was cancelled is simply not told which. Extras of the wrapped
    backend are reached with :meth:`call`, which also runs them on a worker
    thread.
    """

    def __init__(self, backend: Backend, *, inline: bool = False) -> None:
        self.backend = backend
        self.kind = backend.kind  # type: ignore[misc]
        self.capabilities = backend.capabilities  # type: ignore[misc]
        self.settings = backend.settings
        self._inline = inline

    async def execute(self, op: ops.Op[T]) -> T:
        if self._inline:
            return self.backend.execute(op)
        return await self.call(self.backend.execute, op)

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` (a method of the wrapped backend) on a
        worker thread, so a blocking extra never blocks the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))

    async def aclose(self) -> None:
        await self.call(self.backend.close)

    def describe(self) -> str:
        return self.backend.describe()

    def __getattr__(self, name: str) -> Any:
        # Backend-specific extras (migrate, schema_version, ...) as awaitables
        # run on a worker thread; plain attributes as they are.
        value = getattr(self.backend, name)
        if not callable(value):
            return value

        @functools.wraps(value)
        async def extra(*args: Any, **kwargs: Any) -> Any:
            return await self.call(value, *args, **kwargs)

        return extra
