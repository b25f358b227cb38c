"""Typed reads against an old revision: what the collector and the metadata cost.

Two promises the store core made cost time on reads of whole threads, and this
script measures each one apart:

* the store no longer pauses Python's garbage collector during a whole-thread
  load unless the caller opts in (``StoreSettings(pause_gc_on_load=True)``): the
  collector is the process's, not the store's;
* every message owns its metadata (``metadata.extra`` accepts changes on every
  message alike), where the old code shared one read-only empty instance.

It runs the old revision (always pausing, shared metadata), the working tree at
its defaults and the working tree with the collector paused, each in a fresh
process per round, the three taking turns, on SQLite at ``synchronous=normal``:

    .venv/bin/python bench/load_cost.py --old 80d0864
    .venv/bin/python bench/load_cost.py --old 80d0864 --quick   # 10,000 messages

and writes ``bench/results/load_cost-vs-REV.md`` and ``.json``. Besides the
times it counts the objects the collector tracks per decoded message, a figure
no machine noise can move.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from adapters.convostore_store import to_messages
from common import RESULTS, fmt_seconds, iter_items, machine, old_source, write_json

VARIANTS = ("old", "new", "new, collector paused")


def worker(args: argparse.Namespace) -> dict[str, Any]:
    """One variant's measurements, in this process."""
    from convostore import open_store

    options: dict[str, Any] = {"synchronous": "normal"}
    if args.pause_gc:
        from convostore import StoreSettings

        options["settings"] = StoreSettings(pause_gc_on_load=True)
    db = Path(args.db)
    fresh = not db.exists()
    store = open_store(f"sqlite:///{db}", **options)
    try:
        if fresh:
            store.create_thread(id="big", user_id="u-load")
            for chunk in iter_items(args.n, chunk=1000):
                store.append("big", to_messages(chunk))
        store.load_messages("big")  # warm the page cache and the code paths
        loads = []
        for _ in range(args.calls):
            t0 = time.perf_counter()
            got = store.load_messages("big")
            loads.append(time.perf_counter() - t0)
            del got
        recents = []
        for _ in range(200):
            t0 = time.perf_counter()
            store.recent("big", 20)
            recents.append(time.perf_counter() - t0)
        gc.collect()
        was = gc.isenabled()
        gc.disable()
        before = len(gc.get_objects())
        page = store.recent("big", 1000)
        tracked = (len(gc.get_objects()) - before) / len(page)
        if was:
            gc.enable()
        return {
            "load": statistics.median(loads),
            "recent": statistics.median(recents),
            "tracked_per_message": round(tracked, 2),
        }
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old", required=True, help="the revision to compare with")
    ap.add_argument("--quick", action="store_true", help="10,000 messages, 3 rounds")
    ap.add_argument("--n", type=int, default=None, help="messages (default 100,000)")
    ap.add_argument("--rounds", type=int, default=None, help="default 5 (3 quick)")
    ap.add_argument("--calls", type=int, default=3, help="loads per process")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    ap.add_argument("--pause-gc", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.n = args.n or (10_000 if args.quick else 100_000)
    if args.worker:
        print(json.dumps(worker(args)))
        return 0

    rounds = args.rounds or (3 if args.quick else 5)
    raw: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="load-cost-") as tmp, old_source(args.old) as old_src:
        for r in range(rounds):
            order = VARIANTS if r % 2 == 0 else VARIANTS[::-1]
            for variant in order:
                env = dict(os.environ)
                extra: list[str] = []
                if variant == "old":
                    env["PYTHONPATH"] = str(old_src)
                    db = Path(tmp) / "old.db"
                else:
                    db = Path(tmp) / "new.db"  # both new variants read one database
                    if "paused" in variant:
                        extra.append("--pause-gc")
                cmd = [sys.executable, __file__, "--worker", "--old", args.old]
                cmd += ["--n", str(args.n), "--calls", str(args.calls), "--db", str(db)]
                out = subprocess.run(
                    cmd + extra, env=env, check=True, capture_output=True, text=True
                ).stdout
                raw[variant].append(json.loads(out.strip().splitlines()[-1]))
                print(f"round {r + 1}/{rounds} {variant}: {raw[variant][-1]}", flush=True)

    summary = {
        v: {
            key: statistics.median(run[key] for run in runs)
            for key in ("load", "recent", "tracked_per_message")
        }
        for v, runs in raw.items()
    }
    old = summary["old"]
    lines = [
        f"# Typed reads: the working tree against {args.old} (SQLite)",
        "",
        f"SQLite, WAL, `synchronous=normal`; one thread of {args.n:,} messages per "
        f"revision; {rounds} rounds, the three variants taking turns, each in a fresh "
        f"process ({args.calls} loads and 200 `recent(20)` calls per process); medians. "
        f"x old is the time ratio. Generated by `bench/load_cost.py --old {args.old}`.",
        "",
        f"| variant | `load_messages` ({args.n:,}) | x old | `recent(20)` | x old "
        "| tracked objects per message |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for v in VARIANTS:
        s = summary[v]
        lines.append(
            f"| {v} | {fmt_seconds(s['load'])} | {s['load'] / old['load']:.3f} "
            f"| {fmt_seconds(s['recent'])} | {s['recent'] / old['recent']:.3f} "
            f"| {s['tracked_per_message']:g} |"
        )
    lines += [
        "",
        "*old* pauses the collector on every whole-thread load and shares one "
        "read-only empty metadata object between messages; *new* owns a metadata "
        "object per message and leaves the collector alone unless "
        "`pause_gc_on_load=True` (*new, collector paused*).",
        "",
    ]
    stem = f"load_cost-vs-{args.old}" + ("-quick" if args.quick else "")
    (RESULTS / f"{stem}.md").write_text("\n".join(lines))
    write_json(
        RESULTS / f"{stem}.json",
        {"machine": machine(), "n": args.n, "rounds": rounds, "runs": raw, "summary": summary},
    )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
