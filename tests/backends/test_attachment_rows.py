"""The same bytes in many messages take one row, on both SQL engines; the
message rows hold only the reference."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import convostore
from convostore import ImagePart, Message

IMAGE = b"\x89PNG" + bytes(range(256)) * 64


def test_one_image_in_a_thousand_messages_is_stored_once(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    with convostore.open_store(f"sqlite:///{db}") as store:
        thread = store.create_thread()
        for start in range(0, 1000, 100):
            store.append(
                thread.id,
                [
                    Message.user(str(i)).with_parts(ImagePart(data=IMAGE))
                    for i in range(start, start + 100)
                ],
            )
    with sqlite3.connect(db) as conn:
        blobs = conn.execute("SELECT count(*), sum(length(data)) FROM attachments").fetchone()
        refs = conn.execute("SELECT count(*) FROM attachment_refs").fetchone()[0]
        largest = conn.execute("SELECT max(length(body)) FROM messages").fetchone()[0]
    assert blobs == (1, len(IMAGE))
    assert refs == 1000
    assert largest < 512  # a reference, not the 16 KiB of bytes
