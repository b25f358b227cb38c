"""Project-wide test configuration.

Markers ``postgres``, ``stress`` and ``crash`` are declared in ``pyproject.toml``
(whose default options leave the ``stress`` runs out); ``performance`` is
registered here. The harness that opens the built-in backends is
``tests/_harness.py``; the conformance suite's fixtures live in
``tests/contract/conftest.py``.

``store_url`` is the one fixture that hands the CLI, server and conversation
suites a fresh store of every built-in backend: memory, JSON files, SQLite and
PostgreSQL (in a schema of its own, dropped afterwards). With ``CI=true`` a
backend that cannot run fails instead of being skipped.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests._harness import BackendSpec, Harness, backend_params, require, spec_named

#: Where the suite runs from; no test may leave anything new at its top level.
ROOT = Path(__file__).resolve().parent.parent
_CACHES = {".hypothesis", ".pytest_cache", "__pycache__", ".mypy_cache", ".ruff_cache"}
_ROOT_BEFORE: set[str] = set()


def pytest_sessionstart(session: pytest.Session) -> None:
    _ROOT_BEFORE.update(p.name for p in ROOT.iterdir())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if a test wrote into the checkout instead of its own
    temporary directory (a store URL with one slash too few, say, makes an
    absolute path relative to the working directory)."""
    left = sorted({p.name for p in ROOT.iterdir()} - _ROOT_BEFORE - _CACHES)
    if left:
        session.config.get_terminal_writer().line(
            f"tests left files in the checkout: {', '.join(left)}", red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "performance: a performance guard; it pins how the code is fast or small "
        "(object identity, the garbage collector's state, memory peaks, query plans), "
        "not what it does, so a change of implementation may change or drop it",
    )


@pytest.fixture(scope="session")
def pgbouncer_url() -> Iterator[str]:
    """The test server reached through a PgBouncer of the session's own, in
    transaction pooling mode (``pgbouncer=true`` in the URL); stopped at the end.
    Without the pgbouncer binary: a skip, or a failure under ``CI=true``."""
    from urllib.parse import urlsplit

    from tests._harness import require_pg
    from tests._servers import PgBouncer

    target = urlsplit(require_pg())
    bouncer = PgBouncer(target.hostname or "127.0.0.1", target.port or 5432)
    try:
        yield (
            bouncer.url(target.path.lstrip("/"), target.username or "postgres") + "?pgbouncer=true"
        )
    finally:
        bouncer.stop()


@pytest.fixture(params=backend_params())
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, empty store of each built-in backend (the store exists,
    so commands that only read find it). ``memory://`` opens a new store each
    time; the CLI suite shares one per test (see ``tests/cli/conftest.py``).

    A heavy test whose behaviour cannot differ between backends narrows the
    fan-out by name: ``@pytest.mark.parametrize("store_url", ["memory", "sqlite"],
    indirect=True)``.
    """
    spec: BackendSpec = (
        request.param if isinstance(request.param, BackendSpec) else spec_named(request.param)
    )
    require(spec)
    harness = Harness(spec, "sync", tmp_path)
    try:
        yield harness.create()
    finally:
        harness.cleanup()


@pytest.fixture
def collector_on() -> Iterator[None]:
    """Python's cyclic garbage collector is on when the test starts and switched
    back on when it ends, whatever the test did to it."""
    gc.enable()
    yield
    gc.enable()
