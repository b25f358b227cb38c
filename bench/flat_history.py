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
from common import (
    RESULTS,
    fmt_seconds,
    items,
    iter_items,
    machine,
    median,
    old_source,
    write_json,
)

LIMIT = 1.5


def build(store: Any, thread_id: str, n: int, user_id: str = "u-flat") -> float:
    t0 = time.perf_counter()
    store.create_thread(id=thread_id, user_id=user_id)
    for chunk in iter_items(n, chunk=1000):
        store.append(thread_id, to_messages(chunk))
    return time.perf_counter() - t0


class Bench:
    """Two threads in one SQLite database and the calls measured on them."""

    def __init__(self, args: argparse.Namespace, db: Path, large: int, calls: int) -> None:
        from convostore import open_store

        self.store = store = open_store(f"sqlite:///{db}", synchronous=args.synchronous)
        self.sizes = {"small": args.small, "large": large}
        self.tids = {k: f"flat-{k}" for k in self.sizes}
        self.calls = calls
        self.build_s: dict[str, float] = {}
        for key, n in self.sizes.items():
            self.build_s[key] = build(store, self.tids[key], n)
            print(f"built {key} thread: {n:,} messages in {self.build_s[key]:.1f} s", flush=True)
        self.ops: dict[str, Any] = {
            "recent(20)": lambda tid: store.recent(tid, 20),
            "append(1 message)": None,  # needs a fresh message per call, see run_block
        }
        if has_context():
            self.ops["context(max_tokens=4000)"] = lambda tid: store.context(tid, max_tokens=4000)
        self.fresh = iter(range(10**9))
        # warm-up: one block of each, not recorded
        for op in self.ops:
            for key in self.sizes:
                self.run_block(op, self.tids[key])

    def run_block(self, op: str, tid: str) -> list[float]:
        out = []
        for _ in range(self.calls):
            if op.startswith("append"):
                msg = to_messages(items(1, start=next(self.fresh) % 4))
                t0 = time.perf_counter()
                self.store.append(tid, msg)
            else:
                fn = self.ops[op]
                t0 = time.perf_counter()
                fn(tid)
            out.append(time.perf_counter() - t0)
        return out

    def round(self, r: int) -> dict[str, dict[str, list[float]]]:
        """One round: a block of calls per (operation, thread), size order alternating."""
        order = list(self.sizes) if r % 2 == 0 else list(reversed(self.sizes))
        out: dict[str, dict[str, list[float]]] = {op: {} for op in self.ops}
        for op in self.ops:
            for key in order:
                out[op][key] = self.run_block(op, self.tids[key])
        return out

    def serve(self) -> int:
        """Run rounds on request (``round N`` on stdin), answering with JSON lines:
        how ``--old`` interleaves two processes, one per revision."""
        import json

        print(
            json.dumps({"ready": True, "build_seconds": self.build_s, "ops": list(self.ops)}),
            flush=True,
        )
        for line in sys.stdin:
            cmd = line.split()
            if not cmd or cmd[0] == "quit":
                break
            print(json.dumps(self.round(int(cmd[1]))), flush=True)
        self.close()
        return 0

    def close(self) -> None:
        self.store.close()


