"""The two faces of the PostgreSQL backend: :class:`PostgresBackend` (sync) and
:class:`AsyncPostgresBackend` (natively async).

They differ only in the pool they hold and the driver they call; options,
statements, handlers, error translation and retries are shared. Opening a
backend checks the schema version on one connection before the pool starts, so
a wrong URL, a missing database or an old schema fails at once with a precise
message instead of after a pool timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any, ClassVar, TypeVar

import psycopg
import psycopg_pool

from convostore.errors import (
    BackendUnavailableError,
    ConflictError,
    ConvostoreError,
    SchemaVersionError,
)
from convostore.model import (
    HealthCheckResult,
    HealthReport,
    Message,
)
from convostore.store import ops
from convostore.store.backend import AsyncBackend, Backend, Capabilities
from convostore.store.group_commit import AppendGroups, Outcome
from convostore.store.postgres import _admin as admin
from convostore.store.postgres._config import Config, parse_config
from convostore.store.postgres._driver import (
    ALONE,
    AsyncSavepoint,
    GroupBroken,
    RetryPolicy,
    group_async,
    run_async,
    run_sync,
    translate,
)
from convostore.store.postgres._replicas import CURRENT_LSN, REPLAY_LSN, Routing, parse_lsn
from convostore.store.postgres._statements import PgStatements
from convostore.store.postgres.migrations import LATEST, render_ddl
from convostore.store.settings import Limits, StoreSettings, resolve_settings
from convostore.store.sql import handlers as h
from convostore.store.sql import rows

__all__ = ["AsyncPostgresBackend", "PostgresBackend", "drop_schema"]

T = TypeVar("T")

#: What a read on a replica may meet that the primary would not: the read is
#: run again elsewhere, and the replica left out for a while.
_REPLICA_TROUBLE = (psycopg.Error, BackendUnavailableError, ConflictError, SchemaVersionError)

_CAPABILITIES = Capabilities(
    multi_process=True, durable=True, attachments=True, branches=True, scoped_state=True
)


def _connect_kwargs(config: Config) -> dict[str, Any]:
    return {
        **config.connect_kwargs,
        "autocommit": True,
        "prepare_threshold": config.prepare_threshold,
    }


def _open_steps(config: Config, sq: PgStatements) -> tuple[h.Mode, Callable[[], h.Steps[Any]]]:
    """What opening a backend runs: migrate, check the version, or just read it."""
    if config.auto_migrate:
        return h.Mode.WRITE, lambda: admin.migrate(sq)
    if config.check_schema:
        return h.Mode.AUTOCOMMIT, lambda: admin.check_schema(sq)
    return h.Mode.AUTOCOMMIT, lambda: admin.schema_version(sq)


class _KnownRows:
    """The thread rows this process last created, read or wrote, for one-trip appends.

    Bounded: the oldest entry goes when ``size`` are kept, and a row whose
    body is over ``max_body`` characters is not kept. An entry that went stale
    (another process wrote the thread) costs one round trip that writes
    nothing, then the locked path refreshes it.
    """

    def __init__(self, size: int = 1024, max_body: int = 64 * 1024) -> None:
        self._rows: dict[tuple[str, str], h.Known] = {}
        self._size = size
        self._max_body = max_body
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> h.Known | None:
        return self._rows.get(key)

    def keep(self, key: tuple[str, str], known: h.Known) -> None:
        with self._lock:
            rows = self._rows
            rows.pop(key, None)
            if len(known.body) > self._max_body:
                return
            rows[key] = known
            if len(rows) > self._size:
                del rows[next(iter(rows))]

    def forget(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._rows.pop(key, None)


class _Common:
    """What both faces share: options, statements, retry policy, description."""

    kind: ClassVar[str] = "postgres"
    capabilities: ClassVar[Capabilities] = _CAPABILITIES
    latest_version: ClassVar[int] = LATEST
    """The schema version this code reads and writes."""
    settings: StoreSettings

    def _setup(self, url: str, options: dict[str, Any]) -> None:
        self.config = parse_config(url, options)
        self.statements = PgStatements(self.config.schema)
        self.policy = RetryPolicy(self.config.retries, self.config.retry_delay)
        self._known = _KnownRows()
        self._routing = Routing(len(self.config.replicas), self.config.replica_backoff)

    @property
    def consistency_token(self) -> str | None:
        """The WAL position this store's reads must see (its latest write, or
        the latest token handed to :meth:`observe`), as ``pg_lsn`` text; ``None``
        before any. Pass it to another store object (in another process, say)
        with :meth:`observe` so that its reads see this one's writes."""
        return self._routing.token()

    def observe(self, token: str) -> None:
        """Make this store's reads see everything up to ``token`` (a
        :attr:`consistency_token`): replicas that have not replayed that far are
        not read from.

        Raises:
            ValidationError: ``token`` is not a WAL position.
        """
        self._routing.wrote(parse_lsn(token))

    def _replica_pool_kwargs(self, i: int) -> dict[str, Any]:
        """A replica's pool: the primary's options, and a short checkout wait
        (a replica that cannot lend a connection soon is skipped)."""
        return {
            **self._pool_kwargs(),
            "conninfo": self.config.replicas[i],
            "timeout": min(self.config.pool_timeout, 2.0),
            "name": f"convostore:{self.config.schema}:replica{i}",
        }

    def _note_lsn(self, row: Any) -> None:
        if row is None:
            self._routing.write_unknown()
        else:
            self._routing.wrote(int(row[0]))

    @property
    def schema(self) -> str:
        return self.config.schema

    def _track(self, op: ops.Op[Any], mode: h.Mode, result: Any) -> None:
        """Keep the remembered thread rows in step with a write other than an
        append: a created thread is remembered, a changed one forgotten."""
        if isinstance(op, ops.CreateThread):
            body = rows.thread_body(result, self.settings.limits)  # what the insert stored
            counters = rows.counter_values(result, self.statements.time)
            self._known.keep((op.tenant, result.id), h.Known(result, body, counters))
        elif mode is h.Mode.WRITE:
            thread_id = getattr(op, "thread_id", None) or getattr(result, "thread_id", None)
            if isinstance(thread_id, str):
                self._known.forget((op.tenant, thread_id))

    def describe(self) -> str:
        return self.config.describe()

    def ddl(self) -> str:
        """The SQL that creates this backend's schema, for a DBA to apply by hand."""
        return render_ddl(self.config.schema)

    def _pool_kwargs(self) -> dict[str, Any]:
        c = self.config
        return {
            "conninfo": c.conninfo,
            "kwargs": _connect_kwargs(c),
            "min_size": c.min_size,
            "max_size": c.max_size,
            "timeout": c.pool_timeout,
            "open": False,
            "name": f"convostore:{c.schema}",
        }


