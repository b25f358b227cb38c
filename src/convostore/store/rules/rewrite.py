"""Rewrites of a thread's messages: purge one, pop the newest, clear, replace.

Each plan takes the thread and the messages it needs, read under the thread's
write lock, and returns a :class:`Rewrite`: the new thread row, the messages
rewritten in place, and the tail of the thread (every row from ``from_seq``
on) to store instead of the one read. A backend applies it in the
transaction it read in: it rewrites ``changed``, deletes its rows at
``from_seq`` and above and inserts ``tail`` (delete, then insert: no unique
``(thread, seq)`` key ever sees two rows at one seq, whatever the engine
checks row by row), then writes the thread.

Removing messages keeps seq gap-free: the later messages move down, each by
the number of removed messages before it, and their turn numbers by the
number of removed messages that opened a turn. The thread's counters lose
exactly what the removed messages added (``message_count`` stays the last
seq); integer counters are exact, the cost totals are float sums, and a
thread left with no message has every counter at zero.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from convostore.errors import DuplicateMessageError, MessageNotFoundError
from convostore.model import _NO_COST, _NO_USAGE, Message, Role, Thread, no_branch_fields
from convostore.store import ops
from convostore.store.rules.append import add_cost, apply_append, batch_delta, plan_append
from convostore.store.rules.attachments import refs_of
from convostore.store.rules.branches import check_own_history
from convostore.store.rules.patches import touch

if TYPE_CHECKING:
    from convostore.tokens import TokenCounter

__all__ = [
    "Rewrite",
    "cleared",
    "kept_by",
    "popped",
    "purged",
    "released",
    "replaced",
    "without",
]


@dataclass(frozen=True, slots=True)
class Rewrite:
    """What a backend stores for a rewrite, and the operation's answer."""

    thread: Thread
    """The thread row to write (the one read, unchanged, when nothing changes)."""
    result: ops.Rewritten
    changed: tuple[Message, ...] = ()
    """Messages rewritten in place, at their seq."""
    from_seq: int | None = None
    """Rows at this seq and above are replaced by ``tail``; ``None``: none are."""
    tail: tuple[Message, ...] = ()
    """The rows from ``from_seq`` on, renumbered from it."""
    fresh: bool = False
    """``tail`` holds new messages (a replace), to be checked against the
    limits; otherwise ``changed`` and ``tail`` are stored messages with only
    seq, turn, flags or times moved, which cannot break a limit."""


def _nothing(thread: Thread) -> Rewrite:
    """No change: the thread as read, which the backend then leaves alone."""
    return Rewrite(thread, ops.Rewritten(thread, []))


def without(thread: Thread, gone: Sequence[Message], now: dt.datetime) -> Thread:
    """``thread`` with its counters less what ``gone`` (stored messages of it)
    added, its revision up and ``updated_at`` bumped."""
    d = batch_delta(list(gone))
    count = max(0, thread.message_count - d.count)
    if count == 0:
        usage, cost = _NO_USAGE, _NO_COST
    else:
        usage = thread.usage - d.usage
        cost = add_cost(thread.cost, d.cost, -1)
    return touch(
        thread,
        now,
        message_count=count,
        live_message_count=max(
            0, thread.live_message_count - sum(1 for m in gone if m.deleted_at is None)
        ),
        turn_count=max(0, thread.turn_count - d.turns),
        tool_call_count=max(0, thread.tool_call_count - d.tool_calls),
        token_count=max(0, thread.token_count - d.tokens),
        usage=usage,
        cost=cost,
    )


def _compact(rows: Sequence[Message], gone: set[str]) -> tuple[list[Message], list[Message]]:
    """``rows`` (a thread's tail, in seq order) without the messages ``gone``
    names, the others renumbered from the first row's seq and their turns
    moved down past the removed turn openers; and the removed messages."""
    if not rows:
        return [], []
    seq = (rows[0].seq or 1) - 1
    turns_gone = 0
    kept: list[Message] = []
    removed: list[Message] = []
    for m in rows:
        if m.id in gone:
            removed.append(m)
            turns_gone += m.opens_turn
            continue
        seq += 1
        update: dict[str, object] = {}
        if m.seq != seq:
            update["seq"] = seq
        if turns_gone and m.turn is not None:
            update["turn"] = max(0, m.turn - turns_gone)
        kept.append(m.model_copy(update=update) if update else m)
    return kept, removed


def released(
    removed: Iterable[Message], stored: Iterable[Message] = ()
) -> tuple[tuple[str, str], ...]:
    """The (message id, reference) pairs of ``removed`` that no message of
    ``stored`` (a replacement reusing an id) holds."""
    held = {(m.id, ref) for m in stored for ref in refs_of(m)}
    out = [(m.id, ref) for m in removed for ref in refs_of(m)]
    return tuple(pair for pair in dict.fromkeys(out) if pair not in held)


