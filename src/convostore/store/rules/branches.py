"""Branches: threads that share a prefix of another thread's history.

A branch stores only its own messages (seq ``fork_seq + 1`` on); the rest of
its history is read from the threads of its :attr:`~convostore.Thread.lineage`,
each up to the seq recorded there. The lineage is kept normalised: forking at
a seq that the source thread itself reads from an ancestor forks from that
ancestor, so each thread of a lineage holds exactly the seqs between the
previous fork point and its own, and a read of a branch is one bounded read
per thread of its lineage (:func:`segments`), whatever the depth of the tree.

Messages a branch reads from another thread are *frozen* in that thread while
the branch exists (:func:`check_unshared`): they cannot be edited, deleted or
removed, only archived or pinned, so a branch's counters, computed once when
it is made (:func:`prefix_counters`), stay exact. To change a shared message,
edit it as a new branch.

The reads of a branch are written once, as generators of sub-operations on
the threads of its lineage (:func:`branch_read`); each backend runs them with
its own reads of one thread's own messages (an operation with ``upto_seq``
set), so a backend adds branches by honouring ``upto_seq``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from convostore.errors import ConflictError, MessageNotFoundError, ValidationError
from convostore.model import (
    Branch,
    ConversationSnapshot,
    ForkPoint,
    Message,
    Thread,
    ThreadPatch,
    no_branch_fields,
)
from convostore.store import ops
from convostore.store.rules.append import add_cost, contribution
from convostore.store.rules.codec import as_stored_dicts
from convostore.store.rules.paging import message_page
from convostore.store.rules.patches import apply_thread_patch
from convostore.store.rules.snapshots import snapshot_of
from convostore.store.rules.validation import check_revision, check_writable

__all__ = [
    "END",
    "READS",
    "Segment",
    "branch_read",
    "branches_of",
    "check_own_history",
    "check_purgeable",
    "check_rewrite",
    "check_unshared",
    "dependents",
    "fork_lineage",
    "new_branch",
    "owner_of",
    "plan_fork",
    "prefix_counters",
    "segments",
    "shared_prefix",
    "tree_key",
]

#: Past any seq.
END = 2**63 - 1
_PAGE = 1000

#: The operations that read a thread's history, and so read a branch's
#: lineage too (``ByExecution`` only with a thread).
READS = frozenset(
    {
        "list_messages",
        "recent",
        "context_page",
        "mandatory",
        "load_messages",
        "messages_by_execution",
        "export_thread",
    }
)

#: Message fields a change to a shared message may touch: the flags that
#: move it in or out of context windows, which no counter depends on.
_FLAG_FIELDS = frozenset({"archived_at", "pinned", "updated_at"})


@dataclass(frozen=True, slots=True)
class History:
    """What a read of a branch's history needs of the branch: its id and lineage."""

    id: str
    lineage: list[ForkPoint]


#: A lineage as stored (the ``lineage`` of a thread's JSON).
LINEAGE = TypeAdapter(list[ForkPoint])


@dataclass(frozen=True, slots=True)
class Segment:
    """The seqs ``first..last`` of a branch's history, held by ``thread_id``."""

    thread_id: str
    first: int
    last: int


def segments(thread: Thread | History) -> list[Segment]:
    """Where each part of ``thread``'s history is stored, oldest first; the
    last segment is the thread's own messages (``last`` is :data:`END`)."""
    out: list[Segment] = []
    first = 1
    for point in thread.lineage:
        out.append(Segment(point.thread_id, first, point.seq))
        first = point.seq + 1
    out.append(Segment(thread.id, first, END))
    return out


def owner_of(thread: Thread, seq: int) -> str:
    """The id of the thread that stores seq ``seq`` of ``thread``'s history."""
    for point in thread.lineage:
        if point.seq >= seq:
            return point.thread_id
    return thread.id


def fork_lineage(source: Thread, at_seq: int) -> list[ForkPoint]:
    """The lineage of a branch of ``source`` that shares its first ``at_seq``
    messages (normalised: the last point names the thread that stores seq
    ``at_seq``).

    Raises:
        ValidationError: ``at_seq`` is not within ``0..source.message_count``.
    """
    if not 0 <= at_seq <= source.message_count:
        raise ValidationError(
            f"must be between 0 and the thread's last seq ({source.message_count})",
            field="at_seq",
        )
    kept = [p for p in source.lineage if p.seq < at_seq]
    return [*kept, ForkPoint(thread_id=owner_of(source, at_seq), seq=at_seq)]


