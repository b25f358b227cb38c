"""Concurrency: one store shared by threads, and one store opened by several
processes (backends that declare ``multi_process``)."""

from __future__ import annotations

import concurrent.futures
import threading
from typing import ClassVar

import pytest

from convostore.errors import RevisionConflictError
from convostore.model import Message
from convostore.testing.contract.base import (
    ContractBase,
    StoreLike,
    all_messages,
    require_capability,
    seqs,
)
from convostore.testing.crash import run_writers

__all__ = ["ConcurrencyContract"]


class ConcurrencyContract(ContractBase):
    """Concurrent writers lose nothing and duplicate nothing."""

    #: writers and appends per writer of :meth:`test_concurrent_appends_from_threads`
    concurrent_writers: ClassVar[int] = 8
    appends_per_writer: ClassVar[int] = 250
    #: processes and appends per process of :meth:`test_processes_append_to_one_thread`
    writer_processes: ClassVar[int] = 4
    appends_per_process: ClassVar[int] = 100

    def test_compare_and_set_from_threads_loses_no_update(self, store: StoreLike) -> None:
        store.create_thread(id="t1", state={"data": {"n": 0}})
        workers, increments = 4, 15

        def work() -> int:
            conflicts = 0
            for _ in range(increments):
                while True:
                    t = store.get_thread("t1")
                    n = t.state.data["n"]
                    assert isinstance(n, int)
                    try:
                        store.update_thread(
                            "t1", state={"data": {"n": n + 1}}, expected_revision=t.revision
                        )
                        break
                    except RevisionConflictError:
                        conflicts += 1
            return conflicts

        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda _: work(), range(workers)))
        assert store.get_thread("t1").state.data["n"] == workers * increments

    def test_concurrent_appends_from_threads(self, store: StoreLike) -> None:
        """N writer threads share one store object and append to one thread; a reader
        checks it only ever sees a gap-free prefix. Nothing is lost or duplicated."""
        store.create_thread(id="t1")
        writers, per = self.concurrent_writers, self.appends_per_writer
        start = threading.Barrier(writers + 1)
        done = threading.Event()
        reader_views: list[list[int | None]] = []

        def write(k: int) -> list[int | None]:
            start.wait()
            got: list[int | None] = []
            for i in range(per):
                got.extend(seqs(store.append("t1", Message.user(f"{k}/{i}", id=f"w{k}-{i}"))))
            return got

        def read() -> None:
            start.wait()
            while not done.is_set():
                reader_views.append(seqs(store.recent("t1", 50, include_deleted=True)))
                # Real concurrency under test: the pause paces the reader so that the
                # writers keep the store busy while it looks, and ends as they finish.
                done.wait(0.005)

        with concurrent.futures.ThreadPoolExecutor(writers + 1) as pool:
            reader = pool.submit(read)
            futures = [pool.submit(write, k) for k in range(writers)]
            try:
                acked = [f.result() for f in futures]
            finally:
                done.set()
            reader.result()
        total = writers * per
        stored = all_messages(store, "t1")
        assert seqs(stored) == list(range(1, total + 1))
        ids = [m.id for m in stored]
        assert len(set(ids)) == total
        assert set(ids) == {f"w{k}-{i}" for k in range(writers) for i in range(per)}
        by_id = {m.id: m.seq for m in stored}
        for k, got in enumerate(acked):
            assert got == [by_id[f"w{k}-{i}"] for i in range(per)]
            assert got == sorted(s or 0 for s in got)
        for view in reader_views:
            if view:
                assert view == list(range(view[0] or 0, (view[0] or 0) + len(view)))
        t = store.get_thread("t1")
        assert (t.message_count, t.turn_count) == (total, total)

    def test_processes_append_to_one_thread(
        self, store: StoreLike, process_url: str | None
    ) -> None:
        """Several processes append to one thread of one store at once: nothing is
        lost or duplicated, seq is gap-free and each writer's messages are in the
        order it sent them (capability ``multi_process``)."""
        require_capability(store, "multi_process")
        if process_url is None:
            pytest.fail(
                "the backend declares the multi_process capability: override the "
                "`process_url` fixture with a URL other processes open the store at",
                pytrace=False,
            )
        store.create_thread(id="shared")
        processes, appends = self.writer_processes, self.appends_per_process
        acked = run_writers(process_url, "shared", processes=processes, appends=appends)
        msgs = all_messages(store, "shared")
        total = processes * appends
        assert seqs(msgs) == list(range(1, total + 1))
        ids = [m.id for m in msgs]
        assert len(set(ids)) == total
        assert set(ids) == {f"p{k}-{i}" for k in range(processes) for i in range(appends)}
        assert store.get_thread("shared").message_count == total
        by_id = {m.id: m.seq for m in msgs}
        for tag, got in acked.items():
            assert got == [by_id[f"{tag}-{i}"] for i in range(appends)]
            assert got == sorted(got)
