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

__all__ = ["RetryPolicy", "drive_async", "drive_sync", "run_async", "run_sync", "translate"]

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