def plan_fork(
    source: Thread, op: ops.ForkThread, at_message: Message | None
) -> tuple[int, list[ForkPoint]]:
    """Check a fork of ``source`` (read in the fork's transaction) and return
    its fork seq and lineage; ``at_message`` is the stored message named by
    ``op.at_message_id``, if any.

    Raises:
        RevisionConflictError, ThreadDeletedError: as for any write.
        MessageNotFoundError: ``at_message`` is not in ``source``'s history.
        ValidationError: ``op.at_seq`` is out of range.
    """
    check_revision(source, op.expected_revision)
    check_writable(source)
    if at_message is not None:
        at = at_message.seq or 0
        if at > source.message_count or owner_of(source, at) != at_message.thread_id:
            raise MessageNotFoundError(at_message.id)
    else:
        at = source.message_count if op.at_seq is None else op.at_seq
    return at, fork_lineage(source, at)


def prefix_counters(owner: Thread, tail: Iterable[Message], at_seq: int) -> dict[str, Any]:
    """The counters of ``owner``'s history up to ``at_seq``, from its counters
    and ``tail``: every message ``owner`` stores after ``at_seq``, deleted ones
    included. The cost is that of the tail, not of the shared history."""
    live = owner.live_message_count
    turns = owner.turn_count
    tools = owner.tool_call_count
    tokens = owner.token_count
    usage = owner.usage
    cost = owner.cost
    for m in tail:
        if (m.seq or 0) <= at_seq:
            continue
        c = contribution(m)
        live -= m.deleted_at is None
        turns -= m.opens_turn
        tools -= c.tool_calls
        tokens -= c.tokens
        usage = usage - c.usage
        cost = add_cost(cost, c.cost, -1)
    return {
        "message_count": at_seq,
        "live_message_count": max(0, live),
        "turn_count": max(0, turns),
        "tool_call_count": max(0, tools),
        "token_count": max(0, tokens),
        "usage": usage,
        "cost": cost,
    }


def new_branch(
    source: Thread,
    lineage: list[ForkPoint],
    counters: dict[str, Any],
    *,
    branch_id: str,
    patch: ThreadPatch | None,
    now: dt.datetime,
) -> Thread:
    """The branch thread: ``source``'s owner, labels and state with ``patch``
    applied, the given lineage and counters, revision 0, made ``now``."""
    root = lineage[0].thread_id
    branch = source.model_copy(
        update={
            **counters,
            "id": branch_id,
            "lineage": lineage,
            "parent_thread_id": lineage[-1].thread_id,
            "fork_seq": lineage[-1].seq,
            "root_thread_id": source.root_thread_id or root,
            "active_branch_id": None,
            "created_at": now,
            "updated_at": now,
            "ended_at": None,
            "deleted_at": None,
            "revision": 0,
        }
    )
    if patch is not None:
        branch = apply_thread_patch(branch, patch, now).model_copy(update={"revision": 0})
    return branch


def tree_key(thread: Thread) -> str:
    """The id every thread of ``thread``'s branch tree records as its root
    (threads with no branches are trees of one)."""
    return thread.root_thread_id or thread.id


def dependents(thread: Thread, tree: Iterable[Thread]) -> list[Thread]:
    """The threads of ``tree`` that read messages ``thread`` stores."""
    return [
        t
        for t in tree
        if t.id != thread.id and any(p.thread_id == thread.id and p.seq > 0 for p in t.lineage)
    ]


def check_unshared(thread: Thread, old: Message, new: Message, tree: Iterable[Thread]) -> None:
    """Refuse a change of ``old`` (stored by ``thread``) into ``new`` when a
    branch reads ``old`` and the change is more than an archive or pin flag.

    Raises:
        ConflictError: naming a branch that shares the message.
    """
    changed = {k for k in Message.model_fields if getattr(old, k) != getattr(new, k)}
    if changed <= _FLAG_FIELDS:
        return
    check_removable(thread, old.seq or 0, tree, what="changed")


