"""Project-wide test configuration.

Tests marked ``stress`` are long runs kept out of the default run; select them
with ``-m stress`` (or ``-m "stress or not stress"`` for everything).
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("markexpr", ""):
        return  # an explicit -m decides
    skip = pytest.mark.skip(reason="stress test: run with -m stress")
    for item in items:
        if item.get_closest_marker("stress") is not None:
            item.add_marker(skip)
