"""The operations of the PostgreSQL backend, written once for both faces.

Each handler is a generator: it yields :class:`~._sql.Query` records, receives
what the driver fetched for each, and returns the operation's result. It does
no I/O itself, so the sync driver and the async driver run the very same
handlers, and a retry is simply a fresh generator. The rules (seq, counters,
re-sends, revisions) come from :mod:`convostore.store._logic`, exactly as the
memory backend applies them.

Ordering within a thread comes from the thread row: every write to a thread or
its messages first locks that row (``SELECT ... FOR UPDATE``, or, for an
append on a row this process knows, the guarded ``UPDATE`` itself), so appends
to one thread are serialised, seq is assigned from the locked counter without
gaps, and commits happen in seq order, which is why any snapshot sees a prefix.

Appends are not in :data:`HANDLERS`: the backend first tries
:func:`append_known` on the thread row it last saw, and falls back to the
locked :func:`append`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import TypeAdapter

from convostore.errors import (
    ConvostoreError,
    DuplicateMessageError,
    MessageNotFoundError,
    SchemaTooNewError,
    SchemaTooOldError,
    ThreadExistsError,
    ThreadNotFoundError,
)
from convostore.model import (
    ConversationSnapshot,
    HealthCheckResult,
    HealthReport,
    Message,
    Page,
    Thread,
    ThreadSummary,
)
from convostore.store import ops
from convostore.store.postgres._sql import SMALL_BATCH, Fetch, Query, Statements
from convostore.store.postgres.migrations import BOOTSTRAP, LATEST, MIGRATIONS
from convostore.store.rules.append import apply_append, fill_slots, plan_checked
from convostore.store.rules.codec import (
    bodies_as_dicts,
    collector_paused,
    encode_message,
    encode_thread,
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
)
from convostore.store.rules.snapshots import normalize_import
from convostore.store.rules.validation import check_revision, check_writable
from convostore.store.settings import StoreSettings

__all__ = [
    "HANDLERS",
    "Appended",
    "Handler",
    "Known",
    "Mode",
    "Steps",
    "append",
    "append_known",
    "check_schema",
    "migrate",
    "schema_version",
]

T = TypeVar("T")

Steps = Generator[Query, Any, T]
"""A handler's run: yields queries, is sent their results, returns the answer."""


class Mode(enum.Enum):
    """How the driver wraps a handler's queries."""

    AUTOCOMMIT = "autocommit"  # each query on its own (reads that need no snapshot)
    WRITE = "write"  # one read-write transaction
    SNAPSHOT = "snapshot"  # one read-only repeatable-read transaction


@dataclass(frozen=True, slots=True)
class Handler:
    """A handler and the transaction mode it runs in."""

    fn: Callable[[Statements, StoreSettings, Any], Steps[Any]]
    mode: Mode


# --- row helpers --------------------------------------------------------------

_MESSAGE_LIST = TypeAdapter(list[Message])


def _thread(text: str) -> Thread:
    return Thread.model_validate_json(text)


def _message(text: str) -> Message:
    return Message.model_validate_json(text)


def _thread_params(thread: Thread, body: str) -> dict[str, Any]:
    return {
        "tenant_id": thread.tenant_id,
        "id": thread.id,
        "user_id": thread.user_id,
        "agent_name": thread.agent_name,
        "created_at": thread.created_at,
        "updated_at": thread.updated_at,
        "deleted_at": thread.deleted_at,
        "revision": thread.revision,
        "body": body,
    }


def _batch_params(
    tenant: str, thread_id: str, msgs: list[Message], bodies: list[str]
) -> dict[str, Any]:
    """The parameters of inserting ``msgs``, for :meth:`Statements.messages_insert`
    and the append statements: one per value for a small batch, else one
    array per column."""
    params: dict[str, Any] = {"tenant_id": tenant, "id": thread_id}
    if len(msgs) > SMALL_BATCH:
        params.update(
            m_seq=[m.seq for m in msgs],
            m_id=[m.id for m in msgs],
            m_role=[m.role.value for m in msgs],
            m_execution_id=[m.execution_id for m in msgs],
            m_created_at=[m.created_at for m in msgs],
            m_deleted_at=[m.deleted_at for m in msgs],
            m_body=bodies,
        )
        return params
    for k, (m, body) in enumerate(zip(msgs, bodies, strict=True)):
        params[f"m_seq{k}"], params[f"m_id{k}"] = m.seq, m.id
        params[f"m_role{k}"], params[f"m_execution_id{k}"] = m.role.value, m.execution_id
        params[f"m_created_at{k}"], params[f"m_deleted_at{k}"] = m.created_at, m.deleted_at
        params[f"m_body{k}"] = body
    return params


