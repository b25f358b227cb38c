"""Context windows over archived history: does a window cost the same at 1,000 and
1,000,000 stored messages, whatever share of them is archived or deleted?

Claim checked: on every backend, ``store.context(thread, max_tokens=8192)`` on the
largest thread takes within 1.5x of the same call on a 1,000-message thread.

Scenarios (the archived messages are the oldest, as the conversation layer
archives them):

* ``99% archived``: the newest 1% of the messages are live.
* ``newest 100 live``: everything but the newest 100 messages is archived, and one
  in ten of the archived ones is also soft-deleted: what ``SessionConfig``'s
  default (archive past ``max_messages=100``) leaves behind. The live messages do
  not fill the budget, so a window that reads archived rows reads all of them.

Every message has a fixed token count of 12, so both code versions choose the
same windows. A thread is built with one bulk ``import_thread``. SQLite and
PostgreSQL stores are built once by the old code, measured, then opened by the
new code (which upgrades the schema: ``db upgrade`` for PostgreSQL) and measured
again on the very same rows; the memory store is built by each version.

Each measurement runs in its own process with the code under test first on
``sys.path``::

    .venv/bin/python bench/context_archived.py --old-src /path/to/old/checkout/src
    .venv/bin/python bench/context_archived.py --quick --old-src ...   # 1k / 10k

Writes ``bench/results/context_archived.md`` and ``.json`` (``--quick``:
``context_archived-quick.*``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
LIMIT = 1.5
SCENARIOS = ("99% archived", "newest 100 live")
TOKENS = 12
SLOW_CALL_S = 3.0
BUDGET = 8192
_WORDS = [
    "the",
    "forecast",
    "shows",
    "light",
    "rain",
    "in",
    "the",
    "morning",
    "and",
    "clear",
    "skies",
    "after",
    "noon",
    "please",
    "book",
    "a",
    "table",
    "for",
]


# --- worker: build and measure in one process ---------------------------------------


def _messages(n: int, scenario: str) -> list[Any]:
    from convostore import Message

    gone = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
    live_from = n - max(1, n // 100) if scenario == "99% archived" else n - 100
    out = [Message.system("You are a helpful assistant.", id=f"n{n}-0", token_count=TOKENS)]
    for i in range(1, n):
        text = " ".join(_WORDS[(i + k) % len(_WORDS)] for k in range(8))
        make = Message.user if i % 2 else Message.assistant
        fields: dict[str, Any] = {}
        if i < live_from:
            fields["archived_at"] = gone
            if scenario != "99% archived" and i % 10 == 0:
                fields["deleted_at"] = gone
        out.append(make(text, id=f"n{n}-{i}", token_count=TOKENS, **fields))
    return out


def _open(backend: str, where: str) -> Any:
    from convostore import open_store

    if backend == "memory":
        return open_store("memory://")
    if backend == "sqlite":
        return open_store(f"sqlite:///{where}", synchronous="normal")
    return open_store(PG_URL, schema=where, auto_migrate=True)


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Build (if asked) one thread per size in one store, then time a window on
    each in interleaved rounds, so machine noise hits every size alike."""
    from convostore import ConversationSnapshot, Thread

    backend, scenario, sizes = spec["backend"], spec["scenario"], spec["sizes"]
    out: dict[str, Any] = {"build_s": {}, "sizes": {}}
    store = _open(backend, spec["where"])
    try:
        if spec["build"]:
            for n in sizes:
                msgs = _messages(n, scenario)
                t0 = time.perf_counter()
                store.import_thread(ConversationSnapshot(thread=Thread(id=f"t{n}"), messages=msgs))
                out["build_s"][n] = time.perf_counter() - t0
                del msgs
        if backend == "postgres":
            import psycopg

            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f'ANALYZE "{spec["where"]}".convostore_messages'.encode())
        plan: dict[int, tuple[int, int]] = {}
        windows: dict[int, Any] = {}
        for n in sizes:
            t0 = time.perf_counter()
            windows[n] = store.context(f"t{n}", max_tokens=BUDGET)  # warm-up
            first = time.perf_counter() - t0
            if first > 10 * SLOW_CALL_S:  # a call this slow is timed once or a few times
                plan[n] = (1, 1)
            elif first > SLOW_CALL_S:
                plan[n] = (3, 1)
            else:
                plan[n] = (spec["rounds"], spec["calls"])
                for _ in range(2):
                    store.context(f"t{n}", max_tokens=BUDGET)
        medians: dict[int, list[float]] = {n: [] for n in sizes}
        for r in range(spec["rounds"]):
            order = sizes if r % 2 == 0 else list(reversed(sizes))
            for n in order:
                n_rounds, n_calls = plan[n]
                if r >= n_rounds:
                    continue
                times = []
                for _ in range(n_calls):
                    t0 = time.perf_counter()
                    windows[n] = store.context(f"t{n}", max_tokens=BUDGET)
                    times.append(time.perf_counter() - t0)
                medians[n].append(statistics.median(times))
        for n in sizes:
            out["sizes"][n] = {
                "rounds": plan[n][0],
                "calls": plan[n][1],
                "round_medians_s": medians[n],
                "median_s": statistics.median(medians[n]),
                "window_messages": len(windows[n].messages),
                "window_tokens": windows[n].tokens,
            }
    finally:
        store.close()
    return out


