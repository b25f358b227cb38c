"""Concurrency: one store shared by threads, and one store opened by several
processes (backends that declare ``multi_process``)."""

from __future__ import annotations

import concurrent.futures
import itertools
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
from convostore.testing.contract.rewrites import assert_recounted
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

    def test_pops_and_appends_from_threads(self, store: StoreLike) -> None:
        """Poppers and appenders share one thread: no message is popped twice,
        every acknowledged message is stored or was popped, seq stays gap-free
        and the counters match a recount."""
        store.create_thread(id="t1")
        store.append("t1", [Message.user(f"s{i}", id=f"s{i}") for i in range(20)])
        appenders, per, poppers, pops = 3, 30, 2, 25
        start = threading.Barrier(appenders + poppers)

        def append(k: int) -> list[str]:
            start.wait()
            return [store.append("t1", Message.user("x", id=f"a{k}-{i}"))[0].id for i in range(per)]

        def pop() -> list[str]:
            start.wait()
            return [m.id for m in (store.pop_message("t1") for _ in range(pops)) if m]

        with concurrent.futures.ThreadPoolExecutor(appenders + poppers) as pool:
            added = [pool.submit(append, k) for k in range(appenders)]
            taken = [pool.submit(pop) for _ in range(poppers)]
            acked = {mid for f in added for mid in f.result()} | {f"s{i}" for i in range(20)}
            popped = [mid for f in taken for mid in f.result()]
        assert len(popped) == len(set(popped))  # a pop of an empty thread returns None
        assert set(popped) <= acked
        assert {m.id for m in all_messages(store, "t1")} == acked - set(popped)
        assert_recounted(store, "t1")

    def test_rewrites_beside_an_appender_and_a_reader(self, store: StoreLike) -> None:
        """Purges, a clear and a replace run while another thread appends and a
        reader pages: the reader sees the old history or the new one, never a
        mix; what the appender was told after the replace is stored, in order."""
        store.create_thread(id="t1")
        old = [Message.user(f"o{i}", id=f"o{i}") for i in range(30)]
        store.append("t1", old)
        new = [Message.user(f"n{i}", id=f"n{i}") for i in range(5)]
        started, replaced, done = threading.Event(), threading.Event(), threading.Event()
        views: list[list[str]] = []

        def append() -> list[tuple[str, bool]]:
            acked: list[tuple[str, bool]] = []  # (id, sent after the replace returned)
            for i in itertools.count():
                after = replaced.is_set()
                acked.append((store.append("t1", Message.user("x", id=f"a{i}"))[0].id, after))
                started.set()
                if sum(late for _, late in acked) == 3:
                    return acked
            raise AssertionError("unreachable")  # pragma: no cover

        def read() -> None:
            while not done.is_set():
                views.append([m.id for m in store.list_messages("t1", limit=1000).items])
                done.wait(0.002)

        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            reader, appender = pool.submit(read), pool.submit(append)
            try:
                started.wait()
                for m in old[:10]:
                    store.purge_message(m.id)
                store.clear_messages("t1", mode="purge", keep="none")
                store.replace_messages("t1", new)
                replaced.set()
            finally:
                done.set()
            acked = appender.result()
            reader.result()
        stored = [m.id for m in all_messages(store, "t1")]
        assert stored[:5] == [m.id for m in new]
        assert stored[5:] == [mid for mid, _ in acked if mid in stored[5:]]  # in order
        assert {mid for mid, after in acked if after} <= set(stored[5:])
        for view in views:
            fresh = [mid for mid in view if mid.startswith("n")]
            assert not fresh or (view[:5] == fresh and not any(v[0] == "o" for v in view))
        assert_recounted(store, "t1")

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
