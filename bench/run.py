"""The side-by-side suite: convostore, its peers and the raw limit, one command.

    make bench                             # full run (what the published tables come from)
    python bench/run.py --quick            # small sizes, a few minutes
    python bench/run.py --only w1,w4 --libs convostore-sqlite,raw-sqlite

The first thing it does is create (or reuse) the peers' virtualenv
``bench/.venv-peers`` and re-run itself with that interpreter; the project's own
virtualenv is never changed. Every measurement runs in a fresh worker process
(``bench/worker.py``) per library and task, repetitions are interleaved across
libraries, and a library that cannot be installed, opened or built within the
time budget is reported as unavailable with the reason.

Results go to ``bench/results/`` (``bench/results/quick/`` with ``--quick``):
``results.json`` (machine, versions, per-run raw data), one markdown table per
workload, ``summary.md`` and PNG plots. See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import setup_peers  # noqa: E402
from common import PG_URL, RESULTS, machine, write_json  # noqa: E402
from registry import CONCURRENCY, LIBRARIES, adapter_class, revision  # noqa: E402

WORKLOADS = ("w1", "w2", "w3", "w4", "w5", "w6", "w7", "memory", "concurrency")
IN_PEERS_ENV = "CONVOSTORE_BENCH_IN_PEERS"


def sizes_for(quick: bool) -> dict[str, Any]:
    if quick:
        return {
            "w1": 500,
            "w2": 100,
            "threads": 1_000,
            "w6": 1_000,
            "sizes": [100, 1_000, 10_000],
            "calls": 20,
            "writers": [1, 4],
            "cc_seconds": 2.0,
            "budget": 120,
            "build_budget": 120,
        }
    return {
        "w1": 5_000,
        "w2": 1_000,
        "threads": 10_000,
        "w6": 5_000,
        "sizes": [100, 1_000, 10_000, 100_000],
        "calls": 30,
        "writers": [1, 4, 16],
        "cc_seconds": 10.0,
        "budget": 900,
        "build_budget": 600,
    }


class Runner:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.quick = args.quick
        self.cfg = sizes_for(args.quick)
        if args.budget:
            self.cfg["budget"] = self.cfg["build_budget"] = args.budget
        self.reps = args.reps
        self.root = Path(tempfile.mkdtemp(prefix="convostore-bench-", dir=args.workdir))
        self.specs = self.root / "specs"
        self.specs.mkdir()
        self.counter = itertools.count()
        self.run_id = time.strftime("%H%M%S")
        self.pg_dbs: dict[str, str] = {}
        self.unavailable: dict[str, str] = {}
        self.skipped: dict[str, dict[str, str]] = {}
        self.results: dict[str, Any] = {}
        self.out_dir = out_dir_of(args)
        #: revision -> the src directory of its worktree (--old)
        self.trees: dict[str, Path] = {}
        self.log = (self.out_dir / "run.log").resolve()
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.log.write_text("")

    def say(self, text: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {text}"
        print(line, flush=True)
        with self.log.open("a") as fh:
            fh.write(line + "\n")

    # --- workers ------------------------------------------------------------------

    def workdir(self, lib: str, name: str) -> Path:
        return self.root / lib / name

    def worker(
        self, lib: str, task: str, params: dict[str, Any], workdir: Path, timeout: float
    ) -> dict[str, Any]:
        n = next(self.counter)
        spec = {
            "lib": lib,
            "task": task,
            "params": params,
            "workdir": str(workdir),
            "pg_url": self.pg_dbs.get(lib),
            "run": f"{self.run_id}-{n}",
        }
        path = self.specs / f"{n:05d}-{lib.replace('@', '_at_')}-{task}.json"
        path.write_text(json.dumps(spec))
        out = path.with_suffix(".out.json")
        env = dict(os.environ)
        rev = revision(lib)
        if rev is not None:
            # convostore of that revision first on the path, ahead of the working tree
            env["PYTHONPATH"] = os.pathsep.join(
                [str(self.trees[rev]), *filter(None, [env.get("PYTHONPATH")])]
            )
        with (self.specs / f"{n:05d}.log").open("w") as log:
            proc = subprocess.Popen(
                [sys.executable, str(BENCH / "worker.py"), str(path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
            )
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)  # the worker and its writers only
                proc.wait()
                return {
                    "ok": False,
                    "timeout": True,
                    "error": f"exceeded the {timeout:.0f} s budget",
                }
        try:
            return json.loads(out.read_text())  # type: ignore[no-any-return]
        except (OSError, ValueError):
            tail = (self.specs / f"{n:05d}.log").read_text()[-400:]
            return {"ok": False, "error": f"worker died (exit {proc.returncode}): {tail}"}

    # --- setup --------------------------------------------------------------------

    def libraries(self) -> list[str]:
        libs = list(LIBRARIES)
        if self.args.libs:
            wanted = self.args.libs.split(",")
            unknown = set(wanted) - set(libs)
            if unknown:
                raise SystemExit(f"unknown libraries: {sorted(unknown)}; known: {libs}")
            libs = [x for x in libs if x in wanted]
        if self.args.old:
            # Each convostore library once more, from the old revision, next to it.
            out = []
            for lib in libs:
                out.append(lib)
                if lib.startswith("convostore-"):
                    out.append(f"{lib}@{self.args.old}")
            libs = out
        return libs

    def checkout_old(self) -> None:
        """A worktree of ``--old`` (its ``src`` goes first on the workers' path)."""
        rev = self.args.old
        tree = self.root / f"tree-{rev}"
        subprocess.run(
            ["git", "-C", str(BENCH.parent), "worktree", "add", "--detach", "-q", str(tree), rev],
            check=True,
        )
        self.trees[rev] = tree / "src"
        head = subprocess.run(
            ["git", "-C", str(BENCH.parent), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(BENCH.parent), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        self.results["revisions"] = {"old": rev, "new": head + ("+dirty" if dirty else "")}

    def setup_postgres(self, libs: list[str]) -> None:
        pg_libs = [x for x in libs if adapter_class(x).backend == "postgres"]
        if not pg_libs:
            return
        try:
            import psycopg

            admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=5)
        except Exception as exc:
            for lib in pg_libs:
                self.unavailable[lib] = f"PostgreSQL not reachable at {PG_URL}: {exc}"
            return
        with admin:
            base = PG_URL.rsplit("/", 1)[0]
            for lib in pg_libs:
                db = "cbench_" + lib.replace("-", "_").replace("@", "_at_")
                admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
                admin.execute(f'CREATE DATABASE "{db}"')
                self.pg_dbs[lib] = f"{base}/{db}"
                row = admin.execute("SHOW synchronous_commit").fetchone()
                self.results.setdefault("postgres", {})["synchronous_commit"] = (
                    row[0] if row else None
                )
            ver = admin.execute("SHOW server_version").fetchone()
            self.results["postgres"]["server_version"] = ver[0] if ver else None

    def drop_postgres(self) -> None:
        if not self.pg_dbs:
            return
        import psycopg

        with psycopg.connect(PG_URL, autocommit=True) as admin:
            for url in self.pg_dbs.values():
                db = url.rsplit("/", 1)[1]
                with contextlib.suppress(Exception):
                    admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')

    def probe(self, libs: list[str]) -> list[str]:
        ok = []
        for lib in libs:
            if lib in self.unavailable:
                continue
            res = self.worker(lib, "probe", {}, self.workdir(lib, "probe"), 180)
            if res.get("ok"):
                ok.append(lib)
                self.results["libraries"][lib]["supports"] = res["supports"]
                self.results["libraries"][lib]["notes"] = res["notes"]
                if res.get("source"):
                    self.results["libraries"][lib]["source"] = res["source"]
            else:
                why = res.get("unavailable") or res.get("error") or "unknown failure"
                self.unavailable[lib] = why
                self.say(f"  {lib}: unavailable: {why}")
                if res.get("trace"):
                    with self.log.open("a") as fh:
                        fh.write(res["trace"] + "\n")
            shutil.rmtree(self.workdir(lib, "probe"), ignore_errors=True)
        return ok

    # --- phases -------------------------------------------------------------------

    def record(self, workload: str, lib: str, rep: int, res: dict[str, Any]) -> None:
        runs = self.results["runs"].setdefault(workload, {}).setdefault(lib, [])
        clean = {k: v for k, v in res.items() if k not in ("ok", "trace")}
        clean["rep"] = rep
        times = clean.get("times")
        if isinstance(times, list) and len(times) > 60:  # keep results.json small
            clean["times"] = summarize(times)
        clean = shrink(clean)
        runs.append(clean)
        if not res.get("ok"):
            reason = res.get("error") or res.get("unavailable") or "failed"
            self.skipped.setdefault(workload, {})[lib] = reason
            self.say(f"  {workload} {lib}: {reason}")

    def interleaved(self, workload: str, libs: list[str], make: Any) -> None:
        """``reps`` rounds; each round runs every library once, order rotated."""
        active = list(libs)
        for rep in range(self.reps):
            order = active[rep % len(active) :] + active[: rep % len(active)] if active else []
            for lib in order:
                task, params, workdir, timeout, cleanup = make(lib, rep)
                res = self.worker(lib, task, params, workdir, timeout)
                self.record(workload, lib, rep, res)
                if cleanup:
                    shutil.rmtree(workdir, ignore_errors=True)
                if not res.get("ok") and lib in active:
                    active.remove(lib)  # no point repeating a failure or a blown budget
            self.say(f"  {workload}: round {rep + 1}/{self.reps} done")

    def supported(self, libs: list[str], op: str) -> list[str]:
        out = []
        for lib in libs:
            if op in self.results["libraries"][lib].get("supports", []):
                out.append(lib)
            else:
                note = self.results["libraries"][lib].get("notes", {}).get(op, "not offered")
                self.skipped.setdefault(op, {})[lib] = f"n/a: {note}"
        return out

    def run(self) -> None:
        args, cfg = self.args, self.cfg
        only = set(args.only.split(",")) if args.only else set(WORKLOADS)
        libs = self.libraries()
        self.results.update(
            {
                "quick": self.quick,
                "reps": self.reps,
                "config": cfg,
                "machine": machine(),
                "install": setup_peers.load_status(),
                "runs": {},
                "built": {},
                "libraries": {
                    lib: {
                        "label": adapter_class(lib).label,
                        "backend": adapter_class(lib).backend,
                        "durability": adapter_class(lib).durability,
                        "packages": versions(adapter_class(lib).packages),
                        "raw": adapter_class(lib).raw,
                    }
                    for lib in libs
                },
            }
        )
        if args.old:
            self.checkout_old()
            for lib in libs:
                rev = revision(lib)
                if rev is not None:
                    self.results["libraries"][lib]["label"] += f" @ {rev}"
        self.say(f"work directory {self.root}; {len(libs)} libraries; reps={self.reps}")
        self.setup_postgres(libs)
        self.say("probing libraries ...")
        libs = self.probe(libs)
        budget, build_budget = cfg["budget"], cfg["build_budget"]

        if "w1" in only or "w2" in only:
            for w, per_call, calls in (("w1", 1, cfg["w1"]), ("w2", 4, cfg["w2"])):
                if w not in only:
                    continue
                self.say(f"{w}: {calls:,} appends of {per_call} message(s) per call")
                self.interleaved(
                    w,
                    self.supported(libs, "append"),
                    lambda lib, rep, w=w, pc=per_call, c=calls: (
                        w,
                        {"per_call": pc, "calls": c},
                        self.workdir(lib, f"{w}-{rep}"),
                        budget,
                        True,
                    ),
                )
        if "w6" in only:
            self.say(f"w6: bulk import of {cfg['w6']:,} messages in one call")
            self.interleaved(
                "w6",
                self.supported(libs, "bulk_import"),
                lambda lib, rep: (
                    "w6",
                    {"n": cfg["w6"], "repeat": 3},
                    self.workdir(lib, f"w6-{rep}"),
                    budget,
                    True,
                ),
            )

        sized_wanted = only & {"w3", "w4", "w7", "memory"}
        built: dict[str, list[int]] = {}
        if sized_wanted:
            self.say(
                f"building threads of {cfg['sizes']} messages "
                f"(budget {build_budget} s per size and library)"
            )
            for lib in libs:
                built[lib] = []
                if adapter_class(lib).backend == "memory":
                    built[lib] = list(cfg["sizes"])  # built inside each worker
                    continue
                prev: tuple[int, float] | None = None
                for n in cfg["sizes"]:
                    if prev and prev[1] * n / prev[0] > build_budget * 1.5:
                        why = (
                            f"{n:,}-message thread not built: about "
                            f"{prev[1] * n / prev[0]:,.0f} s expected from the "
                            f"{prev[0]:,}-message build, budget {build_budget:.0f} s"
                        )
                        self.skipped.setdefault("build", {})[lib] = why
                        self.say(f"  {lib}: {why}")
                        break
                    res = self.worker(
                        lib, "build_size", {"n": n}, self.workdir(lib, "sized"), build_budget
                    )
                    self.results["built"].setdefault(lib, {})[str(n)] = res
                    if not res.get("ok"):
                        why = res.get("error", "failed")
                        self.skipped.setdefault("build", {})[lib] = (
                            f"{n:,}-message thread not built: {why}"
                        )
                        self.say(f"  {lib}: {n:,} messages not built: {why}")
                        break
                    built[lib].append(n)
                    prev = (n, float(res["seconds"]))
                self.say(f"  {lib}: built {built[lib]}")
            self.say("w3/w4/w7: load, recent(20), context(4000), append into built threads")
            ready = [x for x in libs if built.get(x)]
            self.interleaved(
                "sized",
                ready,
                lambda lib, rep: (
                    "sized",
                    {"sizes": built[lib], "calls": cfg["calls"], "quick": self.quick},
                    self.workdir(lib, "sized"),
                    budget,
                    False,
                ),
            )
            if "memory" in only:
                self.say("memory: peak RSS while loading the largest thread")
                self.interleaved(
                    "memory",
                    ready,
                    lambda lib, rep: (
                        "memory",
                        {"n": built[lib][-1]},
                        self.workdir(lib, "sized"),
                        budget,
                        False,
                    ),
                )
            for lib in ready:
                if adapter_class(lib).backend != "postgres":
                    shutil.rmtree(self.workdir(lib, "sized"), ignore_errors=True)

        if "w5" in only:
            libs5 = self.supported(libs, "list_threads")
            self.say(f"w5: list one user's threads among {cfg['threads']:,} threads")
            ready5 = []
            for lib in libs5:
                if adapter_class(lib).backend == "memory":
                    ready5.append(lib)
                    continue
                res = self.worker(
                    lib,
                    "build_threads",
                    {"threads": cfg["threads"]},
                    self.workdir(lib, "threads"),
                    build_budget,
                )
                self.results["built"].setdefault(lib, {})["threads"] = res
                if res.get("ok"):
                    ready5.append(lib)
                else:
                    self.skipped.setdefault("w5", {})[lib] = (
                        f"{cfg['threads']:,} threads not built: {res.get('error')}"
                    )
                    self.say(f"  {lib}: threads not built: {res.get('error')}")
            user = f"user{(cfg['threads'] // 100) // 2:03d}"
            self.interleaved(
                "w5",
                ready5,
                lambda lib, rep: (
                    "w5",
                    {"user": user, "calls": cfg["calls"], "threads": cfg["threads"]},
                    self.workdir(lib, "threads"),
                    budget,
                    False,
                ),
            )

        if "concurrency" in only:
            cc_libs = [x for x in CONCURRENCY if x in libs]
            for w in cfg["writers"]:
                self.say(f"concurrency: {w} writer(s) x {cfg['cc_seconds']} s on PostgreSQL")
                self.interleaved(
                    f"concurrency-{w}",
                    cc_libs,
                    lambda lib, rep, w=w: (
                        "concurrency",
                        {
                            "writers": w,
                            "seconds": cfg["cc_seconds"],
                            "pool": 5000 if not self.quick else 1000,
                            "setup_timeout": 120 + 10 * w,
                        },
                        self.workdir(lib, "cc"),
                        budget,
                        True,
                    ),
                )

        self.results["built_sizes"] = built
        self.results["unavailable"] = self.unavailable
        self.results["skipped"] = self.skipped

    def finish(self) -> Path:
        out_dir = self.out_dir
        write_json(out_dir / "results.json", self.results)
        import report

        report.generate(self.results, out_dir)
        if self.args.old:
            report.write_revisions(self.results, out_dir)
        return out_dir

    def cleanup(self) -> None:
        with contextlib.suppress(Exception):
            self.drop_postgres()
        for src in self.trees.values():
            subprocess.run(
                ["git", "-C", str(BENCH.parent), "worktree", "remove", "--force", str(src.parent)],
                check=False,
            )
        if not self.args.keep:
            shutil.rmtree(self.root, ignore_errors=True)


def out_dir_of(args: argparse.Namespace) -> Path:
    default = RESULTS / "quick" if args.quick else RESULTS
    out = Path(args.out).resolve() if args.out else default
    out.mkdir(parents=True, exist_ok=True)
    return out


def summarize(times: list[float]) -> dict[str, Any]:
    """Distribution of a long list of call times (seconds)."""
    import statistics

    ordered = sorted(times)

    def q(f: float) -> float:
        return ordered[min(len(ordered) - 1, int(f * len(ordered)))]

    return {
        "n": len(times),
        "total": sum(times),
        "median": statistics.median(times),
        "mean": statistics.fmean(times),
        "min": ordered[0],
        "p10": q(0.10),
        "p90": q(0.90),
        "p99": q(0.99),
        "max": ordered[-1],
    }


def shrink(value: Any) -> Any:
    """Floats rounded to 0.1 µs / 7 significant digits, recursively."""
    if isinstance(value, float):
        return float(f"{value:.7g}")
    if isinstance(value, list):
        return [shrink(v) for v in value]
    if isinstance(value, dict):
        return {k: shrink(v) for k, v in value.items()}
    return value


def versions(packages: tuple[str, ...]) -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for p in packages:
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            out[p] = None
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="convostore side-by-side benchmark suite")
    ap.add_argument("--quick", action="store_true", help="small sizes (development)")
    ap.add_argument("--reps", type=int, default=3, help="interleaved repetitions (>= 3)")
    ap.add_argument("--only", help=f"comma-separated workloads of {','.join(WORKLOADS)}")
    ap.add_argument("--libs", help=f"comma-separated library keys of {','.join(LIBRARIES)}")
    ap.add_argument("--budget", type=float, help="seconds per worker / per thread build")
    ap.add_argument("--workdir", help="where databases are built (default: system temp)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--setup-only", action="store_true", help="create the peers' venv, exit")
    ap.add_argument(
        "--report-only", action="store_true", help="regenerate tables and plots from results.json"
    )
    ap.add_argument(
        "--old",
        metavar="REV",
        help="also run each convostore library from git revision REV, interleaved with the "
        "working tree's, and write revisions.md (old vs new medians)",
    )
    ap.add_argument("--out", help="results directory (default bench/results, or .../quick)")
    args = ap.parse_args(argv)

    # Only convostore and the raw limits selected: the project's own virtualenv
    # has all they need, no peers' virtualenv is made.
    own_only = bool(args.libs) and all(
        k.startswith(("convostore-", "raw-")) for k in (args.libs or "").split(",")
    )
    # Regenerating the tables reads results.json only: no peers needed either.
    if os.environ.get(IN_PEERS_ENV) != "1" and not own_only and not args.report_only:
        status = setup_peers.ensure()
        failed = {k: v["error"] for k, v in status.get("peers", {}).items() if not v["ok"]}
        for name, why in failed.items():
            print(f"peer {name} failed to install: {why}", flush=True)
        if args.setup_only:
            return 0
        py = str(setup_peers.python_of())
        os.environ[IN_PEERS_ENV] = "1"
        os.execv(py, [py, str(Path(__file__).resolve()), *(argv or sys.argv[1:])])

    if args.report_only:
        import report

        out_dir = out_dir_of(args)
        results = json.loads((out_dir / "results.json").read_text())
        report.generate(results, out_dir)
        if results.get("revisions"):
            report.write_revisions(results, out_dir)
        return 0
    if args.reps < 1:
        raise SystemExit("--reps must be at least 1")
    runner = Runner(args)
    try:
        runner.run()
        out = runner.finish()
    finally:
        runner.cleanup()
    runner.say(f"done: {out}/summary.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
