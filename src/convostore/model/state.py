"""Scoped state: what is shared by the threads of a user or of a whole tenant.

A thread keeps its own :class:`~convostore.model.ThreadState`. Beside it a
tenant keeps *user state* (one per ``user_id``, shared by every thread of that
user) and *app state* (one per tenant, shared by all its threads), each a
:class:`ScopedState` with a revision of its own. *Temp state* is never stored:
it lives in a conversation handle or a request only.

A write is a :class:`StateUpdate`: whole replacement, or keys set and keys
removed in one write (two writers touching different keys need not conflict
unless they send an expected revision). An append carries a
:class:`StateChange`, which updates thread, user and app state in the
transaction of the append.

The prefixed form (``app:k``, ``user:k``, ``temp:k`` and plain ``k`` for the
thread) is the one Google ADK uses in one state dict: :func:`split_prefixed`
turns a prefixed delta into a :class:`StateChange` and the temp part, and
:func:`prefixed_view` builds the prefixed dict back from the four scopes.
:func:`merged_view` is the flat view a conversation reads, with the
precedence temp > thread > user > app.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from pydantic import Field, JsonValue

from convostore.model._types import Identifier, NonNegInt, UTCDateTime, _Model

__all__ = [
    "STATE_PREFIXES",
    "ScopedState",
    "StateChange",
    "StateScope",
    "StateUpdate",
    "merged_view",
    "prefixed_view",
    "split_prefixed",
]


class StateScope(enum.StrEnum):
    """Where a piece of state is shared: by one user's threads, or by the tenant's."""

    USER = "user"
    APP = "app"


#: The key prefixes of the prefixed form, by scope; a thread key has none.
STATE_PREFIXES: dict[str, str] = {"app": "app:", "user": "user:", "temp": "temp:"}


class ScopedState(_Model):
    """The stored state of one scope: JSON values by key and the revision that
    writes with ``expected_revision`` check.

    A scope never written reads as empty at revision 0: there is no "not
    found" for state."""

    scope: StateScope
    """``user`` or ``app``."""
    user_id: Identifier | None = None
    """The user of user state; ``None`` for app state."""
    data: dict[str, JsonValue] = Field(default_factory=dict)
    """The values, by key."""
    revision: NonNegInt = 0
    """Up by one on every write; 0 until the first."""
    updated_at: UTCDateTime | None = None
    """When it was last written (UTC); ``None`` until the first write."""


class StateUpdate(_Model):
    """One write of one scope's state.

    Either ``replace`` (the new values, replacing all) or ``changes`` and
    ``remove`` (keys set, keys removed; the other keys kept), not both. With
    ``expected_revision`` the write is refused with a
    :class:`~convostore.errors.RevisionConflictError` unless the state is at
    that revision.
    """

    changes: dict[str, JsonValue] = Field(default_factory=dict)
    """Keys to set, with their new values."""
    remove: list[str] = Field(default_factory=list)
    """Keys to remove (a key that is not there is no error)."""
    replace: dict[str, JsonValue] | None = None
    """All the new values; ``None``: keep the keys not named."""
    expected_revision: NonNegInt | None = None
    """The revision the state must be at (for thread state: the thread's)."""


class StateChange(_Model):
    """State updates that go with an append, applied in its transaction: all
    of them and the messages, or nothing.

    ``thread`` updates the thread's ``state.data``; ``user`` the user state of
    the thread's user (the thread must have a ``user_id``); ``app`` the
    tenant's app state.
    """

    thread: StateUpdate | None = None
    """The update of the thread's ``state.data``; ``None``: left as it is."""
    user: StateUpdate | None = None
    """The update of the thread user's state; ``None``: left as it is."""
    app: StateUpdate | None = None
    """The update of the tenant's app state; ``None``: left as it is."""

    @property
    def empty(self) -> bool:
        return self.thread is None and self.user is None and self.app is None


def split_prefixed(delta: Mapping[str, Any]) -> tuple[StateChange, dict[str, Any]]:
    """A prefixed delta (``{"app:k": v, "user:k": v, "temp:k": v, "k": v}``) as
    the :class:`StateChange` to store and the temp values to keep in memory.

    A value of ``None`` removes the key from its scope (ADK sets a key to
    ``None`` to clear it). Scopes without a key get no update.
    """
    sets: dict[str, dict[str, Any]] = {"app": {}, "user": {}, "thread": {}}
    removes: dict[str, list[str]] = {"app": [], "user": [], "thread": []}
    temp: dict[str, Any] = {}
    for key, value in delta.items():
        scope, name = _scope_of(key)
        if scope == "temp":
            temp[name] = value
        elif value is None:
            removes[scope].append(name)
        else:
            sets[scope][name] = value
    updates = {
        s: StateUpdate(changes=sets[s], remove=removes[s]) for s in sets if sets[s] or removes[s]
    }
    return StateChange(**updates), temp


def _scope_of(key: str) -> tuple[str, str]:
    for scope, prefix in STATE_PREFIXES.items():
        if key.startswith(prefix):
            return scope, key[len(prefix) :]
    return "thread", key


def prefixed_view(
    app: Mapping[str, Any],
    user: Mapping[str, Any],
    thread: Mapping[str, Any],
    temp: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The four scopes as one prefixed dict, the form ADK's ``session.state`` has."""
    out: dict[str, Any] = {STATE_PREFIXES["app"] + k: v for k, v in app.items()}
    out.update((STATE_PREFIXES["user"] + k, v) for k, v in user.items())
    out.update(thread)
    out.update((STATE_PREFIXES["temp"] + k, v) for k, v in (temp or {}).items())
    return out


def merged_view(
    app: Mapping[str, Any],
    user: Mapping[str, Any],
    thread: Mapping[str, Any],
    temp: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The four scopes as one flat dict: a key set in several scopes takes the
    value of the narrowest, temp over thread over user over app."""
    return {**app, **user, **thread, **(temp or {})}
