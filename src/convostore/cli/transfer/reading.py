"""Reading a thread out of a JSON or JSONL file as a stream: its thread, the
message count it declares, and its messages one at a time, checked for order
and without the fields the store assigns."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from convostore.cli.transfer.formats import JSONL_FORMAT
from convostore.errors import ValidationError
from convostore.model import Attachment, Message, Thread
from convostore.store.rules.snapshots import check_snapshot_version
from convostore.store.rules.validation import translate_validation

__all__ = ["Contents", "read_jsonl", "read_snapshot"]

Contents = tuple[Thread, int | None, Iterator[Message], list[int], list[Attachment]]
"""The thread, the message count it declares, its messages as read, the byte
count since the last tick, and the attachments the file carries."""
"""What a reader gives: the file's thread, the message count it declares (if
it declares one), its messages, and a one-item list that counts the bytes read
(see :func:`~convostore.cli.transfer.importing._import_staged`)."""


class _LinesReader:
    """The lines of a file as a file object again, for a streaming parser."""

    def __init__(self, lines: Iterator[bytes], sizes: list[int]) -> None:
        self._lines, self._buffer, self._sizes = lines, b"", sizes

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buffer) < n:
            line = next(self._lines, None)
            if line is None:
                break
            self._buffer += line
        out, self._buffer = (self._buffer, b"") if n < 0 else (self._buffer[:n], self._buffer[n:])
        self._sizes[0] += len(out)
        return out


_STARTS = frozenset({"start_map", "start_array"})
_ENDS = frozenset({"end_map", "end_array"})


def _json_members(fh: _LinesReader) -> Iterator[tuple[str, Any]]:
    """The members of a snapshot document as it is read: ``(key, value)`` for each
    top-level member but ``messages``, and ``("messages.item", value)`` for each
    message, one at a time, so no more than one message is held."""
    import ijson  # type: ignore[import-untyped]

    try:
        yield from _members_of(ijson, ijson.parse(fh, use_float=True))
    except (ijson.JSONError, UnicodeError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValidationError(f"not a JSON document: {detail}", field="file") from None


def _members_of(ijson: Any, events: Iterator[tuple[str, str, Any]]) -> Iterator[tuple[str, Any]]:
    try:
        _, event, _ = next(events)
    except StopIteration:
        raise ValidationError("the file is empty", field="file") from None
    if event != "start_map":
        raise ValidationError("must be a JSON object (a conversation snapshot)", field="file")
    key: str | None = None
    builder: Any = None
    depth = 0
    for prefix, event, value in events:
        if builder is None:
            if prefix == "":
                if event == "map_key":
                    key = value
                continue  # the end of the document
            if key == "messages" and prefix == "messages":
                if event not in ("start_array", "end_array"):
                    raise ValidationError("must be an array", field="messages")
                continue
            if event not in _STARTS:
                yield ("messages.item" if key == "messages" else str(key)), value
                continue
            builder, depth = ijson.ObjectBuilder(), 0
        builder.event(event, value)
        depth += 1 if event in _STARTS else -1 if event in _ENDS else 0
        if depth == 0:
            yield ("messages.item" if key == "messages" else str(key)), builder.value
            builder = None


def read_snapshot(lines: Iterator[bytes]) -> Contents:
    """A snapshot document, read as a stream: the members before the messages
    (version, thread) first, then the messages one at a time, as they are
    consumed."""
    sizes = [0]
    members = _json_members(_LinesReader(lines, sizes))
    header: dict[str, Any] = {}
    pins: list[bool] = []
    first: Any = None
    try:
        for key, value in members:
            if key == "messages.item":
                first = value
                break
            header[key] = value
    except ValueError as exc:  # ijson's errors are ValueErrors
        raise ValidationError(f"not a JSON document: {exc}", field="file") from None
    if header.get("format") == JSONL_FORMAT:
        raise ValidationError("is a JSONL export; import it with --format jsonl", field="file")
    if "version" not in header:
        raise ValidationError(
            "missing snapshot version (before the messages); is this a convostore export?",
            field="file",
        )
    check_snapshot_version(header)
    if not isinstance(header.get("thread"), dict):
        raise ValidationError("missing the thread object before the messages", field="file")
    with translate_validation("file.thread"):
        source = Thread.model_validate(header["thread"])
    blobs = _attachments(header.get("attachments"), "file.attachments")

    def messages() -> Iterator[Message]:
        item, position = first, 0
        try:
            while item is not None or position == 0:
                if item is None:
                    break
                with translate_validation(f"file.messages.{position}"):
                    msg = Message.model_validate(item)
                pins.append(msg.pinned)
                position += 1
                if msg.seq is not None and msg.seq != position:
                    raise ValidationError(
                        f"seq {msg.seq} is out of order: expected {position}",
                        field=f"messages.{position - 1}",
                    )
                msg.thread_id = msg.seq = msg.turn = None
                yield msg
                item = None
                for key, value in members:
                    if key == "messages.item":
                        item = value
                        break
                    header[key] = value
        except ValueError as exc:
            if isinstance(exc, ValidationError):
                raise
            raise ValidationError(f"not a JSON document: {exc}", field="file") from None
        # A "pinned" array (older HTTP exports) must agree with the messages' flags.
        pinned = header.get("pinned")
        if pinned is not None and pinned != pins and any(pinned):
            raise ValidationError(
                "the pinned array disagrees with the messages' own pinned flags", field="pinned"
            )

    return source, _declared_count(header["thread"]), messages(), sizes, blobs


def read_jsonl(lines: Iterator[bytes]) -> Contents:
    """A JSONL file: its header line, then its messages one line at a time, as
    they are consumed."""
    source, header_size, declared, blobs = _read_header(lines)
    sizes = [header_size]
    return source, declared, _read_messages(lines, sizes), sizes, blobs


def _attachments(raw: Any, field: str) -> list[Attachment]:
    """The attachments a file's head carries (each checked against its hash)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValidationError("must be an array of attachments", field=field)
    out = []
    for i, item in enumerate(raw):
        with translate_validation(f"{field}.{i}"):
            out.append(Attachment.model_validate(item))
    return out


