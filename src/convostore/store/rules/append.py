"""Appending: idempotent re-sends, seq and turn assignment, and the counters.

A backend reads the thread and the stored messages whose ids are in the batch,
plans with :func:`plan_checked`, stores what :func:`apply_append` returns and
answers with :func:`fill_slots`. ``message_count`` is also the last seq handed
out, so seq stays gap-free.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from convostore.errors import (
    DuplicateMessageError,
    ValidationError,
)
from convostore.model import (
    _NO_USAGE,
    CostInfo,
    Message,
    Thread,
    TokenUsage,
)
from convostore.store.rules.validation import check_revision, check_writable

if TYPE_CHECKING:
    from convostore.tokens import TokenCounter


#: Fields a client sets on a message; a re-sent id must match on these to count
#: as the same message. Fields the store assigns or may fill in are left out.
CLIENT_FIELDS: set[str] = set(
    {
        "role",
        "name",
        "tool_call_id",
        "parts",
        "content",
        "execution_id",
        "parent_id",
        "parent_type",
        "pinned",
        "metadata",
        "native",
        "request_digest",
    }
)


def same_content(a: Message, b: Message) -> bool:
    return a.model_dump(include=CLIENT_FIELDS) == b.model_dump(include=CLIENT_FIELDS)


def plan_append(
    thread_id: str,
    batch: Iterable[Message],
    existing: Mapping[str, Message],
) -> tuple[list[Message], list[Message | None]]:
    """Split a batch into messages to insert and ones already stored.

    Args:
        thread_id: the thread appended to.
        batch: the messages as sent, in order.
        existing: stored messages of this tenant whose id is in the batch.

    Returns:
        ``(new, slots)``: the messages to insert, and for each message of the
        batch either the stored message it duplicates or ``None`` for a new one.

    Raises:
        DuplicateMessageError: an id is stored with other content or in another
            thread, or repeated within the batch with other content.
    """
    new: list[Message] = []
    slots: list[Message | None] = []
    seen: dict[str, Message] = {}
    for msg in batch:
        if msg.thread_id is not None and msg.thread_id != thread_id:
            raise ValidationError(
                f"belongs to thread {msg.thread_id!r}, not {thread_id!r}",
                field=f"messages.{msg.id}.thread_id",
            )
        stored = existing.get(msg.id)
        if stored is not None:
            if stored.thread_id != thread_id:
                raise DuplicateMessageError(msg.id, "in another thread")
            if not same_content(stored, msg):
                raise DuplicateMessageError(msg.id)
            slots.append(stored)
            continue
        twin = seen.get(msg.id)
        if twin is not None:
            if not same_content(twin, msg):
                raise DuplicateMessageError(msg.id, "earlier in the same batch")
            slots.append(None)
            continue
        seen[msg.id] = msg
        new.append(msg)
        slots.append(None)
    return new, slots


def plan_checked(
    thread: Thread,
    batch: Iterable[Message],
    existing: Mapping[str, Message],
    expected_revision: int | None,
    *,
    importing: bool = False,
) -> tuple[list[Message], list[Message | None]]:
    """:func:`plan_append` on ``thread``, then, if anything is new, the checks a
    write must pass: the expected revision and a thread that is not deleted (or,
    ``importing``, one that is an import in progress)."""
    new, slots = plan_append(thread.id, batch, existing)
    if new:
        check_revision(thread, expected_revision)
        check_writable(thread, importing=importing)
    return new, slots


def fill_slots(
    slots: list[Message | None], batch: Iterable[Message], stored: list[Message]
) -> list[Message]:
    """An append's answer: for each message sent, the stored copy, whether it was
    stored before (its slot) or now (in ``stored``)."""
    by_id = {m.id: m for m in stored}
    return [s if s is not None else by_id[m.id] for s, m in zip(slots, batch, strict=True)]


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one message adds to its thread's counters."""

    tool_calls: int
    tokens: int
    usage: TokenUsage
    cost: CostInfo | None


def contribution(msg: Message) -> Contribution:
    meta = msg.metadata
    return Contribution(
        tool_calls=sum(1 for p in msg.parts if p.type == "tool-call"),
        tokens=msg.token_count or 0,
        usage=meta.token_usage.totals() if meta.token_usage else TokenUsage(),
        cost=meta.cost,
    )


def add_cost(total: CostInfo, cost: CostInfo | None, sign: int = 1) -> CostInfo:
    if cost is None:
        return total
    currency = total.currency
    empty = total.total_cost == 0 and total.input_cost == 0 and total.output_cost == 0
    if empty and sign > 0:
        currency = cost.currency
    elif cost.currency != total.currency:
        currency = "mixed"
    return CostInfo(
        input_cost=total.input_cost + sign * cost.input_cost,
        output_cost=total.output_cost + sign * cost.output_cost,
        total_cost=total.total_cost + sign * cost.total_cost,
        currency=currency,
    )


