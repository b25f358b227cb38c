"""The battery's load phase, side by side: an older checkout, this one, and the stack's limit.

Per repetition and backend it runs, one after the other (so the variants share
whatever else the machine is doing):

* ``old``: ``bench/battery.py --phases load`` with ``PYTHONPATH`` set to the
  ``src`` of another checkout (``--old-src``, e.g. a ``git worktree`` of main);
* ``new``: the same with this checkout's ``src``;
* ``limit``: ``bench/stack_limit.py``, the minimal FastAPI app on the raw driver.

The battery script and its client are this checkout's in every variant. The
order of the variants rotates from one repetition to the next. Reported:
acknowledged appends per second, p50 and p99 of the acknowledged round trips,
the median over the repetitions, and new/old and new/limit ratios of the
medians.

    .venv/bin/python bench/server_scale.py --old-src ../main-head/src --repeat 3 --duration 15
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
VARIANTS = ("old", "new", "limit")


def run_one(variant: str, backend: str, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(args.old_src if variant == "old" else SRC)
    common = ["--backends", backend, "--duration", f"{args.duration:g}"]
    common += ["--writers", str(args.writers)]
    if variant == "limit":
        cmd = [sys.executable, str(HERE / "stack_limit.py"), *common, "--json", str(out)]
    else:
        cmd = [sys.executable, str(HERE / "battery.py"), "--phases", "load", *common]
        cmd += ["--out", str(out.with_suffix(".md"))]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{variant}/{backend} failed:\n{done.stdout}\n{done.stderr}")
    phase = json.loads(out.read_text())["phases"][0]
    acked, seconds = phase["acknowledged"], phase["seconds"]
    return {
        "variant": variant,
        "backend": backend,
        "appends_per_s": round(acked / seconds, 1),
        "p50_ms": phase["p50_ms"],
        "p99_ms": phase["p99_ms"],
        "acknowledged": acked,
        "lost": phase["lost"],
        "load_average": os.getloadavg()[0],
    }


def medians(runs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, float]]:
    out = {}
    for backend in sorted({r["backend"] for r in runs}):
        for variant in VARIANTS:
            mine = [r for r in runs if r["backend"] == backend and r["variant"] == variant]
            if mine:
                out[(backend, variant)] = {
                    k: statistics.median(r[k] for r in mine)
                    for k in ("appends_per_s", "p50_ms", "p99_ms")
                }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--old-src", type=Path, required=True, help="src of the older checkout")
    p.add_argument("--backends", default="sqlite,postgres")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--duration", type=float, default=15.0)
    p.add_argument("--writers", type=int, default=50)
    p.add_argument("--out", type=Path, default=HERE / "results" / "server-scale.json")
    args = p.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="convostore_scale_") as tmp:
        for rep in range(args.repeat):
            order = VARIANTS[rep % 3 :] + VARIANTS[: rep % 3]
            for backend in backends:
                for variant in order:
                    r = run_one(variant, backend, args, Path(tmp) / f"{variant}-{backend}.json")
                    r["repetition"] = rep + 1
                    runs.append(r)
                    print(json.dumps(r), flush=True)
    med = medians(runs)
    summary = {f"{b}/{v}": m for (b, v), m in med.items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "args": {k: str(v) for k, v in vars(args).items() if k != "old_src"},
                "runs": runs,
                "medians": summary,
            },
            indent=2,
        )
        + "\n"
    )
    for (b, v), m in med.items():
        print(
            f"{b:9} {v:6} {m['appends_per_s']:7.1f}/s p50 {m['p50_ms']:6.1f} p99 {m['p99_ms']:6.1f}"
        )
    for b in backends:
        new, old, lim = med.get((b, "new")), med.get((b, "old")), med.get((b, "limit"))
        if new and old and lim:
            print(
                f"{b}: new/old {new['appends_per_s'] / old['appends_per_s']:.2f}x, "
                f"new/limit {new['appends_per_s'] / lim['appends_per_s']:.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
