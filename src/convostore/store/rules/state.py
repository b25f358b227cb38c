"""Scoped state: the checks and changes every backend applies alike.

A backend reads the state it writes under its write lock or in its
transaction (a scope never written reads as :func:`empty_state`), applies
:func:`updated_state` or, for an append, :func:`apply_change`, and stores what
comes back with :func:`encode_data` as the stored JSON.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic_core import PydanticSerializationError, to_json

from convostore.errors import StateConflictError, ValidationError
from convostore.model import (
    STATE_PREFIXES,
    Message,
    ScopedState,
    StateChange,
    StateScope,
    StateUpdate,
    Thread,
    ThreadState,
)
from convostore.store.rules.append import apply_append, fill_slots, plan_checked
from convostore.store.rules.codec import encode_message
from convostore.store.rules.validation import check_revision, check_writable, find_bad_text
from convostore.store.settings import Limits

if TYPE_CHECKING:
    from convostore.store import ops

__all__ = [
    "MAX_KEY_LENGTH",
    "AppendPlan",
    "applied_append",
    "apply_change",
    "change_applies",
    "check_change",
    "check_scope",
    "check_update",
    "empty_state",
    "encode_data",
    "plan_append_change",
    "state_key",
    "targets",
    "updated_state",
]

#: The longest state key, in characters.
MAX_KEY_LENGTH = 255


def check_scope(scope: Any, user_id: Any) -> tuple[StateScope, str | None]:
    """A scope argument and the user it needs: ``user`` takes a user id, ``app`` none.

    Raises:
        ValidationError: naming ``scope`` or ``user_id``.
    """
    from convostore.model import is_identifier
    from convostore.model._types import ID_RULE

    try:
        found = StateScope(scope)
    except ValueError:
        raise ValidationError("must be 'user' or 'app'", field="scope") from None
    if found is StateScope.USER:
        if not is_identifier(user_id):
            raise ValidationError(ID_RULE + " (user state needs a user id)", field="user_id")
        return found, user_id
    if user_id is not None:
        raise ValidationError("app state is the tenant's: give no user id", field="user_id")
    return found, None


def _check_key(key: Any, field: str) -> None:
    if not isinstance(key, str) or not key:
        raise ValidationError("a state key must be a non-empty string", field=field)
    if len(key) > MAX_KEY_LENGTH:
        raise ValidationError(f"a state key has at most {MAX_KEY_LENGTH} characters", field=field)
    for prefix in STATE_PREFIXES.values():
        if key.startswith(prefix):
            raise ValidationError(
                f"a stored state key cannot start with {prefix!r}: the prefixes name scopes "
                "(split a prefixed delta with split_prefixed)",
                field=field,
            )
    bad = find_bad_text(key, field)
    if bad is not None:
        raise ValidationError(bad[1], field=field)


def check_update(update: StateUpdate, field: str) -> StateUpdate:
    """Refuse an update with a bad key, or with both ``replace`` and key changes.

    Raises:
        ValidationError: naming the key (``<field>.changes.<key>``).
    """
    if update.replace is not None and (update.changes or update.remove):
        raise ValidationError(
            "give replace, or changes and remove, not both", field=f"{field}.replace"
        )
    for where, keys in (
        ("changes", update.changes),
        ("remove", update.remove),
        ("replace", update.replace or {}),
    ):
        for key in keys:
            _check_key(
                key, f"{field}.{where}.{key}" if isinstance(key, str) else f"{field}.{where}"
            )
    both = set(update.changes).intersection(update.remove)
    if both:
        key = sorted(both)[0]
        raise ValidationError("is both set and removed", field=f"{field}.changes.{key}")
    return update


def check_change(change: StateChange) -> StateChange:
    """:func:`check_update` on each part of an append's change."""
    for name in ("thread", "user", "app"):
        update = getattr(change, name)
        if update is not None:
            check_update(update, f"state.{name}")
    return change


def empty_state(scope: StateScope, user_id: str | None) -> ScopedState:
    """A scope never written: no values, revision 0."""
    return ScopedState(scope=scope, user_id=user_id)


def state_key(scope: StateScope, user_id: str | None) -> str:
    """The stored user id column of a scope: the user's id, ``""`` for app state."""
    return user_id if scope is StateScope.USER and user_id is not None else ""


def _applied(data: Mapping[str, Any], update: StateUpdate) -> dict[str, Any]:
    if update.replace is not None:
        return dict(update.replace)
    out = {k: v for k, v in data.items() if k not in update.remove}
    out.update(update.changes)
    return out


def encode_data(data: Mapping[str, Any], limits: Limits, field: str) -> str:
    """The values as checked JSON: no NUL or lone surrogate, at most
    ``limits.max_state_bytes``.

    Raises:
        ValidationError: naming the key or ``field``.
    """
    bad = find_bad_text(dict(data), field)
    if bad is not None:
        raise ValidationError(bad[1], field=bad[0])
    try:
        text = to_json(data).decode()
    except (PydanticSerializationError, ValueError, RecursionError) as exc:
        raise ValidationError(f"cannot be encoded as JSON: {exc}", field=field) from None
    size = len(text.encode())
    if size > limits.max_state_bytes:
        raise ValidationError(
            f"is {size} bytes encoded, over the limit of {limits.max_state_bytes}", field=field
        )
    return text


