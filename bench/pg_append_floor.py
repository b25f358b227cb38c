"""What each promise of a PostgreSQL append costs, measured in raw SQL.

One append (one message, or a turn of four) as a single autocommit statement
on psycopg, on schemas that add one promise of convostore's at a time:

* ``insert``: the message rows alone, primary key (tenant, thread, seq);
* ``+ counters``: the thread row's counters moved in the same statement
  (``WITH moved AS (UPDATE ... RETURNING 1) INSERT ... WHERE EXISTS``), the
  thread's listing indexes kept up to date by it;
* ``+ id index``: the unique (tenant, id) index that makes a re-send
  idempotent, and the statement's check that no id of the batch is stored;
* ``+ fk, window indexes``: the foreign key to the thread and the partial
  indexes that context windows and execution reads use;
* ``+ tsvector``: the search column generated from the body;
* ``+ GIN``: its GIN index (``fastupdate`` on, PostgreSQL's default): the
  whole convostore schema, counters moved relatively;
* ``convostore statement``: the same schema, the statement
  ``Store.append`` sends (``append_if_unchanged``: absolute counters, and
  the thread row checked against what this process last saw), planned
  before the clock starts and replayed on psycopg;
* ``Store.append``: the whole call, Python included.

Beside them, ``round trip`` (``SELECT 1``: the floor of any call) and
``langchain-postgres``: its table (serial key, session index, jsonb) and its
``add_messages`` (``executemany`` in a transaction, then ``COMMIT``: two
round trips). Every variant has its own connection and thread; each round
runs every variant (order rotated) and the tables give the median over rounds
of each round's median call, with its ratio to ``insert`` in the same round.
Bodies are the ones convostore stores for the benchmark's messages (fresh ids
per call).

    .venv/bin/python bench/pg_append_floor.py              # 7 rounds
    .venv/bin/python bench/pg_append_floor.py --rounds 3   # quicker

``BENCH_PG_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``) is
used to create a scratch database, dropped at the end. Writes
``--out``/``pg_append_floor.md`` and ``.json`` (default ``bench/results``).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, fmt_seconds, items, machine, write_json

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
DB = "cbench_pg_append_floor"
TENANT = "default"

#: name -> (statements dropped from the full convostore schema, counters moved)
LADDER: dict[str, tuple[tuple[str, ...], bool]] = {}
_WINDOW = (
    "ALTER TABLE {s}.convostore_messages DROP CONSTRAINT convostore_messages_thread_fkey",
    "DROP INDEX {s}.convostore_messages_live",
    "DROP INDEX {s}.convostore_messages_live_mandatory",
    "DROP INDEX {s}.convostore_messages_by_execution",
)
_IDS = ("ALTER TABLE {s}.convostore_messages DROP CONSTRAINT convostore_messages_id_key",)
_TSV = ("ALTER TABLE {s}.convostore_messages DROP COLUMN search",)  # the GIN index goes too
_GIN = ("DROP INDEX {s}.convostore_messages_search",)
LADDER = {
    "insert": (_TSV + _WINDOW + _IDS, False),
    "+ counters": (_TSV + _WINDOW + _IDS, True),
    "+ id index": (_TSV + _WINDOW, True),
    "+ fk, window indexes": (_TSV, True),
    "+ tsvector": (_GIN, True),
    "+ GIN": ((), True),
}
ORDER = [
    "round trip",
    "langchain-postgres",
    *LADDER,
    "+ GIN, fastupdate off",
    "convostore statement",
    "Store.append",
]
COLS = "seq, id, role, execution_id, created_at, pinned, deleted, archived, body"


def _schema_name(name: str) -> str:
    return "v_" + "".join(c if c.isalnum() else "_" for c in name).strip("_").lower()


class Bodies:
    """Stored message rows of the benchmark's messages, handed out with fresh ids."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.rows = rows
        self.fresh = itertools.count()

    def take(self, start: int, n: int, tag: str) -> list[tuple[Any, ...]]:
        out = []
        for k in range(n):
            _seq, mid, role, created, body = self.rows[(start + k) % len(self.rows)]
            new = f"msg_{tag}_{next(self.fresh):012d}"
            out.append((mid, new, role, created, body.replace(mid, new, 1)))
        return out


