"""The physical shape both SQL engines store, and rows back into models.

A thread row keeps what every append changes in columns of its own - the
revision, ``updated_at``, ``deleted_at`` and the counters
(:data:`COLUMN_FIELDS`) - and the rest of the thread as JSON in ``body``. An
append then moves a few integers and never rewrites the JSON. A message row
keeps its whole JSON in ``body`` beside the columns the queries filter on,
among them three flags: ``pinned``, ``deleted`` (soft-deleted) and
``archived``.

Reading a thread splices the columns into the body's JSON by name and
validates the text once: ``Thread.model_validate_json`` on one string is
quicker than building the model from a dict, and a listing validates all its
rows in one call. The engines format the two times as ISO-8601 UTC text in
SQL, so no ``datetime`` is built and re-rendered on the way.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import TypeAdapter

from convostore.model import Message, Thread
from convostore.store.rules.codec import encode_thread
from convostore.store.settings import Limits
from convostore.store.sql.statements import MessageRow

__all__ = [
    "COLUMN_FIELDS",
    "THREAD_READ",
    "counter_values",
    "decode_message",
    "decode_thread",
    "decode_threads",
    "message_row",
    "thread_body",
    "thread_json",
    "thread_values",
]

#: Thread fields kept in columns of their own rather than in the JSON body.
COLUMN_FIELDS = frozenset(
    {
        "revision",
        "message_count",
        "live_message_count",
        "turn_count",
        "tool_call_count",
        "token_count",
        "usage",
        "cost",
        "updated_at",
        "deleted_at",
    }
)

#: The columns of a thread read, in this order, in every engine. The times are
#: ISO-8601 UTC text (``2024-05-01T12:00:00.000000Z``), ``deleted_at`` NULL
#: while the thread is live.
THREAD_READ = (
    "updated_at",
    "deleted_at",
    "revision",
    "message_count",
    "live_message_count",
    "turn_count",
    "tool_call_count",
    "token_count",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "input_cost",
    "output_cost",
    "total_cost",
    "currency",
    "body",
)

#: Where ``body`` is in a THREAD_READ row.
BODY = THREAD_READ.index("body")

decode_message = Message.model_validate_json
_THREAD_LIST = TypeAdapter(list[Thread])


def thread_body(thread: Thread, limits: Limits) -> str:
    """The ``body`` column of ``thread``: its JSON without :data:`COLUMN_FIELDS`.

    The whole thread is checked first (text rules and size limit), exactly as
    every other backend checks it."""
    encode_thread(thread, limits)
    return thread.model_dump_json(exclude=set(COLUMN_FIELDS))


def counter_values(thread: Thread, time: Callable[[dt.datetime], Any]) -> dict[str, Any]:
    """The columns an append writes, by name: the times, the revision and the
    counters (``deleted_at`` is written as it is: an append never changes it)."""
    u, c = thread.usage, thread.cost
    return {
        "updated_at": time(thread.updated_at),
        "deleted_at": None if thread.deleted_at is None else time(thread.deleted_at),
        "revision": thread.revision,
        "message_count": thread.message_count,
        "live_message_count": thread.live_message_count,
        "turn_count": thread.turn_count,
        "tool_call_count": thread.tool_call_count,
        "token_count": thread.token_count,
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "total_tokens": u.total_tokens,
        "input_cost": c.input_cost,
        "output_cost": c.output_cost,
        "total_cost": c.total_cost,
        "currency": c.currency,
    }


def thread_values(thread: Thread, body: str, time: Callable[[dt.datetime], Any]) -> dict[str, Any]:
    """Every column of the thread row, by name (``body`` from :func:`thread_body`)."""
    values = counter_values(thread, time)
    values.update(
        tenant_id=thread.tenant_id,
        id=thread.id,
        user_id=thread.user_id,
        agent_name=thread.agent_name,
        created_at=time(thread.created_at),
        root_id=thread.root_thread_id,
        body=body,
    )
    return values


def thread_json(row: Sequence[Any]) -> str:
    """A thread's full JSON from a THREAD_READ row.

    The counters are spliced in as JSON (``repr`` of a float round-trips
    exactly). Usage and cost at zero are left out: the model's shared zero
    values stand in for them, and a thread without them validates in about
    two thirds of the time.
    """
    (
        updated_at,
        deleted_at,
        revision,
        message_count,
        live_message_count,
        turn_count,
        tool_call_count,
        token_count,
        prompt_tokens,
        completion_tokens,
        total_tokens,
        input_cost,
        output_cost,
        total_cost,
        currency,
        body,
    ) = row
    usage = cost = ""
    if prompt_tokens or completion_tokens or total_tokens:
        usage = (
            f',"usage":{{"prompt_tokens":{prompt_tokens},'
            f'"completion_tokens":{completion_tokens},"total_tokens":{total_tokens}}}'
        )
    if input_cost or output_cost or total_cost or currency != "USD":
        cost = (
            f',"cost":{{"input_cost":{input_cost!r},"output_cost":{output_cost!r},'
            f'"total_cost":{total_cost!r},"currency":{json.dumps(currency)}}}'
        )
    deleted = "null" if deleted_at is None else f'"{deleted_at}"'
    return (
        f'{body[:-1]},"updated_at":"{updated_at}","deleted_at":{deleted},'
        f'"revision":{revision},"message_count":{message_count},'
        f'"live_message_count":{live_message_count},"turn_count":{turn_count},'
        f'"tool_call_count":{tool_call_count},"token_count":{token_count}{usage}{cost}}}'
    )


def decode_thread(row: Sequence[Any]) -> Thread:
    """A thread from a THREAD_READ row."""
    return Thread.model_validate_json(thread_json(row))


def decode_threads(rows: Sequence[Sequence[Any]]) -> list[Thread]:
    """Threads from THREAD_READ rows, validated in one call."""
    if not rows:
        return []
    return _THREAD_LIST.validate_json("[" + ",".join(map(thread_json, rows)) + "]")


def message_row(m: Message, body: str) -> MessageRow:
    """The columns of a message row (``body`` from ``encode_message``)."""
    return (
        m.seq or 0,
        m.id,
        m.role.value,
        m.execution_id,
        m.created_at,
        m.pinned,
        m.deleted_at is not None,
        m.archived_at is not None,
        body,
    )
