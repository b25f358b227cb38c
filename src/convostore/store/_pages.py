"""Turning fetched rows into pages with cursors, the same way on every backend.

Backends fetch one row more than the page size (``limit + 1``) so that the
presence of a further page is known without a count.
"""

from __future__ import annotations

from convostore.model import Message, Page, Thread
from convostore.store import _ops as ops
from convostore.store._logic import encode_cursor, to_us

__all__ = ["message_page", "thread_page"]


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
