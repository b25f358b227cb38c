"""Time-ordered identifiers.

Ids are ULIDs (48-bit millisecond time + 80 random bits, Crockford base32) behind a
short prefix naming the kind of object (``th_``, ``msg_``). They sort by creation
time, so a primary-key index on them stays append-mostly, and within one process
they are strictly increasing even inside the same millisecond.
"""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_lock = threading.Lock()
_last_ms = 0
_last_rand = 0


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_ulid() -> str:
    """Return a 26-character ULID, monotonic within this process."""
    global _last_ms, _last_rand
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            ms = _last_ms
            rand = _last_rand + 1
            if rand >> 80:  # random part exhausted within one ms: borrow the next ms
                ms += 1
                rand = int.from_bytes(os.urandom(10), "big") >> 1
        else:
            rand = int.from_bytes(os.urandom(10), "big") >> 1
        _last_ms, _last_rand = ms, rand
    return _encode(ms, 10) + _encode(rand, 16)


def new_id(prefix: str) -> str:
    """Return a fresh time-ordered id such as ``msg_01JD3...``."""
    return f"{prefix}_{new_ulid()}"
