"""Running handlers on sqlite3: the connections of one database file.

:class:`Database` holds a connection per thread (one shared connection for
``:memory:``), opened in WAL mode with a busy timeout, and runs a handler's
generator on it (:meth:`Database.run`), sending back what each query fetched:

* a handler that writes runs in one ``BEGIN IMMEDIATE`` transaction under an
  in-process lock, so writers of several processes queue up on the database
  lock instead of failing half-way, and threads of one process do not spin on
  SQLite's busy handler;
* a snapshot read runs in one deferred transaction; its rows stream from the
  cursor into the decoding, inside the snapshot. An in-memory database has one
  connection, shared under the write lock: its rows are fetched first and
  decoded after the lock is released, so writers do not wait for the decoding;
* any other read runs each query on its own.

Errors are translated in one place (:func:`translate`): no sqlite3 exception
leaves the backend. A query that runs into a damaged page is remembered
(:attr:`Database.corrupt`) for the health check.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from convostore.errors import BackendUnavailableError, ConflictError, ConvostoreError
from convostore.store.sql.handlers import Mode, Steps
from convostore.store.sql.statements import Fetch, Query

__all__ = ["Database", "GroupBroken", "Savepoint", "is_corruption", "translate"]

T = TypeVar("T")

#: SQLite's primary result codes that mean the file's content is damaged.
_CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB


def is_corruption(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` says the database file is damaged. Text that is not
    UTF-8 is damage too: convostore writes none, so a damaged page holding a
    row's text shows as a column that cannot be decoded."""
    if "Could not decode to UTF-8" in str(exc):
        return True
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _CORRUPT_CODES
    text = str(exc)
    return "malformed" in text or "not a database" in text


