"""The stored JSON form of threads and messages, and the storage form of times.

Every backend stores a message as the text :func:`encode_message` returns and
reads it back with ``Message.model_validate_json``; fields at their defaults
are left out, so a body is small and quick to parse.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import pydantic
from pydantic_core import PydanticSerializationError, from_json

from convostore.errors import (
    ValidationError,
)
from convostore.model import (
    _NO_COST,
    _NO_METADATA,
    _NO_USAGE,
    Message,
    TextPart,
    Thread,
    _text_of,
)
from convostore.store.rules.validation import find_bad_text
from convostore.store.settings import DEFAULT_LIMITS, Limits

if TYPE_CHECKING:
    pass


def _encode_checked(
    obj: pydantic.BaseModel, what: str, max_bytes: int, exclude: set[str] | None = None
) -> str:
    """Serialise ``obj`` once, refusing text that no backend can store alike.

    PostgreSQL cannot store NUL in text or jsonb and no UTF-8 store can hold a
    lone surrogate, so both are refused everywhere rather than working on some
    backends only.
    """
    try:
        text = obj.model_dump_json(exclude=exclude)
    except (PydanticSerializationError, RecursionError, ValueError) as exc:
        found = find_bad_text(obj, "")
        if found:
            raise ValidationError(found[1], field=f"{what}.{found[0]}") from None
        raise ValidationError(f"cannot be encoded as JSON: {exc}", field=what) from None
    # NUL shows as an escape; a lone surrogate in a dict key is silently written
    # as U+FFFD by the serialiser, so either mark sends us to the exact check.
    if "\\u0000" in text or "\ufffd" in text:
        found = find_bad_text(obj, "")
        if found:
            raise ValidationError(found[1], field=f"{what}.{found[0]}")
    if len(text) > max_bytes:  # characters <= bytes; check bytes only when close
        size = len(text.encode("utf-8"))
        if size > max_bytes:
            raise ValidationError(
                f"is {size} bytes encoded, over the limit of {max_bytes}", field=what
            )
    return text


#: Message fields left out of the stored JSON while they are ``None``.
_OPTIONAL_FIELDS = (
    "name",
    "tool_call_id",
    "execution_id",
    "parent_id",
    "parent_type",
    "native",
    "request_digest",
    "token_count",
    "token_counter",
    "updated_at",
    "deleted_at",
    "archived_at",
)


def _plain(part: TextPart) -> bool:
    """Whether a text part holds its text alone, as ``content`` would rebuild it."""
    return not (
        part.citations
        or part.provider_id is not None
        or part.status is not None
        or part.signature is not None
        or part.provider_metadata
    )


def encode_message(message: Message, limits: Limits = DEFAULT_LIMITS) -> str:
    """The message as checked JSON, in its lean stored form.

    Fields at their defaults (``None``, empty metadata, ``pinned`` false) are
    left out: validating the JSON gives back the same message, and a body half
    the size is parsed in half the time on every read.
    """
    exclude = {f for f in _OPTIONAL_FIELDS if getattr(message, f) is None}
    if not message.pinned:
        exclude.add("pinned")
    if message.metadata is _NO_METADATA or message.metadata == _NO_METADATA:
        exclude.add("metadata")
    # ``content`` and ``parts`` derive from each other when one is absent:
    # store a text only once.
    parts, content = message.parts, message.content
    if (
        content
        and len(parts) == 1
        and isinstance(parts[0], TextPart)
        and parts[0].text == content
        and _plain(parts[0])
    ):
        exclude.add("parts")
    elif parts and content == _text_of(parts):
        exclude.add("content")
    return _encode_checked(message, "message", limits.max_message_bytes, exclude)


def encode_thread(
    thread: Thread, limits: Limits = DEFAULT_LIMITS, exclude: set[str] | None = None
) -> str:
    """The thread as checked JSON, optionally without ``exclude``d fields.

    Usage and cost at zero are left out: validating the JSON gives back the
    model's shared zero values, and skips building two objects per thread read.
    """
    lean = set(exclude) if exclude else set()
    if thread.usage is _NO_USAGE or thread.usage == _NO_USAGE:
        lean.add("usage")
    if thread.cost is _NO_COST or thread.cost == _NO_COST:
        lean.add("cost")
    return _encode_checked(thread, "thread", limits.max_thread_bytes, lean or None)


def bodies_as_dicts(bodies: Iterable[str]) -> list[dict[str, Any]]:
    """Stored message bodies as plain dicts: the fast path of a whole-thread read.

    pydantic-core's JSON parser reads these bodies in about half the time the
    standard library's ``json.loads`` takes, and shares the repeated short
    strings (keys, roles, counter names) between the dicts.
    """
    return list(map(from_json, bodies))


def as_stored_dicts(messages: Iterable[Message]) -> list[dict[str, Any]]:
    """Messages as plain dicts in their stored JSON form (defaults left out)."""
    return bodies_as_dicts(encode_message(m) for m in messages)


@contextlib.contextmanager
def collector_paused(enabled: bool) -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a whole thread is decoded,
    if ``enabled`` (the store's ``StoreSettings.pause_gc_on_load``, off unless
    the caller opts in: the collector is the process's, not the store's).

    Building tens of thousands of objects that all stay alive sets off full
    collections that walk the growing result again and again: pausing the
    collector saves about half of a typed load of 100,000 messages (the new
    objects are still walked once when it comes back on). Reference counting
    frees memory as usual meanwhile; only cycles wait. The collector is
    switched back on when the block ends, error or not, unless it was already
    off when the block began (then it is left off).
    """
    paused = enabled and gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def to_us(value: dt.datetime) -> int:
    """Microseconds since the epoch: the storage and cursor form of a time."""
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(value: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=value)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