# --- driver -----------------------------------------------------------------------


def _run(src: str, spec: dict[str, Any]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": src}
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(spec)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _commit(src: str) -> str:
    return (
        subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=src,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        or "?"
    )


def _dirty(src: str) -> bool:
    return bool(
        subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=src,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    )


def _fmt(s: float | None) -> str:
    if s is None:
        return "-"
    return f"{s * 1e3:.2f} ms" if s >= 1e-3 else f"{s * 1e6:.0f} µs"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--old-src", help="the src directory of the code to compare against")
    ap.add_argument("--new-src", default=str(ROOT / "src"))
    ap.add_argument("--quick", action="store_true", help="1,000 and 10,000 messages")
    ap.add_argument("--sizes", default=None, help="default 1000,100000,1000000")
    ap.add_argument("--backends", default="memory,sqlite,postgres")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", type=int, default=20, help="calls per round")
    ap.add_argument("--dir", default=None, help="where SQLite files go (default: temp dir)")
    ap.add_argument(
        "--stem", default=None, help="result file name without suffix (default context_archived)"
    )
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    sizes = [
        int(s)
        for s in (args.sizes or ("1000,10000" if args.quick else "1000,100000,1000000")).split(",")
    ]
    versions = {"new": args.new_src}
    if args.old_src:
        versions = {"old": args.old_src, **versions}
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ctx-archived-", dir=args.dir) as tmp:
        for backend in args.backends.split(","):
            for scenario in SCENARIOS:
                where = (
                    str(Path(tmp) / f"{uuid.uuid4().hex}.db")
                    if backend == "sqlite"
                    else f"bench_ctx_{uuid.uuid4().hex[:12]}"
                )
                got: dict[str, dict[str, Any]] = {}
                for i, (name, src) in enumerate(versions.items()):
                    spec = {
                        "backend": backend,
                        "sizes": sizes,
                        "scenario": scenario,
                        "where": where,
                        "rounds": args.rounds,
                        "calls": args.calls,
                        "build": backend == "memory" or i == 0,
                    }
                    got[name] = _run(src, spec)
                    print(backend, scenario, name, got[name], flush=True)
                if backend == "sqlite":
                    Path(where).unlink(missing_ok=True)
                elif backend == "postgres":
                    import psycopg

                    with psycopg.connect(PG_URL, autocommit=True) as conn:
                        conn.execute(f'DROP SCHEMA IF EXISTS "{where}" CASCADE'.encode())
                for n in sizes:
                    row: dict[str, Any] = {"backend": backend, "scenario": scenario, "size": n}
                    for name, res in got.items():
                        if "error" in res:
                            row[name] = {"error": res["error"]}
                        else:
                            row[name] = {
                                **res["sizes"][str(n)],
                                "build_s": res["build_s"].get(str(n)),
                            }
                    rows.append(row)

    sys.path.insert(0, str(BENCH))
    from common import machine

    info = machine()
    result = {
        "claim": f"window on the largest thread within {LIMIT}x of the 1,000-message one",
        "budget_tokens": BUDGET,
        "tokens_per_message": TOKENS,
        "sizes": sizes,
        "rounds": args.rounds,
        "calls_per_round": args.calls,
        "machine": info,
        "versions": {
            k: {"src": v, "commit": _commit(v), "uncommitted_changes": _dirty(v)}
            for k, v in versions.items()
        },
        "rows": rows,
    }
    stem = args.stem or ("context_archived-quick" if args.quick else "context_archived")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=1) + "\n")

    vers = ", ".join(
        f"{k} = {v['commit']}" + (" + uncommitted changes" if v["uncommitted_changes"] else "")
        for k, v in result["versions"].items()
    )
    md = [
        "# Context windows over archived history",
        "",
        f"Claim: `store.context(thread, max_tokens={BUDGET})` on the largest thread takes "
        f"within {LIMIT}x of the same call on a {sizes[0]:,}-message thread, on every backend.",
        "",
        f"Code: {vers}. Every message counts {TOKENS} tokens. One store per backend, "
        "scenario and version holds one thread of each size; the windows of all sizes "
        f"are timed in {args.rounds} interleaved rounds of {args.calls} calls each "
        f"(after 3 warm-up calls; a call slower than {SLOW_CALL_S:g} s is timed in 3 "
        f"rounds of one call after one warm-up call, one slower than "
        f"{10 * SLOW_CALL_S:g} s once; marked *). Each cell: the median of the round "
        "medians. One process per version; SQLite (WAL, `synchronous=normal`) and "
        "PostgreSQL stores are built by the first version and upgraded by the second "
        "(same rows); PostgreSQL tables are ANALYZEd before measuring. Generated by "
        f"`bench/context_archived.py{' --quick' if args.quick else ''}`.",
        "",
        "Window: the messages in the window (the same for both versions). Ratio: the "
        "median over the median of the smallest size with a window of as many messages, "
        "i.e. the same window read over less stored history. With 99% archived, a "
        "1,000-message thread has only 10 live messages (window 11), while the larger "
        "ones fill the budget (683 messages of 12 tokens), so there the ratio compares "
        "1,000,000 with 100,000 stored messages; `newest 100 live` gives the same window "
        "at every size.",
        "",
    ]
    names = list(versions)
    for backend in args.backends.split(","):
        for scenario in SCENARIOS:
            sel = [r for r in rows if r["backend"] == backend and r["scenario"] == scenario]
            if not sel:
                continue
            md += [f"## {backend}: {scenario}", ""]
            head = (
                "| stored messages | window | "
                + " | ".join(f"{v} median | {v} ratio" for v in names)
                + " |"
            )
            md += [head, "|---:|---:|" + "---:|---:|" * len(names)]
            for r in sel:
                window = r[names[-1]].get("window_messages")
                # The same window read over less history: the smallest size
                # whose window has as many messages.
                base_row = next(
                    (b for b in sel if b[names[-1]].get("window_messages") == window), r
                )
                cells = []
                for v in names:
                    m, base = r[v].get("median_s"), base_row[v].get("median_s")
                    if m is None or base is None:
                        cells += [f"error: {r[v].get('error', '?')}", "-"]
                        continue
                    ratio = m / base
                    mark = "" if ratio <= LIMIT else " **over**"
                    few = "*" if r[v].get("calls", args.calls) < args.calls else ""
                    cells += [_fmt(m) + few, f"{ratio:.2f}x{mark}"]
                against = "" if base_row is r else f" (vs {base_row['size']:,})"
                md.append(f"| {r['size']:,} | {window}{against} | " + " | ".join(cells) + " |")
            md.append("")
    md += [
        f"Machine: {info.get('cpu', info['machine'])}, {info['cpus']} CPUs, "
        f"{info.get('memory_gib', '?')} GiB, Python {info['python']}, SQLite {info['sqlite']}, "
        f"load average at start {info.get('loadavg_at_start')}."
    ]
    (RESULTS / f"{stem}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