def is_busy(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` is another connection holding the lock."""
    text = str(exc)
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def translate(exc: sqlite3.Error) -> ConvostoreError:
    """The convostore error for a sqlite3 error."""
    text = str(exc)
    if is_busy(exc):
        return BackendUnavailableError(f"SQLite database is busy: {text}")
    if isinstance(exc, sqlite3.IntegrityError):
        return ConflictError(f"constraint violated: {text}")
    return BackendUnavailableError(f"SQLite error: {text}")


def drive(conn: sqlite3.Connection, steps: Steps[T], begin: str | None, stream: bool) -> T:
    """Run every query ``steps`` yields on ``conn``; return what it returns.

    With ``begin``, that statement opens a transaction ahead of the first
    query (none when the handler decides before querying); the caller commits.
    ``stream``: a :attr:`Fetch.STREAM` query is answered with its cursor, to
    be read before the transaction ends, else with all its rows.
    """
    sent: Any = None
    while True:
        try:
            query: Query = steps.send(sent)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        if begin is not None:
            conn.execute(begin)
            begin = None
        sql, params, fetch, many = query
        if many:
            cur = conn.executemany(sql, params)
        else:
            cur = conn.execute(sql, () if params is None else params)
        if fetch is Fetch.ONE:
            sent = cur.fetchone()
        elif fetch is Fetch.ALL:
            sent = cur.fetchall()
        elif fetch is Fetch.ROWCOUNT:
            sent = cur.rowcount
        elif fetch is Fetch.STREAM:
            sent = cur if stream else cur.fetchall()
        else:
            sent = None


class GroupBroken(Exception):
    """A member of a group took the whole transaction down with it (a full
    disk, an I/O error): nothing of the group is stored, and the members must
    run again on their own."""


class Savepoint:
    """What a member of a group (:meth:`Database.group`) runs its handlers
    with: their queries go to the group's connection, inside the member's
    savepoint."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def run(self, steps: Steps[T]) -> T:
        """Run a handler's ``steps`` in the group's transaction."""
        try:
            return drive(self._conn, steps, None, False)
        finally:
            steps.close()

    def undo(self) -> None:
        """Roll back what this member wrote so far; its savepoint stays open."""
        self._conn.execute("ROLLBACK TO member")


class Database:
    """The connections of one SQLite database and the running of handlers on them."""

    def __init__(
        self,
        path: str,
        *,
        synchronous: str,
        busy_ms: int,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.path = path
        self.memory = path == ":memory:"
        self.synchronous = synchronous
        self.busy_ms = busy_ms
        self._clock = clock
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self.write_lock = threading.RLock()
        """Held by every writer of this process (and by every reader of an
        in-memory database, whose one connection they share)."""
        self._pid = os.getpid()
        self._closed = False
        self._shared: sqlite3.Connection | None = None
        self.corrupt: str | None = None
        """The last damage a query ran into, until a check of the whole file passes."""
        if not self.memory:
            parent = Path(path).parent
            try:
                parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise BackendUnavailableError(f"cannot create {parent}: {exc}") from None

    # connections -------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_ms / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute(f"PRAGMA busy_timeout = {self.busy_ms}")
            if not self.memory:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise BackendUnavailableError(
                        f"{self.path}: cannot switch to WAL mode (got {mode})"
                    )
            conn.execute(f"PRAGMA synchronous = {self.synchronous}")
            # A row replaced by a REPLACE conflict then fires the delete trigger
            # that takes it out of the search index (see the schema's migration 6).
            conn.execute("PRAGMA recursive_triggers = ON")
        except sqlite3.Error as exc:
            raise BackendUnavailableError(
                f"cannot open SQLite database {self.path}: {exc}"
            ) from None
        with self._conns_lock:
            self._conns.append(conn)
        return conn

    def conn(self) -> sqlite3.Connection:
        """This thread's connection (the shared one of an in-memory database)."""
        if self._closed:
            raise BackendUnavailableError("the store is closed")
        if self.memory:
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

    def failed(self, exc: sqlite3.Error) -> ConvostoreError:
        """The error to raise for ``exc``; a damaged page is remembered in
        :attr:`corrupt`, which the health check reports until a check of the
        whole database passes."""
        if is_corruption(exc):
            when = f"{self._clock():%Y-%m-%d %H:%M:%S}Z"
            self.corrupt = f"a query ran into a damaged page at {when}: {exc}"
        return translate(exc)

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A connection to read on, its errors translated."""
        lock = self.write_lock if self.memory else contextlib.nullcontext()
        with lock:
            try:
                yield self.conn()
            except sqlite3.Error as exc:
                raise self.failed(exc) from None

    # running handlers ------------------------------------------------------------

    def run(
        self,
        mode: Mode,
        steps: Steps[Any],
        *,
        writes: bool = False,
        post: Callable[[Any], T] | None = None,
    ) -> T:
        """Run a handler's ``steps`` in ``mode``; ``post`` turns what they
        returned into the result (whole-thread reads: the decoding), inside the
        snapshot when the rows stream from the cursor, else after the lock is
        released. ``writes``: a write transaction, whatever the mode."""
        try:
            if writes or mode is Mode.WRITE:
                with self.write_lock:
                    result = self._transaction(self.conn(), steps, "BEGIN IMMEDIATE", None)
            elif self.memory:
                with self.write_lock:
                    result = self._read(mode, steps)
            elif mode is Mode.SNAPSHOT:
                streamed: T = self._transaction(self.conn(), steps, "BEGIN", post)
                return streamed
            else:
                result = self._read(mode, steps)
        finally:
            steps.close()
        return result if post is None else post(result)

    def group(self, members: Sequence[Callable[[Savepoint], T]]) -> list[T | Exception]:
        """Run ``members`` in one write transaction, one commit for all of them.

        Each runs in a savepoint of its own: one that raises is rolled back to
        it and its error (translated) is its outcome, and the others go on.
        Outcomes are returned only once the commit has returned, in order. A
        failure to begin or to commit is raised (nothing is stored); a member
        whose failure ended the transaction raises :class:`GroupBroken`.
        """
        out: list[T | Exception] = []
        with self.write_lock:
            conn = self.conn()
            try:
                conn.execute("BEGIN IMMEDIATE")
                tx = Savepoint(conn)
                for member in members:
                    conn.execute("SAVEPOINT member")
                    try:
                        result = member(tx)
                    except Exception as exc:
                        if not conn.in_transaction:
                            raise GroupBroken(str(exc)) from exc
                        conn.execute("ROLLBACK TO member")
                        conn.execute("RELEASE member")
                        out.append(self.failed(exc) if isinstance(exc, sqlite3.Error) else exc)
                        continue
                    conn.execute("RELEASE member")
                    out.append(result)
                conn.execute("COMMIT")
            except BaseException as exc:
                failure = self._undo(conn, exc)
                if failure is exc:
                    raise
                raise failure from None
        return out

    def _read(self, mode: Mode, steps: Steps[Any]) -> Any:
        conn = self.conn()
        if mode is Mode.SNAPSHOT:
            return self._transaction(conn, steps, "BEGIN", None)
        try:
            return drive(conn, steps, None, False)
        except sqlite3.Error as exc:
            raise self.failed(exc) from None

    def _transaction(
        self,
        conn: sqlite3.Connection,
        steps: Steps[Any],
        begin: str,
        post: Callable[[Any], Any] | None,
    ) -> Any:
        """``steps`` (and ``post``) in a transaction opened by ``begin``,
        committed at the end, rolled back on any error."""
        try:
            result = drive(conn, steps, begin, post is not None)
            if post is not None:
                result = post(result)
            if conn.in_transaction:
                conn.execute("COMMIT")
        except BaseException as exc:
            failure = self._undo(conn, exc)
            if failure is exc:
                raise
            raise failure from None
        return result

    def _undo(self, conn: sqlite3.Connection, exc: BaseException) -> BaseException:
        """Roll back what ``conn`` has open after ``exc``; return the error to
        raise: the store's error for a sqlite3 one, else ``exc`` itself."""
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        return self.failed(exc) if isinstance(exc, sqlite3.Error) else exc
