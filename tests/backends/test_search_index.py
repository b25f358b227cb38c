"""SQLite's search index: kept by triggers in the write's transaction, so it
matches the messages table after crashes, concurrent writers and an upgrade
of an old database, and for writes made by SQL the store never ran."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest

from convostore import Message, open_store
from convostore.store.rules.search import search_text, tokens
from convostore.testing.contract.search import every_hit
from convostore.testing.crash import crash_rounds, run_writers

FIXTURE = Path(__file__).parent.parent / "fixtures" / "release-0.1"


def _integrity(path: Path) -> None:
    with sqlite3.connect(path) as con:
        con.execute("INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')")
        keys = con.execute("SELECT count(*) FROM message_search_keys").fetchone()
        rows = con.execute("SELECT count(*) FROM messages").fetchone()
    assert keys == rows


def test_an_old_database_upgrades_with_its_messages_searchable(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    shutil.copyfile(FIXTURE / "sqlite.db", db)
    expected = json.loads((FIXTURE / "expected.json").read_text())["sqlite"]
    with open_store(f"sqlite:///{db}") as store:
        assert store.backend.schema_version() >= 4
        messages = store.load_messages("t-release", include_deleted=True)
        assert len(messages) == len(expected)
        searched = 0
        for m in messages:
            words = tokens(search_text(m))
            if not words:
                continue
            hits = every_hit(store, max(words, key=len), limit=50, include_deleted=True)
            assert m.id in {h.message.id for h in hits}
            searched += 1
        assert searched >= 3
    _integrity(db)


@pytest.mark.crash
def test_after_sigkills_the_index_holds_exactly_the_stored_messages(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    url = f"sqlite:///{db}"
    crash_rounds(url, rounds=12, seed=20)
    with open_store(url) as store:
        threads = store.list_threads(limit=100).items  # a round killed early has none
        assert threads
        for t in threads:
            r = t.id.removeprefix("crash-")
            msgs = store.load_messages(t.id)
            stored = {m.id for m in msgs if "batch" in m.content}  # not the check's probe
            assert {h.message.id for h in every_hit(store, f"r{r} batch", limit=200)} == stored
    _integrity(db)


def test_concurrent_writer_processes_are_each_found_once(tmp_path: Path) -> None:
    db = tmp_path / "writers.db"
    url = f"sqlite:///{db}"
    with open_store(url) as store:
        store.create_thread(id="t")
    acked = run_writers(url, "t", processes=3, appends=60)
    with open_store(url) as store:
        for tag in acked:
            ids = [h.message.id for h in every_hit(store, tag, limit=100)]
            assert sorted(ids) == sorted(f"{tag}-{i}" for i in range(60))
    _integrity(db)


def test_an_acknowledged_append_is_found_at_once_by_another_connection(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    with open_store(url) as writer, open_store(url) as reader, open_store(url) as churn:
        writer.create_thread(id="w")
        churn.create_thread(id="c")
        stop = threading.Event()
        errors: list[BaseException] = []

        def keep_writing() -> None:  # deletes, restores and edits next to the appends
            try:
                (m,) = churn.append("c", Message.user("churn word"))
                while not stop.is_set():
                    churn.delete_message(m.id)
                    churn.restore_message(m.id)
                    churn.update_message(m.id, content="churn word again")
            except BaseException as exc:  # reported below
                errors.append(exc)

        other = threading.Thread(target=keep_writing)
        other.start()
        try:
            for i in range(20):  # each append waits for the churning writer's commit
                (m,) = writer.append("w", Message.user(f"needle{i} in the stack"))
                assert [h.message.id for h in reader.search(f"needle{i}").items] == [m.id]
        finally:
            stop.set()
            other.join()
        assert not errors
        assert len(every_hit(reader, "stack", limit=100)) == 20


def test_rows_written_by_plain_sql_are_indexed_too(tmp_path: Path) -> None:
    # Writes the store does not know of (a future operation, a repair by
    # hand) keep the index right: it is the triggers', not the handlers'.
    db = tmp_path / "sql.db"
    url = f"sqlite:///{db}"
    with open_store(url) as store:
        store.create_thread(id="t")
        store.append("t", [Message.user("alpha one"), Message.user("alpha two")])
    with sqlite3.connect(db) as con:
        con.execute("DELETE FROM messages WHERE seq = 1")
        con.execute(
            "UPDATE messages SET body = json_set(body, '$.content', 'beta two') WHERE seq = 2"
        )
        con.execute("UPDATE messages SET seq = 7 WHERE seq = 2")
    with open_store(url) as store:
        assert store.search("alpha").items == []
        (hit,) = store.search("beta").items
        assert hit.message.content == "beta two"
        # A REPLACE on the store's connection takes the replaced row out too.
        conn = store.backend._conn()  # type: ignore[attr-defined]
        conn.execute(
            "INSERT OR REPLACE INTO messages (tenant_id, thread_id, seq, id, role, body) "
            "SELECT tenant_id, thread_id, seq, id, role, json_set(body, '$.content', 'gamma') "
            "FROM messages WHERE seq = 7"
        )
        assert store.search("beta").items == []
        assert [h.message.content for h in store.search("gamma").items] == ["gamma"]
    _integrity(db)