class PostgresBackend(_Common, Backend):
    """A blocking store on PostgreSQL through a psycopg connection pool.

    Args:
        url: ``postgresql://user:password@host:port/dbname?option=value``.
        limits: size limits applied to every write.
        **options: ``schema``, ``auto_migrate``, ``check_schema``, ``min_size``,
            ``max_size``, ``pool_timeout``, ``retries``, ``retry_delay``,
            ``prepare_threshold``, ``connect_kwargs`` (see ``docs/postgres.md``).

    Raises:
        BackendUnavailableError: the server cannot be reached.
        SchemaTooOldError: the schema needs ``migrate()`` (and auto_migrate is off).
        SchemaTooNewError: the database was written by a newer convostore.
    """

    def __init__(
        self,
        url: str,
        *,
        settings: StoreSettings | None = None,
        limits: Limits | None = None,
        **options: Any,
    ) -> None:
        Backend.__init__(self, settings=settings, limits=limits)
        self._setup(url, options)
        config = self.config
        run_sync(self._connect_once, *_open_steps(config, self.statements), self.policy)
        self._pool: psycopg_pool.ConnectionPool[Any] = psycopg_pool.ConnectionPool(
            **self._pool_kwargs()
        )
        self._pool.open(wait=False)
        self._replicas = [
            psycopg_pool.ConnectionPool(**self._replica_pool_kwargs(i))
            for i in range(len(config.replicas))
        ]
        for replica in self._replicas:
            replica.open(wait=False)

    @contextlib.contextmanager
    def _connect_once(self) -> Iterator[psycopg.Connection[Any]]:
        """The connection opening runs on; with replicas, reads see at least
        what the primary held then (the schema, say)."""
        with psycopg.Connection.connect(
            self.config.conninfo, **_connect_kwargs(self.config)
        ) as conn:
            yield conn
            if self.config.replicas:
                self._note_lsn(conn.execute(CURRENT_LSN).fetchone())

    @property
    def pool(self) -> psycopg_pool.ConnectionPool[Any]:
        """The connection pool (for monitoring; do not use its connections for writes)."""
        return self._pool

    def _run(self, mode: h.Mode, make: Callable[[], h.Steps[T]]) -> T:
        return run_sync(self._pool.connection, mode, make, self.policy)

    @contextlib.contextmanager
    def _primary_noting_lsn(self) -> Iterator[psycopg.Connection[Any]]:
        """A primary connection that reads the WAL position once its caller's
        transaction is done (not after a failure)."""
        with self._pool.connection() as conn:
            yield conn
            try:
                self._note_lsn(conn.execute(CURRENT_LSN).fetchone())
            except psycopg.Error:
                self._routing.write_unknown()
                raise

    def _write(self, mode: h.Mode, make: Callable[[], h.Steps[T]]) -> T:
        if not self._replicas:
            return self._run(mode, make)
        return run_sync(self._primary_noting_lsn, mode, make, self.policy)

    def _read(self, mode: h.Mode, make: Callable[[], h.Steps[T]]) -> T:
        """On a replica that has replayed this store's writes, else the primary."""
        routing = self._routing
        for i in routing.candidates() if self._replicas else ():
            try:
                with self._replicas[i].connection() as conn:
                    if not routing.fresh(i) and not routing.saw(
                        i, _first(conn.execute(REPLAY_LSN).fetchone())
                    ):
                        continue
                    result = run_sync(lambda: contextlib.nullcontext(conn), mode, make, self.policy)
            except _REPLICA_TROUBLE:
                routing.failed(i)
                continue
            routing.count("replica_reads")
            return result
        if self._replicas:
            routing.count("primary_reads")
        return self._run(mode, make)

    def execute(self, op: ops.Op[T]) -> T:
        if isinstance(op, ops.HealthCheck):
            return self._health(op)  # type: ignore[return-value]
        if isinstance(op, ops.Append):
            return self._append(op)  # type: ignore[return-value]
        handler = h.HANDLERS[op.name]
        run = self._write if handler.writes else self._read
        result: T = run(handler.mode, lambda: handler.fn(self.statements, self.settings, op))
        if handler.post is not None:
            result = handler.post(self.settings, op, result)
        self._track(op, handler.mode, result)
        return result

    def _append(self, op: ops.Append) -> list[Message]:
        sq, settings, key = self.statements, self.settings, (op.tenant, op.thread_id)
        known = self._known.get(key)
        done = None
        if known is not None:
            done = self._write(h.Mode.AUTOCOMMIT, lambda: h.append_known(sq, settings, op, known))
        if done is None:
            try:
                done = self._write(h.Mode.WRITE, lambda: h.append(sq, settings, op))
            except BaseException:
                self._known.forget(key)
                raise
        self._known.keep(key, done.known)
        return done.messages

    def close(self) -> None:
        for replica in self._replicas:
            replica.close()
        self._pool.close()

    # schema management -------------------------------------------------------

    def migrate(self) -> list[int]:
        """Apply pending migrations; return the versions applied (empty if none)."""
        return self._write(h.Mode.WRITE, lambda: admin.migrate(self.statements))

    def schema_version(self) -> int:
        """The schema version recorded in the database (0: not installed)."""
        return self._run(h.Mode.AUTOCOMMIT, lambda: admin.schema_version(self.statements))

    def _health(self, op: ops.HealthCheck) -> HealthReport:
        try:
            report = self._run(
                h.Mode.AUTOCOMMIT, lambda: admin.health_check(self.statements, self.settings, op)
            )
        except ConvostoreError as exc:
            return _unhealthy(self.kind, exc, op)
        report.detail["pool"] = self._pool.get_stats()
        if self._replicas:
            report.detail["reads"] = self._routing.report()
        return report