def check_removable(thread: Thread, seq: int, tree: Iterable[Thread], *, what: str) -> None:
    """Refuse to change or remove ``thread``'s message at ``seq`` (or, ``seq``
    0, the thread itself) when a branch reads it.

    Raises:
        ConflictError: naming a branch that shares it.
    """
    for t in dependents(thread, tree):
        for p in t.lineage:
            if p.thread_id == thread.id and p.seq >= max(seq, 1):
                target = f"message {seq} of thread {thread.id!r}" if seq else f"{thread.id!r}"
                hint = (
                    "edit it in a new branch instead"
                    if what == "changed"
                    else "purge the branches that share it first"
                )
                raise ConflictError(
                    f"{target} is shared by branch {t.id!r} and cannot be {what}; {hint}"
                )


def check_rewrite(thread: Thread, rw: Any, tree: Iterable[Thread]) -> None:
    """Refuse a rewrite of ``thread``'s messages (a
    :class:`~convostore.store.rules.rewrite.Rewrite`) that deletes, removes or
    renumbers messages a branch reads; archiving and unpinning them is allowed.

    Raises:
        ConflictError: naming a branch that shares them.
    """
    members = list(tree)
    for m in rw.changed:
        if m.deleted_at is not None:
            check_removable(thread, m.seq or 0, members, what="deleted")
    if rw.from_seq is not None:
        check_removable(thread, rw.from_seq, members, what="removed")


def check_own_history(thread: Thread, what: str) -> None:
    """Refuse ``what`` (a pop that would reach past the branch's own messages,
    or a clear) on a branch whose history it would have to change in the
    thread that stores it: a branch's shared history is frozen.

    Raises:
        ConflictError: ``thread`` is a branch that shares messages.
    """
    if thread.is_branch and (thread.fork_seq or 0) > 0:
        owner = thread.lineage[-1].thread_id
        raise ConflictError(
            f"{what} would change the history branch {thread.id!r} shares with "
            f"{owner!r}, which is frozen; edit it in a new branch instead"
        )


def check_purgeable(thread: Thread, tree: Iterable[Thread]) -> None:
    """Refuse to purge a thread whose messages a branch reads."""
    check_removable(thread, 0, tree, what="purged")


def shared_prefix(a: Thread, b: Thread) -> int:
    """The last seq at which ``a`` and ``b`` read the same stored message."""
    ends_a = [(p.thread_id, p.seq) for p in a.lineage] + [(a.id, a.message_count)]
    ends_b = [(p.thread_id, p.seq) for p in b.lineage] + [(b.id, b.message_count)]
    seq = 0
    for (ta, la), (tb, lb) in zip(ends_a, ends_b, strict=False):
        if ta != tb:
            return seq
        if la != lb:
            return min(la, lb)
        seq = la
    return seq


def branches_of(thread: Thread, tree: Iterable[Thread]) -> list[Branch]:
    """Every thread of ``thread``'s tree (``tree``: its members, the root
    included), oldest first, with where each parts from ``thread``."""
    members = {t.id: t for t in tree}
    members.setdefault(thread.id, thread)
    root = members.get(tree_key(thread))
    active = (root.active_branch_id if root is not None else None) or tree_key(thread)
    if active not in members or members[active].deleted_at is not None:
        active = tree_key(thread)
    ordered = sorted(members.values(), key=lambda t: (t.created_at, t.id))
    return [
        Branch(thread=t, shared_seq=shared_prefix(thread, t), is_active=t.id == active)
        for t in ordered
    ]


# --- reads ----------------------------------------------------------------------

Read = Generator[ops.Op[Any], Any, Any]
"""A branch read: yields operations on single threads (``upto_seq`` set), is
sent their results, returns the answer."""


def _newest_first(thread: Thread | History, before: int) -> list[tuple[Segment, int]]:
    """The segments to read newest first below ``before``, with each one's bound."""
    out = []
    for seg in reversed(segments(thread)):
        bound = min(before, seg.last + 1 if seg.last < END else END)
        if bound > seg.first:
            out.append((seg, bound))
    return out


def _list(thread: Thread | History, op: ops.ListMessages) -> Read:
    want = op.limit + 1
    rows: list[Message] = []
    if op.before_seq is not None:
        for seg, bound in _newest_first(thread, op.before_seq):
            page = yield ops.ListMessages(
                op.tenant,
                seg.thread_id,
                want - len(rows),
                before_seq=bound,
                include_deleted=op.include_deleted,
                upto_seq=seg.last,
            )
            rows.extend(reversed(page.items))
            if len(rows) >= want:
                break
    else:
        for seg in segments(thread):
            if seg.last <= op.after_seq:
                continue
            page = yield ops.ListMessages(
                op.tenant,
                seg.thread_id,
                want - len(rows),
                after_seq=max(op.after_seq, seg.first - 1),
                include_deleted=op.include_deleted,
                upto_seq=seg.last,
            )
            rows.extend(page.items)
            if len(rows) >= want:
                break
    return message_page(rows[:want], op)


