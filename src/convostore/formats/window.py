"""Context windows in a provider's wire format: the rules each format puts
on the window, the tokens its framing costs, and the plan that reads a
window and converts it (``store.context(thread_id, format=...)``).

What each format needs of a window, beyond what every window keeps (the
system prompt and pinned messages, tool calls with all their results, a
reasoning-only message with the message it precedes):

================== ===========================================================
``openai-chat``    nothing more; the converter merges a message's parallel
                   calls into one assistant message, one tool message a result
``openai-responses`` nothing more; reasoning items stay before the call or
                   reply they precede (the window keeps them together)
``anthropic``      the first message after the system prompt is the user's;
                   the converter makes roles alternate and groups tool
                   results into one user turn
``gemini``         the first content is the user's; thought signatures stay
                   on their parts
``vercel-ui``      nothing more
================== ===========================================================

Budgets count each message's stored token count (which includes OpenAI
Chat's framing of 3 tokens a message) plus :func:`framing` of the target
format: the tokens the format spends on the items or blocks the message
becomes. The figures are approximations of each provider's accounting,
documented in ``docs/formats/index.md``; the exact count of a request is
the provider's.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from convostore.formats._common import DropReport, FormatName, format_name
from convostore.model import (
    Attachment,
    HostedToolPart,
    Message,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from convostore.store import ops
from convostore.store.rules.attachments import referenced
from convostore.store.rules.window import plan_context

if TYPE_CHECKING:
    from convostore.tokens import TokenCounter

__all__ = ["RULES", "FormatRules", "framing", "plan_format_context"]

#: What a stored token count already spends on framing (OpenAI Chat's rule).
_CHAT_FRAMING = 3


@dataclass(frozen=True, slots=True)
class FormatRules:
    """What a format asks of a window."""

    user_first: bool
    """The first message after the system prompt must be the user's."""
    per_item: int
    """Tokens of framing per item or block a message becomes."""


RULES: dict[FormatName, FormatRules] = {
    "openai-chat": FormatRules(user_first=False, per_item=3),
    "openai-responses": FormatRules(user_first=False, per_item=4),
    "anthropic": FormatRules(user_first=True, per_item=3),
    "gemini": FormatRules(user_first=True, per_item=2),
    "vercel-ui": FormatRules(user_first=False, per_item=0),
}


def _items(message: Message, format: FormatName) -> int:
    """How many items (Responses, Chat) or blocks (Anthropic, Gemini parts)
    ``message`` becomes in ``format``; at least one."""
    parts = message.parts
    if format == "openai-chat":
        results = sum(1 for p in parts if isinstance(p, ToolResultPart))
        return max(1, results)
    if format == "openai-responses":
        n, text_ids = 0, set()
        for p in parts:
            if isinstance(p, TextPart):
                text_ids.add(p.provider_id)
            elif isinstance(p, ReasoningPart | ToolCallPart | ToolResultPart | HostedToolPart):
                n += 1
        return max(1, n + len(text_ids))
    return max(1, len(parts))


def framing(format: str) -> Callable[[Message], int]:
    """The tokens to add to a message's stored count for ``format``'s framing
    (negative where the format frames a message more cheaply than Chat)."""
    name = format_name(format)
    per = RULES[name].per_item

    one = per - _CHAT_FRAMING

    def extra(message: Message) -> int:
        # A message of one part (or none) is one item or block in every format.
        if len(message.parts) < 2:
            return one
        return per * _items(message, name) - _CHAT_FRAMING

    return extra


def plan_format_context(
    tenant: str,
    thread_id: str,
    max_tokens: int | None,
    max_messages: int | None,
    start_on_user: bool,
    counter: TokenCounter | None,
    format: str,
    report: DropReport | None,
) -> Generator[ops.Op[Any], Any, Any]:
    """Yield the reads a window in ``format`` needs and return its payload:
    the window chosen under the format's rules and framing, the attachments
    its messages reference read, and the messages converted."""
    from convostore.formats import to_format

    name = format_name(format)
    rules = RULES[name]
    window = yield from plan_context(
        tenant,
        thread_id,
        max_tokens,
        max_messages,
        start_on_user or rules.user_first,
        counter,
        framing(name),
    )
    blobs: dict[str, bytes] = {}
    for ref in referenced(window.messages):
        found: Attachment = yield ops.GetAttachment(tenant, ref)
        blobs[ref] = bytes(found.data)
    # A window drops what the provider cannot take (reasoning for Chat, another
    # provider's hosted tools) by design: reported only when asked.
    return to_format(
        window.messages,
        name,
        report=report if report is not None else DropReport(target=name),
        attachments=blobs.__getitem__,
    )
