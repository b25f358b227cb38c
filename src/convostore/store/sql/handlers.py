"""Every operation of the SQL engines, written once.

Each handler is a generator: it yields :class:`~.statements.Query` records
naming statements of the engine's :class:`~.statements.Statements`, receives
what the driver fetched for each, and returns the operation's result. It does
no I/O, so SQLite's driver and PostgreSQL's sync and async drivers run the
very same handlers, and a retry is simply a fresh generator. The rules (seq,
counters, re-sends, revisions) come from :mod:`convostore.store.rules`,
exactly as the memory backend applies them.

Ordering within a thread comes from the thread row: every write to a thread or
its messages first locks that row (``thread_lock``, or the guarded write of
one of the append paths below), so appends to one thread are serialised, seq
is assigned from the locked counter without gaps, and commits happen in seq
order, which is why any snapshot sees a prefix.

Appends have three paths, in :mod:`convostore.store.sql.appends`; the
building blocks of a handler (:data:`Steps`, :class:`Mode`, :class:`Handler`)
are in :mod:`convostore.store.sql.steps`. Both are re-exported here, so an
engine's driver needs this module alone.

Whole-thread reads (:data:`HANDLERS` entries with a ``post`` step) return
their rows undecoded; the driver runs ``post`` on them, inside the read's
snapshot when it streams the rows from its cursor, after releasing what it
holds when it fetched them all (so other callers need not wait for the
decoding).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from convostore.errors import (
    AttachmentNotFoundError,
    DuplicateMessageError,
    MessageNotFoundError,
    ThreadExistsError,
    ThreadNotFoundError,
)
from convostore.model import (
    Attachment,
    AttachmentInfo,
    Branch,
    ConversationSnapshot,
    Message,
    Page,
    ScopedState,
    SearchHit,
    Thread,
    ThreadSummary,
)
from convostore.store import ops
from convostore.store.rules.branches import (
    LINEAGE,
    History,
    branch_read,
    branches_of,
    check_purgeable,
    check_rewrite,
    check_unshared,
    needs_lineage,
    new_branch,
    plan_fork,
    prefix_counters,
    tree_key,
)
from convostore.store.rules.codec import (
    as_stored_dicts,
    bodies_as_dicts,
    collector_paused,
    encode_message,
    from_us,
)
from convostore.store.rules.paging import message_page, thread_page
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
from convostore.store.rules.search import search_page
from convostore.store.rules.snapshots import normalize_import, snapshot_of
from convostore.store.rules.state import updated_state
from convostore.store.rules.validation import check_revision, check_writable
from convostore.store.settings import StoreSettings
from convostore.store.sql import rows as r
from convostore.store.sql.appends import Appended, Known, append, append_advance, append_known
from convostore.store.sql.statements import Fetch, Query, Statements
from convostore.store.sql.steps import (
    END,
    Fallback,
    Handler,
    Mode,
    Steps,
    decode,
    lock_thread,
    locked_state,
    read_state,
    require_thread,
    state_write,
    thread_write,
)

__all__ = [
    "END",
    "HANDLERS",
    "Appended",
    "Fallback",
    "Handler",
    "Known",
    "Mode",
    "Steps",
    "append",
    "append_advance",
    "append_known",
]

# --- threads --------------------------------------------------------------------


def create_thread(sq: Statements, settings: StoreSettings, op: ops.CreateThread) -> Steps[Thread]:
    thread = op.thread
    row = yield Query(sq.thread_insert, thread_write(sq, thread, settings), Fetch.ONE)
    if row is None:
        raise ThreadExistsError(thread.id)
    if op.append is not None:
        appended = yield from append(sq, settings, op.append)
        return appended.known.thread
    return thread


def get_thread(sq: Statements, settings: StoreSettings, op: ops.GetThread) -> Steps[Thread]:
    row = yield Query(sq.thread_get, (op.tenant, op.thread_id), Fetch.ONE)
    if row is None:
        raise ThreadNotFoundError(op.thread_id)
    return r.decode_thread(row)


def _modify(
    sq: Statements,
    settings: StoreSettings,
    tenant: str,
    thread_id: str,
    expected: int | None,
    change: Callable[[Thread], Thread],
    *,
    writable: bool = True,
) -> Steps[Thread]:
    thread = yield from lock_thread(sq, tenant, thread_id)
    check_revision(thread, expected)
    if writable:
        check_writable(thread)
    new = change(thread)
    if new is not thread:
        yield Query(sq.thread_update, thread_write(sq, new, settings), Fetch.NONE)
    return new


def update_thread(sq: Statements, settings: StoreSettings, op: ops.UpdateThread) -> Steps[Thread]:
    return (
        yield from _modify(
            sq,
            settings,
            op.tenant,
            op.thread_id,
            op.expected_revision,
            lambda t: apply_thread_patch(t, op.patch, settings.now()),
        )
    )


def delete_thread(sq: Statements, settings: StoreSettings, op: ops.DeleteThread) -> Steps[Thread]:
    def change(t: Thread) -> Thread:
        return soft_deleted(t, settings.now())

    return (
        yield from _modify(
            sq, settings, op.tenant, op.thread_id, op.expected_revision, change, writable=False
        )
    )


def restore_thread(sq: Statements, settings: StoreSettings, op: ops.RestoreThread) -> Steps[Thread]:
    def change(t: Thread) -> Thread:
        return restored(
            t, settings.now(), finish_import=op.finish_import, expected_count=op.expected_count
        )

    return (
        yield from _modify(
            sq, settings, op.tenant, op.thread_id, op.expected_revision, change, writable=False
        )
    )


def purge_thread(sq: Statements, settings: StoreSettings, op: ops.PurgeThread) -> Steps[None]:
    thread = yield from lock_thread(sq, op.tenant, op.thread_id)
    check_revision(thread, op.expected_revision)
    check_purgeable(thread, (yield from _tree(sq, op.tenant, tree_key(thread))))
    yield Query(sq.messages_delete, (op.tenant, op.thread_id), Fetch.NONE)
    yield Query(sq.thread_delete, (op.tenant, op.thread_id), Fetch.NONE)


def _listing(
    sq: Statements,
    what: str,
    op: ops.ListThreads | ops.CountThreads | ops.Summaries,
    limit: int | None,
) -> Query:
    flt = op.filter
    after = op.after if isinstance(op, ops.ListThreads) else None
    params: dict[str, Any] = {
        "tenant": op.tenant,
        "limit": sq.no_limit if limit is None else limit,
    }
    if flt.user_id is not None:
        params["user_id"] = flt.user_id
    if flt.agent_name is not None:
        params["agent_name"] = flt.agent_name
    if after is not None:
        params["after_at"], params["after_id"] = sq.time(from_us(after[0])), after[1]
    text = sq.thread_listing(
        what=what,
        user=flt.user_id is not None,
        agent=flt.agent_name is not None,
        include_deleted=flt.include_deleted,
        after=after is not None,
    )
    return Query(text, params, Fetch.ONE if what == "count" else Fetch.ALL)


def list_threads(
    sq: Statements, settings: StoreSettings, op: ops.ListThreads
) -> Steps[Page[Thread]]:
    rows = yield _listing(sq, "rows", op, op.limit + 1)
    return thread_page(r.decode_threads(rows), op.limit)


def count_threads(sq: Statements, settings: StoreSettings, op: ops.CountThreads) -> Steps[int]:
    row = yield _listing(sq, "count", op, None)
    return int(row[0])


def summaries(
    sq: Statements, settings: StoreSettings, op: ops.Summaries
) -> Steps[list[ThreadSummary]]:
    rows = yield _listing(sq, "rows", op, op.limit)
    return [ThreadSummary.of(t) for t in r.decode_threads(rows)]


# --- messages -------------------------------------------------------------------


def get_message(sq: Statements, settings: StoreSettings, op: ops.GetMessage) -> Steps[Message]:
    row = yield Query(sq.message_get, (op.tenant, op.message_id), Fetch.ONE)
    if row is None:
        raise MessageNotFoundError(op.message_id)
    return r.decode_message(row[0])


def _replace_message(
    sq: Statements,
    settings: StoreSettings,
    tenant: str,
    message_id: str,
    expected: int | None,
    change: Callable[[Thread, Message], tuple[Thread, Message]],
    *,
    importing: bool = False,
) -> Steps[Message]:
    row = yield Query(sq.message_thread, (tenant, message_id), Fetch.ONE)
    if row is None:
        raise MessageNotFoundError(message_id)
    thread_id: str = row[0]
    locked = yield Query(sq.thread_lock, (tenant, thread_id), Fetch.ONE)
    row = yield Query(sq.message_in_thread, (tenant, thread_id, message_id), Fetch.ONE)
    if locked is None or row is None:  # purged meanwhile
        raise MessageNotFoundError(message_id)
    thread, old = r.decode_thread(locked), r.decode_message(row[0])
    check_revision(thread, expected)
    check_writable(thread, importing=importing)
    new_thread, new = change(thread, old)
    if new is old:
        return old
    check_unshared(thread, old, new, (yield from _tree(sq, tenant, tree_key(thread))))
    body = encode_message(new, settings.limits)
    yield Query(
        sq.message_update,
        (
            new.pinned,
            new.deleted_at is not None,
            new.archived_at is not None,
            body,
            tenant,
            thread_id,
            new.seq,
        ),
        Fetch.NONE,
    )
    if new_thread is not thread:
        yield Query(sq.thread_update, thread_write(sq, new_thread, settings), Fetch.NONE)
    return new


def update_message(
    sq: Statements, settings: StoreSettings, op: ops.UpdateMessage
) -> Steps[Message]:
    return (
        yield from _replace_message(
            sq,
            settings,
            op.tenant,
            op.message_id,
            op.expected_revision,
            lambda t, m: apply_message_patch(t, m, op.patch, settings.now(), op.counter),
        )
    )


def delete_message(
    sq: Statements, settings: StoreSettings, op: ops.DeleteMessage
) -> Steps[Message]:
    return (
        yield from _replace_message(
            sq,
            settings,
            op.tenant,
            op.message_id,
            op.expected_revision,
            lambda t, m: message_deleted(t, m, settings.now()),
            importing=op.importing,
        )
    )


def restore_message(
    sq: Statements, settings: StoreSettings, op: ops.RestoreMessage
) -> Steps[Message]:
    return (
        yield from _replace_message(
            sq,
            settings,
            op.tenant,
            op.message_id,
            op.expected_revision,
            lambda t, m: message_restored(t, m, settings.now()),
        )
    )


def _below(last_seq: int | None, before: int = END) -> int:
    """The exclusive upper seq bound of a read up to ``last_seq`` below ``before``."""
    return before if last_seq is None else min(before, last_seq + 1)


def _through(msgs: list[Message], last_seq: int | None) -> list[Message]:
    """``msgs`` (in seq order) without those past ``last_seq``."""
    if last_seq is None:
        return msgs
    return [m for m in msgs if (m.seq or 0) <= last_seq]


def _history(fn: Callable[..., Steps[Any]]) -> Callable[..., Steps[Any]]:
    """A read of a thread's history that reads a branch's lineage too: a
    thread that is not a branch costs one primary-key lookup more, a branch
    one bounded read per thread of its lineage (``rules.branches``)."""

    def handler(sq: Statements, settings: StoreSettings, op: Any) -> Steps[Any]:
        if needs_lineage(op):
            row = yield Query(sq.thread_lineage, (op.tenant, op.thread_id), Fetch.ONE)
            if row is None:
                raise ThreadNotFoundError(op.thread_id)
            if row[0] is not None:
                history = History(op.thread_id, LINEAGE.validate_json(row[0]))
                done = yield from _run_read(sq, settings, history, op)
                # a handler with a post step hands it the answer to pass on
                return Composed(done) if isinstance(op, ops.LoadMessages) else done
        return (yield from fn(sq, settings, op))

    handler.__name__ = fn.__name__
    handler.__doc__ = fn.__doc__
    return handler


class Composed:
    """The answer of a branch read, returned by a handler whose ``post`` step
    would otherwise decode rows."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _run_read(
    sq: Statements, settings: StoreSettings, thread: Thread | History, op: Any
) -> Steps[Any]:
    read = branch_read(thread, op, settings.now)
    try:
        sub = next(read)
        while True:
            result = yield from HANDLERS[sub.name].fn(sq, settings, sub)
            sub = read.send(result.value if isinstance(result, Composed) else result)
    except StopIteration as done:
        return done.value


