"""Concurrent writers and readers on PostgreSQL: nothing lost, nothing doubled.

16 async tasks, and separately 4 processes, append 500 messages each, first to
one thread and then spread over 50 threads, while readers run alongside. After
the run every message is stored exactly once, seq is 1..n in every thread, each
writer's messages keep their order, and every read a reader made was a prefix
(or, for ``recent``, a contiguous slice) of the final order.

Every test runs twice: on the server directly, and through a PgBouncer in
transaction pooling mode with a pool smaller than the writers
(``postgres-pgbouncer``).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import random
import threading
import time
from collections import defaultdict
from collections.abc import Sequence

import pytest
from tests._harness import require_pg

from convostore import DuplicateMessageError, Message, NotFoundError
from convostore.store import AsyncStore, Store, open_async_store, open_store

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(240)]


@pytest.fixture(params=["postgres", "postgres-pgbouncer"])
def pg_url(request: pytest.FixtureRequest) -> str:
    """The server, directly or through PgBouncer (replaces the package's fixture)."""
    if request.param == "postgres-pgbouncer":
        url: str = request.getfixturevalue("pgbouncer_url")
        return url
    return require_pg()


PER_WRITER = 250
THREADS = 50

#: Commit without waiting for the WAL flush: visibility and atomicity are exactly
#: the same, only a server crash could lose the newest commits, which these tests
#: do not cause. It keeps a shared test machine's disk out of the timings.
FAST_COMMIT = {"options": "-c synchronous_commit=off"}

Observation = tuple[str, list[tuple[int, str]]]  # thread id, (seq, message id) read


def _target(threads: Sequence[str], writer: int, j: int) -> str:
    if len(threads) == 1:
        return threads[0]
    return threads[(writer * PER_WRITER + j) % len(threads)]


def _msg_id(writer: int, j: int) -> str:
    return f"w{writer}-{j}"


def _check(final: dict[str, list[Message]], writers: int, observations: list[Observation]) -> None:
    everything = [m for msgs in final.values() for m in msgs]
    ids = [m.id for m in everything]
    expected = {_msg_id(w, j) for w in range(writers) for j in range(PER_WRITER)}
    assert len(ids) == len(set(ids)), "a message was stored twice"
    assert set(ids) == expected, f"{len(expected - set(ids))} messages lost"
    by_writer: dict[str, list[int]] = defaultdict(list)
    for tid, msgs in final.items():
        assert [m.seq for m in msgs] == list(range(1, len(msgs) + 1)), f"gap in {tid}"
        for m in msgs:
            w, j = m.id[1:].split("-")
            by_writer[f"{tid}/{w}"].append(int(j))
    for key, js in by_writer.items():
        assert js == sorted(js), f"writer order broken in {key}"
    assert observations, "the readers saw nothing"
    for tid, seen in observations:
        order = [m.id for m in final[tid]]
        if not seen:
            continue
        first = seen[0][0]
        assert [s for s, _ in seen] == list(range(first, first + len(seen))), "gap in a read"
        assert [i for _, i in seen] == order[first - 1 : first - 1 + len(seen)], (
            "a reader saw something other than a slice of the final order"
        )


def _final(store: Store, threads: Sequence[str]) -> dict[str, list[Message]]:
    return {tid: list(store.iter_messages(tid, batch=1000)) for tid in threads}


# --- async tasks ------------------------------------------------------------------------


async def _async_reader(
    store: AsyncStore, threads: Sequence[str], done: asyncio.Event, seen: list[Observation]
) -> None:
    """Mostly the growing edge (``recent``); each second the whole thread, page by page.

    Whole reads are rationed because parsing thousands of messages holds the event
    loop, and with it the writers, for a while.
    """
    rng = random.Random(7)
    last_full = time.monotonic()
    while not done.is_set():
        tid = rng.choice(threads)
        if time.monotonic() - last_full > 1.0:
            last_full = time.monotonic()
            msgs = [m async for m in store.iter_messages(tid, batch=1000)]
        else:
            msgs = await store.recent(tid, 30)
        seen.append((tid, [(m.seq or 0, m.id) for m in msgs]))
        await asyncio.sleep(0.01)  # paces the reader among real concurrent writers


async def _async_run(url: str, schema: str, n_threads: int) -> tuple[list[str], list[Observation]]:
    async with open_async_store(
        url, schema=schema, auto_migrate=True, min_size=4, max_size=18, connect_kwargs=FAST_COMMIT
    ) as store:
        threads = [(await store.create_thread()).id for _ in range(n_threads)]
        done = asyncio.Event()
        seen: list[Observation] = []

        async def writer(w: int) -> None:
            for j in range(PER_WRITER):
                stored = await store.append(
                    _target(threads, w, j), Message.user(f"{w}:{j}", id=_msg_id(w, j))
                )
                assert stored[0].id == _msg_id(w, j)

        readers = [asyncio.create_task(_async_reader(store, threads, done, seen)) for _ in range(2)]
        await asyncio.gather(*(writer(w) for w in range(16)))
        done.set()
        await asyncio.gather(*readers)
        return threads, seen


@pytest.mark.parametrize("n_threads", [1, THREADS], ids=["one-thread", "50-threads"])
def test_16_async_writers(pg_url: str, schema: str, n_threads: int) -> None:
    started = time.perf_counter()
    threads, seen = asyncio.run(_async_run(pg_url, schema, n_threads))
    with open_store(pg_url, schema=schema) as store:
        final = _final(store, threads)
        for tid in threads:
            assert store.get_thread(tid).message_count == len(final[tid])
    _check(final, 16, seen)
    assert sum(len(v) for v in final.values()) == 16 * PER_WRITER
    print(
        f"16 tasks x {PER_WRITER} over {n_threads} thread(s): "
        f"{time.perf_counter() - started:.1f}s, {len(seen)} reads"
    )


# --- processes --------------------------------------------------------------------------


def _process_writer(
    url: str, schema: str, threads: list[str], w: int, start: threading.Event
) -> None:
    with open_store(
        url, schema=schema, min_size=1, max_size=1, connect_kwargs=FAST_COMMIT
    ) as store:
        start.wait(60)
        for j in range(PER_WRITER):
            store.append(_target(threads, w, j), Message.user(f"{w}:{j}", id=_msg_id(w, j)))


@pytest.mark.parametrize("n_threads", [1, THREADS], ids=["one-thread", "50-threads"])
def test_4_writer_processes(pg_url: str, schema: str, n_threads: int) -> None:
    started = time.perf_counter()
    ctx = mp.get_context("spawn")
    with open_store(pg_url, schema=schema, auto_migrate=True) as store:
        threads = [store.create_thread().id for _ in range(n_threads)]
        start = ctx.Event()
        procs = [
            ctx.Process(target=_process_writer, args=(pg_url, schema, threads, w, start))
            for w in range(4)
        ]
        for p in procs:
            p.start()
        seen: list[Observation] = []
        stop = threading.Event()

        def reader() -> None:
            rng = random.Random(3)
            last_full = 0.0
            while not stop.is_set():
                tid = rng.choice(threads)
                if time.monotonic() - last_full > 0.5:
                    last_full = time.monotonic()
                    msgs = list(store.iter_messages(tid, batch=300))  # several snapshots
                else:
                    msgs = store.recent(tid, 30)
                seen.append((tid, [(m.seq or 0, m.id) for m in msgs]))
                time.sleep(0.01)  # paces the reader among real concurrent writers

        reading = threading.Thread(target=reader)
        reading.start()
        start.set()
        try:
            for p in procs:
                p.join(180)
                assert p.exitcode == 0, f"writer process exited with {p.exitcode}"
        finally:
            stop.set()
            reading.join(30)
            for p in procs:
                if p.is_alive():  # pragma: no cover - only after a failure
                    p.kill()
        final = _final(store, threads)
    _check(final, 4, seen)
    assert sum(len(v) for v in final.values()) == 4 * PER_WRITER
    print(
        f"4 processes x {PER_WRITER} over {n_threads} thread(s): "
        f"{time.perf_counter() - started:.1f}s, {len(seen)} reads"
    )


# --- races on message ids -----------------------------------------------------------------


def test_concurrent_resends_store_once(pg_url: str, schema: str) -> None:
    async def run() -> None:
        async with open_async_store(pg_url, schema=schema, auto_migrate=True, max_size=8) as store:
            t = await store.create_thread()
            batch = [Message.user(f"q{i}", id=f"same-{i}") for i in range(5)]
            results = await asyncio.gather(*(store.append(t.id, batch) for _ in range(8)))
            assert all([m.seq for m in r] == [1, 2, 3, 4, 5] for r in results)
            assert (await store.get_thread(t.id)).message_count == 5
            assert (await store.get_thread(t.id)).revision == 1

    asyncio.run(run())


def test_same_id_raced_into_two_threads_is_a_typed_conflict(pg_url: str, schema: str) -> None:
    async def run() -> None:
        async with open_async_store(pg_url, schema=schema, auto_migrate=True, max_size=8) as store:
            a, b = (await store.create_thread()).id, (await store.create_thread()).id
            outcomes: list[str] = []
            for i in range(30):
                results = await asyncio.gather(
                    store.append(a, Message.user("x", id=f"race-{i}")),
                    store.append(b, Message.user("x", id=f"race-{i}")),
                    return_exceptions=True,
                )
                kinds = sorted(type(r).__name__ for r in results)
                assert kinds == ["DuplicateMessageError", "list"], results
                outcomes.extend(kinds)
            total = (await store.get_thread(a)).message_count + (
                await store.get_thread(b)
            ).message_count
            assert total == 30
            assert outcomes.count("DuplicateMessageError") == 30

    asyncio.run(run())
    assert issubclass(DuplicateMessageError, Exception)


# --- rewrites beside appends ----------------------------------------------------------------


def test_pops_purges_and_appends_on_many_connections(pg_url: str, schema: str) -> None:
    """Tasks on separate connections append, pop and purge one thread at once:
    no message is removed twice, every acknowledged append is stored unless it
    was removed, seq stays 1..n and the counters match a recount."""
    from convostore.testing.contract import assert_recounted

    async def run() -> tuple[set[str], list[str]]:
        async with open_async_store(
            pg_url, schema=schema, auto_migrate=True, max_size=10, connect_kwargs=FAST_COMMIT
        ) as store:
            t = (await store.create_thread(id="t1")).id
            seeded = await store.append(t, [Message.user(f"s{i}", id=f"s{i}") for i in range(40)])

            async def append(w: int) -> list[str]:
                return [
                    (await store.append(t, Message.user("x", id=f"a{w}-{j}")))[0].id
                    for j in range(100)
                ]

            async def pop() -> list[str]:
                got = [await store.pop_message(t) for _ in range(40)]
                return [m.id for m in got if m is not None]

            async def purge() -> list[str]:
                out = []
                for m in seeded[::3]:
                    with contextlib.suppress(NotFoundError):  # popped first
                        out.append((await store.purge_message(m.id)).id)
                return out

            results = await asyncio.gather(
                *(append(w) for w in range(4)), *(pop() for _ in range(3)), purge()
            )
            acked = {mid for r in results[:4] for mid in r} | {m.id for m in seeded}
            return acked, [mid for r in results[4:] for mid in r]

    acked, removed = asyncio.run(run())
    assert len(removed) == len(set(removed)), "a message was removed twice"
    with open_store(pg_url, schema=schema) as store:
        assert {m.id for m in store.iter_messages("t1", include_deleted=True)} == acked - set(
            removed
        )
        assert_recounted(store, "t1")


def test_replace_raced_against_an_append_of_the_same_id(pg_url: str, schema: str) -> None:
    """A replace and an append into another thread claim one id at once: one
    wins, the other gets DuplicateMessageError, never a driver error."""

    async def run() -> None:
        async with open_async_store(pg_url, schema=schema, auto_migrate=True, max_size=8) as store:
            a, b = (await store.create_thread()).id, (await store.create_thread()).id
            for i in range(20):
                results = await asyncio.gather(
                    store.replace_messages(a, [Message.user("x", id=f"race-{i}")]),
                    store.append(b, Message.user("x", id=f"race-{i}")),
                    return_exceptions=True,
                )
                kinds = sorted(type(r).__name__ for r in results)
                assert kinds == ["DuplicateMessageError", "list"], results

    asyncio.run(run())
