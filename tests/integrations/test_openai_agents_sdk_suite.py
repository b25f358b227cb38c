"""The OpenAI Agents SDK's own session tests, run against ConvostoreSession.

The SDK's source distribution on the package index ships its test suite. This
test downloads the pinned release (``pip download``, cached in a temporary
directory across runs), and runs its session test files in a pytest subprocess
with a generated plugin that replaces ``SQLiteSession`` by a factory building a
:class:`ConvostoreSession` on a convostore SQLite store (one store per database
path, so sessions opened on the same file share it, as they do in the SDK), and
runs the SDK's ``async def`` tests each in an event loop of its own (the SDK uses
pytest-asyncio, which this suite does not need).

Deselected: the tests of ``SQLiteSession``'s own SQLite file handling, which
open its database with ``sqlite3`` behind the session's back, or patch its
connection class. No store other than that exact table layout could pass them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest
from tests._harness import unavailable

VERSION = "0.25.0"
FILES = [
    "tests/memory/test_session.py",
    "tests/memory/test_session_limit.py",
    "tests/memory/test_session_pending_async_calls.py",
]

_S = "tests/memory/test_session.py::"
#: Each deselected test, and why no store but SQLiteSession's own could pass it.
DESELECTED: dict[str, str] = {
    _S + "test_sqlite_session_close_closes_worker_thread_connections": (
        "counts SQLiteSession's per-thread sqlite3 connections"
    ),
    _S + "test_sqlite_session_reaps_connections_from_exited_worker_threads": (
        "counts SQLiteSession's per-thread sqlite3 connections"
    ),
    _S + "test_sqlite_session_closes_retired_connections_before_the_next_allocation": (
        "patches SQLiteSession's connection allocation"
    ),
    _S + "test_sqlite_session_keeps_connections_of_live_worker_threads": (
        "counts SQLiteSession's per-thread sqlite3 connections"
    ),
    _S + "test_sqlite_session_closed_rejects_empty_add_items": (
        "SQLiteSession.close() is synchronous and closes its sqlite3 connections; "
        "ConvostoreSession.close() is async and closes only a store it opened"
    ),
    _S + "test_sqlite_session_pop_item_skips_corrupt_most_recent": (
        "writes invalid JSON into agent_messages with sqlite3; a store refuses invalid data"
    ),
    _S + "test_sqlite_session_pop_item_returns_none_after_dropping_only_corrupt_rows": (
        "writes invalid JSON into agent_messages with sqlite3; a store refuses invalid data"
    ),
    _S + "test_sqlite_session_get_items_limit_skips_corrupt_newest_rows": (
        "writes invalid JSON into agent_messages with sqlite3; a store refuses invalid data"
    ),
    _S + "test_sqlite_session_get_items_session_settings_limit_skips_corrupt_rows": (
        "writes invalid JSON into agent_messages with sqlite3; a store refuses invalid data"
    ),
    _S + "test_sqlite_session_file_lock_is_shared_across_instances": (
        "checks SQLiteSession's process-wide lock per database file"
    ),
    _S + "test_sqlite_session_failed_add_items_releases_write_lock": (
        "injects a failing sqlite3 statement and probes the file's write lock"
    ),
    _S + "test_sqlite_session_failed_clear_session_rolls_back": (
        "injects a failing sqlite3 statement and probes the file's write lock"
    ),
    _S + "test_sqlite_session_failed_pop_item_releases_write_lock": (
        "injects a failing sqlite3 statement and probes the file's write lock"
    ),
    _S + "test_sqlite_session_rollback_failure_evicts_connection": (
        "patches sqlite3 rollback of SQLiteSession's cached connection"
    ),
    _S + "test_sqlite_session_close_retries_quarantined_connection": (
        "patches sqlite3 close of SQLiteSession's cached connection"
    ),
    **{
        _S + f"test_sqlite_session_post_commit_cancellation_propagates_after_known_outcome[{op}]": (
            "pauses inside a sqlite3.Connection subclass's commit"
        )
        for op in ("add", "pop", "clear")
    },
}

PLUGIN = '''
"""Generated: the SDK's SQLiteSession replaced by ConvostoreSession."""
import asyncio
import inspect
import tempfile

import agents
import agents.memory
import pytest

import convostore
from convostore.integrations.openai_agents import ConvostoreSession

_DIR = tempfile.mkdtemp(prefix="convostore-sdk-")
_STORES = {}
_FRESH = [0]


def _store_for(db_path):
    key = str(db_path)
    if key == ":memory:":  # a database of its own, as SQLiteSession's in-memory one
        _FRESH[0] += 1
        return convostore.open_async_store(f"sqlite:///{_DIR}/memory-{_FRESH[0]}.db")
    if key not in _STORES:  # sessions on one file share one store
        _STORES[key] = convostore.open_async_store(f"sqlite:///{key}.convostore")
    return _STORES[key]


def convostore_session(
    session_id,
    db_path=":memory:",
    sessions_table="agent_sessions",
    messages_table="agent_messages",
    session_settings=None,
):
    return ConvostoreSession(session_id, _store_for(db_path), session_settings=session_settings)


agents.SQLiteSession = convostore_session
agents.memory.SQLiteSession = convostore_session


def pytest_configure(config):
    config.addinivalue_line("markers", "asyncio: run in an event loop of its own")
    config.addinivalue_line("markers", "allow_call_model_methods: the SDK's marker")


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    asyncio.run(pyfuncitem.obj(**{name: pyfuncitem.funcargs[name] for name in names}))
    return True
'''


def _sdist() -> Path:
    """The SDK's source tree of the pinned release, downloaded once."""
    cache = Path(tempfile.gettempdir()) / f"convostore-openai-agents-{VERSION}"
    tree = cache / f"openai_agents-{VERSION}"
    if (tree / "tests" / "memory" / "test_session.py").exists():
        return tree
    cache.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
         "--quiet", "--dest", str(cache), f"openai-agents=={VERSION}"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    archive = cache / f"openai_agents-{VERSION}.tar.gz"
    if done.returncode != 0 or not archive.exists():
        unavailable(f"cannot download the openai-agents {VERSION} sdist: {done.stderr[-500:]}")
    with tarfile.open(archive) as tar:
        tar.extractall(cache, filter="data")
    return tree


def test_the_sdks_session_tests_pass_against_convostore_session(tmp_path: Path) -> None:
    tree = _sdist()
    (tmp_path / "convostore_sdk_plugin.py").write_text(PLUGIN)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(tree)])}
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    args += ["-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tree)]
    args += ["-p", "convostore_sdk_plugin", *FILES]
    for node in DESELECTED:
        args += ["--deselect", node]
    done = subprocess.run(
        args, cwd=tree, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    passed = int(re.search(r"(\d+) passed", summary).group(1))  # type: ignore[union-attr]
    deselected = int(re.search(r"(\d+) deselected", summary).group(1))  # type: ignore[union-attr]
    assert deselected == len(DESELECTED)
    assert passed >= 100, summary


@pytest.mark.parametrize("node", sorted(DESELECTED))
def test_each_deselection_names_a_reason(node: str) -> None:
    assert node.split("::")[0] in FILES and DESELECTED[node]
