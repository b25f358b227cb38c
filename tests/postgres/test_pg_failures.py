"""Failures on PostgreSQL: cancelled calls, exhausted retries, error translation.

* A call cancelled mid-flight leaves its pooled connection idle and outside any
  transaction, and the next call on that same connection gets its own answer.
* Serialization failures are retried with backoff; when they do not stop, the
  caller gets a typed ConflictError and nothing is written.
* Every psycopg error maps to a convostore error.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from typing import Any

import psycopg
import psycopg_pool
import pytest
from psycopg import errors as pg_errors
from psycopg.pq import TransactionStatus

from convostore import (
    BackendUnavailableError,
    ConflictError,
    ConvostoreError,
    Message,
    SchemaTooOldError,
    ValidationError,
)
from convostore.store import AsyncStore, open_async_store, open_store
from convostore.store.postgres import AsyncPostgresBackend
from convostore.store.postgres._driver import RetryPolicy, translate

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]


# --- cancellation -----------------------------------------------------------------------


def _sessions(url: str, app: str) -> list[tuple[str, str | None]]:
    """(state, wait_event_type) of every server session of application ``app``."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT state, wait_event_type FROM pg_stat_activity WHERE application_name = %s",
            (app,),
        ).fetchall()
    return [(r[0], r[1]) for r in rows]


async def _wait_until_blocked(url: str, app: str) -> None:
    for _ in range(200):
        if ("active", "Lock") in await asyncio.to_thread(_sessions, url, app):
            return
        await asyncio.sleep(0.02)  # polls the server until the append really waits on the lock
    raise AssertionError("the append never blocked on the row lock")


def _pool(store: AsyncStore) -> psycopg_pool.AsyncConnectionPool[Any]:
    backend = store.backend
    assert isinstance(backend, AsyncPostgresBackend) and backend.pool is not None
    return backend.pool


@pytest.mark.parametrize("op", ["append", "update_thread"])
def test_cancelled_call_leaves_the_connection_clean(pg_url: str, schema: str, op: str) -> None:
    app = f"cs-cancel-{uuid.uuid4().hex[:8]}"

    async def run() -> None:
        async with open_async_store(
            pg_url,
            schema=schema,
            auto_migrate=True,
            min_size=1,
            max_size=1,
            connect_kwargs={"application_name": app},
        ) as store:
            t = await store.create_thread()
            other = await store.create_thread(title="other")
            blocker = await psycopg.AsyncConnection.connect(pg_url)
            try:
                # Hold the thread's row lock so the call blocks mid-transaction.
                await blocker.execute(
                    f'SELECT 1 FROM "{schema}".convostore_threads WHERE id = %s FOR UPDATE', (t.id,)
                )
                call: Coroutine[Any, Any, object]
                if op == "append":
                    call = store.append(t.id, Message.user("never", id="cancelled"))
                else:
                    call = store.update_thread(t.id, title="never")
                task = asyncio.create_task(call)
                await _wait_until_blocked(pg_url, app)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
            finally:
                await blocker.rollback()
                await blocker.close()

            # The pool's only connection is back, idle, outside any transaction.
            pool = _pool(store)
            assert pool.get_stats()["pool_available"] == 1
            async with pool.connection() as conn:
                assert conn.info.transaction_status == TransactionStatus.IDLE
            assert _sessions(pg_url, app) == [("idle", "Client")]

            # The next calls on that connection get their own data, and the
            # cancelled write did not happen.
            assert (await store.get_thread(other.id)).title == "other"
            fresh = await store.get_thread(t.id)
            assert (fresh.message_count, fresh.title, fresh.revision) == (0, None, 0)
            stored = await store.append(t.id, Message.user("after", id="after"))
            assert [m.seq for m in stored] == [1]
            page = await store.list_messages(t.id)
            assert [m.id for m in page.items] == ["after"]

    asyncio.run(run())


@pytest.mark.parametrize("face", ["sync", "async"])
def test_failed_transactions_roll_back_and_keep_the_connection(
    pg_url: str, schema: str, face: str
) -> None:
    """Write transactions are driven by hand in pipeline mode (BEGIN and COMMIT
    travel with the queries): a failure raised by the handler's checks after
    the lock query rolls back, and the pool's only connection, with its
    prepared statements, serves the next call. (A failure raised by the server
    inside the pipeline, a unique-key race, is covered by the id-race tests in
    test_pg_concurrency.py.)"""
    from convostore import DuplicateMessageError, RevisionConflictError, ThreadNotFoundError

    def scenario(call: Any) -> None:
        a, b = call("create_thread"), call("create_thread")
        call("append", a.id, Message.user("x", id="taken"))
        # more than psycopg's prepare threshold, so failures hit prepared statements
        for i in range(8):
            with pytest.raises(DuplicateMessageError):  # found by the lock query
                call(
                    "append",
                    b.id,
                    [Message.user("y", id=f"fresh-{i}"), Message.user("x", id="taken")],
                )
            with pytest.raises(ThreadNotFoundError):
                call("append", "missing", Message.user("z"))
            with pytest.raises(RevisionConflictError):
                call("update_thread", a.id, title="t", expected_revision=99)
        assert call("get_thread", b.id).message_count == 0
        assert call("get_thread", a.id).title is None
        stored = call("append", b.id, Message.user("ok"))
        assert [m.seq for m in stored] == [1]

    if face == "sync":
        with open_store(pg_url, schema=schema, auto_migrate=True, min_size=1, max_size=1) as store:
            scenario(lambda name, *args, **kw: getattr(store, name)(*args, **kw))
            pool = store.backend.pool
            assert pool is not None and pool.get_stats()["pool_available"] == 1
            with pool.connection() as conn:
                assert conn.info.transaction_status == TransactionStatus.IDLE
        return

    async def run() -> None:
        async with open_async_store(
            pg_url, schema=schema, auto_migrate=True, min_size=1, max_size=1
        ) as store:
            loop = asyncio.get_running_loop()

            def call(name: str, *args: Any, **kw: Any) -> Any:
                return asyncio.run_coroutine_threadsafe(
                    getattr(store, name)(*args, **kw), loop
                ).result()

            await asyncio.to_thread(scenario, call)
            pool = _pool(store)
            assert pool.get_stats()["pool_available"] == 1
            async with pool.connection() as conn:
                assert conn.info.transaction_status == TransactionStatus.IDLE

    asyncio.run(run())


