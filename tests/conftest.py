"""Project-wide test configuration.

Markers (``postgres``, ``stress``, ``crash``) are declared in ``pyproject.toml``,
whose default options leave the ``stress`` runs out (``-m stress`` selects them).
The conformance suite's backend fixtures live in ``tests/contract/conftest.py``.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from typing import Any

import pytest


@pytest.fixture
def collector_on() -> Iterator[None]:
    """Python's cyclic garbage collector is on when the test starts and switched
    back on when it ends, whatever the test did to it."""
    gc.enable()
    yield
    gc.enable()


@pytest.fixture
def collector_log(
    monkeypatch: pytest.MonkeyPatch, collector_on: None
) -> Callable[[object, str], list[bool]]:
    """``record(owner, name)`` wraps ``owner.name`` so that every call appends
    whether the cyclic garbage collector was on (see ``collector_on``)."""

    def record(owner: object, name: str) -> list[bool]:
        seen: list[bool] = []
        original: Callable[[Any], Any] = getattr(owner, name)

        def wrapped(body: Any) -> Any:
            seen.append(gc.isenabled())
            return original(body)

        monkeypatch.setattr(owner, name, wrapped)
        return seen

    return record