def _removing(thread: Thread, tail: Sequence[Message], gone: set[str], now: dt.datetime) -> Rewrite:
    kept, removed = _compact(tail, gone)
    new = without(thread, removed, now)
    return Rewrite(
        new,
        ops.Rewritten(new, removed, count=len(removed), released=released(removed)),
        from_seq=tail[0].seq,
        tail=tuple(kept),
    )


def purged(thread: Thread, tail: Sequence[Message], message_id: str, now: dt.datetime) -> Rewrite:
    """Purge ``message_id``, the first message of ``tail`` (the thread's
    messages from it to the end, in seq order).

    Raises:
        MessageNotFoundError: ``tail`` does not start with it (purged meanwhile).
    """
    if not tail or tail[0].id != message_id:
        raise MessageNotFoundError(message_id)
    return _removing(thread, tail, {message_id}, now)


def popped(thread: Thread, tail: Sequence[Message], now: dt.datetime) -> Rewrite:
    """Purge the newest live message, the first of ``tail`` (it and the
    soft-deleted messages after it, in seq order); nothing for an empty
    ``tail``. The soft-deleted messages after it stay, one seq down."""
    if not tail:
        check_own_history(thread, "a pop")  # the newest live message is shared
        return _nothing(thread)
    return _removing(thread, tail, {tail[0].id}, now)


def kept_by(keep: str) -> Callable[[Message], bool]:
    """Which active messages a clear with ``keep`` leaves in place."""
    if keep == "mandatory":
        return lambda m: m.pinned or m.role is Role.SYSTEM
    if keep == "system":
        return lambda m: m.role is Role.SYSTEM
    return lambda m: False


def cleared(
    thread: Thread,
    messages: Sequence[Message],
    mode: str,
    keep: str,
    now: dt.datetime,
    limit: int | None = None,
) -> Rewrite:
    """Clear the thread's active messages, or with ``limit`` only the oldest
    ``limit`` of them that ``keep`` does not hold (a trim, whose result lists
    the messages it took as they were stored).

    ``messages``: for ``archive`` and ``delete``, the active (live,
    unarchived) messages; for ``purge``, every message of the thread, in seq
    order. Archived messages are unpinned (an archived message cannot stay
    pinned); nothing changes, and the thread keeps its revision, when no
    message is cleared.
    """
    check_own_history(thread, "a clear")
    stays = kept_by(keep)
    targets = [
        m for m in messages if m.deleted_at is None and m.archived_at is None and not stays(m)
    ]
    if limit is not None:
        targets = targets[:limit]
    if not targets:
        return _nothing(thread)
    taken = targets if limit is not None else []
    if mode == "purge":
        first = targets[0].seq or 1
        tail = [m for m in messages if (m.seq or 0) >= first]
        rw = _removing(thread, tail, {m.id for m in targets}, now)
        return dataclasses.replace(rw, result=dataclasses.replace(rw.result, messages=taken))
    if mode == "archive":
        changed = [
            m.model_copy(update={"archived_at": now, "updated_at": now, "pinned": False})
            for m in targets
        ]
        new = touch(thread, now)
    else:
        changed = [m.model_copy(update={"deleted_at": now, "updated_at": now}) for m in targets]
        new = touch(
            thread, now, live_message_count=max(0, thread.live_message_count - len(targets))
        )
    return Rewrite(new, ops.Rewritten(new, taken, count=len(targets)), changed=tuple(changed))


def replaced(
    thread: Thread,
    old: Sequence[Message],
    batch: Sequence[Message],
    now: dt.datetime,
    counter: TokenCounter | None = None,
) -> Rewrite:
    """``batch`` as the thread's whole history in place of ``old`` (every
    stored message of it), counted as if appended to an empty thread.

    Raises:
        DuplicateMessageError: an id is repeated within ``batch``.
        ValidationError: a message names another thread.
    """
    new, _ = plan_append(thread.id, batch, {})
    if len(new) != len(batch):
        seen: set[str] = set()
        for m in batch:
            if m.id in seen:
                raise DuplicateMessageError(m.id, "earlier in the same batch")
            seen.add(m.id)
    if not batch and not old:
        return _nothing(thread)
    empty = thread.model_copy(
        update={
            **no_branch_fields(),  # a branch given a new history shares none
            "message_count": 0,
            "live_message_count": 0,
            "turn_count": 0,
            "tool_call_count": 0,
            "token_count": 0,
            "usage": _NO_USAGE,
            "cost": _NO_COST,
        }
    )
    updated, stored = apply_append(empty, new, now, counter=counter)
    return Rewrite(
        updated,
        ops.Rewritten(updated, stored, count=len(old), released=released(old, stored)),
        from_seq=1,
        tail=tuple(stored),
        fresh=True,
    )
