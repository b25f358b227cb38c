"""PostgreSQL's search column: generated from the body in the write's
transaction, so concurrent writers are found at once, writes by plain SQL
are indexed, and an upgraded version-1 schema's messages are searchable."""

from __future__ import annotations

import threading

import psycopg
import pytest
from tests.postgres.test_pg_migration import _build_version_1

from convostore import Message
from convostore.store import open_store
from convostore.store.postgres.migrations import quote_ident
from convostore.store.rules.search import search_text, tokens
from convostore.testing.contract.search import every_hit

pytestmark = pytest.mark.postgres


def test_an_upgraded_version_1_schema_is_searchable(pg_url: str, schema: str) -> None:
    _build_version_1(pg_url, schema)
    with open_store(pg_url, schema=schema, auto_migrate=True) as store:
        acme = store.tenant("acme")
        searched = 0
        for t in acme.list_threads(include_deleted=True, limit=100).items:
            for m in acme.load_messages(t.id, include_deleted=True):
                words = tokens(search_text(m))
                if words:
                    hits = every_hit(acme, max(words, key=len), limit=50, include_deleted=True)
                    assert m.id in {h.message.id for h in hits}
                    searched += 1
        assert searched >= 3


def test_concurrent_writers_are_found_once_and_at_once(pg_url: str, schema: str) -> None:
    with open_store(pg_url, schema=schema, auto_migrate=True) as store:
        store.create_thread(id="t")
        errors: list[BaseException] = []
        acked: dict[int, list[str]] = {}

        def write(k: int) -> None:
            try:
                with open_store(pg_url, schema=schema) as mine:
                    ids = acked.setdefault(k, [])
                    for i in range(25):
                        (m,) = mine.append("t", Message.user(f"w{k}x{i} shared"))
                        ids.append(m.id)
                        found = [h.message.id for h in store.search(f"w{k}x{i}").items]
                        assert found == [m.id]
                        if i % 5 == 0:
                            mine.delete_message(m.id)
                            assert store.search(f"w{k}x{i}").items == []
                            mine.restore_message(m.id)
            except BaseException as exc:  # reported below
                errors.append(exc)

        workers = [threading.Thread(target=write, args=(k,)) for k in range(3)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert not errors, errors
        ids = [h.message.id for h in every_hit(store, "shared", limit=40)]
        assert sorted(ids) == sorted(i for v in acked.values() for i in v)


def test_rows_written_by_plain_sql_are_indexed_too(pg_url: str, schema: str) -> None:
    with open_store(pg_url, schema=schema, auto_migrate=True) as store:
        store.create_thread(id="t")
        store.append("t", [Message.user("alpha one"), Message.user("alpha two")])
        q = quote_ident(schema)
        with psycopg.connect(pg_url, autocommit=True) as con:
            con.execute(f"DELETE FROM {q}.convostore_messages WHERE seq = 1")
            con.execute(
                f"UPDATE {q}.convostore_messages SET body = "
                "jsonb_set(body::jsonb, '{content}', '\"beta two\"')::json WHERE seq = 2"
            )
        assert store.search("alpha").items == []
        (hit,) = store.search("beta").items
        assert hit.message.content == "beta two"


def test_huge_messages_are_indexed_up_to_the_limit(pg_url: str, schema: str) -> None:
    # PostgreSQL refuses a text search vector over 1 MB: the text is cut first,
    # so a large message is stored (and found by its start), never refused.
    text = " ".join(f"w{i}" for i in range(150_000))
    with open_store(pg_url, schema=schema, auto_migrate=True) as store:
        store.create_thread(id="t")
        store.append("t", Message.user("start " + text))
        assert len(store.search("start w10").items) == 1
        assert store.search("w149999").items == []
