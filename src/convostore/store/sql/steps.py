"""What every SQL handler is made of: the run type, transaction modes, the
handler record and the few steps several handlers share.

See :mod:`convostore.store.sql.handlers` for the handlers themselves.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import TypeAdapter
from pydantic_core import from_json

from convostore.errors import ThreadNotFoundError
from convostore.model import Message, ScopedState, StateScope, Thread
from convostore.store.rules.codec import from_us
from convostore.store.rules.state import empty_state, state_key
from convostore.store.settings import StoreSettings
from convostore.store.sql import rows as r
from convostore.store.sql.statements import Fetch, Query, Statements

__all__ = [
    "END",
    "MESSAGE_LIST",
    "Fallback",
    "Handler",
    "Mode",
    "Steps",
    "decode",
    "lock_thread",
    "locked_state",
    "read_state",
    "require_thread",
    "state_write",
    "thread_write",
]

T = TypeVar("T")

Steps = Generator[Query, Any, T]
"""A handler's run: yields queries, is sent their results, returns the answer."""

#: Past any seq: the ``before`` bound of a read from the end of a thread.
END = 2**63 - 1


class Mode(enum.Enum):
    """How the driver wraps a handler's queries."""

    AUTOCOMMIT = "autocommit"  # each query on its own
    WRITE = "write"  # one read-write transaction
    SNAPSHOT = "snapshot"  # one read-only transaction: every query sees one snapshot


@dataclass(frozen=True, slots=True)
class Handler:
    """A handler, the transaction mode it runs in, and whether it writes (an
    engine that serialises its writers takes its write lock for those)."""

    fn: Callable[[Statements, StoreSettings, Any], Steps[Any]]
    mode: Mode
    writes: bool = False
    post: Callable[[StoreSettings, Any, Any], Any] | None = None
    """Turns what ``fn`` returned into the result (the decoding of a whole
    thread); ``None``: ``fn``'s result is the result."""


class Fallback(Exception):
    """A quick append path declined: roll its transaction back and take
    :func:`append`."""


MESSAGE_LIST = TypeAdapter(list[Message])


def lock_thread(sq: Statements, tenant: str, thread_id: str) -> Steps[Thread]:
    """The thread, its row locked until the write transaction ends."""
    row = yield Query(sq.thread_lock, (tenant, thread_id), Fetch.ONE)
    if row is None:
        raise ThreadNotFoundError(thread_id)
    return r.decode_thread(row)


def _state_of(scope: StateScope, user_id: str | None, row: Any) -> ScopedState:
    if row is None or row[0] == 0:  # never written (a claimed row is empty)
        return empty_state(scope, user_id)
    revision, updated, body = row
    when = updated if isinstance(updated, dt.datetime) else from_us(int(updated))
    return ScopedState(
        scope=scope, user_id=user_id, data=from_json(body), revision=revision, updated_at=when
    )


def read_state(
    sq: Statements, tenant: str, scope: StateScope, user_id: str | None
) -> Steps[ScopedState]:
    """The stored state of a scope, empty at revision 0 if never written."""
    row = yield Query(sq.state_get, (tenant, scope.value, state_key(scope, user_id)), Fetch.ONE)
    return _state_of(scope, user_id, row)


def locked_state(
    sq: Statements, tenant: str, scope: StateScope, user_id: str | None, now: dt.datetime
) -> Steps[ScopedState]:
    """The state of a scope, its row locked until the write transaction ends
    (claimed first, so a scope never written has a row to lock)."""
    key = (tenant, scope.value, state_key(scope, user_id))
    yield Query(sq.state_claim, (*key, sq.time(now)), Fetch.NONE)
    row = yield Query(sq.state_lock, key, Fetch.ONE)
    return _state_of(scope, user_id, row)


def state_write(sq: Statements, tenant: str, state: ScopedState, body: str) -> Query:
    """The write of a state as ``rules.state.updated_state`` returned it."""
    assert state.updated_at is not None
    key = (tenant, state.scope.value, state_key(state.scope, state.user_id))
    return Query(
        sq.state_write, (state.revision, sq.time(state.updated_at), body, *key), Fetch.NONE
    )


def require_thread(sq: Statements, tenant: str, thread_id: str) -> Steps[None]:
    """Nothing, or ThreadNotFoundError."""
    row = yield Query(sq.thread_exists, (tenant, thread_id), Fetch.ONE)
    if row is None:
        raise ThreadNotFoundError(thread_id)


def thread_write(sq: Statements, thread: Thread, settings: StoreSettings) -> dict[str, Any]:
    """The parameters of a thread row write (``thread_insert`` / ``thread_update``)."""
    return r.thread_values(thread, r.thread_body(thread, settings.limits), sq.time)


def decode(rows: Iterable[Any]) -> list[Message]:
    """Messages from rows whose first column is a stored body."""
    decode = r.decode_message
    return [decode(row[0]) for row in rows]
