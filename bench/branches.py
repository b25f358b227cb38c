"""Branches cost what plain threads cost: reads of the newest window and appends
on a branch ten forks deep against a plain thread of the same length, and forks
whose cost does not grow with the shared history.

Claims checked, on SQLite and PostgreSQL (and memory, for reference):

* ``store.context(branch, max_messages=W)``, ``store.recent(branch, 20)`` and a
  one-message ``store.append`` on a branch at depth 1, 5 and 10 of a
  100,000-message thread take within 1.2x of the same call on a plain thread
  holding the same messages (built by one import);
* ``store.fork_thread`` at the newest message takes the same time on a thread of
  1,000, 10,000 and 100,000 messages.

The tree: a root of ``N`` messages (an import), then ten levels, each a fork of
the previous level at its newest message with ``OWN`` messages appended, so a
window of ``W`` messages at depth 10 reaches several threads of the lineage.
Each call is timed ``REPS`` times, branch and plain interleaved; the medians are
reported, with their ratio.

    .venv/bin/python bench/branches.py            # 100,000 messages
    .venv/bin/python bench/branches.py --quick    # 10,000, for a smoke run
    .venv/bin/python bench/branches.py --plain-vs REV   # plain threads, REV against now

A read of a thread's history first asks whether the thread is a branch (one
primary-key lookup). ``--plain-vs REV`` measures what that costs plain threads:
the same calls on a plain thread, by the code of revision ``REV`` and by the
code as it is, each in its own process, in alternating rounds
(``branches-plain.*``).

Writes ``bench/results/branches.md`` and ``.json`` (``--quick``:
``branches-quick.*``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "src"))
sys.path.insert(0, str(BENCH))

from common import machine, write_json  # noqa: E402

from convostore import ConversationSnapshot, Message, Thread, open_store  # noqa: E402

RESULTS = BENCH / "results"
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
LIMIT = 1.2
OWN = 20
DEPTHS = (1, 5, 10)
WINDOW = 100


def _messages(n: int, prefix: str) -> list[Message]:
    out = [Message.system("You are a helpful agent.", id=f"{prefix}-sys")]
    for i in range(1, n):
        text = f"message {i}: the forecast shows light rain over the harbour by noon"
        maker = Message.user if i % 2 else Message.assistant
        out.append(maker(text, id=f"{prefix}-{i}").model_copy(update={"token_count": 12}))
    return out


def _import(store: Any, thread_id: str, msgs: list[Message]) -> Thread:
    snap = ConversationSnapshot(thread=Thread(id=thread_id), messages=msgs)
    thread: Thread = store.import_thread(snap)
    return thread


def _median_us(fn: Callable[[], Any], reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


def _pairs(
    calls: dict[str, tuple[Callable[[], Any], Callable[[], Any]]], reps: int, rounds: int
) -> dict[str, dict[str, float]]:
    """Each call on the branch and on the plain thread, interleaved in rounds;
    the median over rounds of each round's median."""
    got: dict[str, dict[str, list[float]]] = {k: {"branch": [], "plain": []} for k in calls}
    for _ in range(rounds):
        for name, (on_branch, on_plain) in calls.items():
            got[name]["plain"].append(_median_us(on_plain, reps))
            got[name]["branch"].append(_median_us(on_branch, reps))
    out = {}
    for name, sides in got.items():
        b, p = statistics.median(sides["branch"]), statistics.median(sides["plain"])
        out[name] = {"branch_us": round(b, 1), "plain_us": round(p, 1), "ratio": round(b / p, 3)}
    return out


