"""What each promise of the SQLite store costs, measured in raw SQL next to the store.

The side-by-side benchmark (``run.py``) compares convostore with the raw limit:
stdlib ``sqlite3`` writing a row per message into a table with a primary key
and touching a thread row. convostore promises more, and each promise has a
floor that no implementation on SQLite can go below. This script builds that
floor step by step, in raw ``sqlite3`` on the store's own schema, and runs the
store on the same workload, interleaved:

1. ``raw``: the bench's raw baseline (three-column table, one index).
2. ``+ schema``: the store's ``messages`` table and indexes: tenant walls in
   every key, the unique ``(tenant, id)`` index idempotent ids need, the live
   and mandatory window indexes; no search trigger.
3. ``+ counters``: the thread row's counters advanced in the same transaction
   (``UPDATE ... RETURNING``), as the store does to hand out seq and turn.
4. ``+ index (fixed text)``: the search trigger with a constant text: the key
   row and the FTS5 insert alone.
5. ``+ index text``: the real trigger, which makes each message's searchable
   text from its body: the whole SQL side of the store.
6. ``convostore``: ``Store.append`` / ``import_thread``, Python included.

Workloads: W1 one message per call, W2 a four-message turn per call, W6 a
5,000-message import in one call; at ``synchronous=normal`` and ``full``.
Also the typed read: decoding a 10,000-message thread's bodies as dicts
(``json.loads``, the raw limit), as convostore ``Message`` models, with and
without the garbage collector (the floor of pydantic models).

    .venv/bin/python bench/promises.py            # 5 rounds
    .venv/bin/python bench/promises.py --quick    # 3 rounds, smaller sizes

Writes ``bench/results/promises.md`` and ``.json`` (``promises-quick.*``).
"""

from __future__ import annotations

import argparse
import gc
import json
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from adapters.convostore_store import to_messages
from common import RESULTS, fmt_seconds, items, machine, median, write_json

STEPS = ("raw", "+ schema", "+ counters", "+ index (fixed text)", "+ index text", "convostore")


def _store(path: Path, synchronous: str) -> Any:
    from convostore import open_store

    return open_store(f"sqlite:///{path}", synchronous=synchronous)