# --- rewrites: purge one, pop, clear, replace (see rules.rewrite) ----------------


def _store_rewrite(
    sq: Statements,
    settings: StoreSettings,
    tenant: str,
    read: Thread,
    rw: Rewrite,
) -> Steps[ops.Rewritten]:
    """Write a rewrite planned on the locked thread ``read``: the changed rows
    in place, the tail deleted and inserted anew (never two rows at one seq),
    the thread; nothing when the plan left the thread as it was."""
    if rw.thread is read:
        return rw.result
    check_rewrite(read, rw, (yield from _tree(sq, tenant, tree_key(read))))
    thread_id = read.id
    limits = settings.limits
    changed = [(m, encode_message(m, limits)) for m in rw.changed]
    rows = [r.message_row(m, encode_message(m, limits)) for m in rw.tail]
    values = thread_write(sq, rw.thread, settings)
    for m, body in changed:
        flags = (m.pinned, m.deleted_at is not None, m.archived_at is not None, body)
        yield Query(sq.message_update, (*flags, tenant, thread_id, m.seq), Fetch.NONE)
    if rw.from_seq is not None:
        yield Query(sq.messages_delete_from, (tenant, thread_id, rw.from_seq), Fetch.NONE)
        if rows:
            yield sq.insert_messages(tenant, thread_id, rows)
    yield Query(sq.thread_update, values, Fetch.NONE)
    return rw.result


