"""Crash and multi-process harnesses for file and server backends.

:func:`crash_rounds` starts a writer process that appends batches to a store in
a loop and reports each batch on a pipe *after* ``append`` returned, kills it
with SIGKILL at a random moment, reopens the store and checks that:

* the store opens cleanly (and for SQLite, ``PRAGMA integrity_check`` is ``ok``);
* every acknowledged batch is present, each message exactly once;
* batches are all or nothing, and the stored batches are a prefix of the ones
  the writer sent (it sends them one after another);
* seq is exactly 1..n and the thread's ``message_count`` is n;
* the store accepts a new append afterwards (no stale lock is left behind).

:func:`run_writers` runs several writer processes against one thread at once.

Writer processes come from a ``forkserver`` that has convostore preloaded, so
a round costs a fork, not an interpreter start. Nothing here needs pytest.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import random
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from convostore.errors import ThreadExistsError
from convostore.model import Message
from convostore.store import open_store

__all__ = ["CrashReport", "crash_rounds", "run_writers", "sqlite_path"]

_ctx: Any = None


def _context() -> Any:
    global _ctx
    if _ctx is None:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["convostore.testing.crash"])
        _ctx = ctx
    return _ctx


def sqlite_path(url: str) -> str | None:
    """The file of a ``sqlite:///`` URL, or ``None`` for other URLs and ``:memory:``."""
    if not url.startswith("sqlite:///"):
        return None
    path = url[len("sqlite:///") :].partition("?")[0]
    return None if path in ("", ":memory:") else path


def _batch(tag: str, i: int) -> list[Message]:
    pad = "x" * ((i * 37) % 300)
    return [
        Message.user(f"{tag} batch {i} part {j} {pad}", id=f"{tag}-{i}-{j}")
        for j in range(i % 3 + 1)
    ]


def _crash_writer(
    url: str, thread_id: str, tag: str, conn: Connection, options: dict[str, Any]
) -> None:
    store = open_store(url, **options)
    with contextlib.suppress(ThreadExistsError):
        store.create_thread(id=thread_id)
    conn.send_bytes(b"T")
    i = 0
    while True:
        store.append(thread_id, _batch(tag, i))
        conn.send_bytes(str(i).encode())
        i += 1


def _drain(conn: Connection) -> list[bytes]:
    out = []
    try:
        while conn.poll(0):
            out.append(conn.recv_bytes())
    except (EOFError, OSError):
        pass
    conn.close()
    return out


@dataclass
class CrashReport:
    """What the rounds did: how often the kill landed where, and how much survived."""

    rounds: int = 0
    killed_before_thread: int = 0
    acked_batches: int = 0
    stored_batches: int = 0
    unacked_but_stored: int = 0
    seconds: float = 0.0
    per_round: list[tuple[int, int]] = field(default_factory=list)  # (acked, stored)


def _verify(
    url: str,
    options: dict[str, Any],
    thread_id: str,
    tag: str,
    acks: list[bytes],
    report: CrashReport,
) -> None:
    path = sqlite_path(url)
    if path is not None:
        with sqlite3.connect(path) as db:
            result = db.execute("PRAGMA integrity_check").fetchall()
        db.close()
        assert result == [("ok",)], f"integrity_check after crash: {result}"
    thread_acked = bool(acks) and acks[0] == b"T"
    acked = [int(a) for a in acks[1:]] if thread_acked else []
    assert acked == list(range(len(acked))), f"acks out of order: {acked}"
    store = open_store(url, **options)
    try:
        try:
            thread = store.get_thread(thread_id)
        except Exception:
            assert not thread_acked, f"acknowledged thread {thread_id} is missing"
            report.killed_before_thread += 1
            return
        msgs = list(store.iter_messages(thread_id, include_deleted=True))
        ids = [m.id for m in msgs]
        dupes = [i for i, n in Counter(ids).items() if n > 1]
        assert not dupes, f"messages stored twice: {dupes}"
        assert [m.seq for m in msgs] == list(range(1, len(msgs) + 1)), "seq has gaps"
        assert thread.message_count == len(msgs), (thread.message_count, len(msgs))
        batches: dict[int, set[int]] = {}
        for m in msgs:
            prefix, batch_no, part_no = m.id.rsplit("-", 2)
            assert prefix == tag, m.id
            batches.setdefault(int(batch_no), set()).add(int(part_no))
        stored = sorted(batches)
        assert stored == list(range(len(stored))), f"stored batches not a prefix: {stored}"
        for i, parts in batches.items():
            assert parts == set(range(i % 3 + 1)), f"batch {i} half-written: {parts}"
        assert len(stored) in (len(acked), len(acked) + 1), (
            f"{len(acked)} batches acknowledged but {len(stored)} stored"
        )
        expected = [m.id for i in stored for m in _batch(tag, i)]
        assert ids == expected, "messages out of order"
        probe = store.append(thread_id, Message.user("after the crash", id=f"{tag}-probe"))
        assert probe[0].seq == len(msgs) + 1
        report.acked_batches += len(acked)
        report.stored_batches += len(stored)
        report.unacked_but_stored += len(stored) - len(acked)
        report.per_round.append((len(acked), len(stored)))
    finally:
        store.close()


