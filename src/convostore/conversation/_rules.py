"""The pure rules of a conversation handle, shared by both faces.

What the ``max_messages`` limit needs to remember of the active history
(:class:`Tail`) and which of its oldest messages leave (:func:`to_retire`);
the changes a state write applies (:func:`set_var` and friends); building a
message from ``add(role, text)``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from pydantic import JsonValue, TypeAdapter

from convostore.context import is_reasoning_only, result_ids
from convostore.errors import ValidationError
from convostore.model import Message, Role, ThreadState
from convostore.store.rules.validation import translate_validation

__all__ = [
    "Entry",
    "Tail",
    "clear_state",
    "message_of",
    "pop_data",
    "pop_var",
    "set_data",
    "set_var",
    "to_retire",
]


@dataclass(frozen=True, slots=True)
class Entry:
    """What the limit rule needs to know of an active message."""

    id: str
    seq: int
    is_assistant: bool
    results: tuple[str, ...]
    reasoning_only: bool

    @classmethod
    def of(cls, m: Message) -> Entry:
        return cls(
            m.id, m.seq or 0, m.role is Role.ASSISTANT, tuple(result_ids(m)), is_reasoning_only(m)
        )


@dataclass(slots=True)
class Tail:
    """What a handle remembers of its thread's active history: the messages that
    count against ``max_messages`` (live, not archived, neither pinned nor
    system), oldest first, and the newest seq it knows of."""

    last_seq: int
    active: deque[Entry]
    protected_calls: set[str]  # call ids of the pinned and system messages seen


def to_retire(active: Sequence[Entry], excess: int, protected_calls: set[str]) -> int:
    """How many of the oldest ``active`` messages (oldest first) leave so that
    ``excess`` of them do and the history left starts at a clean point: not on
    a tool result whose call left (a result answers the nearest call before
    it, so none that stays can answer it, only a pinned one), and not on the
    message a reasoning-only message that left was reasoning for."""
    k = excess
    while k < len(active):
        head = active[k]
        if head.results and not all(a in protected_calls for a in head.results):
            k += 1
            continue
        if k > 0 and active[k - 1].reasoning_only and head.is_assistant:
            k += 1
            continue
        break
    return k


def message_of(role: Role | str, text: str, fields: dict[str, Any]) -> Message:
    """The message ``add(role, text, **fields)`` appends."""
    with translate_validation("message"):
        return Message(role=Role(role), content=text, **fields)


def _dump(value: Any) -> JsonValue:
    with translate_validation("value"):
        return cast(JsonValue, TypeAdapter(type(value)).dump_python(value, mode="json"))


def _check_key(key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise ValidationError("must be a non-empty string", field="key")
    return key


def set_var(key: str, value: str) -> Callable[[ThreadState], None]:
    """The change that sets string variable ``key`` (checked now, applied per attempt)."""
    _check_key(key)
    if not isinstance(value, str):
        raise ValidationError("variables are strings; use set_data for other values", field="value")
    return lambda s: s.variables.__setitem__(key, value)


def set_data(key: str, value: Any) -> Callable[[ThreadState], None]:
    """The change that stores ``value`` (as JSON) under data ``key``."""
    _check_key(key)
    dumped = _dump(value)
    return lambda s: s.data.__setitem__(key, dumped)


def pop_var(key: str) -> Callable[[ThreadState], None]:
    """The change that removes variable ``key`` if it is set."""
    return lambda s: s.variables.__delitem__(key) if key in s.variables else None


def pop_data(key: str) -> Callable[[ThreadState], None]:
    """The change that removes data ``key`` if it is set."""
    return lambda s: s.data.__delitem__(key) if key in s.data else None


def clear_state(s: ThreadState) -> None:
    """The change that empties variables and data."""
    s.variables.clear()
    s.data.clear()
