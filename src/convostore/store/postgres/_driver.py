"""Running handlers on psycopg: the only part that differs between the faces.

A driver takes a handler's generator, runs the queries it yields on one pooled
connection (inside a transaction when the handler's mode asks for one) and sends
back what each query fetched. Two tiny drivers exist, :func:`run_sync` and
:func:`run_async`; everything else, including error translation and the retry
policy, is shared.

Errors are translated in one place, :func:`translate`: no psycopg exception
leaves the backend. Serialization failures, deadlocks and unique-key races are
retried with a fresh generator after a jittered exponential backoff; when the
retries run out the caller gets a :class:`~convostore.errors.ConflictError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
import psycopg_pool
from psycopg.pq import TransactionStatus

from convostore.errors import (
    BackendUnavailableError,
    ConflictError,
    ConvostoreError,
    SchemaTooOldError,
    ValidationError,
)
from convostore.store.postgres.migrations import LATEST
from convostore.store.sql.handlers import Mode, Steps
from convostore.store.sql.statements import Fetch, Query

__all__ = [
    "ALONE",
    "AsyncSavepoint",
    "GroupBroken",
    "RetryPolicy",
    "drive_async",
    "drive_sync",
    "group_async",
    "run_async",
    "run_sync",
    "translate",
]

T = TypeVar("T")

#: The statement opening each transaction mode's transaction.
BEGIN = {
    Mode.WRITE: b"BEGIN",
    Mode.SNAPSHOT: b"BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
}
COMMIT = b"COMMIT"
ROLLBACK = b"ROLLBACK"
#: Transaction states in which a connection holds an open transaction.
_IN_TRANSACTION = (TransactionStatus.INTRANS, TransactionStatus.INERROR)

#: SQLSTATEs worth running the whole transaction again for.
RETRYABLE = {
    "40001": "serialization failure",
    "40P01": "deadlock",
    "23505": "unique key race",
}


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a conflicted transaction is retried."""

    retries: int = 8
    base_delay: float = 0.005

    def delay(self, attempt: int) -> float:
        """Full-jitter exponential backoff for retry number ``attempt`` (1-based)."""
        cap = min(self.base_delay * 50, self.base_delay * 2 ** (attempt - 1))
        return random.uniform(0, cap)


