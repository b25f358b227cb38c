"""Scenarios of group commit, shared by the SQLite and PostgreSQL tests.

Each scenario fires appends concurrently at one async store, so that they meet
in batches, and checks what every caller was told against what is stored:

* every acknowledged append is stored, exactly once, at the seq it was given;
* an append that fails stores nothing and fails with its own error, whatever
  the other members of its batch did;
* none is acknowledged unless its batch committed (a fault at commit leaves
  nothing acknowledged and nothing stored).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from convostore import AsyncStore
from convostore.errors import (
    ConvostoreError,
    DuplicateMessageError,
    RevisionConflictError,
    ThreadNotFoundError,
)
from convostore.model import Message

#: What one append of a scenario is: a good one, to a thread that does not
#: exist, at a stale revision, a re-send of the same message, or the same id
#: with other content (only one of a clashing pair may win).
KINDS = ("good", "missing", "stale", "resend", "clash")


@dataclasses.dataclass(frozen=True)
class Planned:
    kind: str
    thread: str
    message_id: str
    content: str
    expected_revision: int | None = None


def plan(kinds: Sequence[str], threads: Sequence[str], tag: str) -> list[Planned]:
    """Appends of ``kinds``, spread over ``threads``; ids unique to ``tag``."""
    out: list[Planned] = []
    for i, kind in enumerate(kinds):
        thread = threads[i % len(threads)]
        mid = f"{tag}-m{i}"
        if kind == "missing":
            out.append(Planned(kind, f"{tag}-nowhere", mid, f"c{i}"))
        elif kind == "stale":
            out.append(Planned(kind, thread, mid, f"c{i}", expected_revision=10**9))
        elif kind in ("resend", "clash"):
            # Two appends of one id: the same message (both succeed) or
            # another content, possibly to another thread (one wins).
            other = threads[(i + 1) % len(threads)] if kind == "clash" else thread
            out.append(Planned(kind, thread, mid, "same"))
            out.append(Planned(kind, other, mid, "same" if kind == "resend" else "other"))
        else:
            out.append(Planned(kind, thread, mid, f"c{i}"))
    return out


async def fire(store: AsyncStore, planned: Sequence[Planned]) -> list[list[Message] | Exception]:
    """Every append at once; what each caller was told, in order."""

    async def one(p: Planned) -> list[Message]:
        return await store.append(
            p.thread,
            {"id": p.message_id, "role": "user", "content": p.content},
            expected_revision=p.expected_revision,
        )

    got = await asyncio.gather(*(one(p) for p in planned), return_exceptions=True)
    out: list[list[Message] | Exception] = []
    for g in got:
        if isinstance(g, BaseException) and not isinstance(g, Exception):
            raise g
        out.append(g)
    return out


async def stored(store: AsyncStore, threads: Sequence[str]) -> dict[str, list[Message]]:
    out = {}
    for t in threads:
        out[t] = await store.load_messages(t)
    return out


async def check_outcomes(
    store: AsyncStore, threads: Sequence[str], planned: Sequence[Planned], told: Sequence[Any]
) -> None:
    """The invariants of the module docstring, for a run without faults."""
    rows = await stored(store, threads)
    by_id: dict[str, list[Message]] = {}
    for t, msgs in rows.items():
        assert [m.seq for m in msgs] == list(range(1, len(msgs) + 1)), f"seq gap in {t}"
        for m in msgs:
            by_id.setdefault(m.id, []).append(m)
    for mid, copies in by_id.items():
        assert len(copies) == 1, f"{mid} stored {len(copies)} times"
    clash_wins: dict[str, int] = {}
    for p, outcome in zip(planned, told, strict=True):
        if p.kind == "missing":
            assert isinstance(outcome, ThreadNotFoundError), (p, outcome)
            continue
        if p.kind == "stale":
            assert isinstance(outcome, RevisionConflictError), (p, outcome)
            assert p.message_id not in by_id
            continue
        if p.kind == "clash" and isinstance(outcome, DuplicateMessageError):
            continue
        assert isinstance(outcome, list), (p, outcome)
        (m,) = outcome
        (kept,) = by_id[p.message_id]  # acknowledged: stored
        assert (kept.thread_id, kept.seq, kept.content) == (m.thread_id, m.seq, m.content)
        if p.kind == "clash":
            clash_wins[p.message_id] = clash_wins.get(p.message_id, 0) + 1
        else:
            assert (m.thread_id, m.content) == (p.thread, p.content)
    assert all(n == 1 for n in clash_wins.values()), clash_wins
    clashes = {p.message_id for p in planned if p.kind == "clash"}
    assert set(clash_wins) == clashes, "a clashing pair where neither won"


class BatchSizes:
    """Records the size of each batch a backend's group writer is handed."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def wrap(
        self, write: Callable[[Sequence[Any]], Awaitable[list[Any]]]
    ) -> Callable[[Sequence[Any]], Awaitable[list[Any]]]:
        async def recorded(appends: Sequence[Any]) -> list[Any]:
            self.sizes.append(len(appends))
            return await write(appends)

        return recorded


def is_error(outcome: object) -> bool:
    return isinstance(outcome, ConvostoreError)
