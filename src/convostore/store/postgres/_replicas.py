"""Where a read goes when the store has streaming replicas: read-your-writes.

Each store object keeps a *floor*: the primary's WAL insert position read
right after its latest write committed (or a position a caller handed in as a
consistency token). A read may go to a replica only once that replica has
replayed WAL up to the floor (``pg_last_wal_replay_lsn()``); otherwise it goes
to the primary. So a store never reads older data than it wrote, while reads
that follow no write of its own spread over the replicas.

A replica that fails (cannot connect, connection lost, a query cancelled by
recovery) is left out for ``replica_backoff`` seconds and the read runs on the
next replica or the primary: the caller sees no error from a replica.

This module holds that bookkeeping only, no I/O; both faces use it. Nothing in
it is global: the state lives on each backend object.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field

from convostore.errors import ValidationError

__all__ = ["CURRENT_LSN", "REPLAY_LSN", "Routing", "format_lsn", "parse_lsn"]

#: The primary's WAL insert position as a number (bytes since 0/0): at least the
#: end of every transaction committed before it ran, even with asynchronous commit.
CURRENT_LSN = b"SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint"
#: How far a standby has replayed (-1 on a server that is not in recovery).
REPLAY_LSN = b"SELECT coalesce((pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint, -1)"

_LSN_TEXT = re.compile(r"^([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})$")
#: A floor no replica reaches: every read goes to the primary.
UNKNOWN = 1 << 64


def format_lsn(lsn: int) -> str:
    """``lsn`` as PostgreSQL writes a ``pg_lsn``: ``16/B374D848``."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def parse_lsn(token: str) -> int:
    """A consistency token (a ``pg_lsn`` text) as a number.

    Raises:
        ValidationError: ``token`` is not ``hex/hex``.
    """
    match = _LSN_TEXT.match(token.strip()) if isinstance(token, str) else None
    if match is None:
        raise ValidationError(
            f"must be a WAL position like '0/16B3748', not {token!r}", field="consistency_token"
        )
    return int(match[1], 16) << 32 | int(match[2], 16)


@dataclass
class Routing:
    """The read-routing state of one store object."""

    replicas: int
    backoff: float
    floor: int = 0
    seen: list[int] = field(default_factory=list)
    down_until: list[float] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    _next: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.seen = [-1] * self.replicas
        self.down_until = [0.0] * self.replicas
        self.counts = {"replica_reads": 0, "primary_reads": 0, "lagging": 0, "failures": 0}

    def candidates(self) -> list[int]:
        """The replicas not left out, starting with the next in turn."""
        now = time.monotonic()
        with self._lock:
            start, self._next = self._next, (self._next + 1) % max(self.replicas, 1)
        order = [(start + k) % self.replicas for k in range(self.replicas)]
        return [i for i in order if self.down_until[i] <= now]

    def fresh(self, i: int) -> bool:
        """Replica ``i`` was last seen at or past the floor."""
        return self.seen[i] >= self.floor

    def saw(self, i: int, lsn: int) -> bool:
        """Record replica ``i``'s replay position; whether it reaches the floor."""
        self.seen[i] = max(self.seen[i], lsn) if lsn >= 0 else lsn
        if self.seen[i] < self.floor:
            self.count("lagging")
            return False
        return True

    def wrote(self, lsn: int) -> None:
        """A write committed at or before ``lsn``: reads must see it from now on."""
        with self._lock:
            self.floor = lsn if self.floor == UNKNOWN else max(self.floor, lsn)

    def write_unknown(self) -> None:
        """A write committed but its position could not be read: primary only,
        until the next write's position is known."""
        self.wrote(UNKNOWN)

    def failed(self, i: int) -> None:
        self.down_until[i] = time.monotonic() + self.backoff
        self.seen[i] = -1
        self.count("failures")

    def count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1

    def token(self) -> str | None:
        """The floor as a consistency token (``None`` before any write)."""
        floor = self.floor
        return None if floor in (0, UNKNOWN) else format_lsn(floor)

    def report(self) -> dict[str, object]:
        now = time.monotonic()
        return {
            **self.counts,
            "floor": self.token(),
            "replicas": [
                {"up": self.down_until[i] <= now, "replayed": format_lsn(max(self.seen[i], 0))}
                for i in range(self.replicas)
            ],
        }
