"""PostgreSQL takes every time it records from the store's clock too."""

from __future__ import annotations

from tests.backends.test_clock import T0, Clock

from convostore import Message, StoreSettings, open_store


def test_times_come_from_the_clock(pg_url: str, schema: str) -> None:
    clock = Clock()
    settings = StoreSettings(clock=clock)
    with open_store(pg_url, schema=schema, auto_migrate=True, settings=settings) as store:
        assert store.create_thread(id="t1").created_at == T0
        t1 = clock.advance(1)
        store.append("t1", Message.user("hi", id="m1"))
        assert store.get_thread("t1").updated_at == t1
        t2 = clock.advance(1)
        assert store.update_message("m1", content="edited").updated_at == t2
        t3 = clock.advance(1)
        assert store.delete_message("m1").deleted_at == t3
        t4 = clock.advance(1)
        assert store.delete_thread("t1").deleted_at == t4
