"""One measurement in a fresh process: ``python bench/worker.py SPEC.json``.

The runner writes a spec (library key, task, work directory, parameters),
starts this script with the peers' interpreter and reads the JSON result the
script writes next to the spec. A fresh process per library and task keeps
imports, caches and memory of one library from touching another's numbers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing as mp
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from adapters.base import Adapter, Unavailable, maybe
from common import items, iter_items, peak_rss_kib, rss_kib
from registry import adapter_class


def _new(spec: dict[str, Any]) -> Adapter:
    cls = adapter_class(spec["lib"])
    workdir = Path(spec["workdir"])
    workdir.mkdir(parents=True, exist_ok=True)
    return cls(workdir, spec.get("pg_url"))


async def _open(spec: dict[str, Any]) -> Adapter:
    ad = _new(spec)
    await maybe(ad.open())
    return ad


async def _time_call(fn: Any) -> float:
    t0 = time.perf_counter()
    await maybe(fn())
    return time.perf_counter() - t0


async def _sample(fn: Any, calls: int, budget: float, min_calls: int = 3) -> list[float]:
    """Up to ``calls`` timings of ``fn()``, stopping early (after ``min_calls``) once
    ``budget`` seconds are spent: a call that loads 100,000 messages is not
    repeated thirty times."""
    out: list[float] = []
    spent = 0.0
    for _ in range(calls):
        out.append(await _time_call(fn))
        spent += out[-1]
        if len(out) >= min_calls and spent > budget:
            break
    return out


def _state(ad: Adapter) -> dict[str, Any]:
    return {"supports": sorted(ad.supports), "notes": ad.notes, "durability": ad.durability}


# --- tasks --------------------------------------------------------------------------


async def probe(spec: dict[str, Any]) -> dict[str, Any]:
    ad = await _open(spec)
    try:
        tid = f"probe-{spec['run']}"
        await maybe(ad.create_thread(tid, "probe-user"))
        await maybe(ad.append(tid, ad.convert(items(4))))
        got = await maybe(ad.load(tid))
        if len(got) != 4:
            raise AssertionError(f"load returned {len(got)} messages, expected 4")
        got = await maybe(ad.recent(tid, 2))
        if len(got) != 2:
            raise AssertionError(f"recent(2) returned {len(got)} messages")
        state = _state(ad)
        if spec["lib"].startswith("convostore-"):
            import convostore

            # Which source tree ran (the working tree, or an old revision's worktree).
            state["source"] = str(Path(convostore.__file__).resolve().parent)
        return state
    finally:
        await maybe(ad.close())


async def appends(spec: dict[str, Any]) -> dict[str, Any]:
    """W1 (one message per call) / W2 (one 4-item turn per call) on a new thread."""
    p = spec["params"]
    per_call, calls = p["per_call"], p["calls"]
    ad = await _open(spec)
    try:
        tid = f"{spec['task']}-{spec['run']}"
        await maybe(ad.create_thread(tid, "user-w"))
        batches = [ad.convert(items(per_call, start=i * per_call)) for i in range(calls)]
        times = [await _time_call(lambda: ad.append(tid, b)) for b in batches]
        return {"times": times, "messages": per_call * calls}
    finally:
        await maybe(ad.close())


async def bulk(spec: dict[str, Any]) -> dict[str, Any]:
    """W6: a new thread of n messages in one call (repeated on new threads)."""
    p = spec["params"]
    ad = await _open(spec)
    try:
        times = []
        for r in range(p["repeat"]):
            batch = ad.convert(items(p["n"], start=r * 4))
            tid = f"bulk-{spec['run']}-{r}"
            times.append(await _time_call(lambda: ad.bulk_import(tid, "user-b", batch)))
        return {"times": times}
    finally:
        await maybe(ad.close())


async def build_size(spec: dict[str, Any]) -> dict[str, Any]:
    """Build the thread ``big-<n>`` of n messages (chunked appends)."""
    n = spec["params"]["n"]
    ad = await _open(spec)
    try:
        tid = f"big-{n}"
        chunk = int(getattr(ad, "build_chunk", 1000))
        t0 = time.perf_counter()
        await maybe(ad.create_thread(tid, "u-big"))
        for part in iter_items(n, chunk=chunk):
            await maybe(ad.build_append(tid, ad.convert(part)))
        return {"seconds": time.perf_counter() - t0}
    finally:
        await maybe(ad.close())


async def build_threads(spec: dict[str, Any]) -> dict[str, Any]:
    """W5 data: ``threads`` threads, 100 per user, two messages each."""
    total = spec["params"]["threads"]
    ad = await _open(spec)
    try:
        t0 = time.perf_counter()
        for i in range(total):
            user, k = divmod(i, 100)
            tid = f"lt-{user:03d}-{k:03d}"
            await maybe(ad.create_thread(tid, f"user{user:03d}"))
            await maybe(ad.build_append(tid, ad.convert(items(2, start=i * 4 % 400))))
        return {"seconds": time.perf_counter() - t0}
    finally:
        await maybe(ad.close())


async def _build_in_process(ad: Adapter, spec: dict[str, Any]) -> None:
    """A memory backend keeps nothing between processes: build its data here."""
    if ad.backend != "memory":
        return
    p = spec["params"]
    for n in p.get("sizes", [p["n"]] if "n" in p else []):
        await maybe(ad.create_thread(f"big-{n}", "u-big"))
        for part in iter_items(n, chunk=int(getattr(ad, "build_chunk", 1000))):
            await maybe(ad.build_append(f"big-{n}", ad.convert(part)))
    for i in range(p.get("threads", 0)):
        user, k = divmod(i, 100)
        tid = f"lt-{user:03d}-{k:03d}"
        await maybe(ad.create_thread(tid, f"user{user:03d}"))
        await maybe(ad.build_append(tid, ad.convert(items(2, start=i * 4 % 400))))


async def list_threads(spec: dict[str, Any]) -> dict[str, Any]:
    p = spec["params"]
    ad = await _open(spec)
    try:
        await _build_in_process(ad, spec)
        user = p["user"]
        got = await maybe(ad.list_threads(user, 100))
        times = [await _time_call(lambda: ad.list_threads(user, 100)) for _ in range(p["calls"])]
        return {"times": times, "returned": len(got)}
    finally:
        await maybe(ad.close())


def _load_reps(n: int, quick: bool) -> int:
    if n >= 100_000:
        return 1
    if n >= 10_000:
        return 2 if quick else 3
    return 5


async def sized(spec: dict[str, Any]) -> dict[str, Any]:
    """W3 load, W4 recent(20) and context(4000), W7 append into each built thread."""
    p = spec["params"]
    ad = await _open(spec)
    out: dict[str, Any] = {}
    try:
        await _build_in_process(ad, spec)
        for n in p["sizes"]:
            tid = f"big-{n}"
            res: dict[str, Any] = {}
            loaded = await maybe(ad.load(tid))
            res["loaded_count"] = len(loaded)
            del loaded
            op_budget = p.get("op_budget", 20.0)
            res["load"] = await _sample(
                lambda: ad.load(tid), _load_reps(n, p["quick"]), op_budget, min_calls=1
            )
            await maybe(ad.recent(tid, 20))
            res["recent"] = await _sample(lambda: ad.recent(tid, 20), p["calls"], op_budget)
            if "context" in ad.supports:
                win = await maybe(ad.context(tid, 4000))
                res["context_count"] = len(win.messages if hasattr(win, "messages") else win)
                res["context"] = await _sample(
                    lambda: ad.context(tid, 4000), max(3, p["calls"] // 2), op_budget
                )
            batches = iter([ad.convert(items(1, start=n + i)) for i in range(p["calls"] + 1)])
            await maybe(ad.append(tid, next(batches)))
            res["append"] = await _sample(
                lambda: ad.append(tid, next(batches)), p["calls"], op_budget
            )
            out[str(n)] = res
        return {"sizes": out}
    finally:
        await maybe(ad.close())


def _clear_peak() -> bool:
    """Reset the kernel's peak-RSS counter of this process (Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


