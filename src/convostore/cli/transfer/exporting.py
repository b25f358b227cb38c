"""Writing a thread to a JSON or JSONL file, a page of messages at a time."""

from __future__ import annotations

import itertools
import json
from typing import IO

from convostore.cli.transfer.formats import JSONL_FORMAT, Tick, _chunks, _no_tick
from convostore.model import SNAPSHOT_VERSIONS, utcnow
from convostore.snapshot_stream import (
    JSON_TAIL,
    attachments_member,
    json_head,
    json_messages,
    past_cut,
)
from convostore.store import Store
from convostore.store.rules.attachments import refs_of

__all__ = ["export_stream"]


def export_stream(
    store: Store, thread_id: str, out: IO[bytes], fmt: str, tick: Tick = _no_tick
) -> int:
    """Write thread ``thread_id`` to ``out`` in ``fmt`` (``json`` or ``jsonl``),
    reading its messages a page at a time; return the number of messages."""
    thread = store.get_thread(thread_id)
    page = store.limits.max_list_limit
    # The attachments go before the messages: a first read collects what they reference.
    refs: dict[str, None] = {}
    for m in store.iter_messages(thread_id, include_deleted=True, batch=page):
        if past_cut(m, thread):
            break
        refs.update(dict.fromkeys(refs_of(m)))
    blobs = [store.get_attachment(ref) for ref in refs]
    # Cut at the thread as read: the file holds the messages its header counts,
    # which is what import checks.
    msgs = itertools.takewhile(
        lambda m: not past_cut(m, thread),
        store.iter_messages(thread_id, include_deleted=True, batch=page),
    )
    count = 0
    if fmt == "jsonl":
        exported_at = json.dumps(utcnow().isoformat())
        out.write(
            b'{"format":"'
            + JSONL_FORMAT.encode()
            + b'","version":%d,' % SNAPSHOT_VERSIONS[-1]
            + b'"exported_at":'
            + exported_at.encode()
            + b',"thread":'
            + thread.model_dump_json().encode()
            + attachments_member(blobs)
            + b"}\n"
        )
        for m in msgs:
            out.write(m.model_dump_json().encode() + b"\n")
            count += 1
            if count % page == 0:
                tick(page, count)
    else:
        out.write(json_head(thread, attachments=blobs))
        for chunk in _chunks(msgs, page):
            out.write(json_messages(chunk, first=count == 0))
            count += len(chunk)
            tick(len(chunk), count)
        out.write(JSON_TAIL)
    tick(count % page if fmt == "jsonl" else 0, count)
    return count