def _locked(sq: Statements, tenant: str, thread_id: str, expected: int | None) -> Steps[Thread]:
    thread = yield from lock_thread(sq, tenant, thread_id)
    check_revision(thread, expected)
    check_writable(thread)
    return thread


def _tail(sq: Statements, tenant: str, thread_id: str, seq: int) -> Steps[list[Message]]:
    """The thread's messages from ``seq`` on, soft-deleted ones included."""
    sql = sq.messages_page(backward=False, include_deleted=True)
    return decode((yield Query(sql, (tenant, thread_id, seq - 1, sq.no_limit))))


def purge_message(
    sq: Statements, settings: StoreSettings, op: ops.PurgeMessage
) -> Steps[ops.Rewritten]:
    row = yield Query(sq.message_thread, (op.tenant, op.message_id), Fetch.ONE)
    if row is None:
        raise MessageNotFoundError(op.message_id)
    thread_id: str = row[0]
    thread = yield from _locked(sq, op.tenant, thread_id, op.expected_revision)
    row = yield Query(sq.message_in_thread, (op.tenant, thread_id, op.message_id), Fetch.ONE)
    if row is None:  # purged meanwhile
        raise MessageNotFoundError(op.message_id)
    seq = r.decode_message(row[0]).seq or 0
    tail = yield from _tail(sq, op.tenant, thread_id, seq)
    rw = purged(thread, tail, op.message_id, settings.now())
    return (yield from _store_rewrite(sq, settings, op.tenant, thread, rw))