def _lock_thread(sq: Statements, tenant: str, thread_id: str) -> Steps[Thread]:
    row = yield Query(sq.thread_lock, (tenant, thread_id), Fetch.ONE)
    if row is None:
        raise ThreadNotFoundError(thread_id)
    return _thread(row[0])


def _save_thread(sq: Statements, thread: Thread, settings: StoreSettings) -> Query:
    return Query(
        sq.thread_update, _thread_params(thread, encode_thread(thread, settings.limits)), Fetch.NONE
    )


def _require_thread(sq: Statements, tenant: str, thread_id: str) -> Steps[None]:
    row = yield Query(sq.thread_exists, (tenant, thread_id), Fetch.ONE)
    if row is None:
        raise ThreadNotFoundError(thread_id)


# --- threads --------------------------------------------------------------------


def create_thread(sq: Statements, settings: StoreSettings, op: ops.CreateThread) -> Steps[Thread]:
    thread = op.thread
    body = encode_thread(thread, settings.limits)
    row = yield Query(sq.thread_insert, _thread_params(thread, body), Fetch.ONE)
    if row is None:
        raise ThreadExistsError(thread.id)
    return thread


def get_thread(sq: Statements, settings: StoreSettings, op: ops.GetThread) -> Steps[Thread]:
    row = yield Query(sq.thread_get, (op.tenant, op.thread_id), Fetch.ONE)
    if row is None:
        raise ThreadNotFoundError(op.thread_id)
    return _thread(row[0])


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
    thread = yield from _lock_thread(sq, tenant, thread_id)
    check_revision(thread, expected)
    if writable:
        check_writable(thread)
    new = change(thread)
    body = encode_thread(new, settings.limits)
    if new is not thread:
        yield Query(sq.thread_update, _thread_params(new, body), Fetch.NONE)
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
    thread = yield from _lock_thread(sq, op.tenant, op.thread_id)
    check_revision(thread, op.expected_revision)
    yield Query(sq.messages_delete, (op.tenant, op.thread_id), Fetch.NONE)
    yield Query(sq.thread_delete, (op.tenant, op.thread_id), Fetch.NONE)


def _listing_params(
    op: ops.ListThreads | ops.CountThreads | ops.Summaries, limit: int | None
) -> tuple[dict[str, Any], dict[str, bool]]:
    flt = op.filter
    after = op.after if isinstance(op, ops.ListThreads) else None
    params: dict[str, Any] = {"tenant": op.tenant, "limit": limit}
    if flt.user_id is not None:
        params["user_id"] = flt.user_id
    if flt.agent_name is not None:
        params["agent_name"] = flt.agent_name
    if after is not None:
        params["after_at"], params["after_id"] = from_us(after[0]), after[1]
    shape = {
        "user": flt.user_id is not None,
        "agent": flt.agent_name is not None,
        "include_deleted": flt.include_deleted,
        "after": after is not None,
    }
    return params, shape


def list_threads(
    sq: Statements, settings: StoreSettings, op: ops.ListThreads
) -> Steps[Page[Thread]]:
    params, shape = _listing_params(op, op.limit + 1)
    rows = yield Query(sq.thread_listing(what="rows", **shape), params)
    return thread_page([_thread(r[0]) for r in rows], op.limit)


def count_threads(sq: Statements, settings: StoreSettings, op: ops.CountThreads) -> Steps[int]:
    params, shape = _listing_params(op, None)
    row = yield Query(sq.thread_listing(what="count", **shape), params, Fetch.ONE)
    return int(row[0])


def summaries(
    sq: Statements, settings: StoreSettings, op: ops.Summaries
) -> Steps[list[ThreadSummary]]:
    params, shape = _listing_params(op, op.limit)
    rows = yield Query(sq.thread_listing(what="rows", **shape), params)
    return [ThreadSummary.of(_thread(r[0])) for r in rows]


# --- messages -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Known:
    """A thread row as this process last created, read or wrote it: the model and the
    exact text stored, which :func:`append_known` checks the row still holds."""

    thread: Thread
    body: str


