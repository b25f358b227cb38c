"""Stores written before the live message count and the live window indexes
existed open with both: the count is filled in once, from the rows, and windows
read through the new indexes."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

from convostore import Message, Thread, open_store
from convostore.store.rules.codec import encode_message
from convostore.store.sqlite import _schema

GONE = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)


def _version_1_database(path: Path) -> None:
    """A database as convostore wrote it at schema version 1: thread ``t1`` with
    five messages, two of them soft-deleted and one archived, and an empty ``t2``."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(_schema.CREATE_MIGRATIONS_TABLE)
    for statement in _schema.MIGRATIONS[0].statements:
        conn.execute(statement)
    conn.execute(
        "INSERT INTO convostore_migrations VALUES (1, 'threads and messages', ?)",
        (GONE.isoformat(),),
    )
    for tid, count in (("t1", 5), ("t2", 0)):
        body = Thread(id=tid).model_dump_json(
            exclude={
                "revision",
                "message_count",
                "turn_count",
                "tool_call_count",
                "token_count",
                "usage",
                "cost",
                "updated_at",
                "deleted_at",
            }
        )
        conn.execute(
            "INSERT INTO threads (tenant_id, id, updated_us, revision, message_count, body) "
            "VALUES ('default', ?, 0, ?, ?, ?)",
            (tid, count, count, body),
        )
    for seq in range(1, 6):
        deleted, archived = seq in (2, 4), seq == 1
        m = Message.user(f"m{seq}", id=f"m{seq}").model_copy(
            update={
                "thread_id": "t1",
                "seq": seq,
                "turn": seq,
                "token_count": 2,
                "deleted_at": GONE if deleted else None,
                "archived_at": GONE if archived else None,
            }
        )
        conn.execute(
            "INSERT INTO messages (tenant_id, thread_id, seq, id, role, pinned, deleted, "
            "archived, body) VALUES ('default', 't1', ?, ?, 'user', 0, ?, ?, ?)",
            (seq, m.id, int(deleted), int(archived), encode_message(m)),
        )
    conn.close()


def test_sqlite_upgrade_fills_the_live_count_and_adds_the_window_indexes(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _version_1_database(path)
    with open_store(f"sqlite:///{path}") as store:
        assert store.backend.schema_version() == _schema.LATEST_VERSION
        t1, t2 = store.get_thread("t1"), store.get_thread("t2")
        assert (t1.message_count, t1.live_message_count) == (5, 3)
        assert (t2.message_count, t2.live_message_count) == (0, 0)
        store.restore_message("m2")
        store.append("t1", Message.user("m6", id="m6"))
        assert store.get_thread("t1").live_message_count == 5
        window = store.context("t1", max_messages=10)
        assert [m.id for m in window.messages] == ["m2", "m3", "m5", "m6"]
        conn = store.backend._conn()
        indexes = {
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages'"
            )
        }
    assert {"messages_live", "messages_live_mandatory"} <= indexes
    assert "messages_mandatory" not in indexes


def test_json_file_without_a_live_count_is_counted_on_open(tmp_path: Path) -> None:
    url = f"json:///{tmp_path / 'store'}"
    with open_store(url) as store:
        store.create_thread(id="t1")
        store.append("t1", [Message.user(str(i), id=f"m{i}") for i in range(4)])
        store.delete_message("m1")
        store.delete_message("m3")
    [path] = (tmp_path / "store").rglob("t1.json")
    doc = json.loads(path.read_text())
    del doc["thread"]["live_message_count"]  # as written before the count existed
    path.write_text(json.dumps(doc))
    with open_store(url) as store:
        t = store.get_thread("t1")
        assert (t.message_count, t.live_message_count) == (4, 2)
        store.restore_message("m1")
    with open_store(url) as store:
        assert store.get_thread("t1").live_message_count == 3