def pop_message(
    sq: Statements, settings: StoreSettings, op: ops.PopMessage
) -> Steps[ops.Rewritten]:
    thread = yield from _locked(sq, op.tenant, op.thread_id, op.expected_revision)
    newest = yield Query(
        sq.messages_page(backward=True, include_deleted=False), (op.tenant, op.thread_id, END, 1)
    )
    tail: list[Message] = []
    if newest:
        seq = r.decode_message(newest[0][0]).seq or 0
        tail = yield from _tail(sq, op.tenant, op.thread_id, seq)
    rw = popped(thread, tail, settings.now())
    return (yield from _store_rewrite(sq, settings, op.tenant, thread, rw))


def clear_messages(
    sq: Statements, settings: StoreSettings, op: ops.ClearMessages
) -> Steps[ops.Rewritten]:
    thread = yield from _locked(sq, op.tenant, op.thread_id, op.expected_revision)
    msgs: list[Message]
    if op.mode == "purge":
        msgs = decode((yield Query(sq.messages_all, (op.tenant, op.thread_id))))
    else:  # the active messages only, through the index that holds exactly them
        params = {"tenant": op.tenant, "thread": op.thread_id, "before": END}
        rows = yield Query(sq.context_page, {**params, "limit": sq.no_limit})
        msgs = [r.decode_message(body) for _, body in reversed(rows)]
    rw = cleared(thread, msgs, op.mode, op.keep, settings.now(), op.limit)
    return (yield from _store_rewrite(sq, settings, op.tenant, thread, rw))


def replace_messages(
    sq: Statements, settings: StoreSettings, op: ops.ReplaceMessages
) -> Steps[ops.Rewritten]:
    thread = yield from _locked(sq, op.tenant, op.thread_id, op.expected_revision)
    old = decode((yield Query(sq.messages_all, (op.tenant, op.thread_id))))
    rw = replaced(thread, old, op.messages, settings.now(), op.counter)
    if op.messages:
        ids = [m.id for m in op.messages]
        found = yield Query(sq.message_ids_taken, (op.tenant, sq.id_list(ids)))
        ours = {m.id for m in old}
        for (mid,) in found:
            if mid not in ours:
                raise DuplicateMessageError(mid, "in another thread")
    return (yield from _store_rewrite(sq, settings, op.tenant, thread, rw))


@_history
def list_messages(
    sq: Statements, settings: StoreSettings, op: ops.ListMessages
) -> Steps[Page[Message]]:
    backward = op.before_seq is not None
    bound = _below(op.upto_seq, op.before_seq) if op.before_seq is not None else op.after_seq
    sql = sq.messages_page(backward=backward, include_deleted=op.include_deleted)
    rows = yield Query(sql, (op.tenant, op.thread_id, bound, op.limit + 1))
    if not rows:  # a message row proves the thread exists; no row proves nothing
        yield from require_thread(sq, op.tenant, op.thread_id)
    msgs = decode(rows)
    return message_page(msgs if backward else _through(msgs, op.upto_seq), op)