def crash_rounds(
    url: str,
    *,
    rounds: int = 100,
    max_delay: float = 0.05,
    early_kill_ratio: float = 0.15,
    seed: int | None = None,
    options: dict[str, Any] | None = None,
) -> CrashReport:
    """Kill a writer of ``url`` with SIGKILL ``rounds`` times and verify after each.

    Most kills land ``uniform(0, max_delay)`` seconds after the writer has its
    thread, i.e. in the middle of appends; ``early_kill_ratio`` of them land
    while it is still opening the store. Raises ``AssertionError`` naming the
    round on the first violation.
    """
    options = dict(options or {})
    rng = random.Random(seed)
    ctx = _context()
    report = CrashReport()
    began = time.perf_counter()
    for r in range(rounds):
        thread_id, tag = f"crash-{r}", f"r{r}"
        reader, writer = ctx.Pipe(duplex=False)
        proc = ctx.Process(
            target=_crash_writer, args=(url, thread_id, tag, writer, options), daemon=True
        )
        proc.start()
        writer.close()
        try:
            # The sleeps pick the moment of the SIGKILL: real time is what the
            # writer process runs in, so a clock cannot stand in for them.
            if rng.random() < early_kill_ratio:
                time.sleep(rng.uniform(0, 0.02))
            else:
                if not reader.poll(10):
                    raise AssertionError(f"round {r}: the writer did not start within 10 s")
                time.sleep(rng.uniform(0, max_delay))
        finally:
            alive = proc.is_alive()
            proc.kill()
            proc.join(10)
        if not alive:
            raise AssertionError(
                f"round {r}: the writer exited by itself (exit code {proc.exitcode}) "
                "before it was killed; see its stderr"
            )
        acks = _drain(reader)
        try:
            _verify(url, options, thread_id, tag, acks, report)
        except AssertionError as exc:
            raise AssertionError(f"round {r} ({url}): {exc}") from None
        report.rounds += 1
    report.seconds = time.perf_counter() - began
    return report


def _append_worker(
    url: str, thread_id: str, tag: str, count: int, conn: Connection, options: dict[str, Any]
) -> None:
    try:
        store = open_store(url, **options)
        seqs = []
        for i in range(count):
            seqs.append(store.append(thread_id, Message.user(f"{tag} {i}", id=f"{tag}-{i}"))[0].seq)
        store.close()
        conn.send(("ok", seqs))
    except BaseException as exc:
        conn.send(("error", f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}"))
        raise


def run_writers(
    url: str,
    thread_id: str,
    *,
    processes: int = 4,
    appends: int = 250,
    options: dict[str, Any] | None = None,
    timeout: float = 300,
) -> dict[str, list[int]]:
    """Run ``processes`` writer processes, each appending ``appends`` single messages
    with ids ``p<k>-<i>`` to ``thread_id`` (which must exist) at the same time.

    Returns the seqs each writer was acknowledged, by tag ``p<k>``. Raises
    ``AssertionError`` if a writer fails or does not finish within ``timeout``.
    """
    ctx = _context()
    started = []
    for k in range(processes):
        reader, writer = ctx.Pipe(duplex=False)
        proc = ctx.Process(
            target=_append_worker,
            args=(url, thread_id, f"p{k}", appends, writer, dict(options or {})),
            daemon=True,
        )
        proc.start()
        writer.close()
        started.append((f"p{k}", proc, reader))
    results: dict[str, list[int]] = {}
    deadline = time.monotonic() + timeout
    try:
        for tag, _proc, reader in started:
            if not reader.poll(max(0.0, deadline - time.monotonic())):
                raise AssertionError(f"writer {tag} did not finish within {timeout} s")
            status, payload = reader.recv()
            if status != "ok":
                raise AssertionError(f"writer {tag} failed: {payload}")
            results[tag] = payload
    finally:
        for _, proc, reader in started:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join()
            reader.close()
    return results
