"""Attachments in writes: moving inline bytes out of parts, and the
references a message holds.

A write whose messages carry bytes (``data`` of an image, audio or file part,
also inside a tool result) is split in two: the bytes become
:class:`~convostore.model.Attachment` records, stored first, and the parts
keep only their reference. A message stays small, and bytes already stored
for the tenant are not stored again.

The bytes and the references are written in one operation before the
messages (``ops.Attach``), so a write that then fails leaves at most bytes
nothing references yet; ``purge_attachments`` removes those once they are
older than its grace period. Nothing acknowledged ever points at missing
bytes: ``Attach`` refuses a reference to bytes the tenant does not hold.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from convostore.errors import AttachmentTooLargeError
from convostore.model import (
    BINARY_PARTS,
    Attachment,
    FilePart,
    Message,
    ToolResultPart,
    attachment_ref,
)
from convostore.store.settings import Limits

__all__ = [
    "GRACE",
    "Extracted",
    "check_size",
    "extract",
    "extract_parts",
    "referenced",
    "refs_of",
]

#: How old an unreferenced attachment must be before ``purge_attachments``
#: removes it by default: long past any write in flight.
GRACE = dt.timedelta(hours=1)

_BINARY = BINARY_PARTS


@dataclass(frozen=True, slots=True)
class Extracted:
    """A batch with its bytes moved out.

    Attributes:
        messages: the messages, their binary parts holding references only.
        blobs: the distinct attachments their inline bytes made.
        refs: every (message id, reference) pair the batch holds.
    """

    messages: tuple[Message, ...]
    blobs: tuple[Attachment, ...]
    refs: tuple[tuple[str, str], ...]


def _media_type(part: Any) -> str:
    kind = part.mime_type if isinstance(part, FilePart) else part.media_type
    return kind or "application/octet-stream"


def check_size(size: int, limits: Limits, field: str) -> None:
    """Refuse ``size`` bytes over ``limits.max_attachment_bytes``, naming ``field``."""
    if size > limits.max_attachment_bytes:
        raise AttachmentTooLargeError(size, limits.max_attachment_bytes, field=field)


def _moved(part: Any, blobs: dict[str, Attachment], limits: Limits, where: str) -> Any:
    data = bytes(part.data)
    check_size(len(data), limits, where)
    ref = attachment_ref(data)
    if ref not in blobs:
        blobs[ref] = Attachment(
            ref=ref, media_type=_media_type(part), size_bytes=len(data), data=data
        )
    update: dict[str, Any] = {"data": None, "attachment": ref}
    if not part.size_bytes:
        update["size_bytes"] = len(data)
    return part.model_copy(update=update)


def _binary_of(part: Any) -> Iterable[Any]:
    if isinstance(part, _BINARY):
        yield part
    elif isinstance(part, ToolResultPart) and part.content:
        for item in part.content:
            if isinstance(item, _BINARY):
                yield item


def refs_of(message: Message) -> list[str]:
    """The attachment references ``message`` holds, in part order, each once."""
    out: dict[str, None] = {}
    for part in message.parts:
        for b in _binary_of(part):
            if b.attachment is not None:
                out[b.attachment] = None
    return list(out)


def referenced(messages: Iterable[Message]) -> list[str]:
    """Every attachment reference of ``messages``, each once, in order."""
    out: dict[str, None] = {}
    for m in messages:
        if _has_binary(m):
            out.update(dict.fromkeys(refs_of(m)))
    return list(out)


def _has_binary(message: Message) -> bool:
    for part in message.parts:
        if isinstance(part, _BINARY):
            if part.data is not None or part.attachment is not None:
                return True
        elif isinstance(part, ToolResultPart) and part.content:
            for b in _binary_of(part):
                if b.data is not None or b.attachment is not None:
                    return True
    return False


def extract_parts(
    parts: Sequence[Any], blobs: dict[str, Attachment], limits: Limits, where: str
) -> list[Any] | None:
    """``parts`` with their inline bytes moved into ``blobs``, or ``None`` when
    none holds any. ``where`` names the parts in errors (``messages.0.parts``)."""
    out: list[Any] | None = None
    for j, part in enumerate(parts):
        moved = part
        if isinstance(part, _BINARY) and part.data is not None:
            moved = _moved(part, blobs, limits, f"{where}.{j}.data")
        elif isinstance(part, ToolResultPart) and any(
            isinstance(c, _BINARY) and c.data is not None for c in part.content
        ):
            content = [
                _moved(c, blobs, limits, f"{where}.{j}.content.{k}.data")
                if isinstance(c, _BINARY) and c.data is not None
                else c
                for k, c in enumerate(part.content)
            ]
            moved = part.model_copy(update={"content": content})
        if moved is not part:
            if out is None:
                out = list(parts)
            out[j] = moved
    return out


def extract(
    messages: Sequence[Message],
    limits: Limits,
    *,
    field: str = "messages",
    blobs: Iterable[Attachment] = (),
) -> Extracted | None:
    """The batch with its inline bytes moved into attachments, or ``None``
    when no message holds bytes or references and no ``blobs`` are given
    (the common case, checked in one pass over the parts). ``blobs`` are
    attachments given beside the messages (those of a snapshot).

    Raises:
        AttachmentTooLargeError: bytes over ``limits.max_attachment_bytes``,
            naming the part.
    """
    given = {b.ref: b for b in blobs}
    if not given and not any(_has_binary(m) for m in messages):
        return None
    for b in given.values():
        check_size(b.size_bytes, limits, "attachments")
    found: dict[str, Attachment] = dict(given)
    out: list[Message] = []
    refs: list[tuple[str, str]] = []
    for i, m in enumerate(messages):
        parts = extract_parts(m.parts, found, limits, f"{field}.{i}.parts")
        moved = m if parts is None else m.model_copy(update={"parts": parts})
        out.append(moved)
        refs.extend((m.id, ref) for ref in refs_of(moved))
    return Extracted(tuple(out), tuple(found.values()), tuple(refs))