@dataclass(frozen=True, slots=True)
class Appended:
    """What an append returns, and the thread row it left behind."""

    messages: list[Message]
    known: Known


@dataclass(frozen=True, slots=True)
class _Write:
    n: int  # rows inserted
    params: dict[str, Any]
    appended: Appended


def _append_write(
    op: ops.Append, known: Known, existing: dict[str, Message], settings: StoreSettings
) -> _Write | list[Message]:
    """The rows and thread state an append writes on top of ``known``, or,
    when every message is already stored, the stored messages."""
    new, slots = plan_checked(
        known.thread, op.messages, existing, op.expected_revision, importing=op.importing
    )
    if not new:
        return [s for s in slots if s is not None]
    updated, stored = apply_append(known.thread, new, settings.now(), counter=op.counter)
    bodies = [encode_message(m, settings.limits) for m in stored]
    body = encode_thread(updated, settings.limits)
    params = _thread_params(updated, body)
    params.update(_batch_params(op.tenant, op.thread_id, stored, bodies))
    result = fill_slots(slots, op.messages, stored)
    return _Write(len(stored), params, Appended(result, Known(updated, body)))


def append(sq: Statements, settings: StoreSettings, op: ops.Append) -> Steps[Appended]:
    # One trip locks the thread and looks up the batch's ids. The lookup reads
    # the statement's snapshot, so a concurrent re-send committed while this
    # waited for the lock makes the insert hit the unique key; the driver then
    # retries and the lookup finds it.
    ids = list(dict.fromkeys(m.id for m in op.messages))
    row = yield Query(sq.thread_lock_lookup, (op.tenant, ids, op.tenant, op.thread_id), Fetch.ONE)
    if row is None:
        raise ThreadNotFoundError(op.thread_id)
    known = Known(_thread(row[0]), row[0])
    existing = {m.id: m for m in _MESSAGE_LIST.validate_json(row[1])}
    write = _append_write(op, known, existing, settings)
    if isinstance(write, list):
        return Appended(write, known)
    yield Query(sq.append_write(write.n), write.params, Fetch.NONE)
    return write.appended


def append_known(
    sq: Statements, settings: StoreSettings, op: ops.Append, known: Known
) -> Steps[Appended | None]:
    """An append in one statement (run in autocommit), computed on ``known``.

    It writes only if the thread row still holds ``known.body`` exactly and no
    id of the batch is stored: then the locked path would have read that very
    row, found no stored ids, and written the same. Otherwise it writes nothing
    and returns None, and so does a batch ``known`` would refuse (a revision
    or state check): the locked path then decides, on the row as it is now.
    """
    try:
        write = _append_write(op, known, {}, settings)
    except ConvostoreError:
        return None
    if isinstance(write, list):
        return None
    write.params["known"] = known.body
    inserted = yield Query(sq.append_if_unchanged(write.n), write.params, Fetch.ROWCOUNT)
    return write.appended if inserted else None


def get_message(sq: Statements, settings: StoreSettings, op: ops.GetMessage) -> Steps[Message]:
    row = yield Query(sq.message_get, (op.tenant, op.message_id), Fetch.ONE)
    if row is None:
        raise MessageNotFoundError(op.message_id)
    return _message(row[0])


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
    thread, old = _thread(locked[0]), _message(row[0])
    check_revision(thread, expected)
    check_writable(thread, importing=importing)
    new_thread, new = change(thread, old)
    body = encode_message(new, settings.limits)
    if new is not old:
        yield Query(
            sq.message_update, (new.deleted_at, body, tenant, thread_id, new.seq), Fetch.NONE
        )
    if new_thread is not thread:
        yield _save_thread(sq, new_thread, settings)
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


def list_messages(
    sq: Statements, settings: StoreSettings, op: ops.ListMessages
) -> Steps[Page[Message]]:
    backward = op.before_seq is not None
    bound = op.before_seq if op.before_seq is not None else op.after_seq
    sql = sq.messages_page(backward=backward, include_deleted=op.include_deleted)
    rows = yield Query(sql, (op.tenant, op.thread_id, bound, op.limit + 1))
    if not rows:  # a message row proves the thread exists; no row proves nothing
        yield from _require_thread(sq, op.tenant, op.thread_id)
    return message_page([_message(r[0]) for r in rows], op)


