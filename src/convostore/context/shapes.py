"""The shapes of messages a window must respect: tool calls and their
results, reasoning-only messages, and the mandatory messages (system prompt,
pinned)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from convostore.model import Message, ReasoningPart, Role, ToolCallPart, ToolResultPart


def call_ids(message: Message) -> list[str]:
    """Ids of the tool calls a message makes."""
    return [p.tool_call_id for p in message.parts if isinstance(p, ToolCallPart)]


def result_ids(message: Message) -> list[str]:
    """Ids of the tool calls a message answers (its tool-result parts, or the
    ``tool_call_id`` of a tool message without such parts)."""
    ids = [p.tool_call_id for p in message.parts if isinstance(p, ToolResultPart)]
    if not ids and message.role is Role.TOOL and message.tool_call_id:
        ids.append(message.tool_call_id)
    return ids


def is_reasoning_only(message: Message) -> bool:
    """An assistant message holding nothing but reasoning (a Responses-style
    reasoning item), which belongs with the assistant message after it."""
    return (
        message.role is Role.ASSISTANT
        and bool(message.parts)
        and all(isinstance(p, ReasoningPart) for p in message.parts)
    )


def shape_of(message: Message) -> tuple[list[str], list[str], bool]:
    """``call_ids``, ``result_ids`` and ``is_reasoning_only`` of a message, from
    one pass over its parts (the selector asks all three of every message)."""
    calls: list[str] = []
    results: list[str] = []
    reasoning_only = bool(message.parts) and message.role is Role.ASSISTANT
    for p in message.parts:
        if isinstance(p, ReasoningPart):
            continue
        reasoning_only = False
        if isinstance(p, ToolCallPart):
            calls.append(p.tool_call_id)
        elif isinstance(p, ToolResultPart):
            results.append(p.tool_call_id)
    if not results and message.role is Role.TOOL and message.tool_call_id:
        results.append(message.tool_call_id)
    return calls, results, reasoning_only


def is_mandatory(message: Message) -> bool:
    """Whether a live message may be mandatory in a window: a system message or a
    pinned one. These are the candidates a store reads up front; of the system
    messages only the thread's first is mandatory (see :func:`mandatory_messages`)."""
    return message.role is Role.SYSTEM or message.pinned


def mandatory_messages(
    candidates: Sequence[Message], *, position: Callable[[Message], int | None] | None = None
) -> list[Message]:
    """The messages that must be in every window, from the candidates of
    :func:`is_mandatory` (a thread's live system and pinned messages, in seq
    order): the system prompt, which is the earliest live system message, and
    the pinned messages. A later system message is ordinary history.

    ``position`` gives a message's place in the thread (default: its ``seq``);
    without one, the candidates' order is taken as the thread's.
    """
    pos = position or (lambda m: m.seq)
    systems = [m for m in candidates if m.role is Role.SYSTEM]
    system: Message | None = None
    if systems:
        if all(pos(m) is not None for m in systems):
            system = min(systems, key=lambda m: pos(m) or 0)
        else:
            system = systems[0]
    return [m for m in candidates if m.pinned or m is system]
