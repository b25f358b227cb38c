"""The conformance suite of :mod:`convostore.testing` on every built-in backend.

Each test of :class:`~convostore.testing.StoreContract` runs once per backend
and face (see ``conftest.py``): ``pytest tests/contract -k "sqlite-async"``
runs one combination.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from convostore.testing import StoreContract
from convostore.testing.backends import Harness


class TestStoreContract(StoreContract):
    @pytest.fixture
    def store(self, harness: Harness) -> Any:
        return harness.open()

    @pytest.fixture
    def reopen(self, harness: Harness) -> Callable[[], Any] | None:
        return harness.reopen if harness.durable else None
