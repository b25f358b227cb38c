"""``convostore messages``: read the messages of a thread from the terminal.

``tail`` is the everyday view (like ``llm logs -n``): the newest N messages of a
thread, printed oldest first so the conversation reads top to bottom. It reads
only those N from the store, however long the thread is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

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
from convostore.formats import FORMATS
from convostore.model import (
    AudioPart,
    DataPart,
    FilePart,
    HostedToolPart,
    ImagePart,
    Message,
    Part,
    ReasoningPart,
    RefusalPart,
    SourcePart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from convostore.store import Store

COLUMNS = ("seq", "turn", "role", "created", "id", "content")


PREVIEW = 200
"""Characters of a tool result shown before it is cut with an ellipsis."""

TRUNCATED = 100
"""Characters of a whole message shown with ``--truncate``."""


def _clip(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "\u2026"


def _json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _part(p: Part) -> str:
    """One part as a line of text for people; tool payloads as JSON."""
    if isinstance(p, TextPart):
        return p.text
    if isinstance(p, ReasoningPart):
        return f"reasoning: {p.text}"
    if isinstance(p, ToolCallPart):
        args = "" if p.args is None else _json(p.args)
        return f"tool call ({p.tool_call_id}) {p.tool_name}({args})"
    if isinstance(p, ToolResultPart):
        label = "tool error" if p.is_error else "tool result"
        name = f" {p.tool_name}" if p.tool_name else ""
        body = "" if p.result is None else _clip(_json(p.result), PREVIEW)
        return f"{label} ({p.tool_call_id}){name}: {body}"
    if isinstance(p, ImagePart):
        return f"image: {p.alt_text or p.url or p.image_id or p.attachment or p.media_type}"
    if isinstance(p, FilePart):
        return f"file: {p.filename} ({p.mime_type}, {p.size_bytes} bytes)"
    if isinstance(p, SourcePart):
        return (
            "source: " + " ".join(x for x in (p.title, p.url) if x)
            if (p.title or p.url)
            else f"source: {p.source_id}"
        )
    if isinstance(p, AudioPart):
        return f"audio: {p.transcript or p.url or p.media_type or ''}".rstrip()
    if isinstance(p, RefusalPart):
        return f"refusal: {p.text}"
    if isinstance(p, HostedToolPart):
        name = p.tool_name or p.item_type
        status = f" [{p.status}]" if p.status else ""
        return f"hosted tool {name} ({p.provider}){status}"
    if isinstance(p, DataPart):
        return f"data {p.name}: {_clip(_json(p.data), PREVIEW)}"
    return p.code  # CodePart


def body(m: Message, *, truncate: bool = False) -> str:
    """What a message says, every part of it: text, reasoning, tool calls with their
    arguments, tool results (a preview), images and files by name.

    ``content`` alone would leave a tool call or a reasoning-only message blank, so
    the parts are shown when there are any.
    """
    text = "\n".join(_part(p) for p in m.parts) if m.parts else m.content
    if truncate:
        text = _clip(" ".join(text.split()), TRUNCATED)
    return text


def _row(m: Message, truncate: bool) -> tuple[object, ...]:
    role = m.role.value + (" (deleted)" if m.is_deleted else "")
    return (m.seq, m.turn, role, m.created_at, m.id, body(m, truncate=truncate))


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
        page = store.list_messages(
            thread_id,
            limit=min(page_size, n - got),
            cursor=cursor,
            from_end=cursor is None,
            include_deleted=include_deleted,
        )
        chunks.append(page.items)
        got += len(page.items)
        if page.prev_cursor is None or not page.items:
            break
        cursor = page.prev_cursor
    return [m for chunk in reversed(chunks) for m in chunk]


@click.group()
def messages() -> None:
    """Read and change the messages of a thread."""


@messages.command("tail")
@store_options
@click.argument("thread_id")
@click.option(
    "-n",
    "--count",
    type=click.IntRange(0),
    default=10,
    show_default=True,
    help="How many of the newest messages; 0 prints the whole thread.",
)
@click.option("--deleted", "include_deleted", is_flag=True, help="Include soft-deleted messages.")
@click.option(
    "-t",
    "--truncate",
    is_flag=True,
    help=f"Cut each message to {TRUNCATED} characters on one line.",
)
@click.option(
    "--format",
    "wire_format",
    type=click.Choice(FORMATS),
    default=None,
    help="Print the newest messages as a ready request body of this provider format "
    "(a context window: tool exchanges whole, the provider's rules applied).",
)
@click.option(
    "--max-tokens",
    type=click.IntRange(1),
    default=None,
    help="With --format: the window's token budget (default: the -n newest messages).",
)
@json_option
@jsonl_option
def tail(
    store_url: str | None,
    tenant: str,
    thread_id: str,
    count: int,
    include_deleted: bool,
    truncate: bool,
    wire_format: str | None,
    max_tokens: int | None,
    as_json: bool,
    as_jsonl: bool,
) -> None:
    """Print the newest messages of a thread, oldest first.

    Each message shows all its parts: text, reasoning, tool calls (name and
    arguments as JSON), tool results (a preview), images and files by name.
    --json and --jsonl print the messages whole. --format prints them as the
    body of a request to that provider, e.g. ``--format anthropic``.
    """
    with opened_store(store_url, tenant, create=False) as store:
        store.get_thread(thread_id)  # a missing thread is an error, not an empty tail
        if wire_format is not None:
            if max_tokens is None and count == 0:
                max_tokens = 2**62
            payload = store.context(
                thread_id,
                max_tokens=max_tokens,
                max_messages=count or None,
                format=wire_format,
            )
            click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
            return
        items: Iterable[Message]
        if count == 0:
            items = store.iter_messages(
                thread_id, include_deleted=include_deleted, batch=store.limits.max_list_limit
            )
        else:
            items = _newest(store, thread_id, count, include_deleted)
        if as_jsonl:
            emit_jsonl(items)
        elif as_json:
            emit_json({"thread_id": thread_id, "items": list(items)})
        else:
            table(COLUMNS, (_row(m, truncate) for m in items))
