"""Explaining a window: which messages of a thread a context window takes,
which it leaves out and why (:func:`explain_window`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from convostore.context.window import ContextWindow, framed_count, select_messages
from convostore.model import Message
from convostore.tokens import TokenCounter

__all__ = ["ExclusionReason", "WindowEntry", "WindowExplanation", "explain_window"]

ExclusionReason = Literal["budget", "unpaired", "archived", "deleted"]
"""Why a message is not in the window:

* ``budget``: it is older than what the budget holds (or than the user
  message a window that must start on one starts with);
* ``unpaired``: its tool exchange is incomplete (a result whose call is gone,
  a call without its results, reasoning that nothing follows);
* ``archived`` and ``deleted``: windows never take such messages.
"""


class WindowEntry(BaseModel):
    """One message of the thread and what the window does with it."""

    model_config = ConfigDict(frozen=True)

    message: Message
    included: bool
    reason: ExclusionReason | None = None
    """Why it is left out; ``None`` when it is in."""
    tokens: int
    """What the message costs in the window's count (its framing included)."""


class WindowExplanation(BaseModel):
    """The window and, for every message given, whether it is in and why not."""

    model_config = ConfigDict(frozen=True)

    window: ContextWindow
    entries: list[WindowEntry] = Field(default_factory=list)
    """The messages given, in their order (oldest first)."""

    @property
    def included(self) -> list[WindowEntry]:
        return [e for e in self.entries if e.included]

    @property
    def excluded(self) -> list[WindowEntry]:
        return [e for e in self.entries if not e.included]


def explain_window(
    messages: Sequence[Message],
    *,
    max_tokens: int | None = None,
    max_messages: int | None = None,
    start_on_user: bool = False,
    format: str | None = None,
    counter: TokenCounter | None = None,
) -> WindowExplanation:
    """Choose the window of ``messages`` and say, for each, whether it is in.

    A pure function over a thread (or its newest part) already in memory,
    oldest first, deleted and archived messages included or not: the window is
    :func:`select_messages`'s, under the rules and framing of ``format``
    (``openai-chat``, ``anthropic``, ... as for ``store.context(format=...)``)
    when one is given.

    Raises:
        ContextBudgetError: the system prompt and pinned messages alone exceed
            a budget.
        ValidationError: a budget is not a non-negative integer, or the format
            is unknown.
    """
    frame = None
    if format is not None:
        from convostore.formats import format_name
        from convostore.formats.window import RULES, framing

        name = format_name(format)
        frame = framing(name)
        start_on_user = start_on_user or RULES[name].user_first
    window = select_messages(
        messages,
        max_tokens=max_tokens,
        max_messages=max_messages,
        start_on_user=start_on_user,
        counter=counter,
        framing=frame,
    )
    chosen = set(window.ids)
    omitted = set(window.omitted)
    entries = []
    for m in messages:
        tokens = framed_count(m, counter, frame)[0]
        reason: ExclusionReason | None = None
        if m.id in chosen:
            pass
        elif m.deleted_at is not None:
            reason = "deleted"
        elif m.archived_at is not None:
            reason = "archived"
        elif m.id in omitted:
            reason = "unpaired"
        else:
            reason = "budget"
        entries.append(
            WindowEntry(message=m, included=reason is None, reason=reason, tokens=tokens)
        )
    return WindowExplanation(window=window, entries=entries)