def compare_revisions(args: argparse.Namespace, argv: list[str]) -> int:
    """The measurement in two processes, the working tree and ``--old``'s revision,
    one round each in turn, same database settings and sizes; medians side by side."""
    import json
    import os
    import subprocess

    rounds = args.rounds or (3 if args.quick else 7)
    child_args = [a for a in argv if not a.startswith("--old")]
    if "--old" in argv:  # "--old REV" as two words
        i = argv.index("--old")
        child_args = argv[:i] + argv[i + 2 :]
    with old_source(args.old) as old_src:
        procs: dict[str, subprocess.Popen[str]] = {}
        try:
            for rev, path in (("new", None), ("old", old_src)):
                env = dict(os.environ)
                if path is not None:
                    env["PYTHONPATH"] = str(path)
                procs[rev] = subprocess.Popen(
                    [sys.executable, __file__, *child_args, "--serve"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                    env=env,
                )
            ready = {}
            for rev, proc in procs.items():
                assert proc.stdout is not None
                for line in proc.stdout:
                    if line.startswith("{"):
                        ready[rev] = json.loads(line)
                        break
                else:
                    raise SystemExit(f"the {rev} process died while building")
            ops = [op for op in ready["new"]["ops"] if op in ready["old"]["ops"]]
            raw = {rev: {op: {"small": [], "large": []} for op in ops} for rev in procs}
            for r in range(rounds):
                for rev in ("new", "old") if r % 2 == 0 else ("old", "new"):
                    proc = procs[rev]
                    assert proc.stdin is not None and proc.stdout is not None
                    proc.stdin.write(f"round {r}\n")
                    proc.stdin.flush()
                    got = json.loads(proc.stdout.readline())
                    for op in ops:
                        for key, times in got[op].items():
                            raw[rev][op][key].extend(times)
                print(f"round {r + 1}/{rounds} done (both revisions)", flush=True)
        finally:
            for proc in procs.values():
                if proc.stdin is not None:
                    proc.stdin.write("quit\n")
                    proc.stdin.close()
                proc.wait(timeout=60)
    rows = []
    for op in ops:
        for key in ("small", "large"):
            new_m, old_m = median(raw["new"][op][key]), median(raw["old"][op][key])
            assert new_m and old_m
            rows.append(
                {
                    "operation": op,
                    "thread": key,
                    "new_s": new_m,
                    "old_s": old_m,
                    "ratio": new_m / old_m,
                }
            )
    large = args.large or (10_000 if args.quick else 100_000)
    stem = f"flat_history-vs-{args.old}" + ("-full" if args.synchronous == "full" else "")
    stem += "-quick" if args.quick else ""
    write_json(
        RESULTS / f"{stem}.json",
        {
            "old": args.old,
            "synchronous": args.synchronous,
            "rounds": rounds,
            "rows": rows,
            "machine": machine(),
        },
    )
    md = [
        f"# Flat history: the working tree against {args.old} (SQLite)",
        "",
        f"SQLite, WAL, `synchronous={args.synchronous}`; threads of {args.small:,} and "
        f"{large:,} messages per revision; {rounds} rounds, the two revisions' processes "
        "taking turns; medians of all calls. new/old is the time ratio. Generated by "
        f"`bench/flat_history.py --old {args.old}`.",
        "",
        "| operation | thread | new | old | new/old |",
        "|---|---|---:|---:|---:|",
    ]
    for row in rows:
        n = args.small if row["thread"] == "small" else large
        md.append(
            f"| `{row['operation']}` | {n:,} messages | {fmt_seconds(row['new_s'])} | "
            f"{fmt_seconds(row['old_s'])} | {row['ratio']:.3f} |"
        )
    (RESULTS / f"{stem}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


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
    ap.add_argument(
        "--old",
        metavar="REV",
        help="measure the working tree and git revision REV side by side, interleaved",
    )
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    large = args.large or (10_000 if args.quick else 100_000)
    rounds = args.rounds or (3 if args.quick else 7)
    calls = args.calls or (20 if args.quick else 50)

    if args.old:
        return compare_revisions(args, argv or sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="flat-history-", dir=args.dir) as tmp:
        bench = Bench(args, Path(tmp) / "flat.db", large, calls)
        if args.serve:
            return bench.serve()
        raw: dict[str, dict[str, list[float]]] = {
            op: {k: [] for k in bench.sizes} for op in bench.ops
        }
        for r in range(rounds):
            for op, by_size in bench.round(r).items():
                for key, times in by_size.items():
                    raw[op][key].extend(times)
            print(f"round {r + 1}/{rounds} done", flush=True)
        bench.close()
    sizes, build_s, ops = bench.sizes, bench.build_s, bench.ops

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
