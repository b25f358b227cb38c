"""The two file formats, and how a file's format is told from its name or its
first line."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator

from convostore.model import Message

__all__ = ["DEFAULT_BATCH", "JSONL_FORMAT", "Tick", "sniff_format"]

JSONL_FORMAT = "convostore.thread+jsonl"
DEFAULT_BATCH = 1000
_JSONL_SUFFIXES = (".jsonl", ".ndjson")

Tick = Callable[[int, int], None]
"""Progress callback: (bytes or messages done since the last call, messages done)."""


def _no_tick(_advance: int, _messages: int) -> None:
    pass


def sniff_format(first_line: bytes, name: str | None) -> str:
    """``jsonl`` for a ``.jsonl``/``.ndjson`` name or a JSONL header line, else ``json``."""
    if name and name.lower().endswith(_JSONL_SUFFIXES):
        return "jsonl"
    try:
        head = json.loads(first_line)
    except ValueError:
        return "json"
    return "jsonl" if isinstance(head, dict) and head.get("format") == JSONL_FORMAT else "json"


def _format_of(path: str | None, fmt: str | None) -> str:
    if fmt:
        return fmt
    return "jsonl" if path and path.lower().endswith(_JSONL_SUFFIXES) else "json"


def _chunks(items: Iterable[Message], size: int) -> Iterator[list[Message]]:
    chunk: list[Message] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
