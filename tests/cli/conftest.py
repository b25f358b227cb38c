"""Fixtures of the CLI tests: a store URL per persistent backend, and a runner
that fails the test whenever a traceback or an unhandled exception escapes.

The ``memory`` variant stands in for a persistent store by handing every
invocation of a test the same in-process store (``memory://`` alone would start
empty on each invocation).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from convostore.cli import _common
from convostore.store import open_store

from ._helpers import Run, invoke


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CONVOSTORE_URL", "CONVOSTORE_TENANT", "CONVOSTORE_HOST", "CONVOSTORE_PORT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(params=["sqlite", "json", "memory"])
def store_url(
    request: pytest.FixtureRequest, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    if request.param in ("sqlite", "json"):
        url = (
            f"sqlite:///{tmp_path / 'cli.db'}"
            if request.param == "sqlite"
            else f"json:///{tmp_path / 'store'}"
        )
        open_store(url).close()  # an empty store, as read commands do not create one
        yield url
    else:
        shared = open_store("memory://")
        real = _common._open
        monkeypatch.setattr(
            _common,
            "_open",
            lambda url, **kw: (
                shared.tenant(shared.tenant_id) if url == "memory://shared" else real(url, **kw)
            ),
        )
        yield "memory://shared"
        shared.close()


@pytest.fixture
def run() -> Run:
    return invoke


@pytest.fixture
def sqlite_url(tmp_path: Any) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"
