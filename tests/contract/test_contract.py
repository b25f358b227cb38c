"""The conformance suite of :mod:`convostore.testing` on every built-in backend.

Each test of :class:`~convostore.testing.StoreContract` runs once per backend
and face (see ``conftest.py``): ``pytest tests/contract -k "sqlite-async"``
runs one combination. The stores run on the suite's clock (its ``settings``
fixture); other processes open them at the harness's URL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tests._harness import Harness

from convostore.store.settings import StoreSettings
from convostore.testing import StoreContract


class TestStoreContract(StoreContract):
    @pytest.fixture
    def harness_with_clock(self, harness: Harness, settings: StoreSettings) -> Harness:
        harness.settings = settings
        return harness

    @pytest.fixture
    def store(self, harness_with_clock: Harness) -> Any:
        return harness_with_clock.open()

    @pytest.fixture
    def reopen(self, harness_with_clock: Harness) -> Callable[[], Any]:
        return harness_with_clock.reopen

    @pytest.fixture
    def process_url(self, harness: Harness) -> str:
        return harness.url