def _recent(thread: Thread | History, op: ops.Recent) -> Read:
    out: list[Message] = []
    for seg in reversed(segments(thread)):
        left = None if op.n is None else op.n - len(out)
        if left == 0:
            break
        if seg.last >= seg.first:
            got = yield ops.Recent(
                op.tenant, seg.thread_id, left, op.include_deleted, seg.last, op.since
            )
            out[:0] = got
    if op.n is None:
        return out
    return out[-op.n :] if op.n else []


def _mandatory(thread: Thread | History, tenant: str) -> Read:
    found: list[Message] = yield ops.LineageMandatory(tenant, _mandatory_segments(thread))
    return found


def _mandatory_segments(thread: Thread | History) -> tuple[tuple[str, int], ...]:
    return tuple((s.thread_id, s.last) for s in segments(thread) if s.last >= s.first)


def _context(thread: Thread | History, op: ops.ContextPage) -> Read:
    wanted = tuple((seg.thread_id, bound) for seg, bound in _newest_first(thread, op.before_seq))
    mandatory = _mandatory_segments(thread) if op.with_mandatory else None
    got: ops.ContextRows = yield ops.LineagePage(op.tenant, wanted, op.limit, mandatory)
    return got


def _all(thread: Thread | History, tenant: str, include_deleted: bool) -> Read:
    out: list[Message] = []
    for seg in segments(thread):
        after = seg.first - 1
        while after < seg.last:
            page = yield ops.ListMessages(
                tenant,
                seg.thread_id,
                _PAGE,
                after_seq=after,
                include_deleted=True,
                upto_seq=seg.last,
            )
            if not page.items:
                break
            out.extend(m for m in page.items if include_deleted or m.deleted_at is None)
            after = page.items[-1].seq or 0
            if page.next_cursor is None:
                break
    return out


def _by_execution(thread: Thread | History, op: ops.ByExecution) -> Read:
    out: list[Message] = []
    for seg in segments(thread):
        left = None if op.limit is None else op.limit - len(out)
        if left == 0:
            break
        out.extend(
            (yield dataclasses.replace(op, thread_id=seg.thread_id, limit=left, upto_seq=seg.last))
        )
    return out


def branch_read(thread: Thread | History, op: ops.Op[Any], now: Callable[[], dt.datetime]) -> Read:
    """The read ``op`` (one of :data:`READS`) of the branch ``thread`` (the
    whole thread for an export, which carries it)."""
    if isinstance(op, ops.ListMessages):
        return (yield from _list(thread, op))
    if isinstance(op, ops.Recent):
        return (yield from _recent(thread, op))
    if isinstance(op, ops.ContextPage):
        return (yield from _context(thread, op))
    if isinstance(op, ops.Mandatory):
        return (yield from _mandatory(thread, op.tenant))
    if isinstance(op, ops.ByExecution):
        return (yield from _by_execution(thread, op))
    if isinstance(op, ops.LoadMessages):
        msgs = yield from _all(thread, op.tenant, op.include_deleted)
        return as_stored_dicts(msgs) if op.as_dicts else msgs
    if isinstance(op, ops.ExportThread):
        assert isinstance(thread, Thread), "an export reads the whole thread"
        msgs = yield from _all(thread, op.tenant, True)
        return _snapshot(thread, msgs, now())
    raise TypeError(f"{op.name} is not a read of a thread's history")


def _snapshot(thread: Thread, msgs: list[Message], at: dt.datetime) -> ConversationSnapshot:
    """A branch's snapshot: its whole history, as a thread that is not a branch."""
    plain = thread.model_copy(update=no_branch_fields())
    return snapshot_of(plain, [m for m in msgs if (m.seq or 0) <= thread.message_count], at)


def needs_lineage(op: ops.Op[Any]) -> bool:
    """Whether ``op`` reads a thread's whole history (so a branch's lineage too)."""
    if op.name not in READS:
        return False
    if isinstance(op, ops.ByExecution) and op.thread_id is None:
        return False
    return getattr(op, "upto_seq", None) is None
