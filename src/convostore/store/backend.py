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
:class:`CoreBackend`, implement its thirteen primitives (below) and inherit
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
``rewrite_messages``        read a thread and all its messages, plan a
                            :class:`~convostore.store.rules.rewrite.Rewrite`
                            and store it, atomically
``list_messages``           a page of a thread's messages in seq order
``messages_by_execution``   the live messages of one execution, (thread, seq) order
``import_thread``           store a normalised snapshot atomically
``close``                   release what the backend holds
==========================  =================================================

With ``Capabilities(scoped_state=True)``: ``get_state`` (the user or app
state, empty at revision 0 if never written), ``update_state``
(read-check-write one of them atomically with
:func:`~convostore.store.rules.state.updated_state`) and the ``state`` of an
append.

Derived (override for speed only): ``update_thread``, ``delete_thread``,
``restore_thread``, ``count_threads``, ``summaries``, ``update_message``,
``delete_message``, ``restore_message``, ``purge_message``, ``pop_message``,
``clear_messages``, ``replace_messages``, ``recent``, ``load_messages``,
``export_thread``, ``mandatory``, ``context_page``, ``health_check``,
``branches``, ``set_active_branch``, ``search`` (a scan of the tenant's
messages; the SQL engines use their full-text index instead).

A backend that declares the ``branches`` capability also implements
``fork_thread`` and ``tree_threads``, reads only a thread's own messages up to
``upto_seq`` when a read carries one, refuses in ``modify_message`` a change
that ``rules.branches.check_unshared`` refuses and in ``purge_thread`` a purge
``check_purgeable`` refuses. ``execute`` reads a branch's history as
:func:`~convostore.store.rules.branches.branch_read` composes it from those
reads, so the history reads above are written for plain threads only.

A backend is found by the scheme of a store URL: see
:mod:`convostore.store.registry`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, TypeVar

from convostore.errors import MessageNotFoundError, ThreadNotFoundError, ValidationError
from convostore.model import (
    Attachment,
    AttachmentInfo,
    Branch,
    ConversationSnapshot,
    HealthCheckResult,
    HealthReport,
    Message,
    Page,
    ScopedState,
    SearchHit,
    Thread,
    ThreadSummary,
)
from convostore.store import ops
from convostore.store.group_commit import AppendGroups, GroupCommit, Outcome
from convostore.store.rules.branches import Read, branch_read, branches_of, needs_lineage, tree_key
from convostore.store.rules.codec import as_stored_dicts, collector_paused, to_us
from convostore.store.rules.patches import (
    apply_message_patch,
    apply_thread_patch,
    message_deleted,
    message_restored,
    restored,
    soft_deleted,
    touch,
)
from convostore.store.rules.rewrite import Rewrite, cleared, popped, purged, replaced
from convostore.store.rules.search import matches, passes, search_page
from convostore.store.rules.snapshots import snapshot_of
from convostore.store.rules.validation import check_writable
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
    branches: bool = False
    """It stores branches: ``fork_thread`` and ``tree_threads``, and reads of
    one thread's own messages up to a seq (``upto_seq``); see
    :mod:`convostore.store.rules.branches`."""
    scoped_state: bool = False
    """It stores user and app state: ``get_state``, ``update_state`` and the
    ``state`` of an append. Without it those are refused with a
    ValidationError."""

    def as_dict(self) -> dict[str, bool]:
        return asdict(self)


class Backend(ABC):
    """A blocking backend: it executes operation records.

    ``settings`` (limits, token counter, clock) are the store's; ``limits=``
    is a shortcut that replaces only the limits.
    """

    kind: ClassVar[str] = "backend"
    capabilities: ClassVar[Capabilities] = Capabilities()
    group_commit: GroupCommit = GroupCommit(max_batch=1)
    """How the async face batches concurrent appends (:meth:`append_group`);
    off unless a backend writes a batch in one transaction."""

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

    def append_group(self, appends: Sequence[ops.Append]) -> list[Outcome]:
        """Run ``appends`` as one batch and return what each came to, in order
        (see :mod:`convostore.store.group_commit`): one failing must not fail
        the others, and none may return before its data is committed. This
        default runs each on its own; a backend with ``group_commit`` enabled
        writes them in one transaction."""
        out: list[Outcome] = []
        for op in appends:
            try:
                out.append(self.execute(op))
            except Exception as exc:
                out.append(exc)
        return out

    def describe(self) -> str:
        """A human-readable location of the store, without secrets."""
        return self.kind


