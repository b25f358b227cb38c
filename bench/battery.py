"""A hostile-load battery for the HTTP server: load, retry storms, crashes, outages.

Per backend (SQLite on a temp file, PostgreSQL on a scratch database created and
dropped here) the server runs as a subprocess (``python -m convostore serve``)
and these phases run against it:

1. ``load``: N concurrent writers and a few readers. Every append carries an
   ``Idempotency-Key`` unique to the logical request; on a connection error or a
   5xx the writer re-sends the same request (same key, same body) with backoff
   until it gets a 2xx (acknowledged) or the phase ends.
2. ``retry_storm``: every request is sent several times at once with the same key.
3. ``sigkill``: the server is killed with SIGKILL mid-load and restarted on the
   same store; the writers keep retrying through the outage.
4. ``pg_restart`` (PostgreSQL only): the PostgreSQL server is restarted mid-load.
5. ``disk_full`` (SQLite only): the SQLite file lives on a 16 MB tmpfs; writers
   fill it, readers keep reading.

Afterwards every thread is read back with the library: every acknowledged marker
must be stored exactly once, no marker twice, and seq must run 1..n without gaps.
Exit status 1 if anything was lost, duplicated or has a gap.

    .venv/bin/python bench/battery.py                 # 30 s per phase, both backends
    .venv/bin/python bench/battery.py --quick         # a few seconds per phase
    .venv/bin/python bench/battery.py --backends sqlite --duration 10

The phases are importable: ``start_server``, ``run_load``, ``phase_load``,
``phase_retry_storm``, ``phase_sigkill``, ``phase_pg_restart``,
``phase_disk_full``, ``verify`` and ``run_backend``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
TENANT = "battery"
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SHARED_THREADS = 3
#: Every phase, in the order they run.
PHASES = ("load", "retry_storm", "sigkill", "pg_restart", "disk_full")
READERS = 3


# --------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int) -> int | None:
    """VmRSS of a process in KiB, ``None`` if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


