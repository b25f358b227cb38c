"""Context windows: the newest messages of a thread that fit a model's budget.

The seeds trimmed context by dropping the oldest messages one at a time, which
routinely cut a tool call away from its results (every provider rejects that)
and counted tokens by string length. This module is the pure, I/O-free rule
that every store and the conversation layer share:

* the system prompt and pinned messages are always in; if they alone exceed
  the budget, :class:`~convostore.errors.ContextBudgetError` says by how much;
* the rest of the window is a contiguous run of the newest messages;
* a tool call and all of its results are in or out together, parallel calls
  included, and a reasoning-only message stays with the message it precedes;
* a tool exchange that cannot be completed (a result whose call is gone, a
  call still waiting for its results) is left out rather than sent broken;
* optionally the window starts on a user message.

:func:`select_window` pulls messages newest-first from a lazy iterable and stops
as soon as the budget is spent, so a store feeding it page by page reads
O(window) messages. It reads the token counts stored on each message and only
counts a message that has none.

:func:`validate_context` checks a list of messages against the tool-pairing
rules of OpenAI Chat Completions, OpenAI Responses and Anthropic Messages.

:func:`explain_window` chooses the window of messages in memory and says of
each message whether it is in, and if not why (budget, unpaired tool
exchange, archived, deleted), with its token count.
"""

from convostore.context.explain import (
    ExclusionReason,
    WindowEntry,
    WindowExplanation,
    explain_window,
)
from convostore.context.shapes import (
    call_ids,
    is_mandatory,
    is_reasoning_only,
    mandatory_messages,
    result_ids,
    shape_of,
)
from convostore.context.validate import DIALECTS, ContextIssue, Dialect, validate_context
from convostore.context.window import (
    ContextWindow,
    WindowSelector,
    select_messages,
    select_window,
)

__all__ = [
    "DIALECTS",
    "ContextIssue",
    "ContextWindow",
    "Dialect",
    "ExclusionReason",
    "WindowEntry",
    "WindowExplanation",
    "WindowSelector",
    "call_ids",
    "explain_window",
    "is_mandatory",
    "is_reasoning_only",
    "mandatory_messages",
    "result_ids",
    "select_messages",
    "select_window",
    "shape_of",
    "validate_context",
]
