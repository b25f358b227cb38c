"""SQLite backend: the embedded default.

One row per message, so an append writes the new rows and one thread row, and
reading the newest messages is an index range scan: neither grows with the
length of the thread. The database runs in WAL mode with a busy timeout; every
write is a ``BEGIN IMMEDIATE`` transaction, so writers of several processes
queue up instead of failing half-way, and within one process a lock keeps
threads from spinning on SQLite's busy handler. The thread counters are updated
in the same transaction as the messages they count.

Options (keyword arguments or URL query parameters):
    synchronous: ``full`` (default: an acknowledged write survives power loss)
        or ``normal`` (survives a crash of the process; the last transactions
        may roll back on power loss).
    busy_timeout: milliseconds a writer waits for another process (default 10000).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import TypeAdapter

from convostore.errors import (
    BackendUnavailableError,
    ConflictError,
    ConvostoreError,
    DuplicateMessageError,
    MessageNotFoundError,
    SchemaTooNewError,
    ThreadExistsError,
    ThreadNotFoundError,
    ValidationError,
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
from convostore.store import _health, ops
from convostore.store.backend import Capabilities, CoreBackend
from convostore.store.rules.append import (
    assign,
    batch_delta,
    fill_slots,
    plan_checked,
    token_counts,
)
from convostore.store.rules.codec import (
    bodies_as_dicts,
    collector_paused,
    encode_message,
    encode_thread,
    from_us,
    to_us,
)
from convostore.store.rules.paging import message_page, thread_page
from convostore.store.rules.snapshots import normalize_import, snapshot_of
from convostore.store.rules.validation import check_revision, check_writable
from convostore.store.settings import Limits, StoreSettings
from convostore.store.sqlite import _sql as sql

__all__ = ["QUICK_CHECK_MAX_BYTES", "SQLiteBackend", "diagnose"]

T = TypeVar("T")

_SYNCHRONOUS = {"full": "FULL", "normal": "NORMAL", "extra": "EXTRA", "off": "OFF"}

QUICK_CHECK_MAX_BYTES = 16 * 2**20
"""The cheap health check runs ``PRAGMA quick_check`` over databases up to this
size: about 10 ms (it reads every page, some 0.6 ms per MiB from the page cache;
600 ms for 1 GiB). A larger database gets the header, schema and table roots
read, and its pages checked only by ``health_check(full=True)``."""

#: How long the health check's write probe waits for another writer.
_PROBE_WAIT_MS = 500
#: The pages the write probe asks room for: 64 KiB at the default page size, an
#: append of a few long messages.
_PROBE_PAGES = 16
_HEADER = b"SQLite format 3\x00"
#: SQLite's primary result codes that mean the file's content is damaged.
_CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB


def _corruption(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _CORRUPT_CODES
    text = str(exc)
    return "malformed" in text or "not a database" in text


def diagnose(path: str) -> list[HealthCheckResult]:
    """What the file system tells of a SQLite database at ``path`` without
    opening it: whether it can be written (``writable``), whether space is
    left (``disk-space``) and whether it starts with a SQLite header
    (``integrity``). For a store that cannot be opened, to say why."""
    full = os.path.abspath(path)
    directory = os.path.dirname(full)
    checks: list[HealthCheckResult] = []
    if os.path.isdir(directory):
        why = _health.not_writable((full, full + "-wal", full + "-shm"), directory)
        checks.append(
            HealthCheckResult(
                name="writable",
                ok=why is None,
                detail=why or f"{full} and its directory are writable",
            )
        )
        checks.append(_health.disk_space(directory))
    else:
        checks.append(
            HealthCheckResult(
                name="writable", ok=False, detail=f"the directory {directory} does not exist"
            )
        )
    try:
        with open(full, "rb") as f:
            head = f.read(len(_HEADER))
    except FileNotFoundError:
        return checks
    except OSError as exc:
        checks.append(
            HealthCheckResult(
                name="integrity", ok=False, detail=f"cannot read {full}: {exc.strerror}"
            )
        )
        return checks
    if head and head != _HEADER:
        checks.append(
            HealthCheckResult(
                name="integrity",
                ok=False,
                detail=f"{full} does not start with the SQLite header: not a SQLite "
                "database, or its first page is damaged",
            )
        )
    return checks


def _translate(exc: sqlite3.Error) -> ConvostoreError:
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return BackendUnavailableError(f"SQLite database is busy: {text}")
    if isinstance(exc, sqlite3.IntegrityError):
        return ConflictError(f"constraint violated: {text}")
    return BackendUnavailableError(f"SQLite error: {text}")


#: Thread fields kept in columns of their own rather than in the JSON body.
_COLUMN_FIELDS = set(
    {
        "revision",
        "message_count",
        "live_message_count",
        "turn_count",
        "tool_call_count",
        "token_count",
        "usage",
        "cost",
        "updated_at",
        "deleted_at",
    }
)


def _thread_row(thread: Thread, limits: Limits) -> tuple[Any, ...]:
    """The values of ``_sql.THREAD_COLUMNS`` for ``thread``."""
    encode_thread(thread, limits)  # the checks and size limit, alike on every backend
    body = thread.model_dump_json(exclude=_COLUMN_FIELDS)
    u, c = thread.usage, thread.cost
    return (
        thread.user_id,
        thread.agent_name,
        to_us(thread.updated_at),
        to_us(thread.deleted_at) if thread.deleted_at else None,
        thread.revision,
        thread.message_count,
        thread.turn_count,
        thread.tool_call_count,
        thread.token_count,
        u.prompt_tokens,
        u.completion_tokens,
        u.total_tokens,
        c.input_cost,
        c.output_cost,
        c.total_cost,
        c.currency,
        body,
        thread.live_message_count,
    )


def _iso(us: int | None, formatted: str | None) -> str:
    if us is None:
        return "null"
    return f'"{formatted}"' if formatted is not None else f'"{from_us(us).isoformat()}"'


def _row_json(row: Sequence[Any]) -> str:
    """A thread's full JSON from a row of ``_sql.THREAD_READ_COLUMNS``.

    The body holds the fields that change rarely; the counters come from their
    columns and are spliced in as JSON (``repr`` of a float round-trips exactly,
    which SQLite's own JSON rendering does not guarantee). Usage and cost at
    zero are left out: the model's shared zero values stand in for them, and a
    thread without them validates in about two thirds of the time.
    """
    body = row[16]
    usage = cost = ""
    if row[9] or row[10] or row[11]:
        usage = (
            f',"usage":{{"prompt_tokens":{row[9]},"completion_tokens":{row[10]},'
            f'"total_tokens":{row[11]}}}'
        )
    if row[12] or row[13] or row[14] or row[15] != "USD":
        cost = (
            f',"cost":{{"input_cost":{row[12]!r},"output_cost":{row[13]!r},'
            f'"total_cost":{row[14]!r},"currency":{json.dumps(row[15])}}}'
        )
    return (
        f'{body[:-1]},"updated_at":{_iso(row[2], row[18])},'
        f'"deleted_at":{_iso(row[3], row[19])},'
        f'"revision":{row[4]},"message_count":{row[5]},"live_message_count":{row[17]},'
        f'"turn_count":{row[6]},'
        f'"tool_call_count":{row[7]},"token_count":{row[8]}{usage}{cost}}}'
    )


def _row_thread(row: Sequence[Any]) -> Thread:
    """A thread from a row of ``_sql.THREAD_READ_COLUMNS``."""
    return Thread.model_validate_json(_row_json(row))


def _row_threads(rows: Sequence[Sequence[Any]]) -> list[Thread]:
    """Threads from rows of ``_sql.THREAD_READ_COLUMNS``, validated in one call."""
    if not rows:
        return []
    return _THREAD_LIST.validate_json("[" + ",".join(_row_json(r) for r in rows) + "]")


def _message_row(tenant: str, m: Message, body: str) -> tuple[Any, ...]:
    return (
        tenant,
        m.thread_id,
        m.seq,
        m.id,
        m.role.value,
        m.execution_id,
        int(m.pinned),
        int(m.deleted_at is not None),
        int(m.archived_at is not None),
        body,
    )


_decode_message = Message.model_validate_json
_THREAD_LIST = TypeAdapter(list[Thread])


class _SlowPath(Exception):
    """The fast append path declined; retry the batch on the checked path."""


class SQLiteBackend(CoreBackend):
    """A SQLite database file (or ``:memory:``)."""

    kind: ClassVar[str] = "sqlite"
    capabilities: ClassVar[Capabilities] = Capabilities(multi_process=True)
    latest_version: ClassVar[int] = sql.LATEST_VERSION

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        settings: StoreSettings | None = None,
        limits: Limits | None = None,
        synchronous: str = "full",
        busy_timeout: int | str = 10_000,
    ) -> None:
        super().__init__(settings=settings, limits=limits)
        self.path = str(path)
        self._memory = self.path == ":memory:"
        mode = _SYNCHRONOUS.get(str(synchronous).lower())
        if mode is None:
            raise ValidationError(f"must be one of {sorted(_SYNCHRONOUS)}", field="synchronous")
        self._synchronous = mode
        try:
            self._busy_ms = int(busy_timeout)
        except ValueError:
            raise ValidationError(
                "must be an integer (milliseconds)", field="busy_timeout"
            ) from None
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._write_lock = threading.RLock()
        self._pid = os.getpid()
        self._closed = False
        self._corrupt: str | None = None  # the last corruption a query ran into
        if not self._memory:
            parent = Path(self.path).parent
            try:
                parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise BackendUnavailableError(f"cannot create {parent}: {exc}") from None
        self._shared: sqlite3.Connection | None = None
        try:
            self._migrate_on_open()
        except BaseException:
            self.close()
            raise

    def describe(self) -> str:
        return f"sqlite:///{self.path}"

    # connections -------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=self._busy_ms / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
            if not self._memory:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise BackendUnavailableError(
                        f"{self.path}: cannot switch to WAL mode (got {mode})"
                    )
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        except sqlite3.Error as exc:
            raise BackendUnavailableError(
                f"cannot open SQLite database {self.path}: {exc}"
            ) from None
        with self._conns_lock:
            self._conns.append(conn)
        return conn

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise BackendUnavailableError("the store is closed")
        if self._memory:
            if self._shared is None:
                self._shared = self._connect()
            return self._shared
        if os.getpid() != self._pid:  # forked: never share a connection with the parent
            self._pid = os.getpid()
            self._local = threading.local()
            with self._conns_lock:
                self._conns = []
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def close(self) -> None:
        self._closed = True
        with self._conns_lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._shared = None

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        lock = self._write_lock if self._memory else contextlib.nullcontext()
        with lock:
            try:
                yield self._conn()
            except sqlite3.Error as exc:
                raise self._failed(exc) from None

    def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in a ``BEGIN IMMEDIATE`` transaction; roll back on any error."""
        with self._write_lock:
            conn = self._conn()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._failed(exc) from None
            try:
                result = fn(conn)
                conn.execute("COMMIT")
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise self._failed(exc) from None
                raise
            return result

    def _failed(self, exc: sqlite3.Error) -> ConvostoreError:
        """The error to raise for ``exc``; a damaged page is remembered for
        :meth:`health_check`, which reports it until a check of the whole
        database passes."""
        if _corruption(exc):
            when = f"{self.now():%Y-%m-%d %H:%M:%S}Z"
            self._corrupt = f"a query ran into a damaged page at {when}: {exc}"
        return _translate(exc)

    # migrations -------------------------------------------------------------

    def schema_version(self) -> int:
        """The newest migration recorded in the database (0 for an empty one)."""
        with self._read() as conn:
            conn.execute(sql.CREATE_MIGRATIONS_TABLE)
            row = conn.execute("SELECT max(version) FROM convostore_migrations").fetchone()
        return int(row[0] or 0)

    def _migrate_on_open(self) -> None:
        try:
            self.migrate()
        except sqlite3.DatabaseError as exc:
            raise BackendUnavailableError(
                f"{self.path} is not a usable SQLite database: {exc}"
            ) from None

    def migrate(self) -> list[int]:
        """Apply pending migrations, each in its own transaction; return their versions."""
        applied: list[int] = []
        for migration in sql.MIGRATIONS:

            def step(conn: sqlite3.Connection, m: sql.Migration = migration) -> bool:
                conn.execute(sql.CREATE_MIGRATIONS_TABLE)
                current = (
                    conn.execute("SELECT max(version) FROM convostore_migrations").fetchone()[0]
                    or 0
                )
                if current > sql.LATEST_VERSION:
                    raise SchemaTooNewError(
                        f"{self.path} has schema version {current}, newer than the "
                        f"{sql.LATEST_VERSION} this convostore knows: upgrade convostore",
                        found=current,
                        expected=sql.LATEST_VERSION,
                    )
                if current >= m.version:
                    return False
                for statement in m.statements:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO convostore_migrations (version, name, applied_at) "
                    "VALUES (?, ?, ?)",
                    (m.version, m.name, self.now().isoformat()),
                )
                return True

            if self._write(step):
                applied.append(migration.version)
        return applied

    @staticmethod
    def ddl() -> str:
        """The full schema as SQL, for review or to apply by hand."""
        parts = [sql.CREATE_MIGRATIONS_TABLE.strip() + ";"]
        for m in sql.MIGRATIONS:
            parts.append(f"-- migration {m.version}: {m.name}")
            parts.extend(" ".join(s.split()) + ";" for s in m.statements)
        return "\n".join(parts) + "\n"

    # helpers ----------------------------------------------------------------

    @staticmethod
    def _load_thread(conn: sqlite3.Connection, tenant: str, thread_id: str) -> Thread:
        row = conn.execute(sql.GET_THREAD, (tenant, thread_id)).fetchone()
        if row is None:
            raise ThreadNotFoundError(thread_id)
        return _row_thread(row)

    def _save_thread(self, conn: sqlite3.Connection, tenant: str, thread: Thread) -> None:
        conn.execute(sql.UPDATE_THREAD, (*_thread_row(thread, self.limits), tenant, thread.id))

    @staticmethod
    def _require_thread(conn: sqlite3.Connection, tenant: str, thread_id: str) -> None:
        if conn.execute(sql.THREAD_EXISTS, (tenant, thread_id)).fetchone() is None:
            raise ThreadNotFoundError(thread_id)

    @staticmethod
    def _load_message(conn: sqlite3.Connection, tenant: str, message_id: str) -> Message:
        row = conn.execute(sql.GET_MESSAGE, (tenant, message_id)).fetchone()
        if row is None:
            raise MessageNotFoundError(message_id)
        return Message.model_validate_json(row[0])

    @staticmethod
    def _taken_ids(conn: sqlite3.Connection, tenant: str, ids: list[str]) -> dict[str, Message]:
        """The stored messages of this tenant among ``ids``."""
        found: dict[str, Message] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for (body,) in conn.execute(sql.MESSAGES_BY_IDS.format(marks=marks), (tenant, *chunk)):
                m = Message.model_validate_json(body)
                found[m.id] = m
        return found

    @staticmethod
    def _decode(rows: Iterable[tuple[str]]) -> list[Message]:
        return [_decode_message(body) for (body,) in rows]

    @staticmethod
    def _decode_dicts(rows: Iterable[tuple[str]]) -> list[Any]:
        return bodies_as_dicts(body for (body,) in rows)

    def modify_thread(
        self,
        tenant: str,
        thread_id: str,
        expected: int | None,
        change: Callable[[Thread], Thread],
        *,
        writable: bool = True,
    ) -> Thread:
        def tx(conn: sqlite3.Connection) -> Thread:
            thread = self._load_thread(conn, tenant, thread_id)
            check_revision(thread, expected)
            if writable:
                check_writable(thread)
            new = change(thread)
            if new is not thread:
                self._save_thread(conn, tenant, new)
            return new

        return self._write(tx)

    # threads ----------------------------------------------------------------

    def create_thread(self, op: ops.CreateThread) -> Thread:
        thread = op.thread
        row = _thread_row(thread, self.limits)

        def tx(conn: sqlite3.Connection) -> Thread:
            if conn.execute(sql.THREAD_EXISTS, (op.tenant, thread.id)).fetchone():
                raise ThreadExistsError(thread.id)
            conn.execute(sql.INSERT_THREAD, (op.tenant, thread.id, *row))
            return thread

        return self._write(tx)

    def get_thread(self, op: ops.GetThread) -> Thread:
        with self._read() as conn:
            return self._load_thread(conn, op.tenant, op.thread_id)

    def purge_thread(self, op: ops.PurgeThread) -> None:
        def tx(conn: sqlite3.Connection) -> None:
            thread = self._load_thread(conn, op.tenant, op.thread_id)
            check_revision(thread, op.expected_revision)
            conn.execute(sql.DELETE_THREAD_MESSAGES, (op.tenant, op.thread_id))
            conn.execute(sql.DELETE_THREAD, (op.tenant, op.thread_id))

        self._write(tx)

    @staticmethod
    def _where(tenant: str, flt: ops.ThreadFilter) -> tuple[str, list[Any]]:
        clauses: list[str] = ["tenant_id = ?"]
        params: list[Any] = [tenant]
        if flt.user_id is not None:
            clauses.append("user_id = ?")
            params.append(flt.user_id)
        if flt.agent_name is not None:
            clauses.append("agent_name = ?")
            params.append(flt.agent_name)
        if not flt.include_deleted:
            clauses.append("deleted_us IS NULL")
        return " AND ".join(clauses), params

    def _threads(
        self,
        tenant: str,
        flt: ops.ThreadFilter,
        limit: int | None,
        after: tuple[int, str] | None = None,
    ) -> list[Thread]:
        where, params = self._where(tenant, flt)
        if after is not None:
            where += " AND (updated_us, id) < (?, ?)"
            params.extend(after)
        query = (
            f"SELECT {sql.THREAD_READ_COLUMNS} FROM threads WHERE {where} "
            "ORDER BY updated_us DESC, id DESC"
        )
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)
        with self._read() as conn:
            rows = conn.execute(query, params).fetchall()
        return _row_threads(rows)

    def list_threads(self, op: ops.ListThreads) -> Page[Thread]:
        return thread_page(self._threads(op.tenant, op.filter, op.limit + 1, op.after), op.limit)

    def count_threads(self, op: ops.CountThreads) -> int:
        where, params = self._where(op.tenant, op.filter)
        with self._read() as conn:
            return int(
                conn.execute(f"SELECT count(*) FROM threads WHERE {where}", params).fetchone()[0]
            )

    def summaries(self, op: ops.Summaries) -> list[ThreadSummary]:
        return [ThreadSummary.of(t) for t in self._threads(op.tenant, op.filter, op.limit)]

    # messages ---------------------------------------------------------------

    def append(self, op: ops.Append) -> list[Message]:
        """Append a batch: the fast path first, the fully checked path on any doubt.

        The fast path advances the thread's counters with one ``UPDATE ...
        RETURNING`` (which also checks that the thread is live and at the
        expected revision) and inserts the rows. If that update matches no row,
        or an id is already taken, the transaction is rolled back and the batch
        goes through :meth:`_append_checked`, which tells re-sends from conflicts
        and names the exact error.
        """
        if not op.importing and len({m.id for m in op.messages}) == len(op.messages):
            try:
                return self._write(lambda conn: self._append_fast(conn, op))
            except _SlowPath:
                pass
        return self._write(lambda conn: self._append_checked(conn, op))

    def _advance(
        self, conn: sqlite3.Connection, op: ops.Append, new: list[Message], expected: int | None
    ) -> list[Message] | None:
        counts = token_counts(new, op.counter)
        d = batch_delta(new, counts)
        cost, u = d.cost, d.usage
        now = to_us(self.now())
        if cost is None and not (u.prompt_tokens or u.completion_tokens or u.total_tokens):
            row = conn.execute(
                sql.ADVANCE_THREAD_COUNTS,
                (
                    d.count,
                    d.turns,
                    d.tool_calls,
                    d.tokens,
                    now,
                    op.tenant,
                    op.thread_id,
                    expected,
                    op.importing,
                ),
            ).fetchone()
        else:
            row = conn.execute(
                sql.ADVANCE_THREAD,
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
                    "rev": expected,
                    "importing": op.importing,
                },
            ).fetchone()
        if row is None:
            return None
        stored = assign(new, op.thread_id, row[0] - d.count, row[1] - d.turns, counts)
        rows = [_message_row(op.tenant, m, encode_message(m, self.limits)) for m in stored]
        if len(rows) == 1:
            conn.execute(sql.INSERT_MESSAGE, rows[0])
        else:
            conn.executemany(sql.INSERT_MESSAGE, rows)
        return stored

    def _append_fast(self, conn: sqlite3.Connection, op: ops.Append) -> list[Message]:
        if not op.messages:
            self._require_thread(conn, op.tenant, op.thread_id)
            return []
        for m in op.messages:
            if m.thread_id is not None and m.thread_id != op.thread_id:
                raise _SlowPath
        try:
            stored = self._advance(conn, op, list(op.messages), op.expected_revision)
        except sqlite3.IntegrityError:
            raise _SlowPath from None
        if stored is None:
            raise _SlowPath
        return stored

    def _append_checked(self, conn: sqlite3.Connection, op: ops.Append) -> list[Message]:
        thread = self._load_thread(conn, op.tenant, op.thread_id)
        existing = self._taken_ids(conn, op.tenant, [m.id for m in op.messages])
        new, slots = plan_checked(
            thread, op.messages, existing, op.expected_revision, importing=op.importing
        )
        if not new:
            return [s for s in slots if s is not None]
        stored = self._advance(conn, op, new, thread.revision)
        assert stored is not None  # the thread row is locked by this transaction
        return fill_slots(slots, op.messages, stored)

    def get_message(self, op: ops.GetMessage) -> Message:
        with self._read() as conn:
            return self._load_message(conn, op.tenant, op.message_id)

    def modify_message(
        self,
        tenant: str,
        message_id: str,
        expected: int | None,
        change: Callable[[Thread, Message], tuple[Thread, Message]],
        *,
        importing: bool = False,
    ) -> Message:
        def tx(conn: sqlite3.Connection) -> Message:
            old = self._load_message(conn, tenant, message_id)
            thread = self._load_thread(conn, tenant, old.thread_id or "")
            check_revision(thread, expected)
            check_writable(thread, importing=importing)
            new_thread, new = change(thread, old)
            if new is old:
                return old
            body = encode_message(new, self.limits)
            conn.execute(
                sql.UPDATE_MESSAGE,
                (
                    int(new.pinned),
                    int(new.deleted_at is not None),
                    int(new.archived_at is not None),
                    body,
                    tenant,
                    message_id,
                ),
            )
            self._save_thread(conn, tenant, new_thread)
            return new

        return self._write(tx)

    def list_messages(self, op: ops.ListMessages) -> Page[Message]:
        deleted = "" if op.include_deleted else "AND deleted = 0"
        if op.before_seq is None:
            query, bound = sql.MESSAGES_FORWARD.format(deleted=deleted), op.after_seq
        else:
            query, bound = sql.MESSAGES_BACKWARD.format(deleted=deleted), op.before_seq
        with self._read() as conn:
            rows = conn.execute(query, (op.tenant, op.thread_id, bound, op.limit + 1)).fetchall()
            if not rows:  # a message row proves the thread exists; no row proves nothing
                self._require_thread(conn, op.tenant, op.thread_id)
        return message_page(self._decode(rows), op)

    def recent(self, op: ops.Recent) -> list[Message]:
        deleted = "" if op.include_deleted else "AND deleted = 0"
        with self._read() as conn:
            rows = conn.execute(
                sql.MESSAGES_BACKWARD.format(deleted=deleted),
                (op.tenant, op.thread_id, 2**63 - 1, op.n),
            ).fetchall()
            if not rows:
                self._require_thread(conn, op.tenant, op.thread_id)
        out = self._decode(rows)
        out.reverse()
        return out

    def _whole_thread(
        self,
        tenant: str,
        thread_id: str,
        query: str,
        decode: Callable[[Iterable[tuple[str]]], list[Any]],
        head: Callable[[sqlite3.Connection], T],
    ) -> tuple[T, list[Any]]:
        """``head(conn)`` and every row of ``query`` decoded, from one snapshot.

        Each body is decoded as its row arrives, so the stored text of the whole
        thread is never held beside its decoded form: the peak is the result (as
        quick as validating one joined array). An in-memory database has one
        connection shared under the write lock: its rows are fetched first, so
        writers do not wait for the decoding. Decoding runs with the cyclic
        garbage collector paused.
        """
        with self._read() as conn:
            conn.execute("BEGIN")  # the head and the rows from one snapshot
            try:
                first = head(conn)
                cursor = conn.execute(query, (tenant, thread_id))
                if not self._memory:
                    with collector_paused(self.settings.pause_gc_on_load):
                        return first, decode(cursor)
                rows = cursor.fetchall()
            finally:
                conn.execute("COMMIT")
        with collector_paused(self.settings.pause_gc_on_load):
            return first, decode(rows)

    def load_messages(self, op: ops.LoadMessages) -> list[Any]:
        query = sql.MESSAGES_ALL if op.include_deleted else sql.MESSAGES_ALL_LIVE
        decode = self._decode_dicts if op.as_dicts else self._decode
        _, out = self._whole_thread(
            op.tenant,
            op.thread_id,
            query,
            decode,
            lambda conn: self._require_thread(conn, op.tenant, op.thread_id),
        )
        return out

    def context_page(self, op: ops.ContextPage) -> ops.ContextRows:
        params = (op.tenant, op.thread_id, op.before_seq, op.limit)
        with self._read() as conn:
            if op.with_mandatory:
                read = ops.ContextRows.from_first_read(
                    conn.execute(sql.CONTEXT_START, params).fetchall()
                )
            else:
                read = ops.ContextRows(None, conn.execute(sql.CONTEXT_PAGE, params).fetchall())
            if not read.rows and not read.mandatory:  # no row proves nothing
                self._require_thread(conn, op.tenant, op.thread_id)
        return read

    def messages_by_execution(self, op: ops.ByExecution) -> list[Message]:
        params: list[Any] = [op.tenant, op.execution_id]
        thread = ""
        if op.thread_id is not None:
            thread = "AND thread_id = ?"
            params.append(op.thread_id)
        params.append(-1 if op.limit is None else op.limit)  # LIMIT -1: no limit
        with self._read() as conn:
            rows = conn.execute(sql.MESSAGES_BY_EXECUTION.format(thread=thread), params).fetchall()
        return self._decode(rows)

    # snapshots --------------------------------------------------------------

    def export_thread(self, op: ops.ExportThread) -> ConversationSnapshot:
        thread, msgs = self._whole_thread(
            op.tenant,
            op.thread_id,
            sql.MESSAGES_ALL,
            self._decode,
            lambda conn: self._load_thread(conn, op.tenant, op.thread_id),
        )
        return snapshot_of(thread, msgs, self.now())

    def import_thread(self, op: ops.ImportThread) -> Thread:
        thread, msgs = normalize_import(op.tenant, op.snapshot, op.thread_id, self.now())
        thread_row = _thread_row(thread, self.limits)
        rows = [_message_row(op.tenant, m, encode_message(m, self.limits)) for m in msgs]

        def tx(conn: sqlite3.Connection) -> Thread:
            if conn.execute(sql.THREAD_EXISTS, (op.tenant, thread.id)).fetchone():
                raise ThreadExistsError(thread.id)
            taken = self._taken_ids(conn, op.tenant, [m.id for m in msgs])
            if taken:
                first = next(m.id for m in msgs if m.id in taken)
                raise DuplicateMessageError(first, "in another thread")
            conn.execute(sql.INSERT_THREAD, (op.tenant, thread.id, *thread_row))
            conn.executemany(sql.INSERT_MESSAGE, rows)
            return thread

        return self._write(tx)

    # health -------------------------------------------------------------------

    def health_check(self, op: ops.HealthCheck) -> HealthReport:
        """``open``, ``schema``, ``writable``, ``disk-space`` and ``integrity``.

        Cheap by default (about 10 ms at most, whatever the size of the
        database): the header and schema are read, a write transaction is begun
        and rolled back, and a database up to :data:`QUICK_CHECK_MAX_BYTES` is
        quick-checked. ``full`` runs ``PRAGMA integrity_check`` on any size.
        """
        detail: dict[str, Any] = {
            "path": self.path,
            "synchronous": self._synchronous,
            "sqlite_version": sqlite3.sqlite_version,
        }
        checks: list[HealthCheckResult] = []
        try:
            with self._read() as conn:
                row = conn.execute(
                    "SELECT (SELECT max(version) FROM convostore_migrations), page_size, "
                    "page_count FROM pragma_page_size, pragma_page_count"
                ).fetchone()
        except ConvostoreError as exc:
            checks.append(HealthCheckResult(name="open", ok=False, detail=str(exc)))
            if not self._memory:
                checks.extend(diagnose(self.path))
            return HealthReport.of(self.kind, checks, detail, full=op.full)
        version, size = int(row[0] or 0), int(row[1]) * int(row[2])
        detail.update(schema_version=version, size_bytes=size)
        checks.append(HealthCheckResult(name="open", ok=True, detail=self.describe()))
        checks.append(
            HealthCheckResult(
                name="schema",
                ok=version == sql.LATEST_VERSION,
                detail=f"version {version} of {sql.LATEST_VERSION}",
            )
        )
        why = None
        if not self._memory:
            full = os.path.abspath(self.path)
            why = _health.not_writable((full, full + "-wal", full + "-shm"), os.path.dirname(full))
        probe, busy = self._probe_write()
        full_disk = probe is not None and "full" in probe
        done = (
            "another connection is writing; writes wait for it"
            if busy
            else "a write transaction was begun and rolled back"
        )
        if full_disk:
            done = "a write transaction was begun, but its write found no space"
        checks.append(
            HealthCheckResult(
                name="writable",
                ok=why is None and (probe is None or full_disk),
                detail=why or (None if full_disk else probe) or done,
            )
        )
        space = (
            HealthCheckResult(name="disk-space", ok=True, detail="in memory")
            if self._memory
            else _health.disk_space(os.path.dirname(os.path.abspath(self.path)))
        )
        if full_disk:
            space = HealthCheckResult(
                name="disk-space", ok=False, detail=f"{probe}; {space.detail}"
            )
        checks.append(space)
        checks.append(self._integrity(op.full, size))
        return HealthReport.of(self.kind, checks, detail, full=op.full)

    def _probe_write(self) -> tuple[str | None, bool]:
        """(why a write would fail now or ``None``, whether another writer held
        the lock so nothing was probed).

        Begins a write transaction, inserts a row of :data:`_PROBE_PAGES`
        pages into the migrations table (so room for a write of that size must
        be found, free pages or new ones, as for a real write) and rolls back:
        nothing is ever committed, and the pages stay in the page cache.
        """
        if not self._write_lock.acquire(timeout=_PROBE_WAIT_MS / 1000):
            return None, True
        try:
            conn = self._conn()
            conn.execute(f"PRAGMA busy_timeout = {min(self._busy_ms, _PROBE_WAIT_MS)}")
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    return None, True
                raise
            try:
                page = conn.execute("PRAGMA page_size").fetchone()[0]
                conn.execute(
                    "INSERT INTO convostore_migrations (version, name, applied_at) "
                    "VALUES (-1, 'health check: rolled back', zeroblob(?))",
                    (page * _PROBE_PAGES,),
                )
            finally:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            self._failed(exc)
            return f"a write would fail: {exc}", False
        except ConvostoreError as exc:
            return str(exc), False
        finally:
            with contextlib.suppress(sqlite3.Error, ConvostoreError):
                self._conn().execute(f"PRAGMA busy_timeout = {self._busy_ms}")
            self._write_lock.release()
        return None, False

    def _integrity(self, full: bool, size: int) -> HealthCheckResult:
        whole = full or size <= QUICK_CHECK_MAX_BYTES
        pragma = "integrity_check" if full else "quick_check"
        try:
            with self._read() as conn:
                if whole:
                    found = [str(r[0]) for r in conn.execute(f"PRAGMA {pragma}(5)")]
                else:  # the root page and first leaf of every table
                    for table in ("convostore_migrations", "threads", "messages"):
                        conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchall()
                    found = ["ok"]
        except ConvostoreError as exc:
            return HealthCheckResult(name="integrity", ok=False, detail=str(exc))
        if found != ["ok"]:
            lines = [ln for r in found for ln in r.splitlines() if not ln.startswith("***")]
            shown = "; ".join(lines[:3]) + ("; ..." if len(lines) > 3 else "")
            return HealthCheckResult(
                name="integrity", ok=False, detail=f"PRAGMA {pragma} found damage: {shown}"
            )
        if whole:
            self._corrupt = None
        elif self._corrupt is not None:
            return HealthCheckResult(name="integrity", ok=False, detail=self._corrupt)
        if whole:
            return HealthCheckResult(
                name="integrity",
                ok=True,
                detail=f"PRAGMA {pragma}: ok ({_health.human_bytes(size)})",
            )
        return HealthCheckResult(
            name="integrity",
            ok=True,
            detail=f"header, schema and table roots read; the pages of this "
            f"{_health.human_bytes(size)} database are checked by "
            "health_check(full=True) and convostore doctor",
        )