def run_backend(name: str, url: str, n: int, reps: int, rounds: int, **kw: Any) -> dict[str, Any]:
    store = open_store(url, **kw)
    tag = uuid.uuid4().hex[:8]
    try:
        root = _import(store, f"root-{tag}", _messages(n, f"r{tag}"))
        chain = [root]
        for level in range(1, max(DEPTHS) + 1):
            own = [Message.user(f"level {level} message {k}") for k in range(OWN)]
            chain.append(store.fork_thread(chain[-1].id, messages=own, id=f"b{level}-{tag}"))
        result: dict[str, Any] = {"messages": n, "depths": {}}
        for depth in DEPTHS:
            branch = chain[depth]
            history = store.load_messages(branch.id)
            plain_msgs = [
                m.model_copy(update={"id": f"p{depth}{tag}-{i}", "thread_id": None, "seq": None})
                for i, m in enumerate(history)
            ]
            plain = _import(store, f"plain{depth}-{tag}", plain_msgs)
            assert plain.message_count == branch.message_count == len(history)
            want = [m.content for m in store.context(plain.id, max_messages=WINDOW).messages]
            got = [m.content for m in store.context(branch.id, max_messages=WINDOW).messages]
            assert got == want, "a branch's window must hold what the copy's does"
            counter = iter(range(10**9))

            def append(tid: str) -> Callable[[], Any]:
                return lambda: store.append(tid, Message.user(f"more {next(counter)}"))

            calls = {
                f"context (max_messages={WINDOW})": (
                    lambda b=branch.id: store.context(b, max_messages=WINDOW),
                    lambda p=plain.id: store.context(p, max_messages=WINDOW),
                ),
                "recent(20)": (
                    lambda b=branch.id: store.recent(b, 20),
                    lambda p=plain.id: store.recent(p, 20),
                ),
                "append 1 message": (append(branch.id), append(plain.id)),
            }
            result["depths"][str(depth)] = {
                "threads_read": depth + 1,
                "calls": _pairs(calls, reps, rounds),
            }
        forks = {}
        for size in sorted({1_000, 10_000, n}):
            base = _import(store, f"fork{size}-{tag}", _messages(size, f"f{size}{tag}"))
            forks[str(size)] = round(
                statistics.median(
                    [
                        _median_us(lambda b=base.id: store.fork_thread(b), reps)
                        for _ in range(rounds)
                    ]
                ),
                1,
            )
        result["fork_at_newest_us"] = forks
        return result
    finally:
        store.close()


