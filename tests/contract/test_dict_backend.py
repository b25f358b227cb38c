"""The whole conformance suite on a backend written from the public modules
alone (``dict_backend.py``), in both faces: proof that the thirteen primitives
of ``CoreBackend`` are the whole of what a backend must implement."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.contract.dict_backend import DictBackend

from convostore import AsyncStore, Store
from convostore.store.backend import ThreadedAsyncBackend
from convostore.store.settings import StoreSettings
from convostore.testing import StoreContract, SyncStoreAdapter

SOURCE = Path(__file__).with_name("dict_backend.py")


class TestDictBackend(StoreContract):
    @pytest.fixture(params=["sync", "async"])
    def store(self, request: pytest.FixtureRequest, settings: StoreSettings) -> Iterator[Any]:
        if request.param == "sync":
            store: Any = Store(DictBackend(settings=settings))
        else:
            store = SyncStoreAdapter.open(
                lambda: AsyncStore(ThreadedAsyncBackend(DictBackend(settings=settings)))
            )
        yield store
        store.close()


def test_written_from_public_modules_only() -> None:
    tree = ast.parse(SOURCE.read_text())
    imported = [
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("convostore")
    ]
    assert imported, "the backend imports nothing of convostore?"
    for module in imported:
        assert not any(part.startswith("_") for part in module.split(".")), module


def test_small() -> None:
    # thirteen primitives, user and app state: still a few screens
    assert len(SOURCE.read_text().splitlines()) < 300


def test_a_backend_without_scoped_state_refuses_state_calls() -> None:
    """State is a capability: a backend that does not declare it gets a typed
    refusal on every state call, and its plain appends work as before."""
    from convostore import Message
    from convostore.errors import ValidationError
    from convostore.store.backend import Capabilities

    class NoState(DictBackend):
        capabilities = Capabilities(durable=False)

    store = Store(NoState())
    store.create_thread(id="t1", user_id="u1")
    for call in (
        lambda: store.get_state("app"),
        lambda: store.update_state("user", user_id="u1", changes={"k": 1}),
        lambda: store.append("t1", Message.user("hi"), state={"app": {"changes": {"k": 1}}}),
    ):
        with pytest.raises(ValidationError) as info:
            call()
        assert info.value.field == "scope"
    assert store.get_thread("t1").message_count == 0
    assert [m.seq for m in store.append("t1", Message.user("hi"))] == [1]