@dataclass(frozen=True, slots=True)
class BatchDelta:
    """What a batch of new messages adds to its thread's counters."""

    count: int
    turns: int
    tool_calls: int
    tokens: int
    usage: TokenUsage
    cost: CostInfo | None


def batch_delta(
    new: list[Message], counts: list[tuple[int, str] | None] | None = None
) -> BatchDelta:
    """The counter changes ``new`` makes; ``counts`` fills in missing token counts."""
    count = turns = tool_calls = tokens = prompt = completion = total = 0
    cost: CostInfo | None = None
    for i, msg in enumerate(new):
        count += 1
        if msg.opens_turn:
            turns += 1
        for part in msg.parts:
            if part.type == "tool-call":
                tool_calls += 1
        counted = counts[i] if counts is not None else None
        tokens += counted[0] if counted is not None else (msg.token_count or 0)
        meta = msg.metadata
        if meta.token_usage is not None:
            prompt += meta.token_usage.prompt_tokens
            completion += meta.token_usage.completion_tokens
            total += meta.token_usage.total_tokens
        if meta.cost is not None:
            cost = meta.cost if cost is None else add_cost(cost, meta.cost)
    usage = (
        TokenUsage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=total)
        if prompt or completion or total
        else _NO_USAGE
    )
    return BatchDelta(count, turns, tool_calls, tokens, usage, cost)


def token_counts(
    new: list[Message], counter: TokenCounter | None = None
) -> list[tuple[int, str] | None]:
    """For each message without a ``token_count``, its count and the counter used.

    Counts are stored once, at append, so reading a context window never
    recounts: provider-reported usage where it measures the message itself,
    else ``counter`` (the store's; the heuristic when ``None``). See
    :func:`convostore.tokens.count_batch`.
    """
    from convostore.tokens import count_batch

    return [None if tc is None else (tc.tokens, tc.counter) for tc in count_batch(new, counter)]


def assign(
    new: list[Message],
    thread_id: str,
    count_before: int,
    turns_before: int,
    counts: list[tuple[int, str] | None] | None = None,
    imported_pins: list[bool] | None = None,
) -> list[Message]:
    """Give the new messages their thread id, seq (from ``count_before + 1``), turn
    and, from ``counts``, the token counts they were missing.

    An appended message starts unedited and live. An imported one keeps its own
    times and deletion mark and takes its pinned flag from ``imported_pins``.
    """
    seq, turn = count_before, turns_before
    out = []
    for i, msg in enumerate(new):
        seq += 1
        if msg.opens_turn:
            turn += 1
        update: dict[str, Any] = {"thread_id": thread_id, "seq": seq, "turn": turn}
        if imported_pins is None:
            update["updated_at"] = update["deleted_at"] = None
        else:
            update["pinned"] = imported_pins[i]
        counted = counts[i] if counts is not None else None
        if counted is not None:
            update["token_count"], update["token_counter"] = counted
        out.append(msg.model_copy(update=update))
    return out


def apply_append(
    thread: Thread,
    new: list[Message],
    now: dt.datetime,
    imported_pins: list[bool] | None = None,
    counter: TokenCounter | None = None,
) -> tuple[Thread, list[Message]]:
    """Assign seq, turn and thread id to ``new`` and advance the counters.

    ``message_count`` is also the last seq handed out, so seq stays gap-free; the
    counters count every message appended, soft-deleted ones included, except
    ``live_message_count``, which counts the stored messages not soft-deleted
    (every appended one; an imported one unless it carries a deletion mark) and
    moves with :func:`message_deleted` and :func:`message_restored`.
    ``imported_pins`` marks an import (see :func:`assign`); ``counter`` counts
    the messages that carry no count (see :func:`token_counts`).
    """
    counts = token_counts(new, counter)
    d = batch_delta(new, counts)
    stored = assign(new, thread.id, thread.message_count, thread.turn_count, counts, imported_pins)
    updated = thread.model_copy(
        update={
            "message_count": thread.message_count + d.count,
            "live_message_count": thread.live_message_count
            + sum(1 for m in stored if m.deleted_at is None),
            "turn_count": thread.turn_count + d.turns,
            "tool_call_count": thread.tool_call_count + d.tool_calls,
            "token_count": thread.token_count + d.tokens,
            "usage": thread.usage + d.usage,
            "cost": add_cost(thread.cost, d.cost),
            "revision": thread.revision + 1,
            "updated_at": max(now, thread.updated_at),
        }
    )
    return updated, stored