async def memory(spec: dict[str, Any]) -> dict[str, Any]:
    """Peak memory for loading the largest built thread, in a process of its own."""
    n = spec["params"]["n"]
    ad = await _open(spec)
    try:
        await _build_in_process(ad, spec)
        tid = f"big-{n}"
        await maybe(ad.recent(tid, 1))  # connections and lazy imports warmed up
        reset = _clear_peak()
        before = rss_kib()
        before_peak = peak_rss_kib()
        t0 = time.perf_counter()
        got = await maybe(ad.load(tid))
        seconds = time.perf_counter() - t0
        peak = peak_rss_kib()
        count = len(got)
        del got
        return {
            "n": n,
            "count": count,
            "rss_before_kib": before,
            "peak_kib": peak,
            "peak_delta_kib": peak - (before if reset else before_peak),
            "seconds": seconds,
            "peak_reset": reset,
        }
    finally:
        await maybe(ad.close())


# --- concurrency -----------------------------------------------------------------


def _writer(spec: dict[str, Any], idx: int, start: Any, phase2: Any, out: Any) -> None:
    warnings.simplefilter("ignore")
    try:
        out.put((idx, asyncio.run(_writer_async(spec, idx, start, phase2))))
    except BaseException as exc:  # report, never hang the parent
        out.put((idx, {"error": f"{type(exc).__name__}: {exc}"}))