class AsyncPostgresBackend(_Common, AsyncBackend):
    """The natively async face: an ``AsyncConnectionPool`` running the same handlers.

    Nothing connects in the constructor; :meth:`aopen` (called by
    ``async with open_async_store(...)``, or by the first operation) checks or
    migrates the schema and opens the pool.

    A cancelled call never leaves its connection to the next caller mid-query or
    mid-transaction: psycopg cancels the statement on the server, the
    transaction rolls back, and a connection that is still busy is closed and
    replaced by the pool.
    """

    def __init__(
        self,
        url: str,
        *,
        settings: StoreSettings | None = None,
        limits: Limits | None = None,
        **options: Any,
    ) -> None:
        self.settings = resolve_settings(settings, limits)
        self._setup(url, options)
        self._pool: psycopg_pool.AsyncConnectionPool[Any] | None = None
        self._replicas: list[psycopg_pool.AsyncConnectionPool[Any]] = []
        self._lock: asyncio.Lock | None = None
        self._closed = False
        self._groups: AppendGroups | None = None
        if self.config.group_commit.enabled:
            self._groups = AppendGroups(self._append_group, self.config.group_commit)

    @property
    def pool(self) -> psycopg_pool.AsyncConnectionPool[Any] | None:
        """The connection pool once open (for monitoring)."""
        return self._pool

    async def aopen(self) -> None:
        if self._pool is not None:
            return
        if self._closed:
            raise BackendUnavailableError("the store is closed")
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._pool is not None:
                return
            await run_async(
                self._connect_once, *_open_steps(self.config, self.statements), self.policy
            )
            pool: psycopg_pool.AsyncConnectionPool[Any] = psycopg_pool.AsyncConnectionPool(
                **self._pool_kwargs()
            )
            await pool.open(wait=False)
            replicas = [
                psycopg_pool.AsyncConnectionPool(**self._replica_pool_kwargs(i))
                for i in range(len(self.config.replicas))
            ]
            for replica in replicas:
                await replica.open(wait=False)
            self._replicas = replicas
            self._pool = pool

    @contextlib.asynccontextmanager
    async def _connect_once(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        conn = await psycopg.AsyncConnection.connect(
            self.config.conninfo, **_connect_kwargs(self.config)
        )
        async with conn:
            yield conn
            if self.config.replicas:
                await self._read_lsn(conn)

    async def aclose(self) -> None:
        self._closed = True
        pool, self._pool = self._pool, None
        replicas, self._replicas = self._replicas, []
        for replica in replicas:
            await replica.close()
        if pool is not None:
            await pool.close()

    async def _run(self, mode: h.Mode, make: Callable[[], h.Steps[T]]) -> T:
        if self._pool is None:
            await self.aopen()
        assert self._pool is not None
        return await run_async(self._pool.connection, mode, make, self.policy)

    @contextlib.asynccontextmanager
    async def _primary_noting_lsn(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """As the sync face's: a primary connection that reads the WAL position
        after its caller's transaction."""
        assert self._pool is not None
        async with self._pool.connection() as conn:
            yield conn
            await self._read_lsn(conn)

    async def _read_lsn(self, conn: psycopg.AsyncConnection[Any]) -> None:
        try:
            self._note_lsn(await (await conn.execute(CURRENT_LSN)).fetchone())
        except psycopg.Error:
            self._routing.write_unknown()
            raise

    async def _write(self, mode: h.Mode, make: Callable[[], h.Steps[T]]) -> T:
        if self._pool is None:
            await self.aopen()
        if not self._replicas:
            return await self._run(mode, make)
        return await run_async(self._primary_noting_lsn, mode, make, self.policy)

    async def _read(self, mode: h.Mode, make: Callable[[], h.Steps[T]]) -> T:
        """As the sync face's: a replica that has replayed this store's writes,
        else the primary."""
        if self._pool is None:
            await self.aopen()
        routing = self._routing
        for i in routing.candidates() if self._replicas else ():
            try:
                async with self._replicas[i].connection() as conn:
                    if not routing.fresh(i):
                        replayed = await (await conn.execute(REPLAY_LSN)).fetchone()
                        if not routing.saw(i, _first(replayed)):
                            continue
                    result = await run_async(lambda: _AsyncLent(conn), mode, make, self.policy)
            except _REPLICA_TROUBLE:
                routing.failed(i)
                continue
            routing.count("replica_reads")
            return result
        if self._replicas:
            routing.count("primary_reads")
        return await self._run(mode, make)

    async def execute(self, op: ops.Op[T]) -> T:
        if isinstance(op, ops.HealthCheck):
            return await self._health(op)  # type: ignore[return-value]
        if isinstance(op, ops.Append):
            if self._groups is not None:
                return await self._groups.append(op)  # type: ignore[return-value]
            return await self._append(op)  # type: ignore[return-value]
        handler = h.HANDLERS[op.name]
        run = self._write if handler.writes else self._read
        result: T = await run(handler.mode, lambda: handler.fn(self.statements, self.settings, op))
        if handler.post is not None:
            result = handler.post(self.settings, op, result)
        self._track(op, handler.mode, result)
        return result

    async def _append(self, op: ops.Append) -> list[Message]:
        sq, settings, key = self.statements, self.settings, (op.tenant, op.thread_id)
        known = self._known.get(key)
        done = None
        if known is not None:
            done = await self._write(
                h.Mode.AUTOCOMMIT, lambda: h.append_known(sq, settings, op, known)
            )
        if done is None:
            try:
                done = await self._write(h.Mode.WRITE, lambda: h.append(sq, settings, op))
            except BaseException:
                self._known.forget(key)
                raise
        self._known.keep(key, done.known)
        return done.messages

    async def _append_group(self, appends: Sequence[ops.Append]) -> list[Outcome]:
        """The appends in one transaction on one connection, each in a savepoint
        of its own (see :func:`group_async`). They run in thread order (stable),
        so two batches in flight lock thread rows in the same order. An append
        that met a key race or a deadlock, or all of them if the batch failed
        before its commit, runs again on its own."""
        if len(appends) == 1:
            return [await self._alone(appends[0])]
        order = sorted(range(len(appends)), key=lambda i: (appends[i].tenant, appends[i].thread_id))
        sq, settings = self.statements, self.settings

        def member(op: ops.Append) -> Callable[[AsyncSavepoint], Awaitable[list[Message]]]:
            key = (op.tenant, op.thread_id)

            async def run(tx: AsyncSavepoint) -> list[Message]:
                known = self._known.get(key)
                done = None
                try:
                    if known is not None:
                        done = await tx.run(h.append_known(sq, settings, op, known))
                    if done is None:
                        done = await tx.run(h.append(sq, settings, op))
                except BaseException:
                    self._known.forget(key)
                    raise
                # Not committed yet: an append that reads it before the commit
                # waits for the row lock, and one after a rollback finds the row
                # changed and takes the locked path.
                self._known.keep(key, done.known)
                return done.messages

            return run

        if self._pool is None:
            await self.aopen()
        assert self._pool is not None
        try:
            async with self._pool.connection() as conn:
                ran = await group_async(conn, [member(appends[i]) for i in order])
                if self._replicas:
                    await self._read_lsn(conn)
        except GroupBroken:
            for op in appends:
                self._known.forget((op.tenant, op.thread_id))
            return [await self._alone(op) for op in appends]
        except psycopg.Error as exc:  # the pool could not lend a connection
            err = translate(exc)
            return [err if isinstance(err, Exception) else ConflictError(str(err))] * len(appends)
        except ConvostoreError as exc:  # the commit failed: its outcome is unknown
            for op in appends:
                self._known.forget((op.tenant, op.thread_id))
            return [exc] * len(appends)
        out: list[Outcome] = [ConflictError("not run")] * len(appends)
        for i, outcome in zip(order, ran, strict=True):
            out[i] = await self._alone(appends[i]) if outcome is ALONE else outcome
        return out

    async def _alone(self, op: ops.Append) -> Outcome:
        try:
            return await self._append(op)
        except Exception as exc:
            return exc

    async def migrate(self) -> list[int]:
        """Apply pending migrations; return the versions applied (empty if none)."""
        return await self._write(h.Mode.WRITE, lambda: admin.migrate(self.statements))

    async def schema_version(self) -> int:
        """The schema version recorded in the database (0: not installed)."""
        return await self._run(h.Mode.AUTOCOMMIT, lambda: admin.schema_version(self.statements))

    async def _health(self, op: ops.HealthCheck) -> HealthReport:
        try:
            report = await self._run(
                h.Mode.AUTOCOMMIT, lambda: admin.health_check(self.statements, self.settings, op)
            )
        except ConvostoreError as exc:
            return _unhealthy(self.kind, exc, op)
        if self._pool is not None:
            report.detail["pool"] = self._pool.get_stats()
        if self._replicas:
            report.detail["reads"] = self._routing.report()
        return report


def _first(row: Any) -> int:
    """The number a one-value query returned (-1 for no row)."""
    return int(row[0]) if row else -1


class _AsyncLent(contextlib.AbstractAsyncContextManager["psycopg.AsyncConnection[Any]"]):
    """A connection already checked out, lent to :func:`run_async` as its pool would."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = conn

    async def __aenter__(self) -> psycopg.AsyncConnection[Any]:
        return self._conn

    async def __aexit__(self, *exc: object) -> None:
        return None


def _unhealthy(kind: str, exc: ConvostoreError, op: ops.HealthCheck) -> HealthReport:
    """The report of a health check that could not run to its end."""
    name = "schema" if isinstance(exc, SchemaVersionError) else "open"
    return HealthReport.of(
        kind, [HealthCheckResult(name=name, ok=False, detail=str(exc))], full=op.full
    )


def drop_schema(url: str, schema: str) -> None:
    """Remove convostore's objects from ``schema``: for tests and teardown.

    A schema other than ``public`` is dropped whole (``CASCADE``); in ``public``
    only convostore's tables are dropped. Missing objects are not an error.
    """
    config = parse_config(url, {"schema": schema})
    sq = PgStatements(config.schema)
    try:
        with psycopg.Connection.connect(config.conninfo, **_connect_kwargs(config)) as conn:
            if config.schema == "public":
                for table in (sq.messages_table, sq.threads_table, sq.migrations_table_name):
                    conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE".encode())
            else:
                conn.execute(f"DROP SCHEMA IF EXISTS {sq.quoted_schema} CASCADE".encode())
    except psycopg.Error as exc:
        err = translate(exc)
        raise (err if isinstance(err, ConvostoreError) else ConflictError(str(err))) from exc
