"""Cursors and pages, the same on every backend.

Backends fetch one row more than the page size (``limit + 1``) so that the
presence of a further page is known without a count, and turn the rows into a
:class:`~convostore.model.Page` with :func:`thread_page` or :func:`message_page`.
A cursor is client input: :func:`decode_cursor` checks every value it holds
before a backend sees it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from convostore.errors import (
    ValidationError,
)
from convostore.model import (
    Message,
    Page,
    Thread,
    is_identifier,
)
from convostore.store import ops
from convostore.store.rules.codec import to_us

if TYPE_CHECKING:
    pass


def encode_cursor(kind: str, key: list[Any]) -> str:
    # UTF-8, not \u escapes: a cursor holding a 255-character non-ASCII id stays
    # under 1,400 characters (escaped, up to 12 bytes a character, it would not).
    raw = json.dumps([kind, *key], separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


#: The largest signed 64-bit integer: the widest value SQLite and PostgreSQL
#: store in an integer column (seq, revision, times in microseconds).
INT64_MAX = 2**63 - 1


#: The longest cursor accepted. The longest the store makes, a messages cursor
#: of a 255-character id of 4-byte characters, is about 1,430 characters.
MAX_CURSOR_LENGTH = 4096


#: The times a cursor may hold, in microseconds: those of a ``datetime``.
_US_RANGE = (
    to_us(dt.datetime.min.replace(tzinfo=dt.UTC)),
    to_us(dt.datetime.max.replace(tzinfo=dt.UTC)),
)


CursorField = Literal["id", "seq", "time", "direction", "score"]
"""What one value of a cursor is: an id (the id rule), a seq (an integer
0..2**63-1), a time (an integer of microseconds within the range of a
``datetime``), a paging direction (``"after"`` or ``"before"``) or a search
score (a finite number)."""


def _is_int_in(value: Any, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high  # bool is not a seq or a time


def _cursor_value_ok(value: Any, field: CursorField) -> bool:
    if field == "id":
        return is_identifier(value)
    if field == "seq":
        return _is_int_in(value, 0, INT64_MAX)
    if field == "time":
        return _is_int_in(value, *_US_RANGE)
    if field == "score":
        return type(value) in (int, float) and math.isfinite(value)
    return isinstance(value, str) and value in ("after", "before")


def decode_cursor(cursor: str, kind: str, fields: Sequence[CursorField]) -> list[Any]:
    """Decode a cursor made by :func:`encode_cursor` for a listing of ``kind``.

    The values are checked against ``fields``, one per value, before any
    backend sees them: a cursor is client input, and a crafted one (a seq past
    64 bits, ``true`` for a number, an id with a NUL) must be refused the same
    way on every backend rather than reach a driver.

    Raises:
        ValidationError: with ``field="cursor"``, for anything but a cursor of
            this listing holding values of the right kinds.
    """
    if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR_LENGTH:
        raise ValidationError("malformed cursor", field="cursor")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeError, RecursionError):
        raise ValidationError("malformed cursor", field="cursor") from None
    if not isinstance(data, list) or len(data) != len(fields) + 1 or data[0] != kind:
        raise ValidationError(f"not a cursor of this {kind} listing", field="cursor")
    values = data[1:]
    if not all(_cursor_value_ok(v, f) for v, f in zip(values, fields, strict=True)):
        raise ValidationError("malformed cursor", field="cursor")
    return values


def thread_page(rows: list[Thread], limit: int) -> Page[Thread]:
    """``rows``: up to ``limit + 1`` threads, newest activity first."""
    items = rows[:limit]
    nxt = None
    if len(rows) > limit and items:
        last = items[-1]
        nxt = encode_cursor("threads", [to_us(last.updated_at), last.id])
    return Page[Thread](items=items, next_cursor=nxt)


def message_page(rows: list[Message], op: ops.ListMessages) -> Page[Message]:
    """``rows``: up to ``limit + 1`` messages, ascending seq when paging forward
    (``before_seq`` unset), descending when paging backward."""
    more = len(rows) > op.limit
    items = rows[: op.limit]
    backward = op.before_seq is not None
    if backward:
        items.reverse()
    nxt = prev = None
    if items:
        first, last = items[0].seq or 0, items[-1].seq or 0
        if backward:
            if more:
                prev = encode_cursor("messages", [op.thread_id, "before", first])
            if op.before_seq is not None and op.before_seq < 2**63 - 1:
                nxt = encode_cursor("messages", [op.thread_id, "after", last])
        else:
            if more:
                nxt = encode_cursor("messages", [op.thread_id, "after", last])
            if op.after_seq > 0:
                prev = encode_cursor("messages", [op.thread_id, "before", first])
    return Page[Message](items=items, next_cursor=nxt, prev_cursor=prev)
