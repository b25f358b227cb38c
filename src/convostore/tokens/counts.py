"""Which count a message gets: the one it carries, the provider's usage where
it measures the message itself, or the store's counter."""

from __future__ import annotations

import math
from typing import Any

from convostore.model import Message, Role
from convostore.tokens.counter import TokenCount, TokenCounter, is_estimate
from convostore.tokens.heuristic import HEURISTIC

__all__ = [
    "CEILING_RATIO",
    "CEILING_SLACK",
    "FLOOR_RATIO",
    "count_batch",
    "text_floor",
    "token_count_for",
    "with_token_count",
]


#: A count never goes below this share of the estimate from the text.
FLOOR_RATIO = 0.5
#: Provider usage above ``CEILING_RATIO * estimate + CEILING_SLACK`` measures
#: more than the message (hidden reasoning, or a completion split over several
#: stored messages): the estimate is used instead.
CEILING_RATIO = 3.0
CEILING_SLACK = 16


def text_floor(message: Message) -> int:
    """The least a message can cost, from its text: :data:`FLOOR_RATIO` of the
    heuristic count. No count stored by a store falls below it."""
    return math.ceil(HEURISTIC.count_message(message) * FLOOR_RATIO)


def _usage_measures(message: Message, estimate: int) -> int | None:
    """The provider's completion tokens, when they measure ``message`` itself.

    They do for an assistant reply that is the whole output of one completion:
    completion tokens are what the model generated for it, tool calls and any
    reasoning the message carries included. They do not when the figure is
    implausible for the text (``estimate``, the heuristic count): below
    :data:`FLOOR_RATIO` of it (a 3,000-word reply reported as 1 token), or far
    above it (reasoning the message does not carry and a model is not sent
    back, or one usage copied onto every message a completion was split into).
    """
    usage = message.metadata.token_usage
    if message.role is not Role.ASSISTANT or usage is None or usage.completion_tokens <= 0:
        return None
    reported = usage.completion_tokens
    if (
        reported < math.ceil(estimate * FLOOR_RATIO)
        or reported > estimate * CEILING_RATIO + CEILING_SLACK
    ):
        return None
    return reported


def token_count_for(message: Message, counter: TokenCounter | None = None) -> TokenCount:
    """The token count to store with ``message``, and where it came from.

    Precedence: a count already on the message (the caller's word, kept as
    given); the completion tokens the provider reported for an assistant
    reply, only where they measure the message itself (never below
    :func:`text_floor`, see :func:`_usage_measures`); else ``counter``
    (default: the heuristic).
    """
    if message.token_count is not None:
        name = message.token_counter or "unspecified"
        return TokenCount(message.token_count, name, is_estimate(name))
    return _count(message, counter if counter is not None else HEURISTIC, shared=False)


def _count(message: Message, counter: TokenCounter, shared: bool) -> TokenCount:
    counted = counter.count_message(message)
    if not shared and message.metadata.token_usage is not None:
        estimate = counted if counter is HEURISTIC else HEURISTIC.count_message(message)
        reported = _usage_measures(message, estimate)
        if reported is not None:
            provider = message.metadata.provider
            return TokenCount(reported, f"usage:{provider}" if provider else "usage", False)
    return TokenCount(counted, counter.name, counter.estimate)


def count_batch(
    messages: list[Message], counter: TokenCounter | None = None
) -> list[TokenCount | None]:
    """:func:`token_count_for` for a batch about to be appended (``None`` for a
    message that already carries its count).

    A provider usage found on two or more messages of the batch belongs to
    the completion they were split from, not to any one of them: those
    messages are counted from their text.
    """
    c = counter if counter is not None else HEURISTIC
    seen: dict[Any, int] = {}
    for m in messages:
        u = m.metadata.token_usage
        if m.token_count is None and u is not None and u.completion_tokens > 0:
            key = (u.prompt_tokens, u.completion_tokens, u.total_tokens)
            seen[key] = seen.get(key, 0) + 1
    out: list[TokenCount | None] = []
    for m in messages:
        if m.token_count is not None:
            out.append(None)
            continue
        u = m.metadata.token_usage
        shared = (
            u is not None
            and seen.get((u.prompt_tokens, u.completion_tokens, u.total_tokens), 0) > 1
        )
        out.append(_count(m, c, shared))
    return out


def with_token_count(message: Message, counter: TokenCounter | None = None) -> Message:
    """``message`` with ``token_count`` and ``token_counter`` filled in, ready to append.

    A message that already carries a count and its counter is returned as is.
    """
    if message.token_count is not None and message.token_counter is not None:
        return message
    tc = token_count_for(message, counter)
    return message.model_copy(update={"token_count": tc.tokens, "token_counter": tc.counter})
