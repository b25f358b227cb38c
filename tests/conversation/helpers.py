"""Shared helpers for the conversation tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Coroutine
from typing import Any, TypeVar

from convostore.model import utcnow

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    import asyncio

    return asyncio.run(coro)


class Clock:
    """A settable clock for expiry tests."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


class Spy:
    """Wraps a store and records the names of the methods called on it."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if callable(attr):

            def wrapper(*a: Any, **kw: Any) -> Any:
                self.calls.append(name)
                return attr(*a, **kw)

            return wrapper
        return attr
