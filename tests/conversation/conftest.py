"""Fixtures running conversation-layer tests on every backend and both faces.

``env`` is parametrized over (memory, json, sqlite, postgres) x (sync, async).
Its ``store`` is a blocking view of the store (a ``Store``, or a
``SyncStoreAdapter`` over an ``AsyncStore``) for arranging and checking data;
``env.manager()`` is a ``ConversationManager`` on the sync face and an
``AsyncConversationManager`` driven from blocking code on the async face, so a
test is written once and runs the real async code path.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests._harness import Harness, backend_face_params, require

from convostore.conversation import (
    AsyncConversation,
    AsyncConversationManager,
    AsyncSessionState,
    ConversationManager,
    SessionConfig,
)
from convostore.model import utcnow


class Blocking:
    """Calls the coroutine methods of an async conversation object on the
    store's event loop and waits; wraps the conversations it returns alike."""

    def __init__(self, target: Any, run: Callable[[Any], Any]) -> None:
        self._target = target
        self._run = run

    @property
    def target(self) -> Any:
        return self._target

    def _wrap(self, value: Any) -> Any:
        if isinstance(value, AsyncConversation | AsyncSessionState):
            return Blocking(value, self._run)
        return value

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if inspect.iscoroutinefunction(attr):

            def call(*args: Any, **kwargs: Any) -> Any:
                return self._wrap(self._run(attr(*args, **kwargs)))

            return call
        return self._wrap(attr)

    def __repr__(self) -> str:
        return f"Blocking({self._target!r})"


class Env:
    """One backend and face for a conversation test."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.face = harness.face
        self.backend = harness.spec.name
        self.store: Any = harness.open()

    def manager(
        self, config: SessionConfig | None = None, *, clock: Callable[[], Any] = utcnow
    ) -> Any:
        if self.face == "sync":
            return ConversationManager(self.store, config, clock=clock)
        manager = AsyncConversationManager(self.store.async_store, config, clock=clock)
        return Blocking(manager, self.store.run)

    def unwrap(self, conv: Any) -> Any:
        """The conversation object itself (sync or async)."""
        return conv.target if isinstance(conv, Blocking) else conv

    def __repr__(self) -> str:
        return f"Env({self.backend}, {self.face})"


@pytest.fixture(params=backend_face_params())
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    spec, face = request.param
    require(spec)
    h = Harness(spec, face, tmp_path)
    try:
        yield Env(h)
    finally:
        h.cleanup()