def test_cancelled_wait_for_a_connection_is_harmless(pg_url: str, schema: str) -> None:
    async def run() -> None:
        async with open_async_store(
            pg_url, schema=schema, auto_migrate=True, min_size=1, max_size=1
        ) as store:
            t = await store.create_thread()
            pool = _pool(store)
            async with pool.connection():  # take the only connection
                waiting = asyncio.create_task(store.get_thread(t.id))
                await asyncio.sleep(0.1)  # the task must really be waiting for the pool
                waiting.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await waiting
            assert (await store.get_thread(t.id)).id == t.id
            assert pool.get_stats()["pool_available"] == 1

    asyncio.run(run())


# --- retries ------------------------------------------------------------------------------


def _inject_serialization_failures(url: str, schema: str, failures: int) -> None:
    """Make the first ``failures`` thread-row updates fail with SQLSTATE 40001."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            f"""
            CREATE SEQUENCE "{schema}".attempts;
            CREATE FUNCTION "{schema}".fail_updates() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF nextval('"{schema}".attempts') <= {failures} THEN
                    RAISE EXCEPTION 'injected' USING ERRCODE = 'serialization_failure';
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER fail_updates BEFORE UPDATE ON "{schema}".convostore_threads
                FOR EACH ROW EXECUTE FUNCTION "{schema}".fail_updates();
        """.encode()
        )


def _attempts(url: str, schema: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(f'SELECT last_value FROM "{schema}".attempts').fetchone()
    assert row is not None
    return int(row[0])


def test_retry_exhaustion_is_a_typed_conflict(pg_url: str, schema: str) -> None:
    with open_store(
        pg_url, schema=schema, auto_migrate=True, retries=3, retry_delay=0.001
    ) as store:
        t = store.create_thread()
        _inject_serialization_failures(pg_url, schema, 10**6)
        with pytest.raises(ConflictError) as info:
            store.append(t.id, Message.user("hello"))
        assert type(info.value) is ConflictError
        assert "4 times" in str(info.value) and "40001" in str(info.value)
        assert not isinstance(info.value.__cause__, psycopg.Error)
        assert _attempts(pg_url, schema) == 4  # the first try and three retries
        thread = store.get_thread(t.id)
        assert (thread.message_count, thread.revision) == (0, 0)
        assert store.list_messages(t.id).items == []


def test_transient_failures_are_retried_away(pg_url: str, schema: str) -> None:
    async def run() -> None:
        async with open_async_store(
            pg_url, schema=schema, auto_migrate=True, retries=5, retry_delay=0.001
        ) as store:
            t = await store.create_thread()
            _inject_serialization_failures(pg_url, schema, 3)
            stored = await store.append(t.id, [Message.user("a"), Message.user("b")])
            assert [m.seq for m in stored] == [1, 2]
            assert _attempts(pg_url, schema) == 4
            assert (await store.get_thread(t.id)).message_count == 2

    asyncio.run(run())


def test_async_retry_exhaustion_is_a_typed_conflict(pg_url: str, schema: str) -> None:
    async def run() -> None:
        async with open_async_store(
            pg_url, schema=schema, auto_migrate=True, retries=2, retry_delay=0.001
        ) as store:
            t = await store.create_thread()
            _inject_serialization_failures(pg_url, schema, 10**6)
            with pytest.raises(ConflictError):
                await store.update_thread(t.id, title="x")
            assert _attempts(pg_url, schema) == 3

    asyncio.run(run())


def test_backoff_is_bounded_and_jittered() -> None:
    policy = RetryPolicy(retries=8, base_delay=0.01)
    delays = [policy.delay(a) for a in range(1, 20) for _ in range(20)]
    assert all(0 <= d <= 0.5 for d in delays)
    assert len({round(d, 6) for d in delays}) > 100


# --- translation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (pg_errors.OperationalError("server closed the connection"), BackendUnavailableError),
        (pg_errors.AdminShutdown("terminating"), BackendUnavailableError),
        (pg_errors.TooManyConnections("too many"), BackendUnavailableError),
        (pg_errors.QueryCanceled("statement timeout"), BackendUnavailableError),
        (psycopg_pool.PoolTimeout("no connection"), BackendUnavailableError),
        (psycopg_pool.PoolClosed("closed"), BackendUnavailableError),
        (pg_errors.UndefinedTable("no table"), SchemaTooOldError),
        (pg_errors.UntranslatableCharacter("bad"), ValidationError),
        (pg_errors.CheckViolation("seq"), ConflictError),
        (pg_errors.SyntaxError("oops"), ConvostoreError),
    ],
)
def test_psycopg_errors_are_translated(exc: psycopg.Error, expected: type[Exception]) -> None:
    err = translate(exc)
    assert type(err) is expected


@pytest.mark.parametrize(
    "exc",
    [
        pg_errors.SerializationFailure("x"),
        pg_errors.DeadlockDetected("x"),
        pg_errors.UniqueViolation("x"),
    ],
)
def test_conflicts_are_retryable(exc: psycopg.Error) -> None:
    assert not isinstance(translate(exc), ConvostoreError)
