"""Group commit on SQLite: concurrent appends share a transaction, each keeps its own fate.

The scenarios are in ``tests/_group_commit.py`` (shared with PostgreSQL). A
fault at commit is injected with an authorizer that refuses ``COMMIT`` on
every connection of the store.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests._group_commit import KINDS, BatchSizes, check_outcomes, fire, plan

from convostore import AsyncStore, open_async_store, open_store
from convostore.errors import BackendUnavailableError, ValidationError
from convostore.store.group_commit import DEFAULT_GROUP_COMMIT, GroupCommit

THREADS = ["a", "b", "c"]


async def _opened(path: Path, **options: Any) -> AsyncStore:
    store = open_async_store(f"sqlite:///{path}", **options)
    await store.open()
    for t in THREADS:
        await store.create_thread(id=t)
    return store


def _recorded(store: AsyncStore) -> BatchSizes:
    groups = store._backend._groups  # type: ignore[attr-defined]
    sizes = BatchSizes()
    groups._write = sizes.wrap(groups._write)
    return sizes


def test_the_setting() -> None:
    assert GroupCommit.of("on") == DEFAULT_GROUP_COMMIT
    assert not GroupCommit.of("off").enabled
    assert not GroupCommit.of(1).enabled
    assert GroupCommit.of("8").max_batch == 8
    for bad in ("sometimes", 0, -3):
        with pytest.raises(ValidationError):
            GroupCommit.of(bad)


def test_off_means_no_batches(tmp_path: Path) -> None:
    async def run() -> None:
        store = await _opened(tmp_path / "s.db", group_commit="off")
        try:
            assert store._backend._groups is None  # type: ignore[attr-defined]
            got = await fire(store, plan(["good"] * 10, THREADS, "t"))
            assert all(isinstance(g, list) for g in got)
        finally:
            await store.close()

    asyncio.run(run())


def test_concurrent_appends_share_batches_and_all_are_stored(tmp_path: Path) -> None:
    async def run() -> None:
        store = await _opened(tmp_path / "s.db")
        sizes = _recorded(store)
        try:
            planned = plan(["good"] * 60, THREADS, "t")
            told = await fire(store, planned)
            await check_outcomes(store, THREADS, planned, told)
            assert max(sizes.sizes) > 1, sizes.sizes
            assert sum(sizes.sizes) == len(planned)
        finally:
            await store.close()

    asyncio.run(run())
    with open_store(f"sqlite:///{tmp_path / 's.db'}") as again:  # durable: read afresh
        assert sum(again.get_thread(t).message_count for t in THREADS) == 60


def test_a_failing_member_fails_alone(tmp_path: Path) -> None:
    async def run() -> None:
        store = await _opened(tmp_path / "s.db")
        sizes = _recorded(store)
        try:
            kinds = ["good", "missing", "good", "stale", "resend", "good", "clash", "good"] * 4
            planned = plan(kinds, THREADS, "t")
            told = await fire(store, planned)
            await check_outcomes(store, THREADS, planned, told)
            assert max(sizes.sizes) > 1, sizes.sizes
        finally:
            await store.close()

    asyncio.run(run())


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=40))
def test_any_mix_of_members(tmp_path: Path, kinds: list[str]) -> None:
    """Whatever the mix of good and failing appends in a batch, every
    acknowledged one is stored exactly once and every failing one fails with
    its own error and stores nothing."""

    async def run(tag: str) -> None:
        store = open_async_store(f"sqlite:///{tmp_path / 'h.db'}")
        await store.open()
        threads = [f"{tag}-{t}" for t in THREADS]
        try:
            for t in threads:
                await store.create_thread(id=t)
            planned = plan(kinds, threads, tag)
            await check_outcomes(store, threads, planned, await fire(store, planned))
        finally:
            await store.close()

    asyncio.run(run(f"x{len(list(tmp_path.glob('*')))}{abs(hash(tuple(kinds)))}"))


class _CommitFault:
    """Fails ``COMMIT`` on every connection the store opens while ``on`` is
    set, as a commit that cannot sync its log fails."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.on = threading.Event()
        self.refused = 0
        fault = self
        connect = sqlite3.connect

        class Faulty(sqlite3.Connection):
            def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
                if fault.on.is_set() and sql.strip().upper() == "COMMIT":
                    fault.refused += 1
                    raise sqlite3.OperationalError("disk I/O error (injected at commit)")
                return super().execute(sql, *args)

        monkeypatch.setattr(
            sqlite3, "connect", lambda *a, **k: connect(*a, **{**k, "factory": Faulty})
        )


def test_no_acknowledgement_before_the_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every commit refused, no append of a batch is acknowledged and
    none is stored; once commits go through again, appends are."""
    fault = _CommitFault(monkeypatch)

    async def run() -> None:
        store = await _opened(tmp_path / "s.db")
        sizes = _recorded(store)
        try:
            fault.on.set()
            planned = plan(["good"] * 30, THREADS, "f")
            told = await fire(store, planned)
            assert all(isinstance(t, BackendUnavailableError) for t in told), told
            assert fault.refused >= 1 and max(sizes.sizes) > 1
            fault.on.clear()  # reads commit their snapshot too
            for t in THREADS:
                assert await store.load_messages(t) == []
                assert (await store.get_thread(t)).message_count == 0
            planned = plan(["good"] * 30, THREADS, "g")
            await check_outcomes(store, THREADS, planned, await fire(store, planned))
        finally:
            await store.close()

    asyncio.run(run())


def test_a_member_that_ends_the_transaction_sends_the_batch_round_alone(
    tmp_path: Path,
) -> None:
    """A member whose failure takes the transaction down with it (here: its
    SQL rolls the transaction back) loses nothing of the others: they run
    again on their own."""

    async def run() -> None:
        store = await _opened(tmp_path / "s.db")
        backend = store._backend.backend  # type: ignore[attr-defined]
        original = backend._db.group
        broken = []

        def group(members: list[Any]) -> list[Any]:
            def killer(tx: Any) -> Any:
                tx._conn.execute("ROLLBACK")
                raise sqlite3.OperationalError("disk I/O error")

            if len(members) > 1 and not broken:
                broken.append(len(members))
                return original([members[0], killer, *members[1:]])
            return original(members)

        backend._db.group = group
        try:
            planned = plan(["good"] * 40, THREADS, "k")
            told = await fire(store, planned)
            await check_outcomes(store, THREADS, planned, told)
            assert broken, "no batch was broken"
        finally:
            await store.close()

    asyncio.run(run())
