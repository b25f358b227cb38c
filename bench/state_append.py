"""What a state change costs an append, and what doing it in one call saves.

Three ways to record one user message, measured in interleaved rounds (a block
of each per round, so machine noise hits them alike) on memory, a SQLite file
and PostgreSQL:

* ``append``: the message alone (the quick append paths);
* ``append + state``: the message with a ``StateChange`` of thread, user and
  app state, in one transaction (the locked append path, the state rows locked);
* ``append, then update_state x2``: the message, then the user and the app
  state written apart: three transactions, and not atomic.

Medians of all calls are reported with their ratio to the plain append.

    .venv/bin/python bench/state_append.py            # 7 rounds x 100 calls
    .venv/bin/python bench/state_append.py --quick    # 3 rounds x 30 calls

Writes ``bench/results/state_append.md`` and ``.json`` (``--quick``:
``state_append-quick.*``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, fmt_seconds, machine, median, write_json

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
PREFILL = 100


def measure(url: str, rounds: int, calls: int, **options: Any) -> dict[str, Any]:
    from convostore import Message, StateChange, StateUpdate, open_store

    store = open_store(url, **options)
    ids = {k: store.create_thread(id=f"t-{k}", user_id=f"u-{k}").id for k in ("a", "s", "w")}
    for tid in ids.values():
        store.append(tid, [Message.user(f"earlier {i}") for i in range(PREFILL)])
    fresh = iter(range(10**9))

    def text() -> str:
        return f"message number {next(fresh)} of the benchmark, a short question"

    def with_state() -> None:
        n = next(fresh)
        change = StateChange(
            thread=StateUpdate(changes={"step": n}),
            user=StateUpdate(changes={"last": n}),
            app=StateUpdate(changes={"seen": n}),
        )
        store.append(ids["s"], Message.user(text()), state=change)

    def apart() -> None:
        n = next(fresh)
        store.append(ids["w"], Message.user(text()))
        store.update_state("user", user_id="u-w", changes={"last": n})
        store.update_state("app", changes={"seen": n})

    kinds: dict[str, Callable[[], Any]] = {
        "append": lambda: store.append(ids["a"], Message.user(text())),
        "append + state": with_state,
        "append, then update_state x2": apart,
    }

    def block(fn: Callable[[], Any]) -> list[float]:
        out = []
        for _ in range(calls):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
        return out

    for fn in kinds.values():  # warm-up, not recorded
        block(fn)
    raw: dict[str, list[float]] = {k: [] for k in kinds}
    for r in range(rounds):
        order = list(kinds) if r % 2 == 0 else list(reversed(kinds))
        for k in order:
            raw[k].extend(block(kinds[k]))
    store.close()
    base = median(raw["append"])
    assert base
    rows = []
    for k in kinds:
        m = median(raw[k])
        assert m
        rows.append({"call": k, "median_s": m, "ratio": m / base})
    return {"rows": rows, "raw_seconds": raw}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 rounds x 30 calls")
    ap.add_argument("--rounds", type=int, default=None, help="default 7 (3 quick)")
    ap.add_argument("--calls", type=int, default=None, help="default 100 (30 quick)")
    ap.add_argument("--backends", default="memory,sqlite,postgres")
    args = ap.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 7)
    calls = args.calls or (30 if args.quick else 100)
    wanted = args.backends.split(",")

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="state-append-") as tmp:
        if "memory" in wanted:
            results["memory"] = measure("memory://", rounds, calls)
        if "sqlite" in wanted:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            results["sqlite file"] = measure(url, rounds, calls)
        if "postgres" in wanted:
            from convostore.store.postgres import drop_schema

            schema = f"bench_state_{uuid.uuid4().hex[:8]}"
            try:
                results["postgres"] = measure(
                    PG_URL, rounds, calls, schema=schema, auto_migrate=True
                )
            finally:
                drop_schema(PG_URL, schema)
        print("done", ", ".join(results), flush=True)

    data = {
        "prefill": PREFILL,
        "rounds": rounds,
        "calls_per_round": calls,
        "machine": machine(),
        "quick": args.quick,
        "backends": results,
    }
    stem = "state_append-quick" if args.quick else "state_append"
    write_json(RESULTS / f"{stem}.json", data)
    md = [
        "# An append with a state change",
        "",
        "One user message appended alone, with a `StateChange` of thread, user and app "
        "state in the same transaction, and followed by two separate `update_state` "
        "calls (not atomic).",
        "",
        f"Threads prefilled with {PREFILL} messages; {rounds} interleaved rounds x {calls} "
        f"calls per kind; medians of all calls. Generated by "
        f"`bench/state_append.py{' --quick' if args.quick else ''}`.",
        "",
        "| backend | call | median | vs append |",
        "|---|---|---:|---:|",
    ]
    for name, res in results.items():
        for row in res["rows"]:
            md.append(
                f"| {name} | `{row['call']}` | {fmt_seconds(row['median_s'])} | "
                f"{row['ratio']:.2f}x |"
            )
    m = data["machine"]
    md += [
        "",
        f"Machine: {m.get('cpu', m['machine'])}, {m['cpus']} CPUs, "
        f"Python {m['python']}, SQLite {m['sqlite']}, load average at start "
        f"{m.get('loadavg_at_start')}.",
    ]
    (RESULTS / f"{stem}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
