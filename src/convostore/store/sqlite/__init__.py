"""SQLite backend: the embedded default.

One row per message, so an append writes the new rows and one thread row, and
reading the newest messages is an index range scan: neither grows with the
length of the thread. The database runs in WAL mode with a busy timeout; every
write is a ``BEGIN IMMEDIATE`` transaction, so writers of several processes
queue up instead of failing half-way, and within one process a lock keeps
threads from spinning on SQLite's busy handler. The thread counters are updated
in the same transaction as the messages they count.

Every operation is a handler of :mod:`convostore.store.sql.handlers`, shared
with PostgreSQL, run over this engine's statements (``_statements``) by a
small driver (``_driver``); what only SQLite has lives beside them: the schema
and its migrations (``_schema``) and the health checks (``_health``).

Options (keyword arguments or URL query parameters):
    synchronous: ``full`` (default: an acknowledged write survives power loss)
        or ``normal`` (survives a crash of the process; the last transactions
        may roll back on power loss).
    busy_timeout: milliseconds a writer waits for another process (default 10000).
    group_commit: ``on`` (default: concurrent appends of the async face share
        one transaction and its commit, up to 64 of them), ``off``, or the
        largest batch; see :mod:`convostore.store.group_commit`.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from typing import Any, ClassVar, TypeVar

from convostore.errors import ValidationError
from convostore.model import HealthReport, Message
from convostore.store import ops
from convostore.store.backend import Backend, Capabilities
from convostore.store.group_commit import GroupCommit, Outcome
from convostore.store.settings import Limits, StoreSettings
from convostore.store.sql import handlers as h
from convostore.store.sqlite import _health, _schema
from convostore.store.sqlite._driver import Database, GroupBroken, Savepoint
from convostore.store.sqlite._health import diagnose
from convostore.store.sqlite._statements import SqliteStatements

__all__ = ["QUICK_CHECK_MAX_BYTES", "SQLiteBackend", "diagnose"]

T = TypeVar("T")

_SYNCHRONOUS = {"full": "FULL", "normal": "NORMAL", "extra": "EXTRA", "off": "OFF"}

QUICK_CHECK_MAX_BYTES = 16 * 2**20
"""The cheap health check runs ``PRAGMA quick_check`` over databases up to this
size: about 10 ms (it reads every page, some 0.6 ms per MiB from the page cache;
600 ms for 1 GiB). A larger database gets the header, schema and table roots
read, and its pages checked only by ``health_check(full=True)``."""


class SQLiteBackend(Backend):
    """A SQLite database file (or ``:memory:``)."""

    kind: ClassVar[str] = "sqlite"
    capabilities: ClassVar[Capabilities] = Capabilities(
        multi_process=True, attachments=True, branches=True, scoped_state=True
    )
    latest_version: ClassVar[int] = _schema.LATEST_VERSION
    """The schema version this code reads and writes."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        settings: StoreSettings | None = None,
        limits: Limits | None = None,
        synchronous: str = "full",
        busy_timeout: int | str = 10_000,
        group_commit: GroupCommit | bool | int | str = True,
    ) -> None:
        super().__init__(settings=settings, limits=limits)
        self.path = str(path)
        mode = _SYNCHRONOUS.get(str(synchronous).lower())
        if mode is None:
            raise ValidationError(f"must be one of {sorted(_SYNCHRONOUS)}", field="synchronous")
        try:
            busy_ms = int(busy_timeout)
        except ValueError:
            raise ValidationError(
                "must be an integer (milliseconds)", field="busy_timeout"
            ) from None
        # One writer at a time: one batch at a time.
        self.group_commit = GroupCommit.of(group_commit, batches=1)
        self.statements = SqliteStatements()
        self._db = Database(self.path, synchronous=mode, busy_ms=busy_ms, clock=self.now)
        self._write_lock = self._db.write_lock
        try:
            self.migrate()
        except BaseException:
            self.close()
            raise

    def describe(self) -> str:
        return f"sqlite:///{self.path}"

    def _conn(self) -> sqlite3.Connection:
        """This thread's connection (for diagnostics; writes go through handlers)."""
        return self._db.conn()

    def close(self) -> None:
        self._db.close()

    # operations --------------------------------------------------------------

    def execute(self, op: ops.Op[T]) -> T:
        if isinstance(op, ops.HealthCheck):
            return self._health(op)  # type: ignore[return-value]
        if isinstance(op, ops.Append):
            return self._append(op)  # type: ignore[return-value]
        handler = h.HANDLERS[op.name]
        settings, post = self.settings, handler.post
        result: T = self._db.run(
            handler.mode,
            handler.fn(self.statements, settings, op),
            writes=handler.writes,
            post=None if post is None else lambda read: post(settings, op, read),
        )
        return result

    def _append(self, op: ops.Append) -> list[Message]:
        """The quick path first (one relative ``UPDATE ... RETURNING`` and the
        rows), the locked path on any doubt: it tells re-sends from conflicts
        and names the exact error."""
        sq, settings, db = self.statements, self.settings, self._db
        try:
            quick: list[Message] = db.run(
                h.Mode.WRITE, h.append_advance(sq, settings, op), writes=True
            )
            return quick
        except h.Fallback:
            pass
        done: h.Appended = db.run(h.Mode.WRITE, h.append(sq, settings, op), writes=True)
        return done.messages

    def append_group(self, appends: Sequence[ops.Append]) -> list[Outcome]:
        """The appends in one transaction, each in a savepoint of its own (see
        :meth:`Database.group`); if one takes the transaction down, each runs
        again on its own."""
        if len(appends) == 1:
            return super().append_group(appends)
        sq, settings = self.statements, self.settings

        def member(op: ops.Append) -> Any:
            def run(tx: Savepoint) -> list[Message]:
                try:
                    quick: list[Message] = tx.run(h.append_advance(sq, settings, op))
                    return quick
                except h.Fallback:
                    tx.undo()
                done: h.Appended = tx.run(h.append(sq, settings, op))
                return done.messages

            return run

        try:
            return self._db.group([member(op) for op in appends])
        except GroupBroken:
            return super().append_group(appends)
        except Exception as exc:  # beginning or committing failed: nothing is stored
            return [exc for _ in appends]

    def _health(self, op: ops.HealthCheck) -> HealthReport:
        return _health.check(
            self._db,
            op,
            latest=_schema.LATEST_VERSION,
            describe=self.describe(),
            quick_max=QUICK_CHECK_MAX_BYTES,
        )

    # schema ------------------------------------------------------------------

    def schema_version(self) -> int:
        """The newest migration recorded in the database (0 for an empty one)."""
        version: int = self._db.run(h.Mode.AUTOCOMMIT, _schema.schema_version())
        return version

    def migrate(self) -> list[int]:
        """Apply pending migrations, each in its own transaction; return their versions."""
        applied: list[int] = []
        for migration in _schema.MIGRATIONS:
            steps = _schema.apply(migration, self.path, self.now().isoformat())
            if self._db.run(h.Mode.WRITE, steps, writes=True):
                applied.append(migration.version)
        return applied

    @staticmethod
    def ddl() -> str:
        """The full schema as SQL, for review or to apply by hand."""
        return _schema.ddl()
