"""The adapter contract: every library answers the same questions.

An adapter method may be sync or async (return a coroutine); the workloads
``await maybe(...)`` around every call, so an async library is timed inside its
own event loop exactly like a sync one is timed around the plain call.

``convert`` turns neutral items (``common.items``) into the library's own
message objects; it runs before the clock starts. Operations an adapter cannot
express natively are either written the way its users would have to (say so in
``notes``) or left out of ``supports`` and reported as n/a.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, ClassVar

OPS = ("append", "load", "recent", "context", "list_threads", "bulk_import")


class Unavailable(Exception):
    """The library is not installed or cannot run here; the text says why."""


async def maybe(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


class Adapter:
    #: Label used in tables and plots.
    label: ClassVar[str] = "?"
    #: PyPI distributions whose versions are reported.
    packages: ClassVar[tuple[str, ...]] = ()
    #: "sqlite", "postgres" or "memory".
    backend: ClassVar[str] = "sqlite"
    #: Durability of an acknowledged write, in words.
    durability: ClassVar[str] = ""
    #: Operations this library offers (see OPS).
    supports: ClassVar[frozenset[str]] = frozenset(OPS)
    #: How each operation is written when the library has no direct call for it.
    notes: ClassVar[dict[str, str]] = {}
    #: Is this a hand-written baseline ("the limit") rather than a library?
    raw: ClassVar[bool] = False

    def __init__(self, workdir: Path, pg_url: str | None = None) -> None:
        self.workdir = workdir
        self.pg_url = pg_url

    # lifecycle ---------------------------------------------------------------

    def open(self) -> Any:
        """Open (creating if needed) the store in ``workdir`` / ``pg_url``."""

    def close(self) -> Any:
        """Release connections."""

    # data --------------------------------------------------------------------

    def convert(self, items: list[dict[str, Any]]) -> list[Any]:
        raise NotImplementedError

    def create_thread(self, thread_id: str, user_id: str) -> Any:
        raise NotImplementedError

    def append(self, thread_id: str, batch: list[Any]) -> Any:
        """Append the batch in one call (one transaction where the library has them)."""
        raise NotImplementedError

    def build_append(self, thread_id: str, batch: list[Any]) -> Any:
        """Used only to build large threads before measuring; default: ``append``."""
        return self.append(thread_id, batch)

    def load(self, thread_id: str) -> Any:
        """Every message of the thread, oldest first."""
        raise NotImplementedError

    def recent(self, thread_id: str, n: int) -> Any:
        """The newest ``n`` messages, oldest first."""
        raise NotImplementedError

    def context(self, thread_id: str, max_tokens: int) -> Any:
        """The newest messages that fit ``max_tokens`` (chars/4 estimate)."""
        raise NotImplementedError

    def list_threads(self, user_id: str, limit: int) -> Any:
        """One user's threads (at most ``limit``), newest first."""
        raise NotImplementedError

    def bulk_import(self, thread_id: str, user_id: str, batch: list[Any]) -> Any:
        """A new thread holding ``batch``, with as few calls as the library allows."""
        raise NotImplementedError


def trim_to_budget(messages: list[Any], max_tokens: int, text_of: Any) -> list[Any]:
    """The newest messages whose chars/4 estimate fits ``max_tokens`` (oldest
    first): what a user of a library without a context-window call writes."""
    from common import estimate_tokens

    out: list[Any] = []
    used = 0
    for m in reversed(messages):
        cost = estimate_tokens(text_of(m))
        if used + cost > max_tokens and out:
            break
        out.append(m)
        used += cost
    out.reverse()
    return out


async def widening_window(recent: Any, max_tokens: int, text_of: Any) -> list[Any]:
    """Context window through a ``recent(n)`` call: ask for 32, then 64, ...
    newest messages until the budget is filled or the thread is exhausted."""
    n = 32
    while True:
        got = await maybe(recent(n))
        window = trim_to_budget(got, max_tokens, text_of)
        if len(window) < len(got) or len(got) < n:
            return window
        n *= 2
