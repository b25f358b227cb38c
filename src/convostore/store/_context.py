"""Reading a context window from a store in O(window).

The plan is a generator that yields operations and receives their results, so
the sync and async faces drive the very same logic. It reads the thread's
mandatory messages (system prompt and pinned) with one indexed query, then pages
backwards from the newest message only until the budget is exceeded: a window is
a contiguous run of the newest messages, so nothing older could fit. Token
counts stored on the messages are used as they are, never recounted.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from convostore.errors import ValidationError
from convostore.model import Message
from convostore.store import _ops as ops

if TYPE_CHECKING:
    from convostore.context import ContextWindow
    from convostore.tokens import TokenCounter

__all__ = ["DEFAULT_CONTEXT_TOKENS", "plan_context"]

#: The token budget of a window when neither ``max_tokens`` nor ``max_messages``
#: is given (the default of a conversation's ``SessionConfig``).
DEFAULT_CONTEXT_TOKENS = 8192
_FIRST_PAGE = 64
_MAX_PAGE = 1000


def _check_budget(value: int | None, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError("must be a positive integer", field=field)
    return value


def plan_context(
    tenant: str,
    thread_id: str,
    max_tokens: int | None,
    max_messages: int | None,
    start_on_user: bool,
    counter: TokenCounter | None = None,
) -> Generator[ops.Op[Any], Any, ContextWindow]:
    """Yield the reads a window needs and return the window."""
    from convostore.context import select_window
    from convostore.tokens import token_count_for

    max_tokens = _check_budget(max_tokens, "max_tokens")
    max_messages = _check_budget(max_messages, "max_messages")
    if max_tokens is None and max_messages is None:
        max_tokens = DEFAULT_CONTEXT_TOKENS

    mandatory: list[Message] = yield ops.Mandatory(tenant, thread_id)
    pinned_ids = {m.id for m in mandatory}
    tokens = 0
    count = 0
    newest_first: list[Message] = []
    before = 2**63 - 1
    size = _FIRST_PAGE if max_messages is None else min(max_messages + 1, _MAX_PAGE)
    while True:
        page = yield ops.ListMessages(tenant, thread_id, size, 0, before, False)
        for msg in reversed(page.items):
            if msg.archived_at is not None:
                continue
            newest_first.append(msg)
            if msg.id not in pinned_ids:
                tokens += token_count_for(msg, counter)[0]
                count += 1
        enough = (max_tokens is not None and tokens > max_tokens) or (
            max_messages is not None and count > max_messages)
        if enough or page.prev_cursor is None or not page.items:
            break
        before = page.items[0].seq or 0
        size = min(size * 2, _MAX_PAGE)
    return select_window(mandatory, newest_first, max_tokens=max_tokens,
                         max_messages=max_messages, start_on_user=start_on_user,
                         counter=counter)