def _check(state: ScopedState, expected: int | None) -> None:
    if expected is not None and state.revision != expected:
        raise StateConflictError(state.scope.value, state.user_id, expected, state.revision)


def updated_state(
    state: ScopedState, update: StateUpdate, now: dt.datetime, limits: Limits
) -> tuple[ScopedState, str]:
    """``state`` after ``update`` (revision up by one), with its stored JSON.

    Raises:
        StateConflictError: ``update.expected_revision`` is not the revision.
        ValidationError: the result is over ``max_state_bytes``.
    """
    _check(state, update.expected_revision)
    data = _applied(state.data, update)
    text = encode_data(data, limits, "state.data")
    new = state.model_copy(update={"data": data, "revision": state.revision + 1, "updated_at": now})
    return new, text


def targets(thread: Thread, change: StateChange) -> list[tuple[StateScope, str | None]]:
    """The scoped states an append's ``change`` writes: (scope, user id) pairs,
    user state before app state (the order every backend locks them in).

    Raises:
        ValidationError: a user update on a thread without a user.
    """
    out: list[tuple[StateScope, str | None]] = []
    if change.user is not None:
        if thread.user_id is None:
            raise ValidationError(
                "the thread has no user_id, so it has no user state", field="state.user"
            )
        out.append((StateScope.USER, thread.user_id))
    if change.app is not None:
        out.append((StateScope.APP, None))
    return out


def change_applies(messages: tuple[Message, ...], new: list[Message]) -> bool:
    """Whether an append's state change is applied: when the append stores a
    new message, or carries none at all. A re-sent batch whose messages are
    all stored already applied its change the first time, so it is not
    applied again."""
    return bool(new) or not messages


def apply_change(
    before: Thread,
    after: Thread,
    change: StateChange,
    stored: Mapping[tuple[StateScope, str | None], ScopedState],
    now: dt.datetime,
    limits: Limits,
    expected_revision: int | None,
) -> tuple[Thread, list[tuple[ScopedState, str]]]:
    """An append's state change: ``after`` (the thread as the append leaves it)
    with its thread state changed, and the new user and app states with their
    stored JSON, in :func:`targets` order.

    ``before`` is the thread as read: the expected revisions are checked on it
    (the append's ``expected_revision`` and that of ``change.thread``), and,
    when the append stores no message, that it is not deleted. ``stored`` holds
    the current state of each target.

    Raises:
        RevisionConflictError, StateConflictError, ThreadDeletedError,
        ValidationError.
    """
    if after is before:  # no message: the change is the write
        check_revision(before, expected_revision)
        check_writable(before)
        after = before.model_copy(
            update={"revision": before.revision + 1, "updated_at": max(now, before.updated_at)}
        )
    if change.thread is not None:
        check_revision(before, change.thread.expected_revision)
        data = _applied(before.state.data, change.thread)
        state = ThreadState(variables=after.state.variables, data=data)
        after = after.model_copy(update={"state": state})
    written = []
    for scope, user_id in targets(before, change):
        update = change.user if scope is StateScope.USER else change.app
        assert update is not None
        written.append(updated_state(stored[(scope, user_id)], update, now, limits))
    return after, written


@dataclass(frozen=True, slots=True)
class AppendPlan:
    """What an append with an optional state change writes."""

    thread: Thread
    """The thread to store."""
    stored: list[Message]
    """The new messages to store (with seq and turn)."""
    states: list[tuple[ScopedState, str]]
    """The user and app states to store, with their JSON."""
    result: list[Message]
    """The append's answer (``fill_slots``)."""
    state_changed: bool
    """Whether the thread's state changed (its stored JSON is rewritten)."""


def plan_append_change(
    thread: Thread, op: ops.Append, existing: Mapping[str, Message]
) -> tuple[list[Message], list[Message | None], StateChange | None]:
    """``plan_checked`` of an append, and the state change it applies (``None``
    when there is none or the append is a retry, see :func:`change_applies`).
    A backend then reads the states of :func:`targets` and calls
    :func:`applied_append`, unless nothing is new and no change applies."""
    new, slots = plan_checked(
        thread, op.messages, existing, op.expected_revision, importing=op.importing
    )
    change = op.state if op.state is not None and change_applies(op.messages, new) else None
    return new, slots, change


def applied_append(
    thread: Thread,
    op: ops.Append,
    new: list[Message],
    slots: list[Message | None],
    change: StateChange | None,
    states: Mapping[tuple[StateScope, str | None], ScopedState],
    now: dt.datetime,
    limits: Limits,
) -> AppendPlan:
    """``apply_append`` of the new messages and :func:`apply_change` of
    ``change`` on ``states``, the messages checked with ``encode_message``."""
    updated, stored = apply_append(thread, new, now, counter=op.counter) if new else (thread, [])
    for m in stored:
        encode_message(m, limits)
    written: list[tuple[ScopedState, str]] = []
    if change is not None:
        updated, written = apply_change(
            thread, updated, change, states, now, limits, op.expected_revision
        )
    return AppendPlan(
        updated,
        stored,
        written,
        fill_slots(slots, op.messages, stored),
        change is not None and change.thread is not None,
    )