def recent(sq: Statements, settings: StoreSettings, op: ops.Recent) -> Steps[list[Message]]:
    sql = sq.messages_page(backward=True, include_deleted=op.include_deleted)
    rows = yield Query(sql, (op.tenant, op.thread_id, 2**63 - 1, op.n))
    if not rows:
        yield from _require_thread(sq, op.tenant, op.thread_id)
    out = [_message(r[0]) for r in rows]
    out.reverse()
    return out


def load_messages(
    sq: Statements, settings: StoreSettings, op: ops.LoadMessages
) -> Steps[list[Any]]:
    yield from _require_thread(sq, op.tenant, op.thread_id)
    query = sq.messages_all if op.include_deleted else sq.messages_all_live
    rows = yield Query(query, (op.tenant, op.thread_id))
    with collector_paused(settings.pause_gc_on_load):
        if op.as_dicts:
            return bodies_as_dicts(r[0] for r in rows)
        return [_message(r[0]) for r in rows]  # no joined copy of every body


def context_page(
    sq: Statements, settings: StoreSettings, op: ops.ContextPage
) -> Steps[ops.ContextRows]:
    params = {
        "tenant": op.tenant,
        "thread": op.thread_id,
        "before": op.before_seq,
        "limit": op.limit,
    }
    if op.with_mandatory:
        read = ops.ContextRows.from_first_read((yield Query(sq.context_start, params)))
    else:
        read = ops.ContextRows(None, (yield Query(sq.context_page, params)))
    if not read.rows and not read.mandatory:  # no row proves nothing about the thread
        yield from _require_thread(sq, op.tenant, op.thread_id)
    return read


def messages_by_execution(
    sq: Statements, settings: StoreSettings, op: ops.ByExecution
) -> Steps[list[Message]]:
    if op.thread_id is None:  # LIMIT NULL: no limit
        query = Query(sq.messages_by_execution, (op.tenant, op.execution_id, op.limit))
    else:
        query = Query(
            sq.messages_by_execution_in_thread, (op.tenant, op.execution_id, op.thread_id, op.limit)
        )
    rows = yield query
    return [_message(r[0]) for r in rows]


# --- snapshots and health ---------------------------------------------------------


def export_thread(
    sq: Statements, settings: StoreSettings, op: ops.ExportThread
) -> Steps[ConversationSnapshot]:
    row = yield Query(sq.thread_get, (op.tenant, op.thread_id), Fetch.ONE)
    if row is None:
        raise ThreadNotFoundError(op.thread_id)
    rows = yield Query(sq.messages_all, (op.tenant, op.thread_id))
    with collector_paused(settings.pause_gc_on_load):
        msgs = [_message(r[0]) for r in rows]
    return ConversationSnapshot(
        thread=_thread(row[0]), messages=msgs, pinned=[m.pinned for m in msgs]
    )


def import_thread(sq: Statements, settings: StoreSettings, op: ops.ImportThread) -> Steps[Thread]:
    thread, msgs = normalize_import(op.tenant, op.snapshot, op.thread_id, settings.now())
    body = encode_thread(thread, settings.limits)
    bodies = [encode_message(m, settings.limits) for m in msgs]
    exists = yield Query(sq.thread_exists, (op.tenant, thread.id), Fetch.ONE)
    if exists is not None:
        raise ThreadExistsError(thread.id)
    if msgs:
        rows = yield Query(sq.message_ids_taken, (op.tenant, [m.id for m in msgs]))
        taken = {r[0] for r in rows}
        for m in msgs:
            if m.id in taken:
                raise DuplicateMessageError(m.id, "in another thread")
    inserted = yield Query(sq.thread_insert, _thread_params(thread, body), Fetch.ONE)
    if inserted is None:
        raise ThreadExistsError(thread.id)
    if msgs:
        yield Query(
            sq.messages_insert(len(msgs)),
            _batch_params(op.tenant, thread.id, msgs, bodies),
            Fetch.NONE,
        )
    return thread


def schema_version(sq: Statements) -> Steps[int]:
    """The version recorded in the database; 0 when nothing is installed."""
    row = yield Query(sq.migrations_table_exists, (sq.migrations_table_name,), Fetch.ONE)
    if not row[0]:
        return 0
    row = yield Query(sq.schema_version, None, Fetch.ONE)
    return int(row[0])


def _too_new(sq: Statements, found: int) -> SchemaTooNewError:
    return SchemaTooNewError(
        f"the database schema {sq.schema!r} is at version {found}, written by a newer "
        f"convostore; this version understands up to {LATEST}. Upgrade convostore.",
        found=found,
        expected=LATEST,
    )


