"""``convostore messages``: read the messages of a thread from the terminal.

``tail`` is the everyday view (like ``llm logs -n``): the newest N messages of a
thread, printed oldest first so the conversation reads top to bottom. It reads
only those N from the store, however long the thread is.
"""

from __future__ import annotations

from collections.abc import Iterable

import click

from convostore.cli._common import (
    emit_json,
    emit_jsonl,
    json_option,
    jsonl_option,
    opened_store,
    store_options,
    table,
)
from convostore.model import Message
from convostore.store import Store

COLUMNS = ("seq", "turn", "role", "created", "id", "content")


def _body(m: Message) -> str:
    if m.content:
        return m.content
    bits = []
    for p in m.parts:
        if p.type == "tool-call":
            bits.append(f"[tool-call {p.tool_name}({p.args})]")
        elif p.type == "tool-result":
            bits.append(f"[tool-result {p.tool_name or p.tool_call_id}: {p.result}]")
        else:
            bits.append(f"[{p.type}]")
    return " ".join(bits)


def _row(m: Message) -> tuple[object, ...]:
    role = m.role.value + (" (deleted)" if m.is_deleted else "")
    return (m.seq, m.turn, role, m.created_at, m.id, _body(m))


def _newest(store: Store, thread_id: str, n: int, include_deleted: bool) -> list[Message]:
    """The newest ``n`` messages, oldest first, paging back from the end past the
    per-call list limit; reads O(n) messages."""
    page_size = store.limits.max_list_limit
    if n <= page_size:
        return store.recent(thread_id, n, include_deleted=include_deleted)
    chunks: list[list[Message]] = []
    got = 0
    cursor: str | None = None
    while got < n:
        page = store.list_messages(thread_id, limit=min(page_size, n - got), cursor=cursor,
                                   from_end=cursor is None, include_deleted=include_deleted)
        chunks.append(page.items)
        got += len(page.items)
        if page.prev_cursor is None or not page.items:
            break
        cursor = page.prev_cursor
    return [m for chunk in reversed(chunks) for m in chunk]


@click.group()
def messages() -> None:
    """Read the messages of a thread."""


@messages.command("tail")
@store_options
@click.argument("thread_id")
@click.option("-n", "--count", type=click.IntRange(0), default=10, show_default=True,
              help="How many of the newest messages; 0 prints the whole thread.")
@click.option("--deleted", "include_deleted", is_flag=True,
              help="Include soft-deleted messages.")
@json_option
@jsonl_option
def tail(store_url: str | None, tenant: str, thread_id: str, count: int,
         include_deleted: bool, as_json: bool, as_jsonl: bool) -> None:
    """Print the newest messages of a thread, oldest first."""
    with opened_store(store_url, tenant) as store:
        store.get_thread(thread_id)  # a missing thread is an error, not an empty tail
        items: Iterable[Message]
        if count == 0:
            items = store.iter_messages(thread_id, include_deleted=include_deleted,
                                        batch=store.limits.max_list_limit)
        else:
            items = _newest(store, thread_id, count, include_deleted)
        if as_jsonl:
            emit_jsonl(items)
        elif as_json:
            emit_json({"thread_id": thread_id, "items": list(items)})
        else:
            table(COLUMNS, (_row(m) for m in items))
