"""The server's limits: what one request may send and ask for.

Every limit bounds the memory and time one request can cost, so that no
client, however hostile, can stall the server or make it balloon. Each is a
field of :class:`ServerLimits`, passed to
:func:`~convostore.server.create_app` (and settable on ``convostore serve``);
the store adds its own (:class:`convostore.store.Limits`: message and batch
sizes, page sizes), which apply to every caller of the library as well.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["DEFAULT_LIMITS", "ServerLimits"]


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """Limits on one HTTP request. Every field is a positive integer."""

    max_body_bytes: int = 8 * 1024 * 1024
    """A body over this size gets 413 ``body-too-large``. The default is twice
    the store's default size limit of one message, so any single message fits."""
    max_json_values: int = 500_000
    """A JSON body holding more values (objects, arrays, strings, numbers,
    booleans and nulls; not keys) gets 413 ``body-too-complex``: about one value
    per 16 bytes of the default body size."""
    max_json_depth: int = 64
    """A JSON body nested deeper gets 400 ``invalid-body``."""
    max_window_messages: int = 10_000
    """A context window holds at most this many messages, whatever the request
    asks: ``max_messages`` above it gets 422, and a window asked for by tokens
    alone stops there (``truncated`` is then true)."""
    max_window_tokens: int = 10_000_000
    """``max_tokens`` above this gets 422."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{f.name} must be a positive integer")


DEFAULT_LIMITS = ServerLimits()