async def _writer_async(spec: dict[str, Any], idx: int, start: Any, phase2: Any) -> dict[str, Any]:
    p = spec["params"]
    ad = await _open(spec)
    try:
        tid = f"cc-{spec['run']}-{idx}"
        await maybe(ad.create_thread(tid, f"cc-user{idx}"))
        await maybe(ad.append(tid, ad.convert(items(20, start=idx * 4))))
        pool = [ad.convert(items(1, start=i)) for i in range(p["pool"])]
        await maybe(ad.recent(tid, 20))
        start.wait()
        lat_a: list[float] = []
        deadline = time.perf_counter() + p["seconds"]
        i = 0
        while time.perf_counter() < deadline:
            batch = pool[i] if i < len(pool) else ad.convert(items(1, start=i))
            lat_a.append(await _time_call(lambda: ad.append(tid, batch)))
            i += 1
        phase2.wait()
        lat_r: list[float] = []
        deadline = time.perf_counter() + p["seconds"]
        while time.perf_counter() < deadline:
            lat_r.append(await _time_call(lambda: ad.recent(tid, 20)))
        return {"append": lat_a, "recent": lat_r}
    finally:
        await maybe(ad.close())


def concurrency(spec: dict[str, Any]) -> dict[str, Any]:
    """``writers`` processes append to their own thread for ``seconds``, then read
    ``recent(20)`` for ``seconds``; aggregate operations per second."""
    p = spec["params"]
    w = p["writers"]
    ctx = mp.get_context("spawn")
    start, phase2 = ctx.Barrier(w + 1), ctx.Barrier(w + 1)
    out = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(spec, i, start, phase2, out)) for i in range(w)]
    for pr in procs:
        pr.start()
    results: dict[int, Any] = {}
    try:
        start.wait(timeout=p["setup_timeout"])
        phase2.wait(timeout=p["seconds"] * 4 + 60)
        for _ in range(w):
            idx, res = out.get(timeout=p["seconds"] * 4 + 60)
            results[idx] = res
    except Exception as exc:
        for pr in procs:
            pr.kill()
        errors = [r["error"] for r in results.values() if "error" in r]
        raise RuntimeError(f"writers did not finish: {exc!r} {errors[:1]}") from None
    finally:
        for pr in procs:
            pr.join(timeout=10)
    errors = [r["error"] for r in results.values() if "error" in r]
    if errors:
        raise RuntimeError(errors[0])
    summary: dict[str, Any] = {"writers": w, "seconds": p["seconds"]}
    for op in ("append", "recent"):
        lats = [x for r in results.values() for x in r[op]]
        summary[op] = {
            "ops": len(lats),
            "ops_per_s": len(lats) / p["seconds"],
            "p50": sorted(lats)[len(lats) // 2] if lats else None,
            "p99": sorted(lats)[int(len(lats) * 0.99)] if lats else None,
        }
    return summary


TASKS = {
    "probe": probe,
    "w1": appends,
    "w2": appends,
    "w6": bulk,
    "build_size": build_size,
    "build_threads": build_threads,
    "w5": list_threads,
    "sized": sized,
    "memory": memory,
    "concurrency": concurrency,
}


def main() -> None:
    spec_path = Path(sys.argv[1])
    spec = json.loads(spec_path.read_text())
    warnings.simplefilter("ignore")
    result: dict[str, Any]
    try:
        fn = TASKS[spec["task"]]
        value = fn(spec)
        if asyncio.iscoroutine(value):
            value = asyncio.run(value)
        result = {"ok": True, **value}
    except Unavailable as exc:
        result = {"ok": False, "unavailable": str(exc)}
    except BaseException as exc:
        tb = traceback.format_exc(limit=6)
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:500], "trace": tb[-3000:]}
    with contextlib.suppress(OSError):
        spec_path.with_suffix(".out.json").write_text(json.dumps(result, default=str))
    sys.stdout.flush()
    # some libraries leave non-daemon threads behind; do not wait for them
    import os

    os._exit(0)


if __name__ == "__main__":
    main()
