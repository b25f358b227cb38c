"""A clock that tests move by hand, so that times differ without waiting.

Pass one in the store's settings (``StoreSettings(clock=clock)``): every time
the store records then comes from it.
"""

from __future__ import annotations

import datetime as dt
import threading

from convostore.model import utcnow

__all__ = ["ManualClock"]


class ManualClock:
    """A store clock that moves only when it is read or told to.

    Each reading is ``step`` later than the one before (one millisecond unless
    told), so every time a store records differs from the others and they come
    in the order they were recorded, without a test having to sleep.
    :meth:`advance` jumps ahead (or back, with a negative number of seconds),
    :meth:`set` goes to a given time.

    Args:
        start: the first reading; the current time (to the millisecond) when
            ``None``.
        step: how far each reading moves the clock; ``timedelta(0)`` for a
            clock that stands still until told.
    """

    def __init__(
        self,
        start: dt.datetime | None = None,
        *,
        step: dt.timedelta = dt.timedelta(milliseconds=1),
    ) -> None:
        if start is None:
            now = utcnow()
            start = now.replace(microsecond=now.microsecond // 1000 * 1000)
        if start.tzinfo is None:
            raise ValueError("start must be an aware datetime")
        self._now = start.astimezone(dt.UTC)
        self.step = step
        self._lock = threading.Lock()  # readings from several threads stay distinct

    def __call__(self) -> dt.datetime:
        with self._lock:
            now = self._now
            self._now = now + self.step
        return now

    @property
    def now(self) -> dt.datetime:
        """What the next reading returns (looking does not move the clock)."""
        return self._now

    def advance(self, seconds: float) -> dt.datetime:
        """Move the clock by ``seconds``; returns the next reading."""
        with self._lock:
            self._now += dt.timedelta(seconds=seconds)
            return self._now

    def set(self, when: dt.datetime) -> None:
        """Make ``when`` the next reading."""
        if when.tzinfo is None:
            raise ValueError("when must be an aware datetime")
        with self._lock:
            self._now = when.astimezone(dt.UTC)

    def __repr__(self) -> str:
        return f"ManualClock({self._now.isoformat()}, step={self.step})"
