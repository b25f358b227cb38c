"""The closed set of operations a backend executes.

A backend implements one handler per operation record below; the friendly
methods of :class:`~convostore.Store` and :class:`~convostore.AsyncStore` only
validate their arguments and build these records. Because the records carry
everything (tenant included), the async face of a blocking backend is a single
``execute`` that hands the record to a worker thread.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from convostore.model import (
    Attachment,
    AttachmentInfo,
    Branch,
    ConversationSnapshot,
    HealthReport,
    Message,
    MessagePatch,
    Page,
    ScopedState,
    SearchHit,
    StateChange,
    StateScope,
    StateUpdate,
    Thread,
    ThreadPatch,
    ThreadSummary,
)

if TYPE_CHECKING:
    from convostore.store.rules.search import Term
    from convostore.tokens import TokenCounter

T = TypeVar("T")
_SEQ = operator.itemgetter(0)


@dataclass(frozen=True, slots=True)
class Op(Generic[T]):
    """An operation whose result is a ``T``; ``name`` selects the handler."""

    name: ClassVar[str]
    tenant: str


@dataclass(frozen=True, slots=True)
class CreateThread(Op[Thread]):
    """Store a new thread; then, in the same transaction, run ``append`` on it
    (an append of no message that carries a state change: the thread and its
    user and app state written together)."""

    name: ClassVar[str] = "create_thread"
    thread: Thread
    append: Append | None = None


@dataclass(frozen=True, slots=True)
class GetThread(Op[Thread]):
    name: ClassVar[str] = "get_thread"
    thread_id: str


@dataclass(frozen=True, slots=True)
class UpdateThread(Op[Thread]):
    name: ClassVar[str] = "update_thread"
    thread_id: str
    patch: ThreadPatch
    expected_revision: int | None = None


@dataclass(frozen=True, slots=True)
class DeleteThread(Op[Thread]):
    name: ClassVar[str] = "delete_thread"
    thread_id: str
    expected_revision: int | None = None


@dataclass(frozen=True, slots=True)
class RestoreThread(Op[Thread]):
    name: ClassVar[str] = "restore_thread"
    thread_id: str
    expected_revision: int | None = None
    finish_import: bool = False
    """Finish an import in progress instead (see ``_logic.restored``)."""
    expected_count: int | None = None
    """With ``finish_import``: the messages the import must hold."""


@dataclass(frozen=True, slots=True)
class PurgeThread(Op[None]):
    name: ClassVar[str] = "purge_thread"
    thread_id: str
    expected_revision: int | None = None


@dataclass(frozen=True, slots=True)
class ForkThread(Op[Thread]):
    """Make a branch of ``thread_id`` sharing its history up to ``at_seq`` (its
    last seq when ``None``; the seq of ``at_message_id`` when that is given,
    a message the thread's history must hold), without copying it; then, in
    the same transaction, ``append`` to the branch. The branch takes the
    source's owner, labels and state, changed by ``patch``."""

    name: ClassVar[str] = "fork_thread"
    thread_id: str
    branch_id: str
    at_seq: int | None = None
    at_message_id: str | None = None
    patch: ThreadPatch | None = None
    append: Append | None = None
    expected_revision: int | None = None
    """The source thread's."""
    supersede: bool = False
    """The fork is a write to the source too: its revision goes up in the same
    transaction, so a writer holding the source's old revision conflicts (how
    a caller moves a conversation's head onto the new branch)."""


@dataclass(frozen=True, slots=True)
class TreeThreads(Op[list[Thread]]):
    """Every thread of a branch tree: the root ``root_id`` (unless purged) and
    each thread whose ``root_thread_id`` is ``root_id``, deleted ones included."""

    name: ClassVar[str] = "tree_threads"
    root_id: str


@dataclass(frozen=True, slots=True)
class Branches(Op[list[Branch]]):
    """The threads of ``thread_id``'s branch tree, oldest first, with where each
    parts from it (see :func:`~convostore.store.rules.branches.branches_of`)."""

    name: ClassVar[str] = "branches"
    thread_id: str


@dataclass(frozen=True, slots=True)
class SetActiveBranch(Op[Thread]):
    """Record ``branch_id`` as the active branch of its tree, on the tree's root
    (``expected_revision`` is the root's); returns the root."""

    name: ClassVar[str] = "set_active_branch"
    branch_id: str
    expected_revision: int | None = None


@dataclass(frozen=True, slots=True)
class ThreadFilter:
    """Which threads a listing, count or summary covers."""

    user_id: str | None = None
    agent_name: str | None = None
    include_deleted: bool = False


@dataclass(frozen=True, slots=True)
class ListThreads(Op[Page[Thread]]):
    """Newest activity first; ``after`` is the (updated_at_us, id) of the last row seen."""

    name: ClassVar[str] = "list_threads"
    filter: ThreadFilter
    limit: int
    after: tuple[int, str] | None = None


@dataclass(frozen=True, slots=True)
class CountThreads(Op[int]):
    name: ClassVar[str] = "count_threads"
    filter: ThreadFilter


@dataclass(frozen=True, slots=True)
class Summaries(Op[list[ThreadSummary]]):
    name: ClassVar[str] = "summaries"
    filter: ThreadFilter
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class Append(Op[list[Message]]):
    name: ClassVar[str] = "append"
    thread_id: str
    messages: tuple[Message, ...]
    expected_revision: int | None = None
    counter: TokenCounter | None = None  # counts messages that carry no count
    importing: bool = False
    """Append to an import in progress (a thread hidden until it is finished)."""
    state: StateChange | None = None
    """State changes made in the append's transaction (see
    ``rules.state.apply_change``): only when the append stores a new message
    or carries none (``rules.state.change_applies``)."""


@dataclass(frozen=True, slots=True)
class GetState(Op[ScopedState]):
    """The user or app state; a scope never written is empty at revision 0."""

    name: ClassVar[str] = "get_state"
    scope: StateScope
    user_id: str | None = None


@dataclass(frozen=True, slots=True)
class UpdateState(Op[ScopedState]):
    """Apply ``update`` to the user or app state, read and written atomically."""

    name: ClassVar[str] = "update_state"
    scope: StateScope
    user_id: str | None
    update: StateUpdate


@dataclass(frozen=True, slots=True)
class GetMessage(Op[Message]):
    name: ClassVar[str] = "get_message"
    message_id: str


@dataclass(frozen=True, slots=True)
class UpdateMessage(Op[Message]):
    name: ClassVar[str] = "update_message"
    message_id: str
    patch: MessagePatch
    expected_revision: int | None = None
    counter: TokenCounter | None = None  # recounts an edited message


@dataclass(frozen=True, slots=True)
class DeleteMessage(Op[Message]):
    name: ClassVar[str] = "delete_message"
    message_id: str
    expected_revision: int | None = None
    importing: bool = False
    """The message belongs to an import in progress (see ``Append.importing``)."""


@dataclass(frozen=True, slots=True)
class RestoreMessage(Op[Message]):
    """Take a soft-deleted message's deletion mark away; a live one is left as is."""

    name: ClassVar[str] = "restore_message"
    message_id: str
    expected_revision: int | None = None


@dataclass(frozen=True, slots=True)
class Rewritten:
    """What a rewrite of a thread's messages (:class:`PurgeMessage`,
    :class:`PopMessage`, :class:`ClearMessages`, :class:`ReplaceMessages`)
    did, in one transaction."""

    thread: Thread
    """The thread as stored afterwards."""
    messages: list[Message]
    """The purged or popped message as it was stored, the stored
    replacements, or the messages a trim took as they were stored; none for a
    clear (which may take many)."""
    count: int = 0
    """How many messages the operation removed, or for a clear took out of
    the active history."""
    released: tuple[tuple[str, str], ...] = ()
    """(message id, attachment reference) pairs no stored message holds any
    more: what the face releases afterwards (see :class:`ReleaseAttachments`)."""


@dataclass(frozen=True, slots=True)
class PurgeMessage(Op[Rewritten]):
    """Remove one message for good; the thread's later messages move down one
    seq, so seq stays gap-free, and its counters lose what the message added."""

    name: ClassVar[str] = "purge_message"
    message_id: str
    expected_revision: int | None = None


@dataclass(frozen=True, slots=True)
class PopMessage(Op[Rewritten]):
    """Purge the thread's newest live (not soft-deleted) message and return it
    (``messages`` empty when there is none)."""

    name: ClassVar[str] = "pop_message"
    thread_id: str
    expected_revision: int | None = None


#: How :class:`ClearMessages` takes messages out of the active history.
CLEAR_MODES = ("archive", "delete", "purge")
#: Which active messages :class:`ClearMessages` leaves in place.
CLEAR_KEEPS = ("mandatory", "system", "none")


@dataclass(frozen=True, slots=True)
class ClearMessages(Op[Rewritten]):
    """Take the thread's active (live, unarchived) messages out of the active
    history at once: archive, soft-delete or purge them (``mode``), keeping
    the system and pinned messages (``keep="mandatory"``), the system
    messages only (``"system"``) or none (``"none"``).

    With ``limit``, only the oldest ``limit`` of the messages it would take
    (a trim), and :attr:`Rewritten.messages` holds them as they were stored."""

    name: ClassVar[str] = "clear_messages"
    thread_id: str
    mode: str = "archive"
    keep: str = "mandatory"
    expected_revision: int | None = None
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class ReplaceMessages(Op[Rewritten]):
    """Make ``messages`` the thread's whole history (seq 1..n): every stored
    message goes, soft-deleted and archived ones too, and the counters are
    those of the new messages. Their ids may be those of messages they replace."""

    name: ClassVar[str] = "replace_messages"
    thread_id: str
    messages: tuple[Message, ...]
    expected_revision: int | None = None
    counter: TokenCounter | None = None  # counts messages that carry no count


@dataclass(frozen=True, slots=True)
class ListMessages(Op[Page[Message]]):
    """Messages in seq order, ``limit`` of them after ``after_seq`` or before ``before_seq``.

    With ``before_seq`` set the page is the newest ``limit`` messages below it,
    still returned oldest first; ``before_seq`` larger than any seq pages from
    the end of the thread.
    """

    name: ClassVar[str] = "list_messages"
    thread_id: str
    limit: int
    after_seq: int = 0
    before_seq: int | None = None
    include_deleted: bool = False
    upto_seq: int | None = None
    """Read only this thread's own messages, up to this seq (a part of a
    branch's history, see :mod:`convostore.store.rules.branches`); ``None``:
    the thread's whole history, a branch's lineage included."""


@dataclass(frozen=True, slots=True)
class Recent(Op[list[Message]]):
    """The newest ``n`` messages (all with ``n=None``), oldest first; with
    ``since`` only those created at or after it (see :func:`recent_wanted`)."""

    name: ClassVar[str] = "recent"
    thread_id: str
    n: int | None
    include_deleted: bool = False
    upto_seq: int | None = None
    """Read only this thread's own messages, up to this seq (a part of a
    branch's history, see :mod:`convostore.store.rules.branches`); ``None``:
    the thread's whole history, a branch's lineage included."""
    since: dt.datetime | None = None


def recent_wanted(op: Recent, msg: Message) -> bool:
    """Whether :class:`Recent` returns ``msg`` (when it is among the newest).

    ``since`` is compared with ``created_at``, which need not follow seq (a
    caller may give any creation time), so a read with ``since`` scans back
    until it has ``n`` messages or reaches the thread's first one."""
    return (op.include_deleted or msg.deleted_at is None) and (
        op.since is None or msg.created_at >= op.since
    )


@dataclass(frozen=True, slots=True)
class ByExecution(Op[list[Message]]):
    name: ClassVar[str] = "messages_by_execution"
    execution_id: str
    thread_id: str | None = None
    limit: int | None = None
    """At most this many messages, the first in (thread, seq) order; all if ``None``."""
    upto_seq: int | None = None
    """Read only this thread's own messages, up to this seq (a part of a
    branch's history, see :mod:`convostore.store.rules.branches`); ``None``:
    the thread's whole history, a branch's lineage included."""


@dataclass(frozen=True, slots=True)
class ExportThread(Op[ConversationSnapshot]):
    name: ClassVar[str] = "export_thread"
    thread_id: str


@dataclass(frozen=True, slots=True)
class ImportThread(Op[Thread]):
    name: ClassVar[str] = "import_thread"
    snapshot: ConversationSnapshot
    thread_id: str | None = None


@dataclass(frozen=True, slots=True)
class Attach(Op[list[AttachmentInfo]]):
    """Store attachments and the references of a write, in one transaction,
    before the write itself: ``blobs`` are stored unless the tenant holds
    them; every reference of ``refs`` must then name stored bytes
    (``AttachmentNotFoundError`` otherwise, and nothing is written). Returns
    the stored info of each blob, in order."""

    name: ClassVar[str] = "attach"
    thread_id: str | None
    """The thread the referencing messages are in; ``None`` for an upload."""
    blobs: tuple[Attachment, ...] = ()
    refs: tuple[tuple[str, str], ...] = ()
    """(message id, reference) pairs."""


@dataclass(frozen=True, slots=True)
class GetAttachment(Op[Attachment | AttachmentInfo]):
    """An attachment of the tenant, with its bytes unless ``with_data`` is
    false. Raises AttachmentNotFoundError."""

    name: ClassVar[str] = "get_attachment"
    ref: str
    with_data: bool = True


@dataclass(frozen=True, slots=True)
class ReleaseAttachments(Op[int]):
    """After a thread (or, with ``refs``, messages of it) is purged: drop the
    references its messages held and remove the attachments nothing else
    references. Returns how many were removed."""

    name: ClassVar[str] = "release_attachments"
    thread_id: str
    refs: tuple[tuple[str, str], ...] | None = None
    """Only these (message id, reference) pairs of the thread, after messages
    of it were purged; ``None``: every reference of the thread."""


@dataclass(frozen=True, slots=True)
class PurgeAttachments(Op[int]):
    """Remove the tenant's attachments that no stored message references and
    that were stored before ``before`` (references of writes that never
    happened included). Returns how many were removed."""

    name: ClassVar[str] = "purge_attachments"
    before: Any  # datetime.datetime


@dataclass(frozen=True, slots=True)
class HealthCheck(Op[HealthReport]):
    """Check that the store can serve reads and writes now; with ``full``, that
    all the stored data is sound too (which reads all of it)."""

    name: ClassVar[str] = "health_check"
    extra: dict[str, Any] = field(default_factory=dict)
    full: bool = False


@dataclass(frozen=True, slots=True)
class Mandatory(Op[list[Message]]):
    """The thread's live (not deleted, not archived) system and pinned messages, in order."""

    name: ClassVar[str] = "mandatory"
    thread_id: str
    upto_seq: int | None = None
    """Read only this thread's own messages, up to this seq (a part of a
    branch's history, see :mod:`convostore.store.rules.branches`); ``None``:
    the thread's whole history, a branch's lineage included."""


@dataclass(frozen=True, slots=True)
class LineagePage(Op["ContextRows"]):
    """A :class:`ContextPage` of a branch's history: up to ``limit`` live,
    unarchived messages, newest first, where ``segments`` are ``(thread id,
    bound)`` newest first, each thread's own messages below its bound; and,
    with ``mandatory`` (as :class:`LineageMandatory` takes them), the
    mandatory messages of the history, from the same read where the engine
    can."""

    name: ClassVar[str] = "lineage_page"
    segments: tuple[tuple[str, int], ...]
    limit: int
    mandatory: tuple[tuple[str, int], ...] | None = None


@dataclass(frozen=True, slots=True)
class LineageMandatory(Op[list[Message]]):
    """The mandatory messages of a branch's history in one read: for each
    ``(thread id, last seq)`` of ``segments``, that thread's own mandatory
    messages up to the seq, in seq order across them (the segments are in
    seq order and do not overlap)."""

    name: ClassVar[str] = "lineage_mandatory"
    segments: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class ContextRows:
    """What :class:`ContextPage` reads: optionally the mandatory messages, and a
    page of live, unarchived messages newest first as ``(seq, message)`` pairs
    where the message may still be its stored JSON text, decoded only if it is
    used."""

    mandatory: list[Message] | None
    rows: list[tuple[int, Message | str]]

    @classmethod
    def from_first_read(cls, found: Iterable[Sequence[Any]]) -> ContextRows:
        """From a first read's ``(tag, seq, body)`` rows in any order (the order
        of a UNION's rows is not promised): tag 0 for a mandatory message, 1
        for one of the newest page."""
        mandatory: list[tuple[int, str]] = []
        page: list[tuple[int, Message | str]] = []
        for tag, seq, body in found:
            (page if tag else mandatory).append((seq, body))
        mandatory.sort(key=_SEQ)
        page.sort(key=_SEQ, reverse=True)
        return cls([Message.model_validate_json(b) for _, b in mandatory], page)


@dataclass(frozen=True, slots=True)
class ContextPage(Op[ContextRows]):
    """Up to ``limit`` live, unarchived messages below ``before_seq``, newest
    first, for a context window; with ``with_mandatory`` the thread's mandatory
    messages (as :class:`Mandatory` returns them) come from the same read.

    A backend reads exactly these rows through an index that holds only them,
    never stepping over archived or deleted ones: a window then costs the same
    whatever share of a long history is archived or deleted."""

    name: ClassVar[str] = "context_page"
    thread_id: str
    limit: int
    before_seq: int
    with_mandatory: bool = False
    upto_seq: int | None = None
    """Read only this thread's own messages, up to this seq (a part of a
    branch's history, see :mod:`convostore.store.rules.branches`); ``None``:
    the thread's whole history, a branch's lineage included."""


@dataclass(frozen=True, slots=True)
class LoadMessages(Op[list[Any]]):
    """Every message of a thread in seq order, typed or in their stored JSON form."""

    name: ClassVar[str] = "load_messages"
    thread_id: str
    include_deleted: bool = False
    as_dicts: bool = False
    upto_seq: int | None = None
    """Read only this thread's own messages, up to this seq (a part of a
    branch's history, see :mod:`convostore.store.rules.branches`); ``None``:
    the thread's whole history, a branch's lineage included."""
    active_only: bool = False
    """Only the active messages (live and not archived); never with
    ``include_deleted``."""


def loaded(op: LoadMessages, msg: Message) -> bool:
    """Whether :class:`LoadMessages` returns ``msg`` of the messages it reads."""
    if op.active_only:
        return msg.deleted_at is None and msg.archived_at is None
    return op.include_deleted or msg.deleted_at is None


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """Which messages a search covers (``None``: any). ``since`` is inclusive
    and ``until`` exclusive, on the message's ``created_at``."""

    user_id: str | None = None
    thread_id: str | None = None
    agent_name: str | None = None
    role: str | None = None
    model: str | None = None
    tool_name: str | None = None
    """Messages with a tool-call or tool-result part of this tool, or a tool
    message of that ``name``."""
    execution_id: str | None = None
    since: Any = None  # datetime.datetime | None
    until: Any = None  # datetime.datetime | None
    include_deleted: bool = False
    """Deleted messages and the messages of deleted threads too."""


@dataclass(frozen=True, slots=True)
class Search(Op[Page[SearchHit]]):
    """The tenant's messages matching every one of ``terms`` and ``filter``,
    best first: score descending, then message id descending; ``after`` is
    the (score, id) of the last hit seen. ``key`` is the search's fingerprint,
    kept in its cursors."""

    name: ClassVar[str] = "search"
    terms: tuple[Term, ...]
    filter: SearchFilter
    limit: int
    after: tuple[float, str] | None = None
    key: str = ""
