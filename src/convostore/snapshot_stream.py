"""A thread written as a snapshot document a piece at a time.

:class:`~convostore.model.ConversationSnapshot` holds a whole thread in memory;
a long thread is better written out as its messages are read, a page at a
time, so that the memory an export costs does not depend on the thread's
length. The pieces here make the same JSON document as
``ConversationSnapshot.model_dump_json()`` gives (members in another order,
and without ``pinned``, which import takes from each message's own flag):
``convostore export`` writes them to a file and the server's
``GET /v1/threads/{id}/export`` streams them to the client.

Reading a thread page by page is not one transaction, so a snapshot is cut at
the thread as read first: messages appended while the export runs (their seq
is past the thread's ``message_count``) are left out, and the document is a
thread with the counts its header says.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence

from convostore.model import SNAPSHOT_VERSIONS, Attachment, Message, Thread, utcnow

__all__ = ["JSON_TAIL", "attachments_member", "json_head", "json_messages", "past_cut"]

JSON_TAIL = b"\n]}\n"
"""What closes a snapshot document after its last message."""


def json_head(
    thread: Thread,
    exported_at: dt.datetime | None = None,
    attachments: Sequence[Attachment] = (),
) -> bytes:
    """The start of the document: version, time of export, thread, the
    attachments its messages reference (before them, so that an import reading
    the document as a stream has the bytes before the first message naming
    them), and the opening of the messages array."""
    when = json.dumps((exported_at or utcnow()).isoformat())
    return (
        b'{"version":%d,"exported_at":' % SNAPSHOT_VERSIONS[-1]
        + when.encode()
        + b',"thread":'
        + thread.model_dump_json().encode()
        + attachments_member(attachments)
        + b',"messages":['
    )


def attachments_member(attachments: Sequence[Attachment]) -> bytes:
    """``,"attachments":[...]`` for a document's head; empty without any."""
    if not attachments:
        return b""
    return b',"attachments":[' + b",".join(a.model_dump_json().encode() for a in attachments) + b"]"


def json_messages(messages: Iterable[Message], *, first: bool) -> bytes:
    """Messages as members of the messages array; ``first`` when none came before."""
    out = bytearray()
    for m in messages:
        out += b"\n" if first else b",\n"
        out += m.model_dump_json().encode()
        first = False
    return bytes(out)


def past_cut(message: Message, thread: Thread) -> bool:
    """Whether ``message`` was appended after ``thread`` was read for the snapshot."""
    return message.seq is not None and message.seq > thread.message_count