@_history
def recent(sq: Statements, settings: StoreSettings, op: ops.Recent) -> Steps[list[Message]]:
    sql = sq.messages_page(backward=True, include_deleted=op.include_deleted)
    if op.since is None and op.n is not None:
        rows = yield Query(sql, (op.tenant, op.thread_id, _below(op.upto_seq), op.n))
        if not rows:
            yield from require_thread(sq, op.tenant, op.thread_id)
        out = decode(rows)
        out.reverse()
        return out
    # All of them, or those since a time: pages read back from the end in the
    # read's one transaction, until there are n or the first message is read.
    size = _RECENT_PAGE if op.n is None else max(op.n, _RECENT_PAGE)
    found: list[Message] = []
    before = _below(op.upto_seq)
    while op.n is None or len(found) < op.n:
        rows = yield Query(sql, (op.tenant, op.thread_id, before, size))
        if not rows and before == _below(op.upto_seq):
            yield from require_thread(sq, op.tenant, op.thread_id)
        page = decode(rows)
        found += [m for m in page if ops.recent_wanted(op, m)][
            : None if op.n is None else op.n - len(found)
        ]
        if len(rows) < size:
            break
        before = page[-1].seq or 0
    found.reverse()
    return found


#: Messages per read of a :class:`~convostore.store.ops.Recent` that scans back.
_RECENT_PAGE = 500


@_history
def load_messages(sq: Statements, settings: StoreSettings, op: ops.LoadMessages) -> Steps[Any]:
    """The rows of a whole thread; :func:`decode_loaded` makes the result."""
    yield from require_thread(sq, op.tenant, op.thread_id)
    if op.active_only:
        query = sq.messages_all_active
    else:
        query = sq.messages_all if op.include_deleted else sq.messages_all_live
    return (yield Query(query, (op.tenant, op.thread_id), Fetch.STREAM))


def decode_loaded(settings: StoreSettings, op: ops.LoadMessages, rows: Any) -> list[Any]:
    if isinstance(rows, Composed):
        return rows.value  # type: ignore[no-any-return]
    with collector_paused(settings.pause_gc_on_load):
        if op.upto_seq is not None:
            msgs = _through(decode(rows), op.upto_seq)
            return as_stored_dicts(msgs) if op.as_dicts else msgs
        if op.as_dicts:
            return bodies_as_dicts(row[0] for row in rows)
        return decode(rows)  # each body as its row arrives: no joined copy of every body


@_history
def context_page(
    sq: Statements, settings: StoreSettings, op: ops.ContextPage
) -> Steps[ops.ContextRows]:
    params = {
        "tenant": op.tenant,
        "thread": op.thread_id,
        "before": _below(op.upto_seq, op.before_seq),
        "limit": op.limit,
    }
    if op.with_mandatory:
        read = ops.ContextRows.from_first_read((yield Query(sq.context_start, params)))
        if op.upto_seq is not None and read.mandatory:
            read = ops.ContextRows(_through(read.mandatory, op.upto_seq), read.rows)
    else:
        read = ops.ContextRows(None, (yield Query(sq.context_page, params)))
    if not read.rows and not read.mandatory:  # no row proves nothing about the thread
        yield from require_thread(sq, op.tenant, op.thread_id)
    return read


@_history
def mandatory(sq: Statements, settings: StoreSettings, op: ops.Mandatory) -> Steps[list[Message]]:
    rows = yield Query(sq.messages_mandatory, (op.tenant, op.thread_id))
    if not rows:
        yield from require_thread(sq, op.tenant, op.thread_id)
    return _through(decode(rows), op.upto_seq)


def lineage_page(
    sq: Statements, settings: StoreSettings, op: ops.LineagePage
) -> Steps[ops.ContextRows]:
    sql = sq.lineage_page(len(op.segments), op.mandatory is not None)
    if sql is None:  # one read per thread, until the page is full
        rows: list[tuple[int, Message | str]] = []
        for thread_id, bound in op.segments:
            page = ops.ContextPage(op.tenant, thread_id, op.limit - len(rows), bound, upto_seq=END)
            rows.extend((yield from context_page(sq, settings, page)).rows)
            if len(rows) >= op.limit:
                break
        mandatory = None
        if op.mandatory is not None:
            lineage = ops.LineageMandatory(op.tenant, op.mandatory)
            mandatory = yield from lineage_mandatory(sq, settings, lineage)
        return ops.ContextRows(mandatory, rows)
    params: dict[str, Any] = {"tenant": op.tenant, "limit": op.limit}
    for i, (thread_id, bound) in enumerate(op.segments):
        params[f"thread{i}"], params[f"before{i}"] = thread_id, bound
    last = dict(op.mandatory or ())
    if op.mandatory is not None:
        params["threads"] = list(last)
    rows_out: list[tuple[int, Message | str]] = []
    kept: list[tuple[int, str]] = []
    for tag, thread_id, seq, body in (yield Query(sql, params)):
        if tag:
            rows_out.append((seq, body))
        elif seq <= last[thread_id]:
            kept.append((seq, body))
    rows_out.sort(key=lambda row: row[0], reverse=True)
    kept.sort(key=lambda row: row[0])
    mandatory = None if op.mandatory is None else [r.decode_message(b) for _, b in kept]
    return ops.ContextRows(mandatory, rows_out)


