"""Fixtures of the CLI tests: a runner that fails the test whenever a traceback
or an unhandled exception escapes, and one memory store per test.

``store_url`` (``tests/conftest.py``) is a fresh store of every backend. Its
``memory://`` variant stands in for a persistent store because every
invocation of a test that opens ``memory://`` is handed the same in-process
store (``memory://`` alone would start empty on each invocation).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from convostore.cli import _common
from convostore.store import StoreSettings, open_store

from ._helpers import SEED_CLOCK, Run, invoke


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CONVOSTORE_URL", "CONVOSTORE_TENANT", "CONVOSTORE_HOST", "CONVOSTORE_PORT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _one_memory_store(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every invocation of a test that opens ``memory://`` gets the same store."""
    shared = open_store("memory://", settings=StoreSettings(clock=SEED_CLOCK))
    real = _common._open
    monkeypatch.setattr(
        _common,
        "_open",
        lambda url, **kw: (
            shared.tenant(shared.tenant_id) if url == "memory://" else real(url, **kw)
        ),
    )
    yield
    shared.close()


@pytest.fixture
def run() -> Run:
    return invoke


@pytest.fixture
def sqlite_url(tmp_path: Any) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"
