"""Helpers shared by every benchmark script: realistic message bodies, timing,
statistics and a description of the machine.

Only the standard library is used here, so this module loads in the project's
virtualenv and in the peers' virtualenv alike.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

# --- realistic bodies -----------------------------------------------------------

_TEXT = (
    "the weather forecast for tomorrow shows light rain in the morning and clear skies "
    "after noon please book a table for four people near the station at seven thirty "
    "summarise the quarterly report and list the three biggest risks with owners and "
    "dates our customer asked whether the order can ship before friday and whether the "
    "invoice includes tax the function returned an empty list so retry with a wider "
    "date range and fewer filters before answering"
)
_WORDS = _TEXT.split()

_TOOLS = (
    "search_flights",
    "get_weather",
    "query_orders",
    "lookup_customer",
    "run_sql",
    "fetch_document",
)


def _sentence(rng: random.Random, chars: int) -> str:
    out: list[str] = []
    n = 0
    while n < chars:
        w = rng.choice(_WORDS)
        out.append(w)
        n += len(w) + 1
    text = " ".join(out)
    return text[:1].upper() + text[1:] + "."


def _result_json(rng: random.Random, max_bytes: int) -> str:
    rows = []
    body = ""
    target = rng.randint(200, max_bytes)
    while True:
        rows.append(
            {
                "id": f"r{rng.randrange(10**6):06d}",
                "score": round(rng.random(), 4),
                "title": _sentence(rng, rng.randint(20, 60)),
                "tags": rng.sample(_WORDS, 3),
            }
        )
        candidate = json.dumps({"ok": True, "count": len(rows), "rows": rows})
        if len(candidate) > target:
            break
        body = candidate
    return body or json.dumps({"ok": True, "count": 0, "rows": []})


def turn_items(turn: int, seed: int = 7) -> list[dict[str, Any]]:
    """One agent turn as four neutral items: user text, a tool call with JSON
    arguments, the tool's JSON result (200 B - 2 KB) and the assistant's answer.

    Each library's adapter converts these into its own message type before the
    clock starts, so only the store call is timed.
    """
    rng = random.Random(seed * 1_000_003 + turn)
    tool = rng.choice(_TOOLS)
    call_id = f"call_{turn:07d}_{rng.randrange(10**6):06d}"
    args = {
        "query": _sentence(rng, rng.randint(20, 80)),
        "limit": rng.randint(5, 50),
        "filters": {"from": "2024-05-01", "to": "2024-05-31", "lang": "en"},
    }
    return [
        {"kind": "user", "text": _sentence(rng, rng.randint(60, 400))},
        {"kind": "call", "call_id": call_id, "tool": tool, "args": args},
        {"kind": "result", "call_id": call_id, "tool": tool, "result": _result_json(rng, 2048)},
        {"kind": "assistant", "text": _sentence(rng, rng.randint(150, 800))},
    ]


def items(n: int, start: int = 0, seed: int = 7) -> list[dict[str, Any]]:
    """``n`` items in conversation order, starting at item index ``start``."""
    out: list[dict[str, Any]] = []
    turn = start // 4
    skip = start % 4
    while len(out) < n:
        out.extend(turn_items(turn, seed)[skip:])
        skip = 0
        turn += 1
    return out[:n]


def iter_items(n: int, chunk: int = 1000, seed: int = 7) -> Iterator[list[dict[str, Any]]]:
    """``n`` items in chunks (so 100,000 never sit in memory as native objects)."""
    for start in range(0, n, chunk):
        yield items(min(chunk, n - start), start, seed)


def item_text(item: dict[str, Any]) -> str:
    """The text a token estimate is based on."""
    kind = item["kind"]
    if kind in ("user", "assistant"):
        return str(item["text"])
    if kind == "call":
        return item["tool"] + json.dumps(item["args"])
    return str(item["result"])


def estimate_tokens(text: str) -> int:
    """The chars/4 estimate used for the peers' context windows (and by
    convostore when tiktoken is not installed)."""
    return max(1, (len(text) + 3) // 4)


# --- timing -------------------------------------------------------------------


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds taken by ``fn()`` and its result."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def rss_kib() -> int:
    """Current resident set size in KiB (Linux; 0 elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def peak_rss_kib() -> int:
    """High-water resident set size of this process in KiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


# --- machine ----------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import sqlite3

    info: dict[str, Any] = {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "sqlite": sqlite3.sqlite_version,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
        load = os.getloadavg()
        info["loadavg_at_start"] = [round(x, 2) for x in load]
    except OSError:
        pass
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if rev:
            info["convostore_commit"] = rev
    except OSError:
        pass
    return info


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=False, default=str) + "\n")


@contextlib.contextmanager
def old_source(rev: str) -> Iterator[Path]:
    """The ``src`` directory of revision ``rev``, checked out into a temporary
    git worktree for the block and removed after it."""
    with tempfile.TemporaryDirectory(prefix="convostore-old-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(tree), rev],
            check=True,
        )
        try:
            yield tree / "src"
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False
            )