def _json_line(raw: bytes, lineno: int) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ValidationError(f"not JSON: {exc}", field=f"line {lineno}") from None


def _declared_count(thread: Any) -> int | None:
    """The message count a file's thread object declares, if it declares one."""
    count = thread.get("message_count") if isinstance(thread, dict) else None
    return count if type(count) is int and count >= 0 else None


def _read_header(lines: Iterator[bytes]) -> tuple[Thread, int, int | None, list[Attachment]]:
    """The thread of the header line, the header's size in bytes, and the message
    count the header declares."""
    first = next(lines, b"")
    if not first.strip():
        raise ValidationError("the file is empty; expected a JSONL header", field="line 1")
    header = _json_line(first, 1)
    if not isinstance(header, dict) or header.get("format") != JSONL_FORMAT:
        raise ValidationError(f'is not a header with "format": "{JSONL_FORMAT}"', field="line 1")
    if "version" not in header:
        raise ValidationError("missing version", field="line 1")
    check_snapshot_version(header)
    if not isinstance(header.get("thread"), dict):
        raise ValidationError("missing the thread object", field="line 1")
    with translate_validation("line 1.thread"):
        thread = Thread.model_validate(header["thread"])
    blobs = _attachments(header.get("attachments"), "line 1.attachments")
    return thread, len(first), _declared_count(header["thread"]), blobs


def _read_messages(lines: Iterator[bytes], sizes: list[int]) -> Iterator[Message]:
    """Messages of the lines after the header, checked for seq order, without the
    fields the store assigns; adds each line's size to ``sizes[0]``."""
    position = 0
    for lineno, raw in enumerate(lines, start=2):
        sizes[0] += len(raw)
        if not raw.strip():
            continue
        with translate_validation(f"line {lineno}"):
            msg = Message.model_validate_json(raw)
        position += 1
        if msg.seq is not None and msg.seq != position:
            raise ValidationError(
                f"seq {msg.seq} is out of order: expected {position}", field=f"line {lineno}"
            )
        # Assigned by the store; cleared in place, as a copy would cost more than
        # the parse on million-message imports.
        msg.thread_id = msg.seq = msg.turn = None
        yield msg
