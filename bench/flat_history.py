"""Flat history: does the cost of the hot calls stay flat as a thread grows?

Claim checked: ``recent(thread, 20)`` on a 100,000-message SQLite thread takes
within 1.5x of the same call on a 100-message thread, and so does an append
(and, when the store has it, ``context(max_tokens=4000)``).

Both threads live in one database. They are built first (bulk appends of 1,000
messages), then the calls are measured in interleaved rounds: each round runs
every (operation, thread) pair for a block of calls, so machine noise hits both
sizes alike. Medians over all calls are reported with the large/small ratio.

Runs in the project's own virtualenv (no peers needed):

    .venv/bin/python bench/flat_history.py            # 100 vs 100,000 messages
    .venv/bin/python bench/flat_history.py --quick    # 100 vs 10,000, fewer rounds

Writes ``bench/results/flat_history.md`` and ``.json`` (``--quick`` writes
``flat_history-quick.*`` so it never overwrites the real result).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from adapters.convostore_store import has_context, to_messages
from common import RESULTS, fmt_seconds, items, iter_items, machine, median, write_json

LIMIT = 1.5


def build(store: Any, thread_id: str, n: int, user_id: str = "u-flat") -> float:
    t0 = time.perf_counter()
    store.create_thread(id=thread_id, user_id=user_id)
    for chunk in iter_items(n, chunk=1000):
        store.append(thread_id, to_messages(chunk))
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="10,000 messages, 3 rounds")
    ap.add_argument("--small", type=int, default=100)
    ap.add_argument("--large", type=int, default=None, help="default 100,000 (10,000 quick)")
    ap.add_argument("--rounds", type=int, default=None, help="default 7 (3 quick)")
    ap.add_argument(
        "--calls",
        type=int,
        default=None,
        help="calls per (operation, thread) per round; default 50 (20 quick)",
    )
    ap.add_argument("--synchronous", default="normal", choices=["normal", "full"])
    ap.add_argument("--dir", default=None, help="where the database goes (default: a temp dir)")
    args = ap.parse_args(argv)
    large = args.large or (10_000 if args.quick else 100_000)
    rounds = args.rounds or (3 if args.quick else 7)
    calls = args.calls or (20 if args.quick else 50)

    from convostore import open_store

    with tempfile.TemporaryDirectory(prefix="flat-history-", dir=args.dir) as tmp:
        db = Path(tmp) / "flat.db"
        store = open_store(f"sqlite:///{db}", synchronous=args.synchronous)
        sizes = {"small": args.small, "large": large}
        tids = {k: f"flat-{k}" for k in sizes}
        build_s = {}
        for key, n in sizes.items():
            build_s[key] = build(store, tids[key], n)
            print(f"built {key} thread: {n:,} messages in {build_s[key]:.1f} s", flush=True)

        ops: dict[str, Any] = {
            "recent(20)": lambda tid: store.recent(tid, 20),
            "append(1 message)": None,  # needs a fresh message per call, see below
        }
        if has_context():
            ops["context(max_tokens=4000)"] = lambda tid: store.context(tid, max_tokens=4000)
        fresh = iter(range(10**9))

        def run_block(op: str, tid: str) -> list[float]:
            out = []
            for _ in range(calls):
                if op.startswith("append"):
                    msg = to_messages(items(1, start=next(fresh) % 4))
                    t0 = time.perf_counter()
                    store.append(tid, msg)
                else:
                    fn = ops[op]
                    t0 = time.perf_counter()
                    fn(tid)
                out.append(time.perf_counter() - t0)
            return out

        # warm-up: one block of each, not recorded
        for op in ops:
            for key in sizes:
                run_block(op, tids[key])
        raw: dict[str, dict[str, list[float]]] = {op: {k: [] for k in sizes} for op in ops}
        for r in range(rounds):
            order = list(sizes) if r % 2 == 0 else list(reversed(sizes))
            for op in ops:
                for key in order:
                    raw[op][key].extend(run_block(op, tids[key]))
            print(f"round {r + 1}/{rounds} done", flush=True)
        store.close()

    rows = []
    for op in ops:
        small_m = median(raw[op]["small"])
        large_m = median(raw[op]["large"])
        assert small_m and large_m
        ratio = large_m / small_m
        rows.append(
            {
                "operation": op,
                "small_median_s": small_m,
                "large_median_s": large_m,
                "ratio": ratio,
                "within_limit": ratio <= LIMIT,
            }
        )
    result = {
        "claim": f"large-thread call within {LIMIT}x of the small-thread call",
        "backend": f"sqlite (synchronous={args.synchronous})",
        "sizes": sizes,
        "rounds": rounds,
        "calls_per_round": calls,
        "build_seconds": build_s,
        "machine": machine(),
        "quick": args.quick,
        "rows": rows,
        "raw_seconds": raw,
    }
    if not has_context():
        result["note"] = "Store.context is not in this build; its row is left out."

    stem = "flat_history-quick" if args.quick else "flat_history"
    write_json(RESULTS / f"{stem}.json", result)
    md = [
        "# Flat history: hot calls vs thread length (SQLite)",
        "",
        f"Claim: each call on a {large:,}-message thread takes within {LIMIT}x of the same "
        f"call on a {args.small:,}-message thread.",
        "",
        f"SQLite, WAL, `synchronous={args.synchronous}`; {rounds} interleaved rounds x "
        f"{calls} calls per operation and thread; medians of all calls. "
        f"Generated by `bench/flat_history.py{' --quick' if args.quick else ''}`.",
        "",
        f"| operation | {args.small:,} messages | {large:,} messages | ratio | within {LIMIT}x |",
        "|---|---:|---:|---:|:---:|",
    ]
    for row in rows:
        md.append(
            f"| `{row['operation']}` | {fmt_seconds(row['small_median_s'])} | "
            f"{fmt_seconds(row['large_median_s'])} | {row['ratio']:.2f}x | "
            f"{'yes' if row['within_limit'] else '**no**'} |"
        )
    m = result["machine"]
    md += [
        "",
        f"Machine: {m.get('cpu', m['machine'])}, {m['cpus']} CPUs, Python {m['python']}, "
        f"SQLite {m['sqlite']}, load average at start {m.get('loadavg_at_start')}.",
        f"Build time: {build_s['small']:.1f} s (small), {build_s['large']:.1f} s (large).",
    ]
    if "note" in result:
        md += ["", result["note"]]
    (RESULTS / f"{stem}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0 if all(r["within_limit"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