@dataclass
class Server:
    """``convostore serve`` as a subprocess on a fixed port, restartable on the same store."""

    store_url: str
    port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    #: The server's command line without the port (default ``convostore serve``).
    command: list[str] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 30.0) -> None:
        log = self.log_path.open("ab")
        command = self.command or [
            sys.executable,
            "-m",
            "convostore",
            "serve",
            "--store",
            self.store_url,
        ]
        self.proc = subprocess.Popen(
            [*command, "--port", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        self.starts += 1
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.proc.returncode} during startup; see {self.log_path}"
                )
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server did not answer /healthz in {timeout} s")
            time.sleep(0.05)

    def rss(self) -> int | None:
        return None if self.proc is None else rss_kib(self.proc.pid)

    def kill(self) -> None:
        """SIGKILL, and reap."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM (graceful), SIGKILL after 10 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()


def issue_token(store_url: str) -> str:
    """A key of the battery tenant, made the way the CLI makes it (also migrates PG)."""
    from convostore import open_store
    from convostore.keys import KeyManager

    options: dict[str, Any] = {"auto_migrate": True} if store_url.startswith("postgres") else {}
    with open_store(store_url, **options) as store:
        _, token = KeyManager(store).create(TENANT, label="battery")
    return token


# --------------------------------------------------------------------------- stats


@dataclass
class PhaseStats:
    """What one phase did, as seen by its clients; lost/duplicated/gaps come from ``verify``."""

    backend: str
    phase: str
    writers: int = 0
    seconds: float = 0.0
    requests: int = 0  # logical appends started
    attempts: int = 0  # HTTP attempts, retries and storm copies included
    acknowledged: int = 0
    statuses: Counter[str] = field(default_factory=Counter)  # per attempt; "conn" = no answer
    reads: Counter[str] = field(default_factory=Counter)  # reader answers
    latencies: list[float] = field(default_factory=list)  # acknowledged attempt, seconds
    e2e: list[float] = field(default_factory=list)  # first send to ack, seconds
    rss_start_kib: int | None = None
    rss_end_kib: int | None = None
    threads: list[str] = field(default_factory=list)
    lost: int | None = None
    duplicated: int | None = None
    seq_gaps: int | None = None
    stored: int | None = None
    mismatched_replies: int = 0  # storm copies acknowledged with different message ids
    notes: list[str] = field(default_factory=list)
    problems: set[tuple[str, int, str]] = field(default_factory=set, repr=False)
    skipped: str | None = None
    # marker -> thread id of every acknowledged request (not in the JSON output)
    acked: dict[str, str] = field(default_factory=dict, repr=False)

    def summary(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("acked")
        d.pop("problems")
        d.pop("latencies")
        d.pop("e2e")
        d["statuses"] = dict(sorted(self.statuses.items()))
        d["reads"] = dict(sorted(self.reads.items()))
        d["p50_ms"] = pct_ms(self.latencies, 50)
        d["p99_ms"] = pct_ms(self.latencies, 99)
        d["e2e_p99_ms"] = pct_ms(self.e2e, 99)
        d["e2e_max_ms"] = round(max(self.e2e) * 1000, 1) if self.e2e else None
        return d

    @property
    def failed(self) -> bool:
        return bool(self.lost or self.duplicated or self.seq_gaps)


def pct_ms(values: list[float], p: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0] * 1000, 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[p - 1] * 1000, 1)


# --------------------------------------------------------------------------- load


@dataclass
class Load:
    """One run of writers and readers against a server."""

    server: Server
    token: str
    stats: PhaseStats
    writers: int
    duration: float
    copies: int = 1  # >1: the retry storm, each request sent this many times at once
    pad: int = 0  # extra characters per message (to fill a disk)
    write_for: float | None = None  # writers stop after this many seconds (readers go on)
    shared_client: bool = False  # one client (one pool) for all writers and readers

    def thread_ids(self) -> tuple[list[str], list[str]]:
        p = self.stats.phase
        shared = [f"{p}-shared-{i}" for i in range(SHARED_THREADS)]
        own = [f"{p}-w{i}" for i in range(self.writers)]
        return shared, own


def _headers(token: str, key: str | None = None) -> dict[str, str]:
    h = {"Authorization": f"Bearer {token}"}
    if key is not None:
        h["Idempotency-Key"] = key
    return h


async def _create_threads(client: httpx.AsyncClient, load: Load, ids: list[str]) -> None:
    for tid in ids:
        delay = 0.05
        while True:
            try:
                r = await client.post(
                    f"{load.server.base}/v1/threads", json={"id": tid}, headers=_headers(load.token)
                )
                if r.status_code in (201, 409):  # 409: created by an earlier try
                    break
                if r.status_code < 500:
                    raise RuntimeError(f"creating thread {tid}: {r.status_code} {r.text}")
            except httpx.TransportError:
                pass
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
    load.stats.threads.extend(ids)


def _note_problem(stats: PhaseStats, what: str, r: httpx.Response) -> None:
    """Note the first answer of each (request kind, status, problem type)."""
    try:
        problem = r.json()
        kind, detail = problem.get("type", "?"), problem.get("detail", "")
    except ValueError:
        kind, detail = "?", r.text
    seen = (what, r.status_code, kind)
    if seen not in stats.problems and len(stats.problems) < 20:
        stats.problems.add(seen)
        stats.notes.append(
            f"{what}: {r.status_code} {kind.rsplit(':', 1)[-1]}: {str(detail)[:160]}"
        )


async def _attempt(
    client: httpx.AsyncClient, load: Load, url: str, key: str, body: dict[str, Any]
) -> tuple[int | None, float, list[str]]:
    """One POST: (status or None for no answer, seconds, ids of the stored messages)."""
    t0 = time.perf_counter()
    try:
        r = await client.post(url, json=body, headers=_headers(load.token, key))
    except httpx.TransportError:
        load.stats.statuses["conn"] += 1
        return None, time.perf_counter() - t0, []
    took = time.perf_counter() - t0
    load.stats.statuses[str(r.status_code)] += 1
    ids: list[str] = []
    if 200 <= r.status_code < 300:
        with contextlib.suppress(ValueError, KeyError, TypeError):
            ids = [m["id"] for m in r.json()["messages"]]
    else:
        _note_problem(load.stats, "append", r)
    return r.status_code, took, ids


async def _send(client: httpx.AsyncClient, load: Load, end: float, tid: str, marker: str) -> None:
    """One logical append, retried with the same key and body until a 2xx or ``end``."""
    stats = load.stats
    key = uuid.uuid4().hex
    content = marker if not load.pad else marker + " " + "x" * load.pad
    body = {"messages": [{"role": "user", "content": content}]}
    url = f"{load.server.base}/v1/threads/{tid}/messages"
    stats.requests += 1
    first = time.perf_counter()
    delay = 0.02
    while True:
        stats.attempts += load.copies
        if load.copies == 1:
            results = [await _attempt(client, load, url, key, body)]
        else:
            results = await asyncio.gather(
                *(_attempt(client, load, url, key, body) for _ in range(load.copies))
            )
        ok = [
            (took, ids)
            for status, took, ids in results
            if status is not None and 200 <= status < 300
        ]
        if ok:
            stats.acknowledged += 1
            stats.acked[marker] = tid
            stats.latencies.append(min(t for t, _ in ok))
            stats.e2e.append(time.perf_counter() - first)
            if len({tuple(ids) for _, ids in ok}) > 1:
                stats.mismatched_replies += 1
            return
        retry = any(status is None or status >= 500 for status, _, _ in results)
        left = end - time.monotonic()
        if not retry or left <= 0:
            return
        await asyncio.sleep(min(left, delay * (0.5 + random.random())))
        delay = min(delay * 2, 1.0)


async def _writer(
    client: httpx.AsyncClient, load: Load, i: int, end: float, shared: list[str], own: str
) -> None:
    rng = random.Random(i)
    n = 0
    while time.monotonic() < end:
        tid = shared[rng.randrange(len(shared))] if rng.random() < 0.5 else own
        await _send(client, load, end, tid, f"{load.stats.phase}:w{i}:n{n}:{uuid.uuid4().hex[:8]}")
        n += 1


async def _reader(
    client: httpx.AsyncClient, load: Load, i: int, end: float, threads: list[str]
) -> None:
    rng = random.Random(1000 + i)
    base = load.server.base
    while time.monotonic() < end:
        tid = threads[rng.randrange(len(threads))]
        if rng.random() < 0.5:
            url = f"{base}/v1/threads/{tid}/messages?limit=50&from_end={rng.random() < 0.5}"
        else:
            # room for the newest message even when it is padded
            url = f"{base}/v1/threads/{tid}/context?max_tokens={max(2000, load.pad)}"
        try:
            r = await client.get(url, headers=_headers(load.token))
            load.stats.reads[str(r.status_code)] += 1
            if r.status_code >= 300:
                _note_problem(load.stats, "read", r)
            if r.status_code >= 500 or r.status_code in (404, 422):
                await asyncio.sleep(0.05)
        except httpx.TransportError:
            load.stats.reads["conn"] += 1
            await asyncio.sleep(0.05)


async def run_load(load: Load, during: Callable[[], Awaitable[None]] | None = None) -> PhaseStats:
    """Writers and readers for ``load.duration`` seconds; ``during`` runs alongside them.

    Each writer and each reader is a client of its own, with its own connections
    (``copies`` of them for the retry storm), as separate clients are. One
    ``httpx.AsyncClient`` shared by all of them (``load.shared_client``) looks
    over every connection of its pool for each request: at 50 writers that
    costs the client about 3 ms of CPU per request, on the cores the server
    shares, and the battery measured the client more than the server.
    """
    stats = load.stats
    stats.writers = load.writers
    stats.rss_start_kib = load.server.rss()
    timeout = httpx.Timeout(15.0)
    async with contextlib.AsyncExitStack() as stack:

        def client(connections: int) -> httpx.AsyncClient:
            limits = httpx.Limits(
                max_connections=connections, max_keepalive_connections=connections
            )
            return httpx.AsyncClient(timeout=timeout, limits=limits)

        if load.shared_client:
            one = await stack.enter_async_context(client(load.writers * load.copies + READERS + 10))
            writers = readers = [one]
        else:
            writers = [
                await stack.enter_async_context(client(load.copies)) for _ in range(load.writers)
            ]
            readers = [await stack.enter_async_context(client(1)) for _ in range(READERS)]
        shared, own = load.thread_ids()
        await _create_threads(readers[0], load, shared + own)
        t0 = time.monotonic()
        end = t0 + load.duration
        write_end = t0 + (load.write_for if load.write_for is not None else load.duration)
        tasks = [
            asyncio.create_task(
                _writer(writers[i % len(writers)], load, i, write_end, shared, own[i])
            )
            for i in range(load.writers)
        ]
        tasks += [
            asyncio.create_task(_reader(readers[i % len(readers)], load, i, end, shared + own))
            for i in range(READERS)
        ]
        if during is not None:
            tasks.append(asyncio.create_task(during()))
        await asyncio.gather(*tasks)
        stats.seconds = round(time.monotonic() - t0, 1)
    stats.rss_end_kib = load.server.rss()
    return stats


# --------------------------------------------------------------------------- phases


def phase_load(
    server: Server,
    token: str,
    backend: str,
    writers: int,
    duration: float,
    shared_client: bool = False,
) -> PhaseStats:
    """Phase 1: plain concurrent load (``shared_client``: through one client, see run_load)."""
    stats = PhaseStats(backend, "load")
    load = Load(server, token, stats, writers, duration, shared_client=shared_client)
    return asyncio.run(run_load(load))


def phase_retry_storm(
    server: Server, token: str, backend: str, writers: int, duration: float, copies: int = 4
) -> PhaseStats:
    """Phase 2: every request sent ``copies`` times at once with the same key."""
    stats = PhaseStats(backend, "retry_storm")
    stats.notes.append(f"each request sent {copies}x concurrently")
    return asyncio.run(run_load(Load(server, token, stats, writers, duration, copies=copies)))


def phase_sigkill(
    server: Server, token: str, backend: str, writers: int, duration: float, down: float = 1.0
) -> PhaseStats:
    """Phase 3: SIGKILL the server at a third of the phase, restart it ``down`` s later."""
    stats = PhaseStats(backend, "sigkill")

    async def crash() -> None:
        await asyncio.sleep(duration / 3)
        old = server.pid
        server.kill()
        t0 = time.monotonic()
        await asyncio.sleep(down)
        await asyncio.to_thread(server.start)
        stats.notes.append(
            f"SIGKILL pid {old}; restarted as pid {server.pid} after {time.monotonic() - t0:.1f} s"
        )

    return asyncio.run(run_load(Load(server, token, stats, writers, duration), crash))


def pg_restart_command() -> list[str]:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    return ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"]


def phase_pg_restart(
    server: Server, token: str, backend: str, writers: int, duration: float
) -> PhaseStats:
    """Phase 4: restart the PostgreSQL server at a third of the phase."""
    stats = PhaseStats(backend, "pg_restart")

    async def restart() -> None:
        await asyncio.sleep(duration / 3)
        t0 = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            *pg_restart_command(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        out, _ = await proc.communicate()
        stats.notes.append(
            f"PostgreSQL restart exited {proc.returncode} after "
            f"{time.monotonic() - t0:.1f} s {out.decode().strip()[:200]}".rstrip()
        )

    return asyncio.run(run_load(Load(server, token, stats, writers, duration), restart))


@contextlib.contextmanager
def tmpfs(size: str = "16m") -> Iterator[Path | None]:
    """A freshly mounted tmpfs (``None`` if it cannot be mounted); always unmounted."""
    mount_point = Path(tempfile.mkdtemp(prefix="convostore_battery_fs_"))
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)],
            capture_output=True,
        ).returncode
        == 0
    )
    try:
        yield mount_point if mounted else None
    finally:
        if mounted:
            for _ in range(20):
                if (
                    subprocess.run(["umount", str(mount_point)], capture_output=True).returncode
                    == 0
                ):
                    break
                time.sleep(0.25)
            else:
                subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)
        with contextlib.suppress(OSError):
            mount_point.rmdir()


def phase_disk_full(
    backend: str, writers: int, duration: float, log_dir: Path, pad: int = 16000
) -> PhaseStats:
    """Phase 5 (SQLite): a store on a 16 MB tmpfs, written until full, then read.

    Writers run for the first two thirds of the phase with ``pad`` characters per
    message; readers run throughout. Verified before the filesystem goes away.
    """
    stats = PhaseStats(backend, "disk_full")
    with tmpfs() as mount_point:
        if mount_point is None:
            stats.skipped = "skipped: cannot mount"
            print(stats.skipped, flush=True)
            return stats
        url = f"sqlite:///{mount_point}/battery.db"
        token = issue_token(url)
        server = Server(url, free_port(), log_dir / "server-disk_full.log")
        server.start()
        try:
            load = Load(
                server, token, stats, writers, duration, pad=pad, write_for=duration * 2 / 3
            )
            asyncio.run(run_load(load))
            try:
                ready = httpx.get(f"{server.base}/readyz", timeout=5)
                stats.notes.append(f"/readyz at the end: {ready.status_code} {ready.text[:160]}")
            except httpx.TransportError as exc:
                stats.notes.append(f"/readyz at the end: no answer ({exc!r})")
            df = os.statvfs(mount_point)
            stats.notes.append(f"free at the end: {df.f_bavail * df.f_frsize // 1024} KiB")
        finally:
            server.stop()
        verify(url, [stats])
    return stats


# --------------------------------------------------------------------------- verify


def verify(store_url: str, phases: list[PhaseStats]) -> None:
    """Read every thread of ``phases`` back with the library; fill lost/duplicated/gaps."""
    from convostore import open_store

    with open_store(store_url) as root:
        store = root.tenant(TENANT)
        for stats in phases:
            if stats.skipped:
                continue
            seen: Counter[str] = Counter()
            where: dict[str, set[str]] = {}
            gaps = 0
            stored = 0
            for tid in stats.threads:
                seqs = []
                for m in store.iter_messages(tid, include_deleted=True):
                    marker = m.content.split(" ", 1)[0]
                    seen[marker] += 1
                    where.setdefault(marker, set()).add(tid)
                    seqs.append(m.seq)
                    stored += 1
                if seqs != list(range(1, len(seqs) + 1)):
                    gaps += 1
                    if len(stats.notes) < 30:
                        missing = sorted(set(range(1, max(seqs or [0]) + 1)) - set(seqs))
                        stats.notes.append(
                            f"seq of {tid} not 1..{len(seqs)}: missing {missing[:10]}"
                        )
            stats.stored = stored
            stats.duplicated = sum(1 for c in seen.values() if c > 1)
            stats.lost = sum(
                1
                for marker, tid in stats.acked.items()
                if seen[marker] == 0 or tid not in where.get(marker, ())
            )
            stats.seq_gaps = gaps


# --------------------------------------------------------------------------- backends


def pg_create_db(admin_url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name


def pg_drop_db(admin_url: str, name: str) -> None:
    import psycopg

    for _ in range(20):  # right after a PostgreSQL restart connections may be refused
        try:
            with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except psycopg.Error:
            time.sleep(0.5)


def run_backend(
    backend: str,
    *,
    writers: int,
    duration: float,
    workdir: Path,
    pg_restart: bool = True,
    disk_full: bool = True,
    pg_admin_url: str = PG_ADMIN_URL,
    phases: tuple[str, ...] = ("load", "retry_storm", "sigkill"),
    shared_client: bool = False,
) -> list[PhaseStats]:
    """Every phase on one backend, then the read-back check. Returns the phases' stats."""
    out: list[PhaseStats] = []
    db = None
    if backend == "sqlite":
        url = f"sqlite:///{workdir}/battery.db"
    elif backend == "postgres":
        db = f"convostore_battery_{os.getpid()}"
        url = pg_create_db(pg_admin_url, db)
    else:
        raise ValueError(f"unknown backend {backend!r}")
    try:
        token = issue_token(url)
        server = Server(url, free_port(), workdir / f"server-{backend}.log")
        server.start()
        try:
            runners: dict[str, Callable[[], PhaseStats]] = {
                "load": lambda: phase_load(
                    server, token, backend, writers, duration, shared_client
                ),
                "retry_storm": lambda: phase_retry_storm(server, token, backend, writers, duration),
                "sigkill": lambda: phase_sigkill(server, token, backend, writers, duration),
                "pg_restart": lambda: phase_pg_restart(server, token, backend, writers, duration),
            }
            todo = list(phases)
            if backend == "postgres" and pg_restart and "pg_restart" not in todo:
                todo.append("pg_restart")
            for name in todo:
                if name == "pg_restart" and backend != "postgres":
                    continue
                print(f"[{backend}] {name} ...", flush=True)
                stats = runners[name]()
                out.append(stats)
                print_row(stats, verified=False)
        finally:
            server.stop()
        verify(url, out)
        if backend == "sqlite" and disk_full:
            print(f"[{backend}] disk_full ...", flush=True)
            out.append(phase_disk_full(backend, writers, duration, workdir))
    finally:
        if db is not None:
            pg_drop_db(pg_admin_url, db)
    return out


