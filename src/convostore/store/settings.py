"""Settings a store takes in one place: its limits, token counter and clock.

A backend receives a :class:`StoreSettings` and applies its :class:`Limits` to
every write; the facade counts tokens with its ``counter`` and every time the
store records (creation, edits, deletion marks) comes from its ``clock``, so a
test can drive time instead of sleeping.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from convostore.model import utcnow

if TYPE_CHECKING:
    from convostore.tokens import TokenCounter

__all__ = ["DEFAULT_LIMITS", "DEFAULT_SETTINGS", "Clock", "Limits", "StoreSettings"]

Clock = Callable[[], dt.datetime]
"""Where a store's times come from: a callable returning an aware UTC datetime."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Size limits applied to every write, identical on every backend."""

    max_message_bytes: int = 4 * 1024 * 1024
    max_thread_bytes: int = 1024 * 1024
    max_batch: int = 10_000
    max_list_limit: int = 1000
    max_attachment_bytes: int = 20 * 1024 * 1024
    """The largest attachment (image, audio or file bytes) a write may carry."""
    max_state_bytes: int = 1024 * 1024
    """The largest user or app state, as JSON (thread state counts towards
    ``max_thread_bytes``)."""


DEFAULT_LIMITS = Limits()


def _heuristic() -> TokenCounter:
    from convostore.tokens import counter_for

    return counter_for(None)


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """Everything a store is configured with besides where it lives.

    Pass one to :func:`~convostore.open_store` (``settings=``) or to a backend's
    constructor; ``open_store``'s ``limits=`` and ``token_counter=`` keywords
    are shortcuts that build one. Settings are immutable: :meth:`replace`
    returns a changed copy.
    """

    limits: Limits = DEFAULT_LIMITS
    """The size limits every write is checked against, alike on every backend."""
    token_counter: TokenCounter = field(default_factory=_heuristic)
    """What messages that arrive without a token count are counted with, at
    append, edit and import; context windows use it too. The heuristic unless
    told: the same counts on every machine."""
    clock: Clock = utcnow
    """Where every time the store records comes from (creation, activity,
    edits, deletion marks). Tests pass a settable clock instead of sleeping."""
    pause_gc_on_load: bool = False
    """Pause Python's cyclic garbage collector while a whole thread is decoded
    (``load_messages``, ``export_thread``). It roughly halves the time of a typed
    load of 100,000 messages, but the collector belongs to the whole process,
    so the store switches it only when the caller opts in."""

    def now(self) -> dt.datetime:
        """The current time by :attr:`clock`."""
        return self.clock()

    def replace(self, **changes: Any) -> StoreSettings:
        """A copy with ``changes`` applied."""
        return replace(self, **changes)


DEFAULT_SETTINGS = StoreSettings()


def resolve_settings(settings: StoreSettings | None, limits: Limits | None = None) -> StoreSettings:
    """``settings`` (the defaults when ``None``) with ``limits`` in place of its
    own when given: what a backend constructor taking both keywords keeps."""
    settings = settings or DEFAULT_SETTINGS
    return settings if limits is None else settings.replace(limits=limits)
