"""What one hostile request costs the server: old code against new, side by side.

For each code version (a git revision checked out into a temporary worktree,
and the working tree), start ``convostore serve`` on the same SQLite file and
send, one at a time, the requests a hostile client would: 8 MB of empty
objects as a batch and as one message's parts, an export of a long thread, and
context windows with the largest budgets the old server accepted. While each
request runs, another client samples ``/healthz`` every 5 ms. Reported per
request: the status, the time, the server's peak memory growth (VmHWM) and the
slowest ``/healthz`` answer; medians of ``--rounds`` rounds, a fresh server
per request.

    .venv/bin/python bench/request_cost.py --old 7a48a86 --messages 200000

Results go to ``bench/results/request_cost.md`` (and ``.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from common import old_source

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def build_store(url: str, n: int) -> str:
    """A SQLite store with tenant acme, a thread ``long`` of ``n`` messages and a
    thread ``t``; returns an API key."""
    from convostore import Message, open_store
    from convostore.keys import KeyManager

    with open_store(url) as store:
        _, token = KeyManager(store).create("acme")
        acme = store.tenant("acme")
        acme.create_thread(id="t")
        acme.create_thread(id="long")
        batch = 10_000
        for start in range(0, n, batch):
            acme.append(
                "long",
                [
                    Message.user(f"message {i} " + "x" * 40)
                    for i in range(start, min(n, start + batch))
                ],
            )
    return token


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _hwm(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _attacks() -> dict[str, dict[str, Any]]:
    items = b",".join([b"{}"] * 2_700_000)
    return {
        "append 8 MB of {}": {
            "method": "POST",
            "path": "/v1/threads/t/messages",
            "content": b'{"messages":[' + items + b"]}",
        },
        "append one message of 8 MB of {} parts": {
            "method": "POST",
            "path": "/v1/threads/t/messages",
            "content": b'{"messages":[{"role":"user","parts":[' + items + b"]}]}",
        },
        "export the long thread": {"method": "GET", "path": "/v1/threads/long/export"},
        "context max_messages=1,000,000": {
            "method": "GET",
            "path": "/v1/threads/long/context",
            "params": {"max_messages": 1_000_000, "max_tokens": 2**31 - 1},
        },
    }


def run_one(src: Path, url: str, token: str, attack: dict[str, Any]) -> dict[str, Any]:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(src)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "convostore", "serve", "--store", url, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    try:
        for _ in range(600):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        httpx.get(base + "/v1/threads/t", headers=auth, timeout=10)
        before = _hwm(proc.pid)
        slowest = [0.0]
        stop = threading.Event()

        def sample() -> None:
            with httpx.Client(base_url=base, timeout=600) as c:
                while not stop.is_set():
                    t0 = time.perf_counter()
                    c.get("/healthz")
                    slowest[0] = max(slowest[0], time.perf_counter() - t0)
                    time.sleep(0.005)

        sampler = threading.Thread(target=sample)
        sampler.start()
        time.sleep(0.1)
        t0 = time.perf_counter()
        size = 0
        with httpx.stream(
            attack["method"],
            base + attack["path"],
            headers=auth,
            content=attack.get("content"),
            params=attack.get("params"),
            timeout=600,
        ) as r:
            for chunk in r.iter_bytes():
                size += len(chunk)
            status = r.status_code
        elapsed = time.perf_counter() - t0
        time.sleep(0.1)
        stop.set()
        sampler.join()
        return {
            "status": status,
            "seconds": elapsed,
            "bytes": size,
            "peak_growth_mb": (_hwm(proc.pid) - before) / 2**20,
            "healthz_max_ms": slowest[0] * 1000,
        }
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old", default="7a48a86", help="the revision to compare against")
    ap.add_argument("--messages", type=int, default=200_000, help="length of the long thread")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, old_source(args.old) as old_src:
        url = f"sqlite:///{tmp}/cost.db"
        token = build_store(url, args.messages)
        versions = {f"old ({args.old})": old_src, "new (working tree)": ROOT / "src"}
        results: dict[str, dict[str, dict[str, Any]]] = {}
        for name, attack in _attacks().items():
            results[name] = {}
            runs: dict[str, list[dict[str, Any]]] = {v: [] for v in versions}
            for _ in range(args.rounds):  # interleaved: old, new, old, new, ...
                for version, src in versions.items():
                    runs[version].append(run_one(src, url, token, attack))
            for version, rs in runs.items():
                results[name][version] = {
                    "status": rs[0]["status"],
                    **{
                        k: statistics.median(r[k] for r in rs)
                        for k in ("seconds", "bytes", "peak_growth_mb", "healthz_max_ms")
                    },
                }
                print(name, version, results[name][version], flush=True)
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "request_cost.json").write_text(
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
        "# What one hostile request costs the server",
        "",
        f"`bench/request_cost.py --old {args.old} --messages {args.messages} "
        f"--rounds {args.rounds}`, on {time.strftime('%Y-%m-%d')}, new = {commit} plus the "
        "working tree; SQLite, a fresh `convostore serve` per request, medians of the rounds "
        "(old and new interleaved). Peak growth is the server's VmHWM after the request "
        "minus before; /healthz is the slowest answer to a client polling every 5 ms "
        "meanwhile.",
        "",
        "| request | code | status | seconds | response bytes | peak growth MB | /healthz max ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, by_version in results.items():
        for version, r in by_version.items():
            lines.append(
                f"| {name} | {version} | {r['status']} | {r['seconds']:.2f} | "
                f"{r['bytes']:,.0f} | {r['peak_growth_mb']:.0f} | "
                f"{r['healthz_max_ms']:.0f} |"
            )
    (RESULTS / "request_cost.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