class CoreBackend(Backend):
    """A backend made of primitives: implement the thirteen abstract methods and
    every other operation is derived from them (see the module docs).

    ``execute`` calls the method named by the record's ``name``. Handlers run
    with the record's tenant; a thread or message of another tenant must
    behave exactly like one that does not exist.
    """

    def execute(self, op: ops.Op[T]) -> T:
        if needs_lineage(op):
            thread = self._branch_of(op.tenant, op.thread_id)  # type: ignore[attr-defined]
            if thread is not None:
                return self._run_read(branch_read(thread, op, self.now))  # type: ignore[no-any-return]
        handler: Callable[[ops.Op[T]], T] = getattr(self, op.name)
        return handler(op)

    def _branch_of(self, tenant: str, thread_id: str) -> Thread | None:
        """The thread if it is a branch, ``None`` if it is not; raises
        ThreadNotFoundError. Backends without branches have none."""
        if not self.capabilities.branches:
            return None
        thread = self.get_thread(ops.GetThread(tenant, thread_id))
        return thread if thread.is_branch else None

    def _run_read(self, read: Read) -> Any:
        """Run a branch read, each of its operations on this backend's handler."""
        try:
            sub = next(read)
            while True:
                sub = read.send(getattr(self, sub.name)(sub))
        except StopIteration as done:
            return done.value

    # primitives --------------------------------------------------------------

    @abstractmethod
    def create_thread(self, op: ops.CreateThread) -> Thread:
        """Store ``op.thread`` (checked with ``encode_thread``) and, with
        ``op.append`` (no messages, a state change), run it in the same
        transaction: both are stored or neither. Returns the thread as stored.

        Raises ThreadExistsError, and what :meth:`append` raises."""

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
        the messages and the thread together, answer with ``fill_slots``.

        With ``op.state``, when ``rules.state.change_applies``: read the states
        of ``rules.state.targets`` in the same transaction (user before app),
        ``apply_change`` and store the thread and those states with the
        messages, all or nothing."""

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
    def rewrite_messages(
        self,
        tenant: str,
        thread_id: str,
        expected: int | None,
        plan: Callable[[Thread, Sequence[Message]], Rewrite],
        *,
        claims: Sequence[str] = (),
    ) -> ops.Rewritten:
        """Under the write lock or transaction: read the thread,
        ``check_revision`` and ``check_writable``, call ``plan`` with it and
        every message of it in seq order (soft-deleted ones included), refuse
        an id of ``claims`` stored in another thread of the tenant
        (``DuplicateMessageError``), check what is stored with
        ``encode_message``/``encode_thread`` and store the rewrite: the
        ``changed`` messages at their seq, the rows from ``from_seq`` on
        replaced by ``tail``, and the thread, unless ``plan`` returned the
        very thread it was given. Returns the rewrite's ``result``."""

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

    # branches (with ``capabilities.branches``) ----------------------------------

    def fork_thread(self, op: ops.ForkThread) -> Thread:
        """In one transaction: lock the thread that stores seq ``at_seq`` of the
        source (``rules.branches.owner_of``), compute the branch's counters from
        that thread's messages after it (``prefix_counters``), store the
        branch (``new_branch``) and run ``op.append`` on it."""
        raise _no_branches(self)

    def tree_threads(self, op: ops.TreeThreads) -> list[Thread]:
        """The threads of the tree rooted at ``op.root_id``, any order."""
        raise _no_branches(self)

    def lineage_page(self, op: ops.LineagePage) -> ops.ContextRows:
        rows: list[tuple[int, Message | str]] = []
        for thread_id, bound in op.segments:
            page = ops.ContextPage(op.tenant, thread_id, op.limit - len(rows), bound, upto_seq=END)
            rows.extend(self.context_page(page).rows)
            if len(rows) >= op.limit:
                break
        mandatory = None
        if op.mandatory is not None:
            mandatory = self.lineage_mandatory(ops.LineageMandatory(op.tenant, op.mandatory))
        return ops.ContextRows(mandatory, rows[: op.limit])

    def lineage_mandatory(self, op: ops.LineageMandatory) -> list[Message]:
        out: list[Message] = []
        for thread_id, last in op.segments:
            out.extend(self.mandatory(ops.Mandatory(op.tenant, thread_id, last)))
        return out

    def branches(self, op: ops.Branches) -> list[Branch]:
        thread = self.get_thread(ops.GetThread(op.tenant, op.thread_id))
        tree = self.tree_threads(ops.TreeThreads(op.tenant, tree_key(thread)))
        return branches_of(thread, tree)

    def set_active_branch(self, op: ops.SetActiveBranch) -> Thread:
        branch = self.get_thread(ops.GetThread(op.tenant, op.branch_id))
        check_writable(branch)
        root_id = tree_key(branch)

        def change(root: Thread) -> Thread:
            active = None if op.branch_id == root_id else op.branch_id
            if root.active_branch_id == active:
                return root
            return touch(root, self.now(), active_branch_id=active)

        return self.modify_thread(op.tenant, root_id, op.expected_revision, change)

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

    # user and app state (with ``capabilities.scoped_state``) -------------------

    def get_state(self, op: ops.GetState) -> ScopedState:
        """The tenant's state of ``op.scope`` (``op.user_id``'s for user state);
        ``rules.state.empty_state`` if it was never written."""
        raise _no_state(self)

    def update_state(self, op: ops.UpdateState) -> ScopedState:
        """Read the state under the write lock or transaction, apply
        ``rules.state.updated_state`` at :meth:`now` and store it. Returns the
        state as stored."""
        raise _no_state(self)

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

    def purge_message(self, op: ops.PurgeMessage) -> ops.Rewritten:
        found = self.get_message(ops.GetMessage(op.tenant, op.message_id))

        def plan(thread: Thread, msgs: Sequence[Message]) -> Rewrite:
            at = _index_of(msgs, found.seq or 0, op.message_id)
            return purged(thread, msgs[at:], op.message_id, self.now())

        return self.rewrite_messages(op.tenant, found.thread_id or "", op.expected_revision, plan)

    def pop_message(self, op: ops.PopMessage) -> ops.Rewritten:
        def plan(thread: Thread, msgs: Sequence[Message]) -> Rewrite:
            at = len(msgs) - 1
            while at >= 0 and msgs[at].deleted_at is not None:
                at -= 1
            return popped(thread, msgs[at:] if at >= 0 else (), self.now())

        return self.rewrite_messages(op.tenant, op.thread_id, op.expected_revision, plan)

    def clear_messages(self, op: ops.ClearMessages) -> ops.Rewritten:
        def plan(thread: Thread, msgs: Sequence[Message]) -> Rewrite:
            return cleared(thread, msgs, op.mode, op.keep, self.now(), op.limit)

        return self.rewrite_messages(op.tenant, op.thread_id, op.expected_revision, plan)

    def replace_messages(self, op: ops.ReplaceMessages) -> ops.Rewritten:
        def plan(thread: Thread, msgs: Sequence[Message]) -> Rewrite:
            return replaced(thread, msgs, op.messages, self.now(), op.counter)

        return self.rewrite_messages(
            op.tenant,
            op.thread_id,
            op.expected_revision,
            plan,
            claims=[m.id for m in op.messages],
        )

    # derived: message reads --------------------------------------------------

    def recent(self, op: ops.Recent) -> list[Message]:
        if op.since is None and op.n is not None:
            page = self.list_messages(
                ops.ListMessages(
                    op.tenant, op.thread_id, op.n, 0, END, op.include_deleted, op.upto_seq
                )
            )
            return page.items
        out: list[Message] = []  # newest first, read back a page at a time
        before = END
        while op.n is None or len(out) < op.n:
            page = self.list_messages(
                ops.ListMessages(
                    op.tenant, op.thread_id, _PAGE, 0, before, op.include_deleted, op.upto_seq
                )
            )
            for m in reversed(page.items):
                if ops.recent_wanted(op, m) and (op.n is None or len(out) < op.n):
                    out.append(m)
            if len(page.items) < _PAGE:
                break
            before = page.items[0].seq or 0
        out.reverse()
        return out

    def _all_messages(
        self, tenant: str, thread_id: str, include_deleted: bool, last_seq: int | None = None
    ) -> list[Message]:
        out: list[Message] = []
        after = 0
        while True:
            page = self.list_messages(
                ops.ListMessages(tenant, thread_id, _PAGE, after, None, include_deleted, last_seq)
            )
            out.extend(page.items)
            if page.next_cursor is None or not page.items:
                return out
            after = page.items[-1].seq or 0

    def load_messages(self, op: ops.LoadMessages) -> list[Any]:
        with collector_paused(self.settings.pause_gc_on_load):
            out = self._all_messages(op.tenant, op.thread_id, op.include_deleted, op.upto_seq)
            if op.active_only:
                out = [m for m in out if ops.loaded(op, m)]
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
        msgs = self._all_messages(op.tenant, op.thread_id, False, op.upto_seq)
        return [m for m in msgs if is_mandatory(m)]

    def context_page(self, op: ops.ContextPage) -> ops.ContextRows:
        """A page for a context window: live, unarchived messages only. Backends
        override this with one indexed read of exactly those rows that leaves
        the bodies undecoded until the window uses them; this default steps
        over archived messages, so its cost grows with them."""
        mandatory = (
            self.mandatory(ops.Mandatory(op.tenant, op.thread_id, op.upto_seq))
            if op.with_mandatory
            else None
        )
        rows: list[tuple[int, Message | str]] = []
        before = op.before_seq
        while len(rows) < op.limit:
            page = self.list_messages(
                ops.ListMessages(op.tenant, op.thread_id, op.limit, 0, before, upto_seq=op.upto_seq)
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


def _index_of(msgs: Sequence[Message], seq: int, message_id: str) -> int:
    """Where ``message_id`` is in ``msgs`` (a thread in seq order): at ``seq``
    unless an earlier purge moved it. Raises MessageNotFoundError."""
    if 0 < seq <= len(msgs) and msgs[seq - 1].id == message_id:
        return seq - 1
    for i, m in enumerate(msgs):
        if m.id == message_id:
            return i
    raise MessageNotFoundError(message_id)


def _no_branches(backend: Backend) -> ValidationError:
    return ValidationError(f"the {backend.kind} backend does not store branches", field="thread_id")


def _no_state(backend: Backend) -> ValidationError:
    return ValidationError(
        f"the {backend.kind} backend does not store user and app state", field="scope"
    )


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
        self._groups: AppendGroups | None = None
        if backend.group_commit.enabled and not inline:
            # Concurrent appends share a transaction and one hop to a worker thread.
            self._groups = AppendGroups(self._append_group, backend.group_commit)

    async def execute(self, op: ops.Op[T]) -> T:
        if self._inline:
            return self.backend.execute(op)
        if self._groups is not None and isinstance(op, ops.Append):
            return await self._groups.append(op)  # type: ignore[return-value]
        return await self.call(self.backend.execute, op)

    async def _append_group(self, appends: Sequence[ops.Append]) -> list[Outcome]:
        return await self.call(self.backend.append_group, appends)

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
