"""Reads on streaming replicas, with read-your-writes.

The module starts a primary and a streaming standby of its own (free ports, a
temporary directory, stopped and removed at the end). A store opened with
``replica=`` reads from the standby only once it has replayed the store's own
writes; a lagging, paused or dead standby costs the caller nothing but a read
on the primary.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from tests._harness import require_pg
from tests._servers import PgPair

from convostore import NotFoundError, ValidationError
from convostore.store import open_async_store, open_store
from convostore.store.postgres import drop_schema
from convostore.store.postgres._config import parse_config
from convostore.store.postgres._replicas import format_lsn, parse_lsn

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def pair() -> Iterator[PgPair]:
    require_pg()  # the same prerequisites: psycopg, and CI=true failing on a gap
    servers = PgPair()
    try:
        yield servers
    finally:
        servers.stop()


@pytest.fixture
def schema(pair: PgPair) -> Iterator[str]:
    name = f"cs_repl_{uuid.uuid4().hex[:12]}"
    yield name
    drop_schema(pair.primary.url, name)


def _url(pair: PgPair, schema: str, **extra: object) -> str:
    query = "&".join(f"{k}={v}" for k, v in extra.items())
    return (
        f"{pair.primary.url}?schema={schema}&replica=127.0.0.1:{pair.standby.port}"
        f"&auto_migrate=true{'&' + query if query else ''}"
    )


def _caught_up(pair: PgPair) -> None:
    """Wait until the standby has replayed everything the primary wrote so far."""
    with psycopg.connect(pair.primary.url, autocommit=True) as p:
        target = p.execute("SELECT pg_current_wal_insert_lsn()").fetchone()
    with psycopg.connect(pair.standby.url, autocommit=True) as s:
        for _ in range(300):
            row = s.execute("SELECT pg_last_wal_replay_lsn() >= %s", target).fetchone()
            if row and row[0]:
                return
            time.sleep(0.02)
    raise AssertionError("the standby did not catch up")


class _Paused:
    """Replay paused on the standby for the block (always resumed)."""

    def __init__(self, pair: PgPair) -> None:
        self.conn = psycopg.connect(pair.standby.url, autocommit=True)

    def __enter__(self) -> None:
        self.conn.execute("SELECT pg_wal_replay_pause()")

    def __exit__(self, *exc: object) -> None:
        self.conn.execute("SELECT pg_wal_replay_resume()")
        self.conn.close()


def _reads(store: object) -> dict[str, int]:
    counts: dict[str, int] = store.backend._routing.counts  # type: ignore[attr-defined]
    return dict(counts)


def test_replica_urls_and_bad_replicas() -> None:
    cfg = parse_config("postgresql://u@p:5432/db?replica=r1:5433&replica=r2", {})
    assert cfg.replicas == ("postgresql://u@r1:5433/db", "postgresql://u@r2/db")
    cfg = parse_config("postgresql://p/db", {"replicas": ["postgresql://x@r3:1/other"]})
    assert cfg.replicas[0].startswith("postgresql://x@r3:1/other")
    for bad in ("r1:notaport", "u@r1:5433", "r1:70000"):
        with pytest.raises(ValidationError) as err:
            parse_config(f"postgresql://p/db?replica={bad}", {})
        assert err.value.field == "replica"
    with pytest.raises(ValidationError):
        parse_config("postgresql://p/db", {"replicas": 5})
    for token in ("not-a-position", "1/", "1/2/3", "G/0"):
        with pytest.raises(ValidationError):
            parse_lsn(token)
    assert parse_lsn(format_lsn(0x16_B374D848)) == 0x16_B374D848


def test_reads_without_own_writes_use_the_replica_and_tokens_carry_writes(
    pair: PgPair, schema: str
) -> None:
    with open_store(_url(pair, schema)) as writer, open_store(_url(pair, schema)) as reader:
        thread = writer.create_thread()
        _caught_up(pair)
        with _Paused(pair):
            writer.append(thread.id, {"role": "user", "content": "after the pause"})
            # The writer's own read is fresh: the paused standby is behind it.
            assert len(writer.recent(thread.id)) == 1
            assert _reads(writer)["lagging"] >= 1
            # Another handle with no token reads the standby, which is stale
            # (what proves reads really went there) ...
            assert reader.recent(thread.id) == []
            assert _reads(reader)["replica_reads"] >= 1
            # ... until it is handed the writer's token.
            token = writer.backend.consistency_token
            assert token is not None
            reader.backend.observe(token)
            assert len(reader.recent(thread.id)) == 1
        _caught_up(pair)
        before = _reads(reader)["replica_reads"]
        assert len(reader.recent(thread.id)) == 1
        assert _reads(reader)["replica_reads"] == before + 1


def test_read_your_writes_under_concurrent_async_writers(pair: PgPair, schema: str) -> None:
    """16 writers, each reading its thread back right after every append, half
    of them while replay is paused: no read misses a write the same store made.
    Once the standby has caught up, the same reads are served by it."""
    stale: list[str] = []
    open_store(_url(pair, schema)).close()  # the schema, on the standby too
    _caught_up(pair)

    async def run() -> dict[str, int]:
        async with open_async_store(_url(pair, schema, max_size=8)) as store:
            threads: dict[int, str] = {}

            async def writer(w: int) -> None:
                threads[w] = (await store.create_thread()).id
                for j in range(15):
                    await store.append(threads[w], {"role": "user", "content": f"{w}-{j}"})
                    try:
                        got = len(await store.recent(threads[w], 100))
                    except NotFoundError:
                        got = -1
                    if got != j + 1:
                        stale.append(f"writer {w} read {got} of {j + 1}")

            await asyncio.gather(*(writer(w) for w in range(8)))
            with _Paused(pair):
                await asyncio.gather(*(writer(w) for w in range(8, 16)))
            _caught_up(pair)
            for tid in threads.values():
                assert len(await store.recent(tid, 100)) == 15
            return _reads(store)

    counts = asyncio.run(run())
    assert stale == []
    assert counts["lagging"] > 0  # the paused phase did fall back
    assert counts["replica_reads"] >= 16  # and the caught-up standby served reads


def test_a_replica_killed_mid_load_costs_no_errors(pair: PgPair, schema: str) -> None:
    errors: list[BaseException] = []
    with open_store(_url(pair, schema, replica_backoff=0.5)) as store:
        threads = [store.create_thread().id for _ in range(4)]
        _caught_up(pair)
        with open_store(_url(pair, schema, replica_backoff=0.5)) as reader:
            stop = threading.Event()

            def load() -> None:
                while not stop.is_set():
                    try:
                        for tid in threads:
                            reader.recent(tid)
                            reader.get_thread(tid)
                    except BaseException as exc:
                        errors.append(exc)
                        return

            workers = [threading.Thread(target=load) for _ in range(4)]
            for t in workers:
                t.start()
            try:
                time.sleep(0.5)
                assert _reads(reader)["replica_reads"] > 0
                pair.standby.kill()
                time.sleep(1.0)
                after_kill = _reads(reader)
            finally:
                stop.set()
                for t in workers:
                    t.join(30)
                pair.standby.start()
            assert errors == []
            assert after_kill["failures"] >= 1
            assert after_kill["primary_reads"] > 0
            # Back after the backoff: reads return to the replica.
            time.sleep(0.6)
            before = _reads(reader)["replica_reads"]
            deadline = time.monotonic() + 10
            while _reads(reader)["replica_reads"] == before and time.monotonic() < deadline:
                reader.recent(threads[0])
                time.sleep(0.1)
            assert _reads(reader)["replica_reads"] > before