def _values(n: int) -> str:
    return ", ".join(
        f"(%(seq{k})s::bigint, %(id{k})s::text, %(role{k})s::text, NULL::text, "
        f"%(at{k})s::timestamptz, false, false, false, %(body{k})s::text)"
        for k in range(n)
    )


class Ladder:
    """A schema of the ladder and its one-statement append."""

    def __init__(self, conn: Any, schema: str, counters: bool, ids: bool, n: int) -> None:
        self.conn, self.n, self.seq = conn, n, 0
        s = schema
        insert = (
            f"INSERT INTO {s}.convostore_messages (tenant_id, thread_id, {COLS}) "
            f"SELECT %(tenant)s, %(thread)s, u.seq, u.id, u.role, u.execution_id, u.created_at, "
            f"u.pinned, u.deleted, u.archived, u.body::json FROM (VALUES {_values(n)}) "
            f"AS u({COLS})"
        )
        if not counters:
            self.sql = insert
            return
        taken = ""
        if ids:  # one probe of the unique index per id, as the store's statement
            probes = " OR ".join(
                f"EXISTS (SELECT FROM {s}.convostore_messages "
                f"WHERE tenant_id = %(tenant)s AND id = %(id{k})s)"
                for k in range(n)
            )
            taken = f" AND NOT ({probes})"
        self.sql = (
            f"WITH moved AS (UPDATE {s}.convostore_threads SET updated_at = %(now)s, "
            "revision = revision + 1, message_count = message_count + %(n)s, "
            "live_message_count = live_message_count + %(n)s, turn_count = turn_count + 1, "
            "tool_call_count = tool_call_count + %(tools)s, token_count = token_count + %(tok)s "
            f"WHERE tenant_id = %(tenant)s AND id = %(thread)s{taken} RETURNING 1) "
            f"{insert} WHERE EXISTS (SELECT FROM moved)"
        )

    def params(self, rows: list[tuple[Any, ...]], thread: str) -> dict[str, Any]:
        p: dict[str, Any] = {
            "tenant": TENANT,
            "thread": thread,
            "now": rows[-1][3],
            "n": self.n,
            "tools": 1,
            "tok": 100,
        }
        for k, (_old, mid, role, created, body) in enumerate(rows):
            self.seq += 1
            p[f"seq{k}"], p[f"id{k}"], p[f"role{k}"] = self.seq, mid, role
            p[f"at{k}"], p[f"body{k}"] = created, body
        return p


