"""The three ways an append reaches a SQL engine, written once.

An engine runs the quick path that suits it and falls back to :func:`append`,
the locked path that decides everything on the row as it is:

* :func:`append_advance` (SQLite, where a statement costs no round trip):
  advance the counters with one relative ``UPDATE ... RETURNING`` and insert
  the rows, in one transaction; anything unusual raises
  :class:`~convostore.store.sql.steps.Fallback`.
* :func:`append_known` (PostgreSQL, where round trips dominate): one
  statement computed on the thread row this process last saw, which writes
  only if the row is still exactly that.
* :func:`append`: lock the thread and look up the batch's ids, plan, write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from convostore.errors import ConvostoreError, ThreadNotFoundError
from convostore.model import Message, ScopedState, StateScope, Thread
from convostore.store import ops
from convostore.store.rules.append import (
    apply_append,
    assign,
    batch_delta,
    fill_slots,
    plan_checked,
    token_counts,
)
from convostore.store.rules.codec import encode_message
from convostore.store.rules.state import AppendPlan, applied_append, plan_append_change, targets
from convostore.store.settings import StoreSettings
from convostore.store.sql import rows as r
from convostore.store.sql.statements import Fetch, MessageRow, Query, Statements
from convostore.store.sql.steps import (
    MESSAGE_LIST,
    Fallback,
    Steps,
    locked_state,
    require_thread,
    state_write,
    thread_write,
)

__all__ = ["Appended", "Known", "append", "append_advance", "append_known"]


@dataclass(frozen=True, slots=True)
class Known:
    """A thread row as this process last created, read or wrote it: the model,
    the exact ``body`` text stored and the counter columns in parameter form,
    which :func:`append_known` checks the row still holds."""

    thread: Thread
    body: str
    counters: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Appended:
    """What an append returns, and the thread row it left behind."""

    messages: list[Message]
    known: Known


@dataclass(frozen=True, slots=True)
class _Write:
    rows: list[MessageRow]
    counters: dict[str, Any]
    plan: AppendPlan


def _plan_write(
    sq: Statements,
    op: ops.Append,
    thread: Thread,
    existing: dict[str, Message],
    settings: StoreSettings,
    states: dict[tuple[StateScope, str | None], ScopedState] | None = None,
) -> _Write | list[Message]:
    """The rows and counters an append writes on top of ``thread``, or, when
    every message is already stored (and no state change applies), the stored
    messages. A state change is applied on ``states``, read and locked already."""
    new, slots, change = plan_append_change(thread, op, existing)
    if not new and change is None:
        return [s for s in slots if s is not None]
    limits = settings.limits
    plan = applied_append(thread, op, new, slots, change, states or {}, settings.now(), limits)
    rows = [r.message_row(m, encode_message(m, limits)) for m in plan.stored]
    return _Write(rows, r.counter_values(plan.thread, sq.time), plan)


def append(sq: Statements, settings: StoreSettings, op: ops.Append) -> Steps[Appended]:
    """The locked path: lock the thread and look up the batch's ids in one
    query, plan with the rules, write.

    The lookup reads the statement's snapshot, so on PostgreSQL a concurrent
    re-send committed while this waited for the lock makes the insert hit the
    unique key; the driver then retries and the lookup finds it.
    """
    ids = list(dict.fromkeys(m.id for m in op.messages))
    row = yield Query(
        sq.thread_lock_lookup,
        (op.tenant, sq.id_list(ids), op.tenant, op.thread_id),
        Fetch.ONE,
    )
    if row is None:
        raise ThreadNotFoundError(op.thread_id)
    head = row[1:]
    thread = r.decode_thread(head)
    body = head[r.BODY]
    existing = {m.id: m for m in MESSAGE_LIST.validate_json(row[0])}
    states: dict[tuple[StateScope, str | None], ScopedState] = {}
    # Decided on the plan first, so that a retry locks (and claims) no state row.
    _, _, change = plan_append_change(thread, op, existing)
    if change is not None:
        now = settings.now()
        for scope, user_id in targets(thread, change):
            states[(scope, user_id)] = yield from locked_state(sq, op.tenant, scope, user_id, now)
    write = _plan_write(sq, op, thread, existing, settings, states)
    if isinstance(write, list):
        return Appended(write, Known(thread, body, r.counter_values(thread, sq.time)))
    plan = write.plan
    if write.rows:
        # Statements only: what the runner sends back for them is not needed,
        # and a plain iterator could not take it (so not ``yield from``).
        for query in sq.append_write(op.tenant, op.thread_id, write.counters, write.rows):  # noqa: UP028
            yield query
    if plan.state_changed or not write.rows:  # the body changed, or no counter was written
        values = thread_write(sq, plan.thread, settings)
        yield Query(sq.thread_update, values, Fetch.NONE)
        body = values["body"]
    for state, text in plan.states:
        yield state_write(sq, op.tenant, state, text)
    return Appended(plan.result, Known(plan.thread, body, write.counters))


def append_known(
    sq: Statements, settings: StoreSettings, op: ops.Append, known: Known
) -> Steps[Appended | None]:
    """An append in one statement (run in autocommit), computed on ``known``.

    It writes only if the thread row still holds ``known`` exactly (its body
    and every counter column) and no id of the batch is stored: then the
    locked path would have read that very row, found no stored ids, and
    written the same. Otherwise it writes nothing and returns None, and so
    does a batch ``known`` would refuse (a revision or state check): the
    locked path then decides, on the row as it is now.
    """
    if op.state is not None:
        return None
    # _plan_write without a state change, each message encoded once (applied_append
    # encodes to check, then the rows encode again): 10 µs a message.
    thread = known.thread
    try:
        new, slots = plan_checked(
            thread, op.messages, {}, op.expected_revision, importing=op.importing
        )
        if not new:
            return None
        updated, stored = apply_append(thread, new, settings.now(), counter=op.counter)
        limits = settings.limits
        rows = [r.message_row(m, encode_message(m, limits)) for m in stored]
    except ConvostoreError:
        return None
    counters = r.counter_values(updated, sq.time)
    query = sq.append_if_unchanged(
        op.tenant, op.thread_id, counters, known.counters, known.body, rows
    )
    inserted = yield query
    if not inserted:
        return None
    return Appended(fill_slots(slots, op.messages, stored), Known(updated, known.body, counters))


def append_advance(sq: Statements, settings: StoreSettings, op: ops.Append) -> Steps[list[Message]]:
    """An append that never reads the thread (run in a write transaction).

    One relative ``thread_advance`` moves the counters of a live thread at the
    expected revision and returns the new counts, from which the seqs and
    turns follow; then the rows are inserted, skipping any whose id is taken.
    No row matched, a skipped row, a message naming another thread or an id
    twice in the batch: :class:`Fallback`, and the driver rolls back.
    """
    if op.importing or op.state is not None:
        raise Fallback
    new = list(op.messages)
    if not new:
        yield from require_thread(sq, op.tenant, op.thread_id)
        return []
    ids = set()
    for m in new:
        if m.thread_id is not None and m.thread_id != op.thread_id:
            raise Fallback
        ids.add(m.id)
    if len(ids) != len(new):
        raise Fallback
    counts = token_counts(new, op.counter)
    d = batch_delta(new, counts)
    cost, u = d.cost, d.usage
    now = sq.time(settings.now())
    if cost is None and not (u.prompt_tokens or u.completion_tokens or u.total_tokens):
        query = Query(
            sq.thread_advance_counts,
            (d.count, d.turns, d.tool_calls, d.tokens, now, op.tenant, op.thread_id,
             op.expected_revision, False),
            Fetch.ONE,
        )  # fmt: skip
    else:
        query = Query(
            sq.thread_advance,
            {
                "n": d.count,
                "turns": d.turns,
                "tools": d.tool_calls,
                "tokens": d.tokens,
                "prompt": u.prompt_tokens,
                "completion": u.completion_tokens,
                "total": u.total_tokens,
                "currency": cost.currency if cost else None,
                "input_cost": cost.input_cost if cost else 0.0,
                "output_cost": cost.output_cost if cost else 0.0,
                "total_cost": cost.total_cost if cost else 0.0,
                "now": now,
                "tenant": op.tenant,
                "id": op.thread_id,
                "rev": op.expected_revision,
                "importing": False,
            },
            Fetch.ONE,
        )
    row = yield query
    if row is None:
        raise Fallback
    stored = assign(new, op.thread_id, row[0] - d.count, row[1] - d.turns, counts)
    limits = settings.limits
    rows = [r.message_row(m, encode_message(m, limits)) for m in stored]
    inserted = yield sq.insert_messages(op.tenant, op.thread_id, rows, skip_taken=True)
    if inserted != len(rows):
        raise Fallback
    return stored
