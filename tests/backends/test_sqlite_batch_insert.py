"""A batch of message rows reaches SQLite as one statement over a JSON array,
or row by row when the bodies are very long: both store exactly the same rows
and keep the search index alike."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from convostore import ConversationSnapshot, Message, Thread, ToolCallPart, open_store
from convostore.store.sqlite import _statements


def _messages() -> list[Message]:
    return [
        Message.system('rules: be "brief"\n\tand kind \\ ok'),
        Message.user("héllo 🌍 wörld — ünïcode 漢字", execution_id="run-1"),
        Message.assistant("").with_parts(
            ToolCallPart(tool_call_id="c1", tool_name="lookup", args={"q": "x'y", "n": 1.5e-7})
        ),
        Message.tool('{"answer": 42}', "c1", tool_name="lookup"),
        Message.assistant("pinned answer", pinned=True),
    ]


def _rows(db: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as con:
        con.execute("INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')")
        return con.execute(
            "SELECT thread_id, seq, id, role, execution_id, pinned, deleted, archived, body "
            "FROM messages ORDER BY thread_id, seq"
        ).fetchall()


@pytest.mark.parametrize("row_by_row", [False, True])
def test_both_ways_store_the_same_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, row_by_row: bool
) -> None:
    if row_by_row:
        monkeypatch.setattr(_statements, "_MAX_BATCH_CHARS", 0)
    db = tmp_path / "batch.db"
    msgs = _messages()
    with open_store(f"sqlite:///{db}") as store:
        store.import_thread(ConversationSnapshot(thread=Thread(id="imp"), messages=msgs))
        store.create_thread(id="app")
        store.append("app", [m.model_copy(update={"id": m.id + "-a"}) for m in msgs])
        loaded = store.load_messages("imp")
        assert [m.id for m in loaded] == [m.id for m in msgs]
        assert [(m.content, m.parts, m.pinned, m.execution_id) for m in loaded] == [
            (m.content, m.parts, m.pinned, m.execution_id) for m in msgs
        ]
        assert {h.message.thread_id for h in store.search("ünïcode").items} == {"imp", "app"}
        assert len(store.search("lookup").items) == 4
    rows = _rows(db)
    assert [r[5] for r in rows if r[0] == "imp"] == [0, 0, 0, 0, 1]
    assert [r[4] for r in rows if r[0] == "imp"] == [None, "run-1", None, None, None]
    # A re-sent batch is skipped as a whole, either way.
    with open_store(f"sqlite:///{db}") as store:
        store.append("app", [m.model_copy(update={"id": m.id + "-a"}) for m in msgs])
        assert store.get_thread("app").message_count == len(msgs)
    assert _rows(db) == rows