class _Retry(Exception):
    """A failure that running the transaction again may cure."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _message(exc: psycopg.Error) -> str:
    primary = exc.diag.message_primary if exc.diag else None
    return primary or str(exc).strip() or type(exc).__name__


def translate(exc: psycopg.Error) -> ConvostoreError | _Retry:
    """The convostore error for a psycopg error, or a retry marker."""
    state = exc.sqlstate or ""
    if state in RETRYABLE:
        return _Retry(f"{RETRYABLE[state]} ({state}): {_message(exc)}")
    if isinstance(exc, psycopg_pool.PoolClosed):
        return BackendUnavailableError("the store is closed")
    if isinstance(exc, psycopg_pool.PoolTimeout | psycopg_pool.TooManyRequests):
        return BackendUnavailableError(f"no database connection available: {exc}")
    if state in ("42P01", "3F000"):  # undefined table / schema: dropped under us
        return SchemaTooOldError(
            f"convostore tables are missing ({_message(exc)}): run `convostore db upgrade`",
            found=0,
            expected=LATEST,
        )
    if state.startswith("22"):
        return ValidationError(f"rejected by the database: {_message(exc)}")
    if state.startswith("23"):
        return ConflictError(f"rejected by the database: {_message(exc)}")
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError) or state[:2] in (
        "08",
        "53",
        "57",
        "58",
    ):
        return BackendUnavailableError(f"PostgreSQL is unavailable: {_message(exc)}")
    return ConvostoreError(f"unexpected database error ({state or 'no SQLSTATE'}): {_message(exc)}")


def _give_up(policy: RetryPolicy, retry: _Retry) -> ConflictError:
    return ConflictError(
        f"the write conflicted with concurrent writes {policy.retries + 1} times "
        f"(last: {retry.reason}); try again later"
    )


# --- sync ---------------------------------------------------------------------------


def _fetch_sync(cur: psycopg.Cursor[Any], fetch: Fetch) -> Any:
    if fetch is Fetch.ALL or fetch is Fetch.STREAM:
        return cur.fetchall()
    if fetch is Fetch.ONE:
        return cur.fetchone()
    if fetch is Fetch.ROWCOUNT:
        return cur.rowcount
    return None


def drive_sync(conn: psycopg.Connection[Any], steps: Steps[T], begin: bytes | None = None) -> T:
    """Run every query ``steps`` yields on ``conn``; return what it returns.

    With ``begin``, that statement is sent ahead of the first query and
    ``COMMIT`` after the last one, in pipeline mode, without waiting for
    either: a transaction costs one round trip per query that fetches, plus
    the one that commits. BEGIN, COMMIT and ROLLBACK are never prepared: a
    statement queued behind a failure in the pipeline is skipped by the server,
    and psycopg could otherwise be left believing it prepared one.
    """
    with conn.cursor() as cur:
        if begin is not None:
            cur.execute(begin, prepare=False)
        sent: Any = None
        while True:
            try:
                query: Query = steps.send(sent)
            except StopIteration as stop:
                if begin is not None:
                    cur.execute(COMMIT, prepare=False)
                return stop.value  # type: ignore[no-any-return]
            cur.execute(query.sql, query.params)
            sent = _fetch_sync(cur, query.fetch)


def _once_sync(conn: psycopg.Connection[Any], mode: Mode, steps: Steps[T]) -> T:
    try:
        if mode is Mode.AUTOCOMMIT:
            return drive_sync(conn, steps)
        # The transaction is driven by hand rather than by conn.transaction(),
        # which syncs the pipeline on entry and before committing: two extra
        # round trips per transaction. Leaving the pipeline sends the COMMIT
        # and raises whatever failed in it.
        with conn.pipeline():
            return drive_sync(conn, steps, BEGIN[mode])
    except BaseException:
        if conn.info.transaction_status in _IN_TRANSACTION:
            try:
                conn.execute(ROLLBACK, prepare=False)
            except psycopg.Error:
                conn.close()
        # Interrupted mid-query (KeyboardInterrupt), or the rollback failed:
        # a connection that is not idle must not go back to the pool for
        # another caller to read from.
        if not conn.closed and conn.info.transaction_status != TransactionStatus.IDLE:
            conn.close()
        raise
    finally:
        steps.close()


def run_sync(
    connect: Callable[[], AbstractContextManager[psycopg.Connection[Any]]],
    mode: Mode,
    make: Callable[[], Steps[T]],
    policy: RetryPolicy,
) -> T:
    """Run a handler on a connection from ``connect`` (a pool's), retrying conflicts."""
    attempt = 0
    while True:
        try:
            with connect() as conn:
                return _once_sync(conn, mode, make())
        except psycopg.Error as exc:
            err = translate(exc)
            if not isinstance(err, _Retry):
                raise err from exc
            attempt += 1
            if attempt > policy.retries:
                raise _give_up(policy, err) from None
            time.sleep(policy.delay(attempt))


# --- async --------------------------------------------------------------------------


async def _fetch_async(cur: psycopg.AsyncCursor[Any], fetch: Fetch) -> Any:
    if fetch is Fetch.ALL or fetch is Fetch.STREAM:
        return await cur.fetchall()
    if fetch is Fetch.ONE:
        return await cur.fetchone()
    if fetch is Fetch.ROWCOUNT:
        return cur.rowcount
    return None


async def drive_async(
    conn: psycopg.AsyncConnection[Any], steps: Steps[T], begin: bytes | None = None
) -> T:
    """Run every query ``steps`` yields on ``conn``; return what it returns.

    ``begin`` works as in :func:`drive_sync`.
    """
    async with conn.cursor() as cur:
        if begin is not None:
            await cur.execute(begin, prepare=False)
        sent: Any = None
        while True:
            try:
                query: Query = steps.send(sent)
            except StopIteration as stop:
                if begin is not None:
                    await cur.execute(COMMIT, prepare=False)
                return stop.value  # type: ignore[no-any-return]
            await cur.execute(query.sql, query.params)
            sent = await _fetch_async(cur, query.fetch)


async def _once_async(conn: psycopg.AsyncConnection[Any], mode: Mode, steps: Steps[T]) -> T:
    try:
        if mode is Mode.AUTOCOMMIT:
            return await drive_async(conn, steps)
        async with conn.pipeline():
            return await drive_async(conn, steps, BEGIN[mode])
    except BaseException:
        # Cancelled mid-query: psycopg cancels the statement on the server; the
        # transaction is rolled back here. If the connection is still not idle
        # (the cancel itself was interrupted), close it so the pool replaces it
        # instead of handing a half-used session to the next caller.
        if conn.info.transaction_status in _IN_TRANSACTION:
            try:
                await conn.execute(ROLLBACK, prepare=False)
            except psycopg.Error:
                await conn.close()
        if not conn.closed and conn.info.transaction_status != TransactionStatus.IDLE:
            await conn.close()
        raise
    finally:
        steps.close()


async def run_async(
    connect: Callable[[], AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]],
    mode: Mode,
    make: Callable[[], Steps[T]],
    policy: RetryPolicy,
) -> T:
    """Run a handler on a connection from ``connect`` (a pool's), retrying conflicts."""
    attempt = 0
    while True:
        try:
            async with connect() as conn:
                return await _once_async(conn, mode, make())
        except psycopg.Error as exc:
            err = translate(exc)
            if not isinstance(err, _Retry):
                raise err from exc
            attempt += 1
            if attempt > policy.retries:
                raise _give_up(policy, err) from None
            await asyncio.sleep(policy.delay(attempt))