def build(
    url: str, per: int, calls: int, total: int, no_flush: bool
) -> dict[str, Callable[[int], Callable[[], None]]]:
    """Every variant's schema, connection and thread; name -> (round -> one call)."""
    import psycopg
    from adapters.convostore_store import to_messages

    from convostore import open_store
    from convostore.store.postgres.migrations import render_ddl
    from convostore.store.sql import handlers as h

    # synchronous_commit=off on every connection of the run, the stores' pools included
    extra = {"options": "-c synchronous_commit=off"} if no_flush else {}

    def connect(**kw: Any) -> Any:
        return psycopg.connect(url, **{"autocommit": True, "prepare_threshold": 5, **extra, **kw})

    # The bodies convostore stores for the benchmark's messages.
    setup = open_store(url, schema="v_setup", auto_migrate=True)
    setup.create_thread(id="bodies", user_id="u")
    for i in range(0, total * per, 100):
        setup.append("bodies", to_messages(items(min(100, total * per - i), start=i)))
    setup.close()
    with connect() as c:
        rows = c.execute(
            "SELECT seq, id, role, created_at, body::text FROM v_setup.convostore_messages "
            "ORDER BY seq"
        ).fetchall()
    bodies = Bodies(rows)
    out: dict[str, Callable[[int], Callable[[], None]]] = {}

    def schema(name: str, drop: tuple[str, ...]) -> tuple[Any, str]:
        s = _schema_name(name)
        conn = connect()
        conn.execute(render_ddl(s).encode())
        for stmt in drop:
            conn.execute(stmt.format(s=s).encode())
        conn.execute(
            f"INSERT INTO {s}.convostore_threads (tenant_id, id, user_id, created_at, updated_at, "
            "revision, body) VALUES (%s, 't', 'u', now(), now(), 0, '{}')".encode(),
            (TENANT,),
        )
        return conn, s

    rt = connect()

    def round_trip(r: int) -> Callable[[], None]:
        return lambda: rt.execute(b"SELECT 1").fetchone() and None

    out["round trip"] = round_trip

    lc = connect(autocommit=False)
    lc.execute(
        "CREATE TABLE IF NOT EXISTS chat_history (id SERIAL PRIMARY KEY, session_id UUID NOT NULL, "
        "message JSONB NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT NOW())"
    )
    lc.execute(
        "CREATE INDEX IF NOT EXISTS idx_chat_history_session_id ON chat_history (session_id)"
    )
    lc.commit()
    sid = "7d3b6c1e-2f4a-4b7e-9c1d-5e6f7a8b9c0d"
    lc_calls = itertools.count()

    def langchain(r: int) -> Callable[[], None]:
        def call() -> None:
            rows = bodies.take(next(lc_calls) * per, per, "lc")
            values = [(sid, b) for *_, b in rows]
            with lc.cursor() as cur:
                cur.executemany(
                    "INSERT INTO chat_history (session_id, message) VALUES (%s, %s)", values
                )
            lc.commit()

        return call

    out["langchain-postgres"] = langchain

    def ladder(name: str, drop: tuple[str, ...], counters: bool, ids: bool) -> None:
        conn, s = schema(name, drop)
        lad = Ladder(conn, s, counters, ids, per)
        sql = lad.sql.encode()
        n_calls = itertools.count()

        def make(r: int) -> Callable[[], None]:
            def call() -> None:
                rows = bodies.take(next(n_calls) * per, per, s)
                conn.execute(sql, lad.params(rows, "t"))

            return call

        out[name] = make

    for name, (drop, counters) in LADDER.items():
        ladder(name, drop, counters, ids=not any(d in _IDS for d in drop))
    ladder("+ GIN, fastupdate off", (), True, ids=True)
    s = _schema_name("+ GIN, fastupdate off")
    with connect() as c:
        c.execute(f"ALTER INDEX {s}.convostore_messages_search SET (fastupdate = off)".encode())

    # The store, and its own statement replayed.
    store = open_store(
        url, schema="v_store", auto_migrate=True, min_size=1, max_size=1, connect_kwargs=extra
    )
    store.create_thread(id="t", user_id="u")
    msgs = itertools.count()

    def batch() -> list[Any]:
        return to_messages(items(per, start=next(msgs) * per))

    def store_append(r: int) -> Callable[[], None]:
        batches = iter([batch() for _ in range(calls)])  # converted before the clock
        return lambda: store.append("t", next(batches)) and None

    out["Store.append"] = store_append

    replay = open_store(
        url, schema="v_replay", auto_migrate=True, min_size=1, max_size=1, connect_kwargs=extra
    )
    replay.create_thread(id="t", user_id="u")
    replay.append("t", batch())  # remembered row
    be: Any = replay._backend  # the backend's own planner, untimed
    rconn = connect()
    key = (TENANT, "t")

    def statement(r: int) -> Callable[[], None]:
        from convostore.store import ops

        batches = iter([batch() for _ in range(calls)])

        def call() -> None:
            known = be._known.get(key)
            op = ops.Append(tenant=TENANT, thread_id="t", messages=tuple(next(batches)))
            steps = h.append_known(be.statements, be.settings, op, known)
            query = next(steps)
            t0 = time.perf_counter()
            cur = rconn.execute(query.sql, query.params)
            spent = time.perf_counter() - t0
            try:
                steps.send(cur.rowcount)
            except StopIteration as stop:
                be._known.keep(key, stop.value.known)
            raise _Timed(spent)

        return call

    out["convostore statement"] = statement
    return out


class _Timed(Exception):
    """A call that timed itself (the part after its planning)."""

    def __init__(self, spent: float) -> None:
        self.spent = spent