def lineage_mandatory(
    sq: Statements, settings: StoreSettings, op: ops.LineageMandatory
) -> Steps[list[Message]]:
    last = dict(op.segments)
    rows = yield Query(sq.messages_mandatory_in, (op.tenant, sq.id_list(list(last))))
    kept = sorted((seq, body) for tid, seq, body in rows if seq <= last[tid])
    return [r.decode_message(body) for _, body in kept]


@_history
def messages_by_execution(
    sq: Statements, settings: StoreSettings, op: ops.ByExecution
) -> Steps[list[Message]]:
    limit = sq.no_limit if op.limit is None else op.limit
    if op.thread_id is None:
        query = Query(sq.messages_by_execution, (op.tenant, op.execution_id, limit))
    else:
        query = Query(
            sq.messages_by_execution_in_thread, (op.tenant, op.execution_id, op.thread_id, limit)
        )
    return _through(decode((yield query)), op.upto_seq)


# --- search -----------------------------------------------------------------------

_SEARCH_FILTERS = (
    "user_id",
    "thread_id",
    "agent_name",
    "role",
    "model",
    "tool_name",
    "execution_id",
    "since",
    "until",
)


def search(sq: Statements, settings: StoreSettings, op: ops.Search) -> Steps[Page[SearchHit]]:
    flt = op.filter
    params: dict[str, Any] = {
        "tenant": op.tenant,
        "query": sq.search_query(op.terms),
        "limit": op.limit + 1,
    }
    for name in _SEARCH_FILTERS:
        value = getattr(flt, name)
        if value is not None:
            params[name] = sq.search_time(value) if name in ("since", "until") else value
    shape = set(params) - {"tenant", "query", "limit"}
    if flt.include_deleted:
        shape.add("deleted")
    if op.after is not None:
        params["after_score"], params["after_id"] = op.after
    rows = yield Query(sq.search(filters=frozenset(shape), after=op.after is not None), params)
    return search_page([(float(score), r.decode_message(body)) for score, body in rows], op)


# --- snapshots --------------------------------------------------------------------


def export_thread(sq: Statements, settings: StoreSettings, op: ops.ExportThread) -> Steps[Any]:
    """The thread and the rows of its messages; :func:`decode_export` makes the snapshot."""
    row = yield Query(sq.thread_get, (op.tenant, op.thread_id), Fetch.ONE)
    if row is None:
        raise ThreadNotFoundError(op.thread_id)
    thread = r.decode_thread(row)
    if thread.is_branch:
        return Composed((yield from _run_read(sq, settings, thread, op)))
    rows = yield Query(sq.messages_all, (op.tenant, op.thread_id), Fetch.STREAM)
    return thread, rows


def decode_export(settings: StoreSettings, op: ops.ExportThread, read: Any) -> ConversationSnapshot:
    if isinstance(read, Composed):
        return read.value  # type: ignore[no-any-return]
    thread, rows = read
    with collector_paused(settings.pause_gc_on_load):
        msgs = decode(rows)
    return snapshot_of(thread, msgs, settings.now())


def import_thread(sq: Statements, settings: StoreSettings, op: ops.ImportThread) -> Steps[Thread]:
    thread, msgs = normalize_import(op.tenant, op.snapshot, op.thread_id, settings.now())
    values = thread_write(sq, thread, settings)
    limits = settings.limits
    rows = [r.message_row(m, encode_message(m, limits)) for m in msgs]
    exists = yield Query(sq.thread_exists, (op.tenant, thread.id), Fetch.ONE)
    if exists is not None:
        raise ThreadExistsError(thread.id)
    if msgs:
        found = yield Query(sq.message_ids_taken, (op.tenant, sq.id_list([m.id for m in msgs])))
        taken = {row[0] for row in found}
        for m in msgs:
            if m.id in taken:
                raise DuplicateMessageError(m.id, "in another thread")
    inserted = yield Query(sq.thread_insert, values, Fetch.ONE)
    if inserted is None:
        raise ThreadExistsError(thread.id)
    if msgs:
        yield sq.insert_messages(op.tenant, thread.id, rows)
    return thread


# --- branches ---------------------------------------------------------------------


def _tree(sq: Statements, tenant: str, root: str) -> Steps[list[Thread]]:
    rows = yield Query(sq.thread_tree, (tenant, root, tenant, root), Fetch.ALL)
    return r.decode_threads(rows)


def tree_threads(sq: Statements, settings: StoreSettings, op: ops.TreeThreads) -> Steps[Any]:
    return (yield from _tree(sq, op.tenant, op.root_id))


