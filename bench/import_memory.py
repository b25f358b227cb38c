"""Peak memory of ``convostore import``, JSON and JSONL, old code against new.

Exports one thread of ``--messages`` messages in both formats, then imports each
file into a fresh SQLite store with the CLI of each code version (a git
revision checked out into a temporary worktree, and the working tree), in a
fresh process per run, and reads the process's peak resident memory
(``ru_maxrss`` of the child). Medians of ``--rounds`` interleaved rounds.

    .venv/bin/python bench/import_memory.py --old 7a48a86 --messages 100000

Results go to ``bench/results/import_memory.md`` (and ``.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import old_source

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def build(url: str, n: int) -> str:
    from convostore import Message, open_store

    with open_store(url) as store:
        store.create_thread(id="long")
        for start in range(0, n, 10_000):
            store.append(
                "long",
                [
                    Message.user(f"message {i} " + "x" * 40)
                    for i in range(start, min(n, start + 10_000))
                ],
            )
    return "long"


def run_import(src: Path, path: Path, tmp: Path, n: int) -> tuple[float, float]:
    """(peak MB, seconds) of one import in a fresh process."""
    db = tmp / f"into-{time.monotonic_ns()}.db"
    env = {**os.environ, "PYTHONPATH": str(src)}
    code = (
        "import resource, sys, time; from convostore.cli.app import main; "
        "t = time.perf_counter(); rc = main(sys.argv[1:]); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
        "time.perf_counter() - t, rc)"
    )
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "import",
            str(path),
            "--store",
            f"sqlite:///{db}",
            "--no-progress",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if out[-1] != "0":
        raise SystemExit(f"import failed: {out}")
    db.unlink(missing_ok=True)
    return int(out[-3]) / 1024, float(out[-2])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old", default="7a48a86")
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    results: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        with old_source(args.old) as old_src:
            url = f"sqlite:///{tmp}/source.db"
            build(url, args.messages)
            files = {}
            for fmt in ("json", "jsonl"):
                files[fmt] = tmp / f"long.{fmt}"
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "convostore",
                        "export",
                        "long",
                        "-o",
                        str(files[fmt]),
                        "--store",
                        url,
                        "--no-progress",
                    ],
                    check=True,
                )
            versions = {f"old ({args.old})": old_src, "new (working tree)": ROOT / "src"}
            for fmt, path in files.items():
                runs: dict[str, list[tuple[float, float]]] = {v: [] for v in versions}
                for _ in range(args.rounds):
                    for version, src in versions.items():
                        runs[version].append(run_import(src, path, tmp, args.messages))
                results[fmt] = {
                    v: {
                        "peak_mb": statistics.median(r[0] for r in rs),
                        "seconds": statistics.median(r[1] for r in rs),
                        "file_mb": path.stat().st_size / 2**20,
                    }
                    for v, rs in runs.items()
                }
                print(fmt, results[fmt], flush=True)
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "import_memory.json").write_text(
        json.dumps(
            {
                "messages": args.messages,
                "rounds": args.rounds,
                "old": args.old,
                "new": commit,
                "results": results,
            },
            indent=2,
        )
        + "\n"
    )
    lines = [
        "# Peak memory of `convostore import`",
        "",
        f"`bench/import_memory.py --old {args.old} --messages {args.messages} "
        f"--rounds {args.rounds}`, on {time.strftime('%Y-%m-%d')}, new = {commit} plus "
        "the working tree; into a fresh SQLite store, a fresh process per import, "
        "medians of interleaved rounds; peak = the process's ru_maxrss.",
        "",
        "| format | code | file MB | peak MB | seconds |",
        "|---|---|---|---|---|",
    ]
    for fmt, by in results.items():
        for version, r in by.items():
            lines.append(
                f"| {fmt} | {version} | {r['file_mb']:.0f} | {r['peak_mb']:.0f} | "
                f"{r['seconds']:.1f} |"
            )
    (RESULTS / "import_memory.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
