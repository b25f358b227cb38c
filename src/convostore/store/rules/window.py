"""Reading a context window from a store in O(window).

The plan is a generator that yields operations and receives their results, so
the sync and async faces drive the very same logic. It reads the thread's
mandatory messages (system prompt and pinned) with one indexed query, then pages
backwards from the newest message through the live, unarchived messages only
(archived and deleted ones are never read), feeding a
:class:`~convostore.context.WindowSelector`, only while older messages could
still change the window. Token counts stored on the messages are used as they
are, never recounted.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from convostore.model import Message
from convostore.store import ops

if TYPE_CHECKING:
    from convostore.context import ContextWindow
    from convostore.tokens import TokenCounter

__all__ = ["DEFAULT_CONTEXT_TOKENS", "is_mandatory", "plan_context"]

#: The token budget of a window when neither ``max_tokens`` nor ``max_messages``
#: is given (the default of a conversation's ``SessionConfig``).
DEFAULT_CONTEXT_TOKENS = 8192
_FIRST_PAGE = 64
_MAX_PAGE = 1000
_decode = Message.model_validate_json


def is_mandatory(message: Message) -> bool:
    """Whether a stored message is one a window reads up front: live, not
    archived, and a system or pinned message
    (:func:`convostore.context.is_mandatory`). SQL backends keep an index of
    exactly these rows; of the system messages only the thread's first ends up
    mandatory (see :func:`convostore.context.mandatory_messages`)."""
    from convostore.context import is_mandatory as candidate

    return message.deleted_at is None and message.archived_at is None and candidate(message)


def plan_context(
    tenant: str,
    thread_id: str,
    max_tokens: int | None,
    max_messages: int | None,
    start_on_user: bool,
    counter: TokenCounter | None = None,
    framing: Callable[[Message], int] | None = None,
) -> Generator[ops.Op[Any], Any, ContextWindow]:
    """Yield the reads a window needs and return the window (``framing`` as
    for :class:`~convostore.context.WindowSelector`)."""
    from convostore.context import WindowSelector

    if max_tokens is None and max_messages is None:
        max_tokens = DEFAULT_CONTEXT_TOKENS
    size = _FIRST_PAGE if max_messages is None else min(max_messages + 1, _MAX_PAGE)
    read: ops.ContextRows = yield ops.ContextPage(
        tenant, thread_id, size, 2**63 - 1, with_mandatory=True
    )
    selector = WindowSelector(
        read.mandatory or [],
        max_tokens=max_tokens,
        max_messages=max_messages,
        start_on_user=start_on_user,
        counter=counter,
        framing=framing,
    )
    while True:
        # Decode a stored body only when the selector still wants it: a window
        # usually ends part-way through a page.
        for _, item in read.rows:
            if not selector.wants_more:
                break
            m = item if isinstance(item, Message) else _decode(item)
            if m.archived_at is None:
                selector.feed((m,))
        else:
            if len(read.rows) < size:
                return selector.finish(reached_start=True)
        if not selector.wants_more:
            return selector.finish(reached_start=False)
        before = read.rows[-1][0]
        size = min(size * 2, _MAX_PAGE)
        read = yield ops.ContextPage(tenant, thread_id, size, before)
