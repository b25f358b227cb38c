"""Group commit on PostgreSQL: concurrent appends share a transaction on one
connection, each in its own savepoint, and keep their own fate.

The scenarios are in ``tests/_group_commit.py`` (shared with SQLite). A fault at
commit is a deferred constraint trigger that raises while a flag row says so.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests._group_commit import KINDS, BatchSizes, check_outcomes, fire, plan

from convostore import AsyncStore, open_async_store
from convostore.errors import ConvostoreError

pytestmark = pytest.mark.postgres

THREADS = ["a", "b", "c", "d"]


async def _opened(pg_url: str, schema: str, **options: Any) -> AsyncStore:
    store = open_async_store(pg_url, schema=schema, auto_migrate=True, **options)
    await store.open()
    return store


def _recorded(store: AsyncStore) -> BatchSizes:
    groups = store._backend._groups  # type: ignore[attr-defined]
    sizes = BatchSizes()
    groups._write = sizes.wrap(groups._write)
    return sizes


async def _threads(store: AsyncStore, tag: str) -> list[str]:
    threads = [f"{tag}-{t}" for t in THREADS]
    for t in threads:
        await store.create_thread(id=t)
    return threads


def test_off_means_no_batches(pg_url: str, schema: str) -> None:
    async def run() -> None:
        store = await _opened(pg_url, schema, group_commit="off")
        try:
            assert store._backend._groups is None  # type: ignore[attr-defined]
            threads = await _threads(store, "o")
            planned = plan(["good", "missing", "clash"] * 4, threads, "o")
            await check_outcomes(store, threads, planned, await fire(store, planned))
        finally:
            await store.close()

    asyncio.run(run())


def test_a_failing_member_fails_alone(pg_url: str, schema: str) -> None:
    """Good appends, appends to a missing thread, at a stale revision, exact
    re-sends and ids clashing across threads, all in shared batches."""

    async def run() -> None:
        store = await _opened(pg_url, schema)
        sizes = _recorded(store)
        try:
            threads = await _threads(store, "f")
            kinds = ["good", "missing", "good", "stale", "resend", "good", "clash", "good"] * 5
            planned = plan(kinds, threads, "f")
            await check_outcomes(store, threads, planned, await fire(store, planned))
            assert max(sizes.sizes) > 1, sizes.sizes
        finally:
            await store.close()

    asyncio.run(run())


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=40))
def test_any_mix_of_members(pg_url: str, schema: str, kinds: list[str]) -> None:
    async def run() -> None:
        store = await _opened(pg_url, schema)
        try:
            tag = uuid.uuid4().hex[:8]
            threads = await _threads(store, tag)
            planned = plan(kinds, threads, tag)
            await check_outcomes(store, threads, planned, await fire(store, planned))
        finally:
            await store.close()

    asyncio.run(run())


def _install_commit_fault(pg_url: str, schema: str) -> None:
    q = f'"{schema}"'
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {q}.fault (failing boolean NOT NULL)")
        conn.execute(f"INSERT INTO {q}.fault VALUES (false)")
        conn.execute(
            f"CREATE FUNCTION {q}.fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN IF (SELECT failing FROM {q}.fault) THEN "
            "RAISE EXCEPTION 'injected fault at commit'; END IF; RETURN NULL; END $$"
        )
        conn.execute(
            f"CREATE CONSTRAINT TRIGGER fail_at_commit AFTER INSERT ON {q}.convostore_messages "
            f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {q}.fail_at_commit()"
        )


def _set_fault(pg_url: str, schema: str, failing: bool) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'UPDATE "{schema}".fault SET failing = %s', (failing,))


def test_no_acknowledgement_before_the_commit(pg_url: str, schema: str) -> None:
    """With every commit failing, no append is acknowledged and none is
    stored; once commits go through again, appends are."""

    async def run() -> None:
        store = await _opened(pg_url, schema)
        sizes = _recorded(store)
        try:
            threads = await _threads(store, "c")
            _install_commit_fault(pg_url, schema)
            _set_fault(pg_url, schema, True)
            planned = plan(["good"] * 40, threads, "c")
            told = await fire(store, planned)
            assert all(isinstance(t, ConvostoreError) for t in told), told
            assert max(sizes.sizes) > 1, sizes.sizes
            for t in threads:
                assert await store.load_messages(t) == []
                assert (await store.get_thread(t)).message_count == 0
            _set_fault(pg_url, schema, False)
            planned = plan(["good"] * 40, threads, "d")
            await check_outcomes(store, threads, planned, await fire(store, planned))
        finally:
            await store.close()

    asyncio.run(run())