# --------------------------------------------------------------------------- report


COLUMNS = [
    "backend",
    "phase",
    "writers",
    "s",
    "requests",
    "attempts",
    "acked",
    "lost",
    "dup",
    "gaps",
    "statuses (attempts)",
    "reads",
    "p50 ms",
    "p99 ms",
    "e2e p99 ms",
    "RSS start MiB",
    "RSS end MiB",
]


def _mib(kib: int | None) -> str:
    return "-" if kib is None else f"{kib / 1024:.0f}"


def _counts(c: dict[str, int]) -> str:
    return " ".join(f"{k}:{v}" for k, v in c.items()) or "-"


def row(stats: PhaseStats) -> list[str]:
    s = stats.summary()
    if stats.skipped:
        return [stats.backend, stats.phase] + [stats.skipped] + [""] * (len(COLUMNS) - 3)

    def v(x: Any) -> str:
        return "-" if x is None else str(x)

    return [
        stats.backend,
        stats.phase,
        v(stats.writers),
        v(stats.seconds),
        v(stats.requests),
        v(stats.attempts),
        v(stats.acknowledged),
        v(stats.lost),
        v(stats.duplicated),
        v(stats.seq_gaps),
        _counts(s["statuses"]),
        _counts(s["reads"]),
        v(s["p50_ms"]),
        v(s["p99_ms"]),
        v(s["e2e_p99_ms"]),
        _mib(stats.rss_start_kib),
        _mib(stats.rss_end_kib),
    ]


