"""PostgreSQL: the live message count and the window indexes, on new and upgraded schemas.

A window must read only the rows it may use (live, not archived) through an
index that holds exactly them; the plans are checked here, on a thread whose
history is almost all archived, instead of with timings.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import psycopg
import pytest

from convostore import ConversationSnapshot, Message, SchemaTooOldError, Thread
from convostore.store import open_store
from convostore.store.postgres.migrations import BOOTSTRAP, MIGRATIONS, quote_ident, render
from convostore.store.rules.codec import encode_message

pytestmark = pytest.mark.postgres

GONE = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)


def _version_1_schema(url: str, schema: str) -> None:
    """A schema as convostore wrote it at version 1: thread ``t1`` with five
    messages, two soft-deleted, one archived; an empty thread ``t2``."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {quote_ident(schema)}".encode())
        for stmt in (*BOOTSTRAP, *MIGRATIONS[0].statements):
            conn.execute(render(stmt, schema).encode())
        q = quote_ident(schema)
        conn.execute(
            f"INSERT INTO {q}.convostore_migrations (version, name) "
            "VALUES (1, 'threads and messages')".encode()
        )
        for tid, count in (("t1", 5), ("t2", 0)):
            thread = Thread(id=tid, message_count=count, revision=count)
            body = thread.model_dump_json(exclude={"live_message_count"})
            assert "live_message_count" not in body
            conn.execute(
                f"INSERT INTO {q}.convostore_threads (tenant_id, id, created_at, updated_at, "
                "revision, body) VALUES ('default', %s, %s, %s, %s, %s::json)".encode(),
                (tid, thread.created_at, thread.updated_at, count, body),
            )
        for seq in range(1, 6):
            deleted = GONE if seq in (2, 4) else None
            m = Message.user(f"m{seq}", id=f"m{seq}").model_copy(
                update={
                    "thread_id": "t1",
                    "seq": seq,
                    "turn": seq,
                    "token_count": 2,
                    "deleted_at": deleted,
                    "archived_at": GONE if seq == 1 else None,
                }
            )
            conn.execute(
                f"INSERT INTO {q}.convostore_messages (tenant_id, thread_id, seq, id, role, "
                "created_at, deleted_at, body) VALUES ('default', 't1', %s, %s, 'user', %s, "
                "%s, %s::json)".encode(),
                (seq, m.id, m.created_at, deleted, encode_message(m)),
            )


def _indexes(url: str, schema: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = %s", (schema,)
        ).fetchall()
    return {r[0] for r in rows}


def test_upgrade_fills_the_live_count_and_adds_the_window_indexes(pg_url: str, schema: str) -> None:
    _version_1_schema(pg_url, schema)
    with pytest.raises(SchemaTooOldError) as info:  # upgrades are explicit
        open_store(pg_url, schema=schema)
    assert info.value.found == 1
    with open_store(pg_url, schema=schema, check_schema=False) as s:
        assert s.backend.migrate() == [m.version for m in MIGRATIONS[1:]]
    with open_store(pg_url, schema=schema) as store:
        t1, t2 = store.get_thread("t1"), store.get_thread("t2")
        assert (t1.message_count, t1.live_message_count) == (5, 3)
        assert (t2.message_count, t2.live_message_count) == (0, 0)
        store.restore_message("m2")
        store.append("t1", Message.user("m6", id="m6"))
        assert store.get_thread("t1").live_message_count == 5
        window = store.context("t1", max_messages=10)
        assert [m.id for m in window.messages] == ["m2", "m3", "m5", "m6"]
    indexes = _indexes(pg_url, schema)
    assert {"convostore_messages_live", "convostore_messages_live_mandatory"} <= indexes
    assert "convostore_messages_mandatory" not in indexes


def _plan(conn: psycopg.Connection[Any], statement: bytes, params: dict[str, Any]) -> str:
    row = conn.execute(b"EXPLAIN (FORMAT JSON) " + statement, params).fetchone()
    assert row is not None
    return json.dumps(row[0])


def test_window_reads_use_the_live_indexes(pg_url: str, schema: str, store: Any) -> None:
    n = 5000
    msgs = [Message.system("sys", id="s")] + [
        Message.user(f"message {i}", id=f"m{i}").model_copy(
            update={
                "archived_at": GONE if i < n - 60 else None,
                "deleted_at": GONE if n - 60 <= i < n - 50 else None,
            }
        )
        for i in range(n)
    ]
    store.import_thread(ConversationSnapshot(thread=Thread(id="big"), messages=msgs))
    store.import_thread(
        ConversationSnapshot(
            thread=Thread(id="small"),
            messages=[Message.user(f"x{i}", id=f"x{i}") for i in range(50)],
        )
    )
    assert store.get_thread("big").live_message_count == n + 1 - 10
    sq = store.backend.statements
    params = {"tenant": "default", "thread": "big", "before": 2**63 - 1, "limit": 64}
    with psycopg.connect(pg_url) as conn:
        conn.execute(f"ANALYZE {sq.messages_table}".encode())
        start = _plan(conn, sq.context_start, params)
        page = _plan(conn, sq.context_page, {**params, "before": n - 20})
    assert "convostore_messages_live_mandatory" in start, start
    for plan in (start, page):
        assert '"convostore_messages_live"' in plan, plan
        assert "convostore_messages_pkey" not in plan and "Seq Scan" not in plan, plan
    window = store.context("big", max_messages=100)
    assert [m.id for m in window.messages] == ["s"] + [f"m{i}" for i in range(n - 50, n)]