def fork_thread(sq: Statements, settings: StoreSettings, op: ops.ForkThread) -> Steps[Thread]:
    source = yield from lock_thread(sq, op.tenant, op.thread_id)
    at_message = None
    if op.at_message_id is not None:
        row = yield Query(sq.message_get, (op.tenant, op.at_message_id), Fetch.ONE)
        if row is None:
            raise MessageNotFoundError(op.at_message_id)
        at_message = r.decode_message(row[0])
    at, lineage = plan_fork(source, op, at_message)
    if op.supersede:
        bumped = touch(source, settings.now())
        yield Query(sq.thread_update, thread_write(sq, bumped, settings), Fetch.NONE)
    owner_id = lineage[-1].thread_id
    owner = source if owner_id == source.id else (yield from lock_thread(sq, op.tenant, owner_id))
    tail = yield Query(
        sq.messages_page(backward=False, include_deleted=True),
        (op.tenant, owner_id, at, sq.no_limit),
    )
    counters = prefix_counters(owner, decode(tail), at)
    branch = new_branch(
        source, lineage, counters, branch_id=op.branch_id, patch=op.patch, now=settings.now()
    )
    inserted = yield Query(sq.thread_insert, thread_write(sq, branch, settings), Fetch.ONE)
    if inserted is None:
        raise ThreadExistsError(op.branch_id)
    if op.append is not None:
        appended = yield from append(sq, settings, op.append)
        return appended.known.thread
    return branch


def branches(sq: Statements, settings: StoreSettings, op: ops.Branches) -> Steps[list[Branch]]:
    thread = yield from get_thread(sq, settings, ops.GetThread(op.tenant, op.thread_id))
    return branches_of(thread, (yield from _tree(sq, op.tenant, tree_key(thread))))


def set_active_branch(
    sq: Statements, settings: StoreSettings, op: ops.SetActiveBranch
) -> Steps[Thread]:
    branch = yield from get_thread(sq, settings, ops.GetThread(op.tenant, op.branch_id))
    check_writable(branch)
    root_id = tree_key(branch)
    active = None if op.branch_id == root_id else op.branch_id

    def change(root: Thread) -> Thread:
        if root.active_branch_id == active:
            return root
        return touch(root, settings.now(), active_branch_id=active)

    return (yield from _modify(sq, settings, op.tenant, root_id, op.expected_revision, change))


# --- user and app state ------------------------------------------------------------


def get_state(sq: Statements, settings: StoreSettings, op: ops.GetState) -> Steps[ScopedState]:
    return (yield from read_state(sq, op.tenant, op.scope, op.user_id))


def update_state(
    sq: Statements, settings: StoreSettings, op: ops.UpdateState
) -> Steps[ScopedState]:
    now = settings.now()
    current = yield from locked_state(sq, op.tenant, op.scope, op.user_id, now)
    new, body = updated_state(current, op.update, now, settings.limits)
    yield state_write(sq, op.tenant, new, body)
    return new


# --- attachments ------------------------------------------------------------------


def _when(value: Any) -> dt.datetime:
    """A stored time as an aware datetime (SQLite keeps microseconds)."""
    return value if isinstance(value, dt.datetime) else from_us(int(value))


def attach(sq: Statements, settings: StoreSettings, op: ops.Attach) -> Steps[list[AttachmentInfo]]:
    now = sq.time(settings.now())
    wanted = list(dict.fromkeys([b.sha256 for b in op.blobs] + [ref[7:] for _, ref in op.refs]))
    missing, found = list(op.blobs), {}
    # Twice at most: a purge may remove stored bytes between the insert that
    # found them and the read that locks them; they are then stored again.
    for _ in range(2):
        for b in missing:
            yield Query(
                sq.attachment_insert,
                (op.tenant, b.sha256, b.media_type, b.size_bytes, now, bytes(b.data)),
                Fetch.NONE,
            )
        rows = yield Query(sq.attachment_infos, (op.tenant, sq.id_list(wanted)), Fetch.ALL)
        found = {row[0]: row for row in rows}
        missing = [b for b in op.blobs if b.sha256 not in found]
        if not missing:
            break
    for ref in [b.ref for b in missing] + [ref for _, ref in op.refs]:
        if ref[7:] not in found:
            raise AttachmentNotFoundError(ref)
    if op.thread_id is not None:
        # One statement per reference (a batch holds few; PostgreSQL pipelines them).
        for mid, ref in op.refs:
            yield Query(
                sq.attachment_ref_insert, (op.tenant, ref[7:], op.thread_id, mid, now), Fetch.NONE
            )
    return [_info(found[b.sha256]) for b in op.blobs]