class Floor:
    """One raw-SQL step on a fresh database of the store's schema."""

    def __init__(self, step: str, path: Path, synchronous: str) -> None:
        self.step = step
        if step == "raw":
            self.conn = sqlite3.connect(path, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.executescript(
                "CREATE TABLE threads (id TEXT PRIMARY KEY, user_id TEXT, updated REAL);"
                "CREATE INDEX threads_by_user ON threads (user_id, updated);"
                "CREATE TABLE messages (thread_id TEXT, seq INTEGER, body TEXT,"
                " PRIMARY KEY (thread_id, seq)) WITHOUT ROWID;"
            )
        else:
            _store(path, synchronous).close()  # the store's schema, migrated
            self.conn = sqlite3.connect(path, isolation_level=None)
            if step in ("+ schema", "+ counters"):
                self.conn.execute("DROP TRIGGER messages_search_insert")
            elif step == "+ index (fixed text)":
                self.conn.execute("DROP TRIGGER messages_search_insert")
                self.conn.execute(
                    """CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN
                       INSERT INTO message_search_keys (tenant_id, thread_id, seq)
                       VALUES (new.tenant_id, new.thread_id, new.seq);
                       INSERT INTO messages_fts (rowid, text)
                       VALUES (last_insert_rowid(), 'the fixed text');
                       END"""
                )
        self.conn.execute(f"PRAGMA synchronous={synchronous.upper()}")

    def create_thread(self, tid: str) -> None:
        if self.step == "raw":
            self.conn.execute("INSERT INTO threads VALUES (?, 'u', ?)", (tid, time.time()))
        else:
            self.conn.execute(
                "INSERT INTO threads (tenant_id, id, user_id, updated_us, revision, body) "
                "VALUES ('default', ?, 'u', 0, 0, '{}')",
                (tid,),
            )

    def append(self, tid: str, bodies: list[str]) -> None:
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            if self.step == "raw":
                last = c.execute(
                    "SELECT max(seq) FROM messages WHERE thread_id = ?", (tid,)
                ).fetchone()[0]
                first = (last or 0) + 1
                c.executemany(
                    "INSERT INTO messages VALUES (?, ?, ?)",
                    [(tid, first + i, b) for i, b in enumerate(bodies)],
                )
                c.execute("UPDATE threads SET updated = ? WHERE id = ?", (time.time(), tid))
            else:
                if self.step == "+ schema":
                    last = c.execute(
                        "SELECT max(seq) FROM messages WHERE tenant_id = 'default' "
                        "AND thread_id = ?",
                        (tid,),
                    ).fetchone()[0]
                    first = (last or 0) + 1
                    c.execute(
                        "UPDATE threads SET updated_us = ? WHERE tenant_id = 'default' AND id = ?",
                        (int(time.time() * 1e6), tid),
                    )
                else:
                    (count,) = c.execute(
                        "UPDATE threads SET message_count = message_count + ?, "
                        "live_message_count = live_message_count + ?, "
                        "revision = revision + 1, updated_us = max(updated_us, ?) "
                        "WHERE tenant_id = 'default' AND id = ? RETURNING message_count",
                        (len(bodies), len(bodies), int(time.time() * 1e6), tid),
                    ).fetchone()
                    first = count - len(bodies) + 1
                rows = [
                    (first + i, f"{tid}-{first + i}", "user", None, 0, 0, 0, b)
                    for i, b in enumerate(bodies)
                ]
                if len(rows) == 1:
                    c.execute(
                        "INSERT INTO messages (tenant_id, thread_id, seq, id, role, "
                        "execution_id, pinned, deleted, archived, body) "
                        "VALUES ('default', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (tid, *rows[0]),
                    )
                else:
                    c.execute(
                        "INSERT INTO messages (tenant_id, thread_id, seq, id, role, "
                        "execution_id, pinned, deleted, archived, body) "
                        "SELECT 'default', ?, value ->> 0, value ->> 1, value ->> 2, "
                        "value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7 "
                        "FROM json_each(?)",
                        (tid, json.dumps(rows, ensure_ascii=False)),
                    )
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.conn.close()


class Store:
    """convostore itself."""

    def __init__(self, path: Path, synchronous: str) -> None:
        self.store = _store(path, synchronous)

    def create_thread(self, tid: str) -> None:
        self.store.create_thread(id=tid, user_id="u")

    def append(self, tid: str, msgs: list[Any]) -> None:
        self.store.append(tid, msgs)

    def import_thread(self, tid: str, msgs: list[Any]) -> None:
        from convostore import ConversationSnapshot, Thread

        self.store.import_thread(
            ConversationSnapshot(thread=Thread(id=tid, user_id="u"), messages=msgs)
        )

    def close(self) -> None:
        self.store.close()


def _bodies(batch: list[Any]) -> list[str]:
    from convostore.store.rules.codec import encode_message

    return [encode_message(m) for m in batch]


def _write_round(
    step: str, workload: str, synchronous: str, calls: int, size: int, seed: int
) -> float:
    """The median call of one round of ``workload`` for ``step`` on a fresh database."""
    per_call = 1 if workload == "W1" else 4 if workload == "W2" else size
    batches = [to_messages(items(per_call, start=i * per_call, seed=seed)) for i in range(calls)]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "floor.db"
        target: Floor | Store = (
            Store(path, synchronous) if step == "convostore" else Floor(step, path, synchronous)
        )
        try:
            times = []
            if workload == "W6":
                for i, batch in enumerate(batches):
                    tid = f"imp-{i}"
                    if isinstance(target, Store):
                        t0 = time.perf_counter()
                        target.import_thread(tid, batch)
                    else:
                        bodies = _bodies(batch)
                        t0 = time.perf_counter()
                        target.create_thread(tid)
                        target.append(tid, bodies)
                    times.append(time.perf_counter() - t0)
            else:
                target.create_thread("t")
                for batch in batches:
                    payload = batch if isinstance(target, Store) else _bodies(batch)
                    t0 = time.perf_counter()
                    target.append("t", payload)
                    times.append(time.perf_counter() - t0)
            return median(times) or 0.0
        finally:
            target.close()


def _decode_round(n: int, seed: int) -> dict[str, float]:
    from convostore import Message
    from convostore.store.rules.codec import encode_message

    msgs = to_messages(items(n, seed=seed))
    for i, m in enumerate(msgs, 1):  # as stored: seq, thread, turn and a count
        object.__setattr__(m, "seq", i)
        object.__setattr__(m, "thread_id", "t")
        object.__setattr__(m, "turn", (i + 3) // 4)
        object.__setattr__(m, "token_count", 10)
        object.__setattr__(m, "token_counter", "heuristic-v2")
    bodies = [encode_message(m) for m in msgs]
    plain = [json.dumps(it) for it in items(n, seed=seed)]
    validate = Message.model_validate_json
    out: dict[str, float] = {}
    cases: list[tuple[str, Callable[[], Any]]] = [
        ("json.loads of the raw bodies (the raw limit)", lambda: [json.loads(b) for b in plain]),
        ("json.loads of the stored bodies", lambda: [json.loads(b) for b in bodies]),
        ("Message models", lambda: [validate(b) for b in bodies]),
    ]
    for name, fn in cases:
        t0 = time.perf_counter()
        fn()
        out[name] = time.perf_counter() - t0
    gc.disable()
    try:
        t0 = time.perf_counter()
        [validate(b) for b in bodies]
        out["Message models, collector paused"] = time.perf_counter() - t0
    finally:
        gc.enable()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=None)
    args = ap.parse_args()
    rounds = args.rounds or (3 if args.quick else 5)
    calls = {"W1": 300 if args.quick else 1000, "W2": 150 if args.quick else 500, "W6": 3}
    size = 1000 if args.quick else 5000
    decode_n = 2000 if args.quick else 10_000
    raw: dict[str, list[float]] = {}
    for r in range(rounds):
        for sync in ("normal", "full"):
            for workload in ("W1", "W2", "W6"):
                order = STEPS[r % len(STEPS) :] + STEPS[: r % len(STEPS)]
                for step in order:
                    t = _write_round(step, workload, sync, calls[workload], size, seed=r)
                    raw.setdefault(f"{workload}|{sync}|{step}", []).append(t)
        for name, t in _decode_round(decode_n, seed=r).items():
            raw.setdefault(f"decode|{name}", []).append(t)
        print(f"round {r + 1}/{rounds} done", flush=True)
    med = {k: median(v) or 0.0 for k, v in raw.items()}
    lines = [
        "# What each promise of the SQLite store costs",
        "",
        f"Generated by `bench/promises.py{' --quick' if args.quick else ''}`: {rounds} rounds, "
        "steps interleaved (order rotated per round), a fresh database per step and round; "
        "medians of the rounds' median calls. Each step adds one promise to the one above "
        "it, in raw `sqlite3` on the store's own schema; `convostore` is the store's call. "
        "(Nx) is the time relative to `raw`.",
        "",
    ]
    names = {
        "W1": "W1: one message per call",
        "W2": "W2: a four-message turn per call",
        "W6": f"W6: import a {size:,}-message thread in one call",
    }
    for workload, title in names.items():
        lines += [f"## {title}", "", "| step | normal | full |", "|---|---:|---:|"]
        for step in STEPS:
            cells = []
            for sync in ("normal", "full"):
                t = med[f"{workload}|{sync}|{step}"]
                base = med[f"{workload}|{sync}|raw"]
                cells.append(f"{fmt_seconds(t)} ({t / base:.2f}x)" if base else fmt_seconds(t))
            lines.append(f"| {step} | {' | '.join(cells)} |")
        lines.append("")
    lines += [
        f"## Typed read: decoding {decode_n:,} stored bodies",
        "",
        "| what | time | vs json.loads (raw) |",
        "|---|---:|---:|",
    ]
    base = med["decode|json.loads of the raw bodies (the raw limit)"]
    for key, t in med.items():
        if key.startswith("decode|"):
            lines.append(f"| {key.removeprefix('decode|')} | {fmt_seconds(t)} | {t / base:.2f}x |")
    m = machine()
    lines += [
        "",
        f"Machine: {m.get('cpu')}, {m.get('cpus')} CPUs, Python {m.get('python')}, "
        f"SQLite {m.get('sqlite')}, load average at start {m.get('loadavg_at_start')}; "
        f"commit {m.get('convostore_commit')}; {m.get('time')}.",
        "",
    ]
    stem = "promises-quick" if args.quick else "promises"
    (RESULTS / f"{stem}.md").write_text("\n".join(lines))
    write_json(RESULTS / f"{stem}.json", {"machine": machine(), "raw": raw, "medians": med})
    print("\n".join(lines))


if __name__ == "__main__":
    main()