def print_row(stats: PhaseStats, verified: bool = True) -> None:
    cells = row(stats)
    pairs = [
        f"{k}={c}"
        for k, c in zip(COLUMNS, cells, strict=True)
        if verified or k not in ("lost", "dup", "gaps")
    ]
    print("  " + "  ".join(pairs), flush=True)


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True
    ).stdout.strip()
    dirty = bool(
        subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "src"],
            cwd=HERE,
            capture_output=True,
            text=True,
        ).stdout
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "os": platform.platform(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": commit + ("+uncommitted changes in src/" if dirty else ""),
        "load_average": os.getloadavg(),
    }


def write_results(results: list[PhaseStats], args: argparse.Namespace, path: Path) -> None:
    info = machine()
    info["args"] = {
        "duration": args.duration,
        "writers": args.writers,
        "backends": args.backends,
        "pg_restart": not args.no_pg_restart,
        "quick": args.quick,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".json").write_text(
        json.dumps({"machine": info, "phases": [r.summary() for r in results]}, indent=2) + "\n"
    )
    lines = [
        "# Hostile-load battery",
        "",
        f"- machine: {info['cpu']}, {info['cores']} cores, Python {info['python']}, {info['os']}",
        f"- date: {info['date']}; load average at start "
        f"{', '.join(f'{x:.2f}' for x in info['load_average'])}",
        f"- commit: {info['commit']}",
        f"- run: `bench/battery.py --duration {args.duration:g} --writers {args.writers}"
        f"{' --quick' if args.quick else ''} --backends {args.backends}"
        f"{' --no-pg-restart' if args.no_pg_restart else ''}`",
        "",
        "Statuses count HTTP attempts (retries and storm copies included; `conn` = no "
        "answer: refused, reset or timed out). `reads` counts reader answers. p50/p99 are "
        "the round trip of the attempt that was acknowledged; e2e p99 runs from the first "
        "send to the acknowledgement, outages included. lost = acknowledged but not stored "
        "(or stored elsewhere); dup = markers stored more than once; gaps = threads whose "
        "seq is not 1..n.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    lines += ["| " + " | ".join(row(r)) + " |" for r in results]
    notes = [(r, n) for r in results for n in r.notes]
    if notes:
        lines += ["", "Notes:", ""]
        lines += [f"- {r.backend}/{r.phase}: {n}" for r, n in notes]
    path.write_text("\n".join(lines) + "\n")


def pg_available(admin_url: str) -> str | None:
    """``None`` if the server answers, else why not."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        with psycopg.connect(admin_url, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"no PostgreSQL server at {admin_url}: {str(exc).strip()}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=None, help="seconds per phase (default 30)")
    p.add_argument("--writers", type=int, default=None, help="concurrent writers (default 50)")
    p.add_argument("--quick", action="store_true", help="3 s per phase, 10 writers")
    p.add_argument("--backends", default="sqlite,postgres")
    p.add_argument("--no-pg-restart", action="store_true", help="skip the PostgreSQL restart")
    p.add_argument("--no-disk-full", action="store_true", help="skip the full-disk phase")
    p.add_argument(
        "--shared-client",
        action="store_true",
        help="load phase: one HTTP client for all writers and readers, as the battery "
        "used to (the client then costs more CPU than the server)",
    )
    p.add_argument(
        "--phases",
        default=",".join(PHASES),
        help=f"comma-separated phases to run, in this order: {','.join(PHASES)} (default all)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="results file (default bench/results/battery.md; quick: none)",
    )
    args = p.parse_args(argv)
    phases = tuple(x.strip() for x in args.phases.split(",") if x.strip())
    unknown = sorted(set(phases) - set(PHASES))
    if unknown:
        p.error(f"unknown phases {unknown}: choose from {','.join(PHASES)}")
    args.duration = args.duration or (3.0 if args.quick else 30.0)
    args.writers = args.writers or (10 if args.quick else 50)
    out = args.out or (None if args.quick else RESULTS / "battery.md")

    results: list[PhaseStats] = []
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        if backend == "postgres" and (why := pg_available(PG_ADMIN_URL)):
            print(f"[postgres] skipped: {why}", flush=True)
            continue
        with tempfile.TemporaryDirectory(prefix=f"convostore_battery_{backend}_") as tmp:
            got = run_backend(
                backend,
                writers=args.writers,
                duration=args.duration,
                workdir=Path(tmp),
                pg_restart=not args.no_pg_restart and "pg_restart" in phases,
                disk_full=not args.no_disk_full and "disk_full" in phases,
                phases=tuple(x for x in phases if x in ("load", "retry_storm", "sigkill")),
                shared_client=args.shared_client,
            )
        print(f"[{backend}] verified:", flush=True)
        for stats in got:
            print_row(stats)
            for note in stats.notes:
                print(f"    note: {note}")
        results += got
    if out is not None:
        write_results(results, args, out)
        print(f"results: {out} and {out.with_suffix('.json')}")
    failed = [f"{r.backend}/{r.phase}" for r in results if r.failed]
    if failed:
        print(f"FAILED (lost, duplicated or seq gaps): {', '.join(failed)}")
        return 1
    print("OK: nothing lost, nothing duplicated, no seq gaps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