# --- group commit (async) -------------------------------------------------------------


class GroupBroken(Exception):
    """A group failed outside its members' savepoints before its commit was
    sent: nothing of it is stored, and each member must run again on its own."""


class _Alone:
    """The outcome of a member that met a conflict worth retrying (a key race,
    a deadlock): it runs again on its own, with the driver's retries, once the
    group has committed."""

    def __repr__(self) -> str:
        return "ALONE"


ALONE = _Alone()

SAVEPOINT = b"SAVEPOINT member"
RELEASE = b"RELEASE SAVEPOINT member"
ROLLBACK_TO = b"ROLLBACK TO SAVEPOINT member"


class AsyncSavepoint:
    """What a member of a group runs its handlers with: their queries go to the
    group's connection, inside the member's savepoint."""

    def __init__(self, conn: psycopg.AsyncConnection[Any], pipeline: psycopg.AsyncPipeline) -> None:
        self._conn = conn
        self._pipeline = pipeline

    async def run(self, steps: Steps[T]) -> T:
        """Run a handler's ``steps`` in the group's transaction.

        As :func:`drive_async`, except for a row count: in pipeline mode a
        cursor's ``rowcount`` is its statement's only once the results are in,
        so the pipeline is synced first.
        """
        try:
            async with self._conn.cursor() as cur:
                sent: Any = None
                while True:
                    try:
                        query: Query = steps.send(sent)
                    except StopIteration as stop:
                        return stop.value  # type: ignore[no-any-return]
                    await cur.execute(query.sql, query.params)
                    if query.fetch is Fetch.ROWCOUNT:
                        await self._pipeline.sync()
                        sent = cur.rowcount
                    else:
                        sent = await _fetch_async(cur, query.fetch)
        finally:
            steps.close()


async def group_async(
    conn: psycopg.AsyncConnection[Any],
    members: list[Callable[[AsyncSavepoint], Any]],
) -> list[Any]:
    """Run ``members`` (coroutine functions) in one transaction on ``conn``,
    one commit for all of them, in pipeline mode.

    Each runs in a savepoint of its own: one that raises is rolled back to it,
    and its outcome is its error (translated), or :data:`ALONE` for a conflict
    that running it again may cure; the others go on. Outcomes are returned
    once the commit is confirmed. Raises :class:`GroupBroken` when the group
    fails before its commit is sent, and the translated error when the commit
    fails (its outcome is then unknown, as a single commit's is).
    """
    out: list[Any] = []
    committing = False
    try:
        async with conn.pipeline() as pipeline, conn.cursor() as cur:
            await cur.execute(BEGIN[Mode.WRITE], prepare=False)
            tx = AsyncSavepoint(conn, pipeline)
            for member in members:
                await cur.execute(SAVEPOINT, prepare=False)
                try:
                    result = await member(tx)
                    if pipeline.result_queue or pipeline.command_queue:
                        # Statements of the member whose results are not in yet:
                        # an error of theirs must be this member's, not the next one's.
                        await pipeline.sync()
                except Exception as exc:
                    with contextlib.suppress(psycopg.Error):
                        await pipeline.sync()  # the aborted queue; the error is exc's
                    await cur.execute(ROLLBACK_TO, prepare=False)
                    await cur.execute(RELEASE, prepare=False)
                    if isinstance(exc, psycopg.Error):
                        err = translate(exc)
                        out.append(ALONE if isinstance(err, _Retry) else err)
                    else:
                        out.append(exc)
                    continue
                await cur.execute(RELEASE, prepare=False)
                out.append(result)
            committing = True
            await cur.execute(COMMIT, prepare=False)
            await pipeline.sync()
    except BaseException as exc:
        if not conn.closed and conn.info.transaction_status in _IN_TRANSACTION:
            try:
                await conn.execute(ROLLBACK, prepare=False)
            except psycopg.Error:
                await conn.close()
        if not conn.closed and conn.info.transaction_status != TransactionStatus.IDLE:
            await conn.close()
        if isinstance(exc, psycopg.Error):
            err = translate(exc)
            if committing:
                raise (
                    err
                    if isinstance(err, ConvostoreError)
                    else BackendUnavailableError(f"the commit failed: {err}")
                ) from exc
            raise GroupBroken(str(err)) from exc
        if isinstance(exc, Exception) and not committing:
            raise GroupBroken(str(exc)) from exc
        raise
    return out
