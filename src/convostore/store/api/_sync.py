# Generated from src/convostore/store/api/_async.py by scripts/gen_sync.py: do not edit.
# Change the async source and run `make generate`.
"""The sync twin of :mod:`convostore.store.api._async`, generated from it.

The same classes, methods, arguments and documentation, called without
``await``; see the source module for how it is built.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from convostore.model import (
    Attachment,
    AttachmentInfo,
    Branch,
    ConversationSnapshot,
    HealthReport,
    Message,
    Page,
    ScopedState,
    SearchHit,
    StateChange,
    Thread,
    ThreadState,
    ThreadSummary,
)
from convostore.store import ops
from convostore.store.api._base import MessageLike, StoreBase, check_id, check_revision
from convostore.store.backend import Backend
from convostore.store.rules.attachments import GRACE, referenced
from convostore.store.rules.codec import collector_paused
from convostore.store.rules.validation import check_limit

if TYPE_CHECKING:
    from convostore.context import ContextWindow
    from convostore.formats import DropReport
    from convostore.tokens import TokenCounter

__all__ = ["Store"]

T = TypeVar("T")


class Store(StoreBase[Backend]):
    """A conversation store bound to one tenant (``default`` unless told otherwise).

    Open one with :func:`convostore.open_store`;
    use it as a context manager.

    :meth:`tenant` returns a view of the same store bound to another tenant.
    A thread or message of another tenant behaves exactly like one that does
    not exist.
    """

    def _run(self, op: ops.Op[T]) -> T:
        """Execute one operation record on the backend."""
        return self._backend.execute(op)

    def _run_after(self, attach: ops.Attach | None, op: ops.Op[T]) -> T:
        """Run ``op`` after the ``Attach`` that stores the bytes it references."""
        if attach is not None:
            self._run(attach)
        return self._run(op)

    def tenant(self, name: str) -> Store:
        """A view of this store bound to tenant ``name``; it shares the backend."""
        backend, tenant = self._view_args(name)
        return Store(backend, tenant, token_counter=self._counter, _owner=False)

    def open(self) -> Store:
        """Open the backend's connections (entering the context manager does it)."""
        self._backend.open()
        return self

    def close(self) -> None:
        """Release the backend. Closing a tenant view does nothing."""
        if self._owner:
            self._backend.close()

    def __enter__(self) -> Store:
        return self.open()

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
        state_change: StateChange | Mapping[str, Any] | None = None,
    ) -> Thread:
        """Create a thread from a :class:`Thread` or from keyword fields.

        The times left unset come from the store's clock; counters start at 0.
        ``state_change`` is written in the same transaction, as by an append
        carrying it: the user state of the thread's user and the app state
        change with the thread's creation or not at all (a taken id, or a
        state ``expected_revision`` that does not match, writes nothing).

        Raises:
            ThreadExistsError: the id is taken in this tenant.
            ValidationError: a field is invalid, or both a Thread and fields are given.
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
        return self._run(self._create_thread(thread, fields, state_change))

    def get_thread(self, thread_id: str) -> Thread:
        """The thread, soft-deleted or not.

        Raises:
            ThreadNotFoundError: no such thread in this tenant.
        """
        return self._run(ops.GetThread(self._tenant, check_id(thread_id, "thread_id")))

    def update_thread(
        self, thread_id: str, *, expected_revision: int | None = None, **fields: Any
    ) -> Thread:
        """Change the fields given (``title``, ``metadata``, ``state``, ``user_id``,
        ``agent_name``, ``model``, ``ended_at``); ``None`` clears a field.

        Raises:
            ThreadNotFoundError, ThreadDeletedError, RevisionConflictError,
            ValidationError (an unknown or invalid field).
        """
        return self._run(self._update_thread(thread_id, expected_revision, fields))

    def delete_thread(self, thread_id: str, *, expected_revision: int | None = None) -> Thread:
        """Soft-delete: hidden from listings, kept until purged or restored."""
        return self._run(
            ops.DeleteThread(
                self._tenant, check_id(thread_id, "thread_id"), check_revision(expected_revision)
            )
        )

    def restore_thread(self, thread_id: str, *, expected_revision: int | None = None) -> Thread:
        """Undo a soft delete: the thread is listed again (a live one is returned
        unchanged)."""
        return self._run(
            ops.RestoreThread(
                self._tenant, check_id(thread_id, "thread_id"), check_revision(expected_revision)
            )
        )

    def purge_thread(self, thread_id: str, *, expected_revision: int | None = None) -> None:
        """Remove the thread and all its messages for good, and the attachments
        nothing else references."""
        self._run(
            ops.PurgeThread(
                self._tenant, check_id(thread_id, "thread_id"), check_revision(expected_revision)
            )
        )
        if self._stores_attachments():
            self._run(ops.ReleaseAttachments(self._tenant, thread_id))

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
        return self._run(self._begin_import(thread))

    def import_append(
        self, thread_id: str, messages: MessageLike | Iterable[MessageLike]
    ) -> list[Message]:
        """:meth:`append` to an import in progress (and only to one)."""
        return self._run_after(*self._split(self._import_append(thread_id, messages)))

    def import_delete_message(self, message_id: str) -> Message:
        """:meth:`delete_message` of a message of an import in progress."""
        return self._run(
            ops.DeleteMessage(
                self._tenant, check_id(message_id, "message_id"), None, importing=True
            )
        )

    def finish_import(self, thread_id: str, *, expected_count: int | None = None) -> Thread:
        """Make an import in progress a whole, visible thread, in one write.

        Raises:
            ValidationError: the thread does not hold ``expected_count`` messages
                (it stays an import in progress).
            ConflictError: the thread is not an import in progress.
        """
        return self._run(self._finish_import(thread_id, expected_count))

    # listings ---------------------------------------------------------------------

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
        return self._run(self._list_threads(user_id, agent_name, include_deleted, limit, cursor))

    def count_threads(
        self,
        *,
        user_id: str | None = None,
        agent_name: str | None = None,
        include_deleted: bool = False,
    ) -> int:
        """How many threads match the filters (the same filters as :meth:`list_threads`)."""
        return self._run(
            ops.CountThreads(self._tenant, self._filter(user_id, agent_name, include_deleted))
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
        return self._run(
            ops.Summaries(self._tenant, self._filter(user_id, agent_name, include_deleted), lim)
        )

    # messages -----------------------------------------------------------------

    def append(
        self,
        thread_id: str,
        messages: MessageLike | Iterable[MessageLike],
        *,
        expected_revision: int | None = None,
        state: StateChange | Mapping[str, Any] | None = None,
    ) -> list[Message]:
        """Append one message or a batch, atomically.

        Returns the stored messages (with ``seq`` and ``turn``) in batch order. A
        message whose id is already stored with the same content is not added
        again; the stored copy is returned in its place.

        ``state`` changes thread, user and app state in the same transaction:
        the messages and every state change are stored, or nothing is. A retry
        whose messages are all stored already adds nothing and does not apply
        the state change again (the first append did); an append of no
        messages applies it every time.

        Raises:
            ThreadNotFoundError, ThreadDeletedError, RevisionConflictError,
            StateConflictError (user or app state), DuplicateMessageError,
            ValidationError, AttachmentTooLargeError, AttachmentNotFoundError.
        """
        op = self._with_state(self._append(thread_id, messages, expected_revision), state)
        return self._run_after(*self._split(op))

    # branches -------------------------------------------------------------------

    def fork_thread(
        self,
        thread_id: str,
        *,
        at: str | None = None,
        at_seq: int | None = None,
        id: str | None = None,
        messages: MessageLike | Iterable[MessageLike] = (),
        user_id: str | None = None,
        agent_name: str | None = None,
        model: str | None = None,
        title: str | None = None,
        metadata: dict[str, Any] | None = None,
        state: ThreadState | Mapping[str, Any] | None = None,
        expected_revision: int | None = None,
        supersede: bool = False,
    ) -> Thread:
        """Make a branch of a thread that shares its history up to and including
        message ``at`` (or seq ``at_seq``; its newest message when neither is
        given) without copying it, and append ``messages`` to the branch, in one
        transaction.

        The branch is a thread of its own (``id``, a new one when not given):
        it takes the source's owner, labels and state unless they are given,
        lists its lineage (``parent_thread_id``, ``fork_seq``, ``lineage``), and
        counts the whole history it reads. Forking costs the same whatever the
        length of the shared history. ``expected_revision`` is the source's.

        ``supersede=True`` makes the fork a write to the source as well: its
        revision goes up with the fork, so a writer still holding the source's
        old revision (an append with ``expected_revision``) conflicts. That is
        how a caller moves the head of a conversation onto the new branch
        without racing a writer that extends the old one.

        Raises:
            ThreadNotFoundError, ThreadDeletedError, RevisionConflictError,
            ThreadExistsError (``id`` is taken), MessageNotFoundError (``at`` is
            not in the thread's history), ValidationError, and what
            :meth:`append` raises for ``messages``.
        """
        fields = dict(
            user_id=user_id,
            agent_name=agent_name,
            model=model,
            title=title,
            metadata=metadata,
            state=state,
        )
        op = self._fork(thread_id, at, at_seq, id, fields, messages, expected_revision)
        if supersede:
            op = dataclasses.replace(op, supersede=True)
        return self._run_after(*self._split_fork(op))

    def edit_in_branch(
        self,
        message_id: str,
        *,
        id: str | None = None,
        expected_revision: int | None = None,
        **fields: Any,
    ) -> Thread:
        """Edit a message as a new branch: the branch shares the history before
        the message and ends with a copy of it (a new id) with ``fields``
        changed (those of :meth:`update_message`). The original stays as it is,
        in its thread and in every branch that shares it.

        Returns the branch; its newest message is the edited copy.
        ``expected_revision`` is that of the thread that stores the message."""
        stored = self._run(ops.GetMessage(self._tenant, check_id(message_id, "message_id")))
        op = self._fork_before(stored, [self._edited_copy(stored, fields)], id, expected_revision)
        return self._run_after(*self._split_fork(op))

    def regenerate(
        self,
        message_id: str,
        *,
        messages: MessageLike | Iterable[MessageLike] = (),
        id: str | None = None,
        expected_revision: int | None = None,
    ) -> Thread:
        """Start a new branch in place of a reply: the branch shares the history
        before message ``message_id``, and ``messages`` (the new reply, if it
        is known already) are appended to it in the same transaction.

        Returns the branch. ``expected_revision`` is that of the thread that
        stores the message."""
        stored = self._run(ops.GetMessage(self._tenant, check_id(message_id, "message_id")))
        op = self._fork_before(stored, messages, id, expected_revision)
        return self._run_after(*self._split_fork(op))

    def branches(self, thread_id: str) -> list[Branch]:
        """Every thread of the branch tree ``thread_id`` belongs to (its root, the
        branches and branches of branches, deleted ones included), oldest
        first, each with the last seq it shares with ``thread_id`` and whether
        it is the tree's active branch.

        Raises:
            ThreadNotFoundError: no such thread in this tenant.
        """
        return self._run(ops.Branches(self._tenant, check_id(thread_id, "thread_id")))

    def set_active_branch(self, branch_id: str, *, expected_revision: int | None = None) -> Thread:
        """Make ``branch_id`` the active branch of its tree (the one a
        conversation of the tree resumes); the root makes the root active again.
        It is recorded on the tree's root, whose revision ``expected_revision``
        is. Returns the root."""
        return self._run(
            ops.SetActiveBranch(
                self._tenant, check_id(branch_id, "branch_id"), check_revision(expected_revision)
            )
        )

    def active_branch(self, thread_id: str) -> Thread:
        """The active branch of the tree ``thread_id`` belongs to (its root when
        none is set, or when the one set is deleted)."""
        found = self.branches(thread_id)
        return next(b.thread for b in found if b.is_active)

    # user and app state ---------------------------------------------------------

    def get_state(self, scope: str, *, user_id: str | None = None) -> ScopedState:
        """The state of ``scope``: ``"user"`` (give ``user_id``), shared by the
        user's threads, or ``"app"``, shared by the tenant's. A scope never
        written is empty at revision 0."""
        return self._run(self._get_state(scope, user_id))

    def update_state(
        self,
        scope: str,
        *,
        user_id: str | None = None,
        changes: Mapping[str, Any] | None = None,
        remove: Iterable[str] | None = None,
        replace: Mapping[str, Any] | None = None,
        expected_revision: int | None = None,
    ) -> ScopedState:
        """Write the user or app state: set ``changes`` and drop ``remove`` (the
        other keys are kept), or ``replace`` all of it (``replace={}`` empties
        it). Returns the state as stored, its revision up by one.

        Without ``expected_revision`` two writers of different keys both keep
        their keys; with it, a stale writer gets StateConflictError.

        Raises:
            StateConflictError, ValidationError (a bad key or value, or the
            state over ``Limits.max_state_bytes``).
        """
        return self._run(
            self._update_state(scope, user_id, changes, remove, replace, expected_revision)
        )

    def get_message(self, message_id: str) -> Message:
        """The message, soft-deleted or not.

        Raises:
            MessageNotFoundError: no such message in this tenant.
        """
        return self._run(ops.GetMessage(self._tenant, check_id(message_id, "message_id")))

    def update_message(
        self, message_id: str, *, expected_revision: int | None = None, **fields: Any
    ) -> Message:
        """Change a stored message (``parts``, ``content``, ``pinned``, ``metadata``,
        ``name``, ``native``, ``token_count``, ``token_counter``, ``archived_at``).

        ``expected_revision`` is the thread's revision, as for every write."""
        attach, op = self._split_patch(self._update_message(message_id, expected_revision, fields))
        if attach is not None:
            stored = self._run(ops.GetMessage(self._tenant, op.message_id))
            self._run(dataclasses.replace(attach, thread_id=stored.thread_id))
        return self._run(op)

    def delete_message(self, message_id: str, *, expected_revision: int | None = None) -> Message:
        """Soft-delete a message: it keeps its seq and is listed only on request."""
        return self._run(
            ops.DeleteMessage(
                self._tenant,
                check_id(message_id, "message_id"),
                check_revision(expected_revision),
            )
        )

    def restore_message(self, message_id: str, *, expected_revision: int | None = None) -> Message:
        """Undo a soft delete: the message is live again, at its seq (a live one is
        returned unchanged)."""
        return self._run(
            ops.RestoreMessage(
                self._tenant,
                check_id(message_id, "message_id"),
                check_revision(expected_revision),
            )
        )

    def purge_message(self, message_id: str, *, expected_revision: int | None = None) -> Message:
        """Remove a message for good and return it as it was stored.

        No read returns it afterwards, deleted ones included. The thread's later
        messages move down one seq in the same transaction, so seq stays
        gap-free (a message cursor past the purged message now points one
        message further on), and the thread's counters lose what the message
        added. The attachments only it referenced are removed.

        Raises:
            MessageNotFoundError, ThreadDeletedError, RevisionConflictError.
        """
        done = self._run(self._purge_message(message_id, expected_revision))
        self._released(done)
        return done.messages[0]

    def pop_message(
        self, thread_id: str, *, expected_revision: int | None = None
    ) -> Message | None:
        """Remove the thread's newest live message for good and return it, or
        ``None`` when it has none, in one transaction.

        Soft-deleted messages after it stay, one seq down; archived messages
        are live, so a pop takes the newest one when no newer message is left.
        Two concurrent pops never return the same message.

        Raises:
            ThreadNotFoundError, ThreadDeletedError, RevisionConflictError.
        """
        done = self._run(self._pop_message(thread_id, expected_revision))
        self._released(done)
        return done.messages[0] if done.messages else None

    def clear_messages(
        self,
        thread_id: str,
        *,
        mode: Literal["archive", "delete", "purge"] = "archive",
        keep: Literal["mandatory", "system", "none"] = "mandatory",
        expected_revision: int | None = None,
    ) -> int:
        """Take every active (live, unarchived) message out of the active
        history in one transaction; returns how many were.

        ``mode``: ``archive`` (default; they stay readable and exported but leave
        context windows), ``delete`` (soft delete) or ``purge`` (gone for good,
        the archived and deleted messages left move down to keep seq gap-free).
        ``keep``: ``mandatory`` (default) leaves the system and pinned messages
        in place, ``system`` the system messages only, ``none`` nothing (an
        archived message is unpinned). A thread with nothing to clear is left
        as it is, its revision too.

        Raises:
            ThreadNotFoundError, ThreadDeletedError, RevisionConflictError,
            ValidationError (an unknown mode or keep).
        """
        done = self._run(self._clear_messages(thread_id, mode, keep, expected_revision))
        self._released(done)
        return done.count

    def trim_messages(
        self,
        thread_id: str,
        n: int,
        *,
        mode: Literal["archive", "delete", "purge"] = "archive",
        keep: Literal["mandatory", "system", "none"] = "mandatory",
        expected_revision: int | None = None,
    ) -> list[Message]:
        """Take the oldest ``n`` active (live, unarchived) messages out of the
        active history in one transaction, and return them as they were stored
        (fewer when the thread has fewer; none for ``n=0``).

        ``mode`` and ``keep`` are those of :meth:`clear_messages`: the messages
        ``keep`` holds in place are skipped, not counted. Two concurrent trims
        never take the same message.

        Raises:
            ThreadNotFoundError, ThreadDeletedError, RevisionConflictError,
            ValidationError (a negative ``n``, an unknown mode or keep).
        """
        done = self._run(self._clear_messages(thread_id, mode, keep, expected_revision, n))
        self._released(done)
        return done.messages

    def replace_messages(
        self,
        thread_id: str,
        messages: MessageLike | Iterable[MessageLike],
        *,
        expected_revision: int | None = None,
    ) -> list[Message]:
        """Make ``messages`` the thread's whole history, in one transaction.

        Every stored message goes (soft-deleted and archived ones too) and the
        new ones take seq 1..n and turns as if appended to an empty thread; the
        counters are theirs alone. A new message may reuse the id of a message
        it replaces, not one of another thread. A reader sees the old history
        or the new one, never a mix. Returns the stored messages.

        Raises:
            ThreadNotFoundError, ThreadDeletedError, RevisionConflictError,
            DuplicateMessageError, ValidationError, AttachmentTooLargeError,
            AttachmentNotFoundError.
        """
        op = self._replace_messages(thread_id, messages, expected_revision)
        done = self._run_after(*self._split(op))
        self._released(done)
        return done.messages

    def _released(self, done: ops.Rewritten) -> None:
        """Release the attachment references a rewrite dropped."""
        release = self._release(done)
        if release is not None:
            self._run(release)

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
        return self._run(self._list_messages(thread_id, limit, cursor, from_end, include_deleted))

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
        self,
        thread_id: str,
        *,
        include_deleted: bool = ...,
        as_dicts: Literal[False] = ...,
        active_only: bool = ...,
    ) -> list[Message]: ...
    @overload
    def load_messages(
        self,
        thread_id: str,
        *,
        include_deleted: bool = ...,
        as_dicts: Literal[True],
        active_only: bool = ...,
    ) -> list[dict[str, Any]]: ...

    def load_messages(
        self,
        thread_id: str,
        *,
        include_deleted: bool = False,
        as_dicts: bool = False,
        active_only: bool = False,
    ) -> list[Message] | list[dict[str, Any]]:
        """Every message of a thread, in seq order, read at once.

        With ``as_dicts=True`` the fast path skips building models and returns
        each message in its stored JSON form: plain dicts in which fields at
        their defaults are left out, and so is ``parts`` when it is the one
        text part of ``content`` (or ``content`` when it is the text of
        ``parts``); ``Message.model_validate(d)`` gives the message back.
        Use :meth:`iter_messages` to read a long thread in pages instead of
        holding it whole.

        ``active_only=True`` reads only the active messages (live and not
        archived: those context windows choose from) through the index that
        holds exactly them, so a thread with a long archive costs what its
        active part holds.
        """
        return self._run(self._load_messages(thread_id, include_deleted, as_dicts, active_only))

    def recent(
        self,
        thread_id: str,
        n: int | None = 20,
        *,
        since: dt.datetime | None = None,
        include_deleted: bool = False,
    ) -> list[Message]:
        """The newest ``n`` messages, oldest first. Costs O(n), not O(thread).

        ``since``: only messages created at or after it (a naive time is UTC);
        ``n=None``: all of them. A read with ``since`` compares ``created_at``,
        which need not follow seq, so it reads back from the end until it has
        ``n`` messages or reaches the first one.
        """
        return self._run(self._recent(thread_id, n, include_deleted, since))

    def messages_by_execution(
        self, execution_id: str, *, thread_id: str | None = None, limit: int | None = None
    ) -> list[Message]:
        """The live messages of one agent execution, in (thread, seq) order.

        ``limit`` keeps the first ``limit`` of them; ``None`` returns all.
        """
        return self._run(self._by_execution(execution_id, thread_id, limit))

    # search -----------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        user_id: str | None = None,
        thread_id: str | None = None,
        agent_name: str | None = None,
        role: str | None = None,
        model: str | None = None,
        tool_name: str | None = None,
        execution_id: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        include_deleted: bool = False,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[SearchHit]:
        """One page of the messages matching ``query``, best first; pass
        ``next_cursor`` on for the next.

        ``query`` is words that must all occur, ``"quoted phrases"`` and
        ``prefix*`` words (see the search docs). The filters narrow it down:
        the thread's user, the thread, its agent, the message's role, the
        model that wrote it (``metadata.model``), a tool it calls or answers,
        its execution, and a time range on its ``created_at`` (``since``
        inclusive, ``until`` exclusive). Deleted messages, and the messages of
        deleted threads, only with ``include_deleted``. ``limit`` is 20 unless
        given.

        Raises:
            ValidationError: a malformed query, filter or cursor.
        """
        filters = {
            "user_id": user_id,
            "thread_id": thread_id,
            "agent_name": agent_name,
            "role": role,
            "model": model,
            "tool_name": tool_name,
            "execution_id": execution_id,
            "since": since,
            "until": until,
            "include_deleted": include_deleted,
        }
        return self._run(self._search(query, filters, limit, cursor))

    # snapshots, context and health -------------------------------------------------

    def export_thread(self, thread_id: str) -> ConversationSnapshot:
        """The whole thread, deleted messages included, as a versioned snapshot,
        with the attachments its messages reference."""
        snapshot = self._run(ops.ExportThread(self._tenant, check_id(thread_id, "thread_id")))
        with collector_paused(self.settings.pause_gc_on_load):  # a walk of the whole thread
            refs = referenced(snapshot.messages)
        if not refs or not self._stores_attachments():
            return snapshot
        blobs = [self._run(ops.GetAttachment(self._tenant, ref)) for ref in refs]
        return snapshot.model_copy(update={"attachments": blobs})

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
            AttachmentNotFoundError: a message references bytes that neither
                the snapshot nor the tenant holds.
        """
        op = self._import(snapshot, thread_id, new_ids)
        return self._run_after(*self._split_import(op))

    @overload
    def context(
        self,
        thread_id: str,
        *,
        max_tokens: int | None = None,
        max_messages: int | None = None,
        start_on_user: bool = False,
        counter: TokenCounter | None = None,
        format: None = None,
        report: DropReport | None = None,
    ) -> ContextWindow: ...

    @overload
    def context(
        self,
        thread_id: str,
        *,
        max_tokens: int | None = None,
        max_messages: int | None = None,
        start_on_user: bool = False,
        counter: TokenCounter | None = None,
        format: str,
        report: DropReport | None = None,
    ) -> Any: ...

    def context(
        self,
        thread_id: str,
        *,
        max_tokens: int | None = None,
        max_messages: int | None = None,
        start_on_user: bool = False,
        counter: TokenCounter | None = None,
        format: str | None = None,
        report: DropReport | None = None,
    ) -> ContextWindow | Any:
        """The newest messages of a thread that fit a budget, ready for a model.

        The system prompt and pinned messages are always in; a tool call and all
        its results are in or out together. Costs O(window), not O(thread).

        With ``format`` (``openai-chat``, ``openai-responses``, ``anthropic``,
        ``gemini``, ``vercel-ui``), the window is chosen under that provider's
        rules and framing and returned as its payload, attachments inline;
        ``report`` receives what the format could not carry (see
        :mod:`convostore.formats`).

        Raises:
            ContextBudgetError: the mandatory messages alone exceed the budget.
        """
        plan = self._context(
            thread_id, max_tokens, max_messages, start_on_user, counter, format, report
        )
        try:
            op = next(plan)
            while True:
                op = plan.send(self._run(op))
        except StopIteration as done:
            return done.value

    # attachments ---------------------------------------------------------------------

    def put_attachment(
        self, data: bytes, media_type: str = "application/octet-stream"
    ) -> AttachmentInfo:
        """Store bytes once for this tenant and return their info, whose
        ``ref`` a part's ``attachment`` may then name. Storing the same bytes
        again returns the stored info.

        Bytes that no message comes to reference are removed by
        :meth:`purge_attachments` once older than its grace period.

        Raises:
            AttachmentTooLargeError: over ``Limits.max_attachment_bytes``.
        """
        return (self._run(self._put_attachment(data, media_type)))[0]

    def get_attachment(self, ref: str) -> Attachment:
        """The attachment ``ref`` (``sha256:...``, or the 64 hex digits) with its bytes.

        Raises:
            AttachmentNotFoundError: this tenant holds no such bytes.
        """
        found = self._run(self._get_attachment(ref, True))
        assert isinstance(found, Attachment)
        return found

    def attachment_info(self, ref: str) -> AttachmentInfo:
        """What is stored of the attachment ``ref``, without its bytes.

        Raises:
            AttachmentNotFoundError: this tenant holds no such bytes.
        """
        return self._run(self._get_attachment(ref, False))

    def purge_attachments(self, *, older_than: dt.timedelta = GRACE) -> int:
        """Remove this tenant's attachments that no stored message references
        and that were stored more than ``older_than`` ago (the grace period
        leaves uploads and writes in flight alone). Returns how many were
        removed. Purging a thread removes the attachments only it referenced
        by itself; this collects what failed writes and unused uploads left."""
        return self._run(self._purge_attachments(older_than))

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
        return self._run(ops.HealthCheck(self._tenant, full=bool(full)))