def _info(row: Any) -> AttachmentInfo:
    sha, media_type, size, created = row[:4]
    return AttachmentInfo(
        ref="sha256:" + sha, media_type=media_type, size_bytes=size, created_at=_when(created)
    )


def get_attachment(
    sq: Statements, settings: StoreSettings, op: ops.GetAttachment
) -> Steps[Attachment | AttachmentInfo]:
    row = yield Query(sq.attachment_get, (op.tenant, op.ref[7:]), Fetch.ONE)
    if row is None:
        raise AttachmentNotFoundError(op.ref)
    info = _info((op.ref[7:], *row))
    if not op.with_data:
        return info
    return Attachment(**info.model_dump(), data=bytes(row[3]))


def release_attachments(
    sq: Statements, settings: StoreSettings, op: ops.ReleaseAttachments
) -> Steps[int]:
    if op.refs is None:
        rows = yield Query(sq.attachment_refs_release, (op.tenant, op.thread_id), Fetch.ALL)
    else:
        rows = []
        for mid, ref in op.refs:
            rows += yield Query(
                sq.attachment_ref_delete, (op.tenant, ref[7:], op.thread_id, mid), Fetch.ALL
            )
    return (yield from _remove_unreferenced(sq, op.tenant, sorted({row[0] for row in rows})))


def _remove_unreferenced(sq: Statements, tenant: str, hashes: list[str]) -> Steps[int]:
    """Delete those of ``hashes`` no reference is left for. The rows are
    locked first and checked by a later statement, so a write adding a
    reference to them meanwhile is either seen (and they stay) or waits."""
    if not hashes:
        return 0
    yield Query(sq.attachments_lock, (tenant, sq.id_list(hashes)), Fetch.ALL)
    removed = yield Query(
        sq.attachments_unreferenced_delete, (tenant, sq.id_list(hashes)), Fetch.ALL
    )
    return len(removed)


def purge_attachments(
    sq: Statements, settings: StoreSettings, op: ops.PurgeAttachments
) -> Steps[int]:
    before = sq.time(op.before)
    yield Query(sq.attachment_refs_gc, (op.tenant, before), Fetch.NONE)
    rows = yield Query(sq.attachments_gc_candidates, (op.tenant, before), Fetch.ALL)
    return (yield from _remove_unreferenced(sq, op.tenant, sorted(row[0] for row in rows)))


_A, _W, _S = Mode.AUTOCOMMIT, Mode.WRITE, Mode.SNAPSHOT

HANDLERS: dict[str, Handler] = {
    "create_thread": Handler(create_thread, _W, writes=True),
    "get_thread": Handler(get_thread, _A),
    "update_thread": Handler(update_thread, _W, writes=True),
    "delete_thread": Handler(delete_thread, _W, writes=True),
    "restore_thread": Handler(restore_thread, _W, writes=True),
    "purge_thread": Handler(purge_thread, _W, writes=True),
    "list_threads": Handler(list_threads, _A),
    "count_threads": Handler(count_threads, _A),
    "summaries": Handler(summaries, _A),
    "get_message": Handler(get_message, _A),
    "update_message": Handler(update_message, _W, writes=True),
    "delete_message": Handler(delete_message, _W, writes=True),
    "restore_message": Handler(restore_message, _W, writes=True),
    "purge_message": Handler(purge_message, _W, writes=True),
    "pop_message": Handler(pop_message, _W, writes=True),
    "clear_messages": Handler(clear_messages, _W, writes=True),
    "replace_messages": Handler(replace_messages, _W, writes=True),
    "list_messages": Handler(list_messages, _A),
    "recent": Handler(recent, _A),
    "messages_by_execution": Handler(messages_by_execution, _A),
    "search": Handler(search, _A),
    "context_page": Handler(context_page, _A),
    "mandatory": Handler(mandatory, _A),
    "lineage_mandatory": Handler(lineage_mandatory, _A),
    "lineage_page": Handler(lineage_page, _A),
    "load_messages": Handler(load_messages, _S, post=decode_loaded),
    "export_thread": Handler(export_thread, _S, post=decode_export),
    "import_thread": Handler(import_thread, _W, writes=True),
    "fork_thread": Handler(fork_thread, _W, writes=True),
    "tree_threads": Handler(tree_threads, _A),
    "branches": Handler(branches, _S),
    "set_active_branch": Handler(set_active_branch, _W, writes=True),
    "get_state": Handler(get_state, _A),
    "update_state": Handler(update_state, _W, writes=True),
    "attach": Handler(attach, _W, writes=True),
    "get_attachment": Handler(get_attachment, _A),
    "release_attachments": Handler(release_attachments, _W, writes=True),
    "purge_attachments": Handler(purge_attachments, _W, writes=True),
}
"""The handler of every operation but appends and health checks, by name."""