def _time(fn: Callable[[], None]) -> float:
    t0 = time.perf_counter()
    try:
        fn()
    except _Timed as t:
        return t.spent
    return time.perf_counter() - t0


def run(
    url: str, rounds: int, calls: int, per: int, no_flush: bool, say: Callable[[str], None]
) -> dict[str, Any]:
    variants = build(url, per, calls, calls * rounds + 10, no_flush)
    names = [n for n in ORDER if n in variants]
    for name in names:  # warm-up: psycopg prepares after five executions
        fn = variants[name](-1)
        for _ in range(min(10, calls)):
            _time(fn)
    per_round: dict[str, list[float]] = {n: [] for n in names}
    ratio: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        got: dict[str, float] = {}
        for name in order:
            fn = variants[name](r)
            got[name] = statistics.median(_time(fn) for _ in range(calls))
        for name in names:
            per_round[name].append(got[name])
            ratio[name].append(got[name] / got["insert"])
        say(f"  {per} per call: round {r + 1}/{rounds} done")
    return {
        n: {
            "median": statistics.median(per_round[n]),
            "ratio_to_insert": statistics.median(ratio[n]),
            "rounds": per_round[n],
        }
        for n in names
    }


def report(results: dict[str, Any], meta: dict[str, Any]) -> str:
    lines = [
        "# What each promise of a PostgreSQL append costs",
        "",
        f"`bench/pg_append_floor.py`, {meta['rounds']} interleaved rounds of {meta['calls']} "
        f"calls per variant; median over rounds of each round's median call, and the median "
        f"of the per-round ratios to `insert`. {meta['machine']['cpus']} CPUs, load average "
        f"{meta['load']} at the start; PostgreSQL {meta['server']}, "
        + (
            "defaults (`synchronous_commit=on`)."
            if meta["synchronous_commit"] == "on"
            else "`synchronous_commit=off` on every connection (no commit waits for the WAL "
            "flush): the server's and the client's work alone."
        ),
        "",
        "| variant | one message | (x insert) | a turn of 4 | (x insert) |",
        "|---|---:|---:|---:|---:|",
    ]
    one, four = results["1"], results["4"]
    for name in ORDER:
        if name not in one:
            continue
        a, b = one[name], four[name]
        lines.append(
            f"| {name} | {fmt_seconds(a['median'])} | {a['ratio_to_insert']:.2f} | "
            f"{fmt_seconds(b['median'])} | {b['ratio_to_insert']:.2f} |"
        )
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--calls", type=int, default=100, help="calls per variant and round")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument(
        "--no-flush",
        action="store_true",
        help="synchronous_commit=off on every connection: the server's work without the WAL "
        "flush each commit waits for (the same for every variant), for the promises' CPU cost",
    )
    args = ap.parse_args(argv)
    import psycopg

    def say(text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)

    base = PG_URL.rsplit("/", 1)[0]
    with psycopg.connect(PG_URL, autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {DB}".encode())
        c.execute(f"CREATE DATABASE {DB}".encode())
        server = c.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
    url = f"{base}/{DB}"
    meta = {
        "rounds": args.rounds,
        "calls": args.calls,
        "machine": machine(),
        "load": f"{os.getloadavg()[0]:.1f}",
        "server": server,
        "synchronous_commit": "off" if args.no_flush else "on",
    }
    results: dict[str, Any] = {}
    try:
        for per in (1, 4):
            results[str(per)] = run(url, args.rounds, args.calls, per, args.no_flush, say)
            with psycopg.connect(PG_URL, autocommit=True) as c:  # a fresh database per size
                c.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (DB,),
                )
                c.execute(f"DROP DATABASE IF EXISTS {DB}".encode())
                c.execute(f"CREATE DATABASE {DB}".encode())
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as c:
            c.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (DB,)
            )
            c.execute(f"DROP DATABASE IF EXISTS {DB}".encode())
    args.out.mkdir(parents=True, exist_ok=True)
    text = report(results, meta)
    name = "pg_append_floor-no-flush" if args.no_flush else "pg_append_floor"
    (args.out / f"{name}.md").write_text(text)
    write_json(args.out / f"{name}.json", {"meta": meta, "results": results})
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
