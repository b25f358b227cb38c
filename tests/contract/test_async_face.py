"""Genuinely concurrent use of the async face, on every backend.

The contract suite runs the async face through a blocking adapter; these tests
drive ``AsyncStore`` directly with ``asyncio.gather`` on one event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from tests._harness import BackendSpec, Harness

from convostore import AsyncStore, Message, RevisionConflictError, ThreadNotFoundError


def run(spec: BackendSpec, tmp_path: Path, body: Callable[[AsyncStore], Awaitable[None]]) -> None:
    harness = Harness(spec, "async", tmp_path)

    async def main() -> None:
        async with harness.async_factory()() as store:
            await body(store)

    try:
        asyncio.run(asyncio.wait_for(main(), 120))
    finally:
        harness.cleanup()


def test_gathered_appends_lose_nothing(backend_spec: BackendSpec, tmp_path: Path) -> None:
    tasks, per = 8, 25

    async def body(store: AsyncStore) -> None:
        await store.create_thread(id="t1")

        async def writer(k: int) -> list[int | None]:
            out = []
            for i in range(per):
                stored = await store.append("t1", Message.user(f"{k}/{i}", id=f"a{k}-{i}"))
                out.append(stored[0].seq)
            return out

        acked = await asyncio.gather(*(writer(k) for k in range(tasks)))
        msgs = [m async for m in store.iter_messages("t1", include_deleted=True)]
        assert [m.seq for m in msgs] == list(range(1, tasks * per + 1))
        assert {m.id for m in msgs} == {f"a{k}-{i}" for k in range(tasks) for i in range(per)}
        for seqs in acked:
            assert seqs == sorted(seqs)
        assert sorted(s for seqs in acked for s in seqs) == list(range(1, tasks * per + 1))

    run(backend_spec, tmp_path, body)


def test_gathered_batches_are_atomic_and_ordered(backend_spec: BackendSpec, tmp_path: Path) -> None:
    async def body(store: AsyncStore) -> None:
        await store.create_thread(id="t1")
        batches = [[Message.user(f"{b}.{j}", id=f"b{b}-{j}") for j in range(5)] for b in range(10)]
        await asyncio.gather(*(store.append("t1", batch) for batch in batches))
        msgs = [m async for m in store.iter_messages("t1")]
        assert len(msgs) == 50
        for start in range(0, 50, 5):  # each batch landed contiguously, in its order
            chunk = [m.id for m in msgs[start : start + 5]]
            b = chunk[0].split("-")[0]
            assert chunk == [f"{b}-{j}" for j in range(5)]

    run(backend_spec, tmp_path, body)


def test_gathered_writers_with_one_revision_only_one_wins(
    backend_spec: BackendSpec, tmp_path: Path
) -> None:
    async def body(store: AsyncStore) -> None:
        thread = await store.create_thread(id="t1")
        results = await asyncio.gather(
            *(
                store.append(
                    "t1", Message.user(str(k), id=f"c{k}"), expected_revision=thread.revision
                )
                for k in range(6)
            ),
            return_exceptions=True,
        )
        wins = [r for r in results if not isinstance(r, BaseException)]
        losses = [r for r in results if isinstance(r, BaseException)]
        assert len(wins) == 1
        assert all(isinstance(e, RevisionConflictError) for e in losses)
        assert (await store.get_thread("t1")).message_count == 1

    run(backend_spec, tmp_path, body)


def test_tenants_in_parallel_stay_apart(backend_spec: BackendSpec, tmp_path: Path) -> None:
    async def body(store: AsyncStore) -> None:
        views = [store.tenant(f"tenant{k}") for k in range(4)]
        await asyncio.gather(*(v.create_thread(id="same") for v in views))
        await asyncio.gather(
            *(
                v.append("same", [Message.user(f"{k}-{i}", id=f"m{i}") for i in range(k + 1)])
                for k, v in enumerate(views)
            )
        )
        counts = await asyncio.gather(*(v.get_thread("same") for v in views))
        assert [t.message_count for t in counts] == [1, 2, 3, 4]
        assert (await views[3].get_message("m0")).content == "3-0"
        with pytest.raises(ThreadNotFoundError):
            await store.get_thread("same")

    run(backend_spec, tmp_path, body)


def test_cancelled_append_is_all_or_nothing(backend_spec: BackendSpec, tmp_path: Path) -> None:
    async def body(store: AsyncStore) -> None:
        await store.create_thread(id="t1")
        for round_ in range(10):
            batch = [Message.user(f"{round_}.{j}", id=f"x{round_}-{j}") for j in range(3)]
            task = asyncio.ensure_future(store.append("t1", batch))
            # Not a pause: one turn of the loop, so the append has started when it is
            # cancelled (the cancellation is what is under test).
            await asyncio.sleep(0)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            # a retry with the same ids settles it: exactly one copy of each
            await store.append("t1", batch)
        msgs = [m async for m in store.iter_messages("t1")]
        assert [m.id for m in msgs] == [f"x{r}-{j}" for r in range(10) for j in range(3)]
        assert [m.seq for m in msgs] == list(range(1, 31))

    run(backend_spec, tmp_path, body)