def _table(results: dict[str, Any]) -> str:
    lines = [
        "| backend | depth | call | branch | plain | ratio |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for backend, res in results.items():
        for depth, d in res["depths"].items():
            for call, v in d["calls"].items():
                mark = "" if v["ratio"] <= LIMIT else " **over**"
                lines.append(
                    f"| {backend} | {depth} | {call} | {v['branch_us']:.0f} µs | "
                    f"{v['plain_us']:.0f} µs | {v['ratio']:.2f}x{mark} |"
                )
    lines += [
        "",
        "| backend | "
        + " | ".join(f"fork of {k}" for k in next(iter(results.values()))["fork_at_newest_us"])
        + " |",
    ]
    lines.append("|---|" + "---:|" * len(next(iter(results.values()))["fork_at_newest_us"]))
    for backend, res in results.items():
        cells = " | ".join(f"{v:.0f} µs" for v in res["fork_at_newest_us"].values())
        lines.append(f"| {backend} | {cells} |")
    return "\n".join(lines)


PLAIN_CALLS = ("context (max_messages=100)", "recent(20)", "list_messages(50, from_end)")


def plain_child(url: str, n: int, reps: int, **kw: Any) -> dict[str, float]:
    """Time the plain-thread reads with whatever convostore is first on the path."""
    store = open_store(url, **kw)
    try:
        thread = _import(store, f"plain-{uuid.uuid4().hex[:8]}", _messages(n, uuid.uuid4().hex))
        calls = {
            PLAIN_CALLS[0]: lambda: store.context(thread.id, max_messages=WINDOW),
            PLAIN_CALLS[1]: lambda: store.recent(thread.id, 20),
            PLAIN_CALLS[2]: lambda: store.list_messages(thread.id, limit=50, from_end=True),
        }
        for fn in calls.values():  # warm up
            fn()
        return {name: _median_us(fn, reps) for name, fn in calls.items()}
    finally:
        store.close()


def plain_versus(rev: str, n: int, reps: int, rounds: int) -> dict[str, Any]:
    import json
    import subprocess

    from common import old_source

    out: dict[str, Any] = {}
    with old_source(rev) as old_src, tempfile.TemporaryDirectory() as tmp:
        sources = {"old": str(old_src), "new": str(BENCH.parent / "src")}
        for backend in ("sqlite", "postgres"):
            got: dict[str, dict[str, list[float]]] = {
                v: {c: [] for c in PLAIN_CALLS} for v in sources
            }
            for r in range(rounds):
                for version, src in sources.items():
                    env = {**os.environ, "PYTHONPATH": src}
                    arg = [sys.executable, __file__, "--child", backend, "--n", str(n)]
                    arg += ["--reps", str(reps), "--tmp", f"{tmp}/{version}{r}"]
                    res = subprocess.run(arg, env=env, capture_output=True, text=True, check=True)
                    for call, us in json.loads(res.stdout).items():
                        got[version][call].append(us)
            out[backend] = {
                call: {
                    "old_us": round(statistics.median(got["old"][call]), 1),
                    "new_us": round(statistics.median(got["new"][call]), 1),
                    "ratio": round(
                        statistics.median(got["new"][call]) / statistics.median(got["old"][call]),
                        3,
                    ),
                }
                for call in PLAIN_CALLS
            }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10,000 messages, fewer repetitions")
    ap.add_argument("--backends", default="memory,sqlite,postgres")
    ap.add_argument("--plain-vs", metavar="REV", help="plain-thread reads: REV against now")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=100_000, help=argparse.SUPPRESS)
    ap.add_argument("--reps", type=int, default=50, help=argparse.SUPPRESS)
    ap.add_argument("--tmp", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        import json

        if args.child == "sqlite":
            os.makedirs(args.tmp, exist_ok=True)
            res = plain_child(f"sqlite:///{args.tmp}/plain.db", args.n, args.reps)
        else:
            from convostore.store.postgres import drop_schema

            schema = f"bench_plain_{uuid.uuid4().hex[:8]}"
            try:
                res = plain_child(PG_URL, args.n, args.reps, schema=schema, auto_migrate=True)
            finally:
                drop_schema(PG_URL, schema)
        print(json.dumps(res))
        return
    if args.plain_vs:
        n, reps, rounds = (10_000, 30, 3) if args.quick else (100_000, 50, 5)
        res = plain_versus(args.plain_vs, n, reps, rounds)
        stem = "branches-plain-quick" if args.quick else "branches-plain"
        write_json(
            RESULTS / f"{stem}.json",
            {"machine": machine(), "rev": args.plain_vs, "n": n, "results": res},
        )
        lines = [
            "# Plain threads before and after branches",
            "",
            f"Generated by `bench/branches.py --plain-vs {args.plain_vs}"
            f"{' --quick' if args.quick else ''}`: reads of a plain {n:,}-message thread by "
            f"the code of {args.plain_vs} (old) and as it is (new), each in its own process, "
            f"{rounds} alternating rounds of {reps} calls; medians.",
            "",
            "| backend | call | old | new | new/old |",
            "|---|---|---:|---:|---:|",
        ]
        for backend, calls in res.items():
            for call, v in calls.items():
                lines.append(
                    f"| {backend} | {call} | {v['old_us']:.0f} µs | {v['new_us']:.0f} µs | "
                    f"{v['ratio']:.2f}x |"
                )
        (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
        print("\n".join(lines))
        return
    n, reps, rounds = (10_000, 20, 3) if args.quick else (100_000, 50, 5)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            if backend == "memory":
                results[backend] = run_backend(backend, "memory://", n, reps, rounds)
            elif backend == "sqlite":
                url = f"sqlite:///{tmp}/bench.db"
                results[backend] = run_backend(backend, url, n, reps, rounds)
            elif backend == "postgres":
                schema = f"bench_branches_{uuid.uuid4().hex[:8]}"
                from convostore.store.postgres import drop_schema

                try:
                    results[backend] = run_backend(
                        backend, PG_URL, n, reps, rounds, schema=schema, auto_migrate=True
                    )
                finally:
                    drop_schema(PG_URL, schema)
            print(backend, "done", file=sys.stderr)
    stem = "branches-quick" if args.quick else "branches"
    data = {"machine": machine(), "limit": LIMIT, "own_per_level": OWN, "results": results}
    write_json(RESULTS / f"{stem}.json", data)
    body = [
        "# Branches against plain threads",
        "",
        f"Generated by `bench/branches.py{' --quick' if args.quick else ''}`. A root of "
        f"{n:,} messages; each level forks the previous one at its newest message and "
        f"appends {OWN}. Every branch is compared with a plain thread holding the same "
        f"messages; medians of {rounds} rounds of {reps} calls, branch and plain "
        f"interleaved. Bound: {LIMIT}x.",
        "",
        _table(results),
        "",
    ]
    (RESULTS / f"{stem}.md").write_text("\n".join(body), encoding="utf-8")
    print("\n".join(body))


if __name__ == "__main__":
    main()
