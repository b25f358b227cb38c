"""The convostore conformance suite, reusable by third-party backends.

A backend proves it keeps the store contract by passing the tests of
:class:`StoreContract` (:mod:`convostore.testing.contract`, one class per
concept); the tests of a capability the backend declares run too::

    import pytest
    from convostore import Store
    from convostore.testing import StoreContract

    class TestMyBackend(StoreContract):
        @pytest.fixture
        def store(self, tmp_path, settings):
            store = Store(MyBackend(tmp_path, settings=settings))
            yield store
            store.close()

The ``settings`` fixture carries the suite's :class:`ManualClock`, which the
tests move instead of sleeping. Also here:

* :mod:`convostore.testing.strategies` - hypothesis strategies for messages,
  parts, metadata and threads;
* :class:`SyncStoreAdapter` - a blocking view of an ``AsyncStore`` (one event
  loop per store, in a background thread), so the suite runs on the async face;
* :mod:`convostore.testing.crash` - SIGKILL a writer process at random moments
  and check that every acknowledged message survived exactly once.

The suite needs ``pytest`` and ``hypothesis`` (``pip install 'convostore[dev]'``).
Names are imported lazily so that crash-test writer processes stay light.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from convostore.testing.adapter import EventLoopThread, SyncStoreAdapter
    from convostore.testing.contract import ManualClock, StoreContract, fingerprint

__all__ = ["EventLoopThread", "ManualClock", "StoreContract", "SyncStoreAdapter", "fingerprint"]

if "pytest" in sys.modules:  # let pytest explain failing asserts of the suite
    sys.modules["pytest"].register_assert_rewrite("convostore.testing.contract")

_WHERE = {
    "EventLoopThread": "convostore.testing.adapter",
    "SyncStoreAdapter": "convostore.testing.adapter",
    "ManualClock": "convostore.testing.contract.clock",
    "StoreContract": "convostore.testing.contract",
    "fingerprint": "convostore.testing.contract",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'convostore.testing' has no attribute {name!r}")
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError as exc:
        if exc.name in ("pytest", "hypothesis"):
            from convostore.errors import MissingDependencyError

            raise MissingDependencyError(exc.name, "dev") from exc
        raise
