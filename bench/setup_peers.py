"""Create the peers' virtualenv (``bench/.venv-peers``) and install every library
the side-by-side suite compares, from PyPI.

The project's own virtualenv is never touched. convostore itself is installed
editable into the peers' environment as well, so every library runs with the
same interpreter and the same driver versions. Each peer is installed with its
own ``pip install`` call: a peer that fails to install is recorded in
``bench/.venv-peers/install-status.json`` and reported as unavailable instead of
breaking the run.

Usage: python bench/setup_peers.py [--force]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV = BENCH / ".venv-peers"
STATUS = VENV / "install-status.json"

# Shared tooling every worker needs (plots, SQLAlchemy drivers for the peers
# built on it). Installed first; if this fails nothing can run.
BASE = [
    "-e",
    f"{ROOT}[postgres]",
    "matplotlib",
    "sqlalchemy>=2",
    "aiosqlite",
    "asyncpg",
    "greenlet",
]

# One entry per peer group: name -> pip requirements.
PEERS: dict[str, list[str]] = {
    "openai-agents": ["openai-agents"],
    "langchain-community": ["langchain-community", "langchain-core"],
    "langchain-postgres": ["langchain-postgres"],
    "langgraph": ["langgraph", "langgraph-checkpoint-sqlite"],
    "llama-index": [
        "llama-index-core",
        "llama-index-storage-chat-store-sqlite",
        "llama-index-storage-chat-store-postgres",
    ],
    "google-adk": ["google-adk"],
}

# Bump when BASE or PEERS change so an old environment is refreshed.
SPEC_VERSION = 1


def python_of(venv_dir: Path = VENV) -> Path:
    return venv_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _pip(args: list[str], log: Path) -> tuple[bool, str]:
    cmd = [
        str(python_of()),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        *args,
    ]
    with log.open("a") as fh:
        fh.write(f"\n$ {' '.join(cmd)}\n")
        fh.flush()
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, check=False)
    if proc.returncode == 0:
        return True, ""
    tail = log.read_text().strip().splitlines()[-3:]
    return False, " / ".join(tail)[-400:]


def load_status() -> dict[str, object]:
    try:
        return json.loads(STATUS.read_text())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return {}


def ensure(force: bool = False, quiet: bool = False) -> dict[str, object]:
    """Create or refresh the peers' virtualenv; return the install status."""
    status = load_status()
    if (
        not force
        and python_of().exists()
        and status.get("spec") == SPEC_VERSION
        and status.get("complete")
    ):
        return status
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    if not python_of().exists() or force:
        say(f"creating {VENV.relative_to(ROOT)} ...")
        venv.EnvBuilder(with_pip=True, clear=force).create(VENV)
        subprocess.run(
            [
                str(python_of()),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--upgrade",
                "pip",
            ],
            check=False,
        )
    log = VENV / "install.log"
    status = {
        "spec": SPEC_VERSION,
        "peers": {},
        "complete": False,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    say("installing convostore (editable) and shared tooling ...")
    ok, why = _pip(BASE, log)
    status["base"] = {"ok": ok, "error": why}
    if not ok:
        STATUS.write_text(json.dumps(status, indent=2))
        raise SystemExit(f"cannot install the shared tooling: {why} (see {log})")
    peers: dict[str, object] = {}
    for name, reqs in PEERS.items():
        say(f"installing {name} ...")
        t0 = time.perf_counter()
        ok, why = _pip(reqs, log)
        peers[name] = {"ok": ok, "error": why, "seconds": round(time.perf_counter() - t0, 1)}
        if not ok:
            say(f"  {name}: install failed ({why})")
    check = subprocess.run(
        [str(python_of()), "-m", "pip", "check"], capture_output=True, text=True, check=False
    )
    status.update(peers=peers, complete=True, pip_check=check.stdout.strip()[-2000:])
    STATUS.write_text(json.dumps(status, indent=2))
    return status


if __name__ == "__main__":
    print(json.dumps(ensure(force="--force" in sys.argv), indent=2))
