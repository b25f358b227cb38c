"""A few seconds of the hostile-load battery (``bench/battery.py``) on a real server.

Load, a retry storm and a SIGKILL/restart of ``convostore serve`` with 10 writers,
about 2 s per phase: nothing acknowledged may be lost, nothing stored twice, and
seq must run 1..n in every thread. On SQLite always; on PostgreSQL when a server
is reachable (skipped otherwise, except with ``CI=true``, where a missing server
fails). The shared PostgreSQL server is never restarted here and nothing is
mounted; those phases run only in the battery itself.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from tests._harness import require_pg

pytestmark = [pytest.mark.timeout(120), pytest.mark.crash]

PHASES = ("load", "retry_storm", "sigkill")


def _battery() -> ModuleType:
    name = "convostore_bench_battery"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).resolve().parents[2] / "bench" / "battery.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


battery = _battery()


def _check(results: list) -> None:
    assert [s.phase for s in results] == list(PHASES)
    for s in results:
        assert s.acknowledged > 0, s.summary()
        assert (s.lost, s.duplicated, s.seq_gaps) == (0, 0, 0), s.summary()
        assert s.mismatched_replies == 0, s.summary()
    sigkill = results[-1]
    assert any(n.startswith("SIGKILL") for n in sigkill.notes), sigkill.notes


def _run(backend: str, tmp_path: Path, **kw: object) -> list:
    return battery.run_backend(
        backend,
        writers=10,
        duration=2.0,
        workdir=tmp_path,
        pg_restart=False,
        disk_full=False,
        phases=PHASES,
        **kw,
    )


def test_battery_sqlite(tmp_path: Path) -> None:
    _check(_run("sqlite", tmp_path))


@pytest.fixture
def pg_admin_url() -> str:
    """A reachable server's URL; skips without one, fails with CI=true."""
    return require_pg()


@pytest.mark.postgres
def test_battery_postgres(tmp_path: Path, pg_admin_url: str) -> None:
    # run_backend creates a scratch database next to the one of the URL and drops it
    _check(_run("postgres", tmp_path, pg_admin_url=pg_admin_url))