def check_schema(sq: Statements) -> Steps[int]:
    """Refuse a schema that is older or newer than this code."""
    found = yield from schema_version(sq)
    if found > LATEST:
        raise _too_new(sq, found)
    if found < LATEST:
        raise SchemaTooOldError(
            f"the database schema {sq.schema!r} is at version {found}, this convostore "
            f"needs {LATEST}: run `convostore db upgrade`, call store.backend.migrate(), "
            "or open the store with auto_migrate=True",
            found=found,
            expected=LATEST,
        )
    return found


def migrate(sq: Statements) -> Steps[list[int]]:
    """Apply the pending migrations, under a lock that serialises migrators.

    Runs in one transaction: ``pg_advisory_xact_lock`` makes a second server
    starting at the same moment wait, then find nothing left to do.
    """
    yield Query(sq.advisory_lock, (f"convostore.migrate:{sq.schema}",), Fetch.NONE)
    exists = yield Query(sq.schema_exists, (sq.schema,), Fetch.ONE)
    if exists is None:
        yield Query(sq.create_schema, None, Fetch.NONE)
    for stmt in BOOTSTRAP:
        yield Query(sq.render(stmt), None, Fetch.NONE)
    row = yield Query(sq.schema_version, None, Fetch.ONE)
    found = int(row[0])
    if found > LATEST:
        raise _too_new(sq, found)
    applied = []
    for mig in MIGRATIONS:
        if mig.version <= found:
            continue
        for stmt in mig.statements:
            yield Query(sq.render(stmt), None, Fetch.NONE)
        yield Query(sq.record_migration, (mig.version, mig.name), Fetch.NONE)
        applied.append(mig.version)
    return applied


def health_check(
    sq: Statements, settings: StoreSettings, op: ops.HealthCheck
) -> Steps[HealthReport]:
    """``open``, ``schema`` and ``writable``: the server answers, the schema is
    this code's, and a write would be accepted (the server is not a standby in
    recovery, the session's transactions are not read-only, and the role may
    write both tables). Disk space and page integrity are the server's own
    business and are not checked from here."""
    found = yield from schema_version(sq)
    checks = [
        HealthCheckResult(name="open", ok=True, detail=f"schema {sq.schema!r}"),
        HealthCheckResult(name="schema", ok=found == LATEST, detail=f"version {found} of {LATEST}"),
    ]
    if found:  # the tables exist, so what may be done to them can be asked
        recovery, read_only, granted = yield Query(sq.write_state, None, Fetch.ONE)
        why = (
            "the server is a standby in recovery"
            if recovery
            else "transactions are read-only (default_transaction_read_only is on)"
            if read_only == "on"
            else "the role may not insert, update and delete in the convostore tables"
            if not granted
            else None
        )
        checks.append(
            HealthCheckResult(
                name="writable", ok=why is None, detail=why or "the server accepts writes"
            )
        )
    return HealthReport.of(
        "postgres",
        checks,
        {
            "schema": sq.schema,
            "schema_version": found,
            "expected_schema_version": LATEST,
        },
        full=op.full,
    )


_A, _W, _S = Mode.AUTOCOMMIT, Mode.WRITE, Mode.SNAPSHOT

HANDLERS: dict[str, Handler] = {
    "create_thread": Handler(create_thread, _A),
    "get_thread": Handler(get_thread, _A),
    "update_thread": Handler(update_thread, _W),
    "delete_thread": Handler(delete_thread, _W),
    "restore_thread": Handler(restore_thread, _W),
    "purge_thread": Handler(purge_thread, _W),
    "list_threads": Handler(list_threads, _A),
    "count_threads": Handler(count_threads, _A),
    "summaries": Handler(summaries, _A),
    "get_message": Handler(get_message, _A),
    "update_message": Handler(update_message, _W),
    "delete_message": Handler(delete_message, _W),
    "restore_message": Handler(restore_message, _W),
    "list_messages": Handler(list_messages, _A),
    "recent": Handler(recent, _A),
    "messages_by_execution": Handler(messages_by_execution, _A),
    "context_page": Handler(context_page, _A),
    "load_messages": Handler(load_messages, _S),
    "export_thread": Handler(export_thread, _S),
    "import_thread": Handler(import_thread, _W),
    "health_check": Handler(health_check, _A),
}
"""The handler of every operation, by operation name."""
