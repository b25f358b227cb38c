"""Every time a store records comes from its settings' clock, on every backend."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from convostore import Message, StoreSettings, open_store

T0 = dt.datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> dt.datetime:
        self.now += dt.timedelta(seconds=seconds)
        return self.now


def _urls(tmp_path: Path) -> dict[str, str]:
    return {
        "memory": "memory://",
        "json": f"json:///{tmp_path / 'j'}",
        "sqlite": f"sqlite:///{tmp_path / 'x.db'}",
    }


@pytest.mark.parametrize("backend", ["memory", "json", "sqlite"])
def test_times_come_from_the_clock(backend: str, tmp_path: Path) -> None:
    clock = Clock()
    with open_store(_urls(tmp_path)[backend], settings=StoreSettings(clock=clock)) as store:
        thread = store.create_thread(id="t1")
        assert thread.created_at == thread.updated_at == T0
        t1 = clock.advance(1)
        store.append("t1", Message.user("hi", id="m1"))
        assert store.get_thread("t1").updated_at == t1
        t2 = clock.advance(1)
        assert store.update_message("m1", content="edited").updated_at == t2
        t3 = clock.advance(1)
        assert store.delete_message("m1").deleted_at == t3
        t4 = clock.advance(1)
        assert store.delete_thread("t1").deleted_at == t4
        assert store.get_thread("t1").updated_at == t4
        # a clock that goes back never moves activity backwards
        clock.advance(-3600)
        assert store.restore_thread("t1").updated_at == t4


@pytest.mark.parametrize("backend", ["memory", "json", "sqlite"])
def test_listing_order_follows_the_clock_without_sleeping(backend: str, tmp_path: Path) -> None:
    clock = Clock()
    with open_store(_urls(tmp_path)[backend], settings=StoreSettings(clock=clock)) as store:
        for tid in ("a", "b", "c"):
            store.create_thread(id=tid)
            clock.advance(0.001)
        assert [t.id for t in store.list_threads()] == ["c", "b", "a"]
        store.append("a", Message.user("bump"))
        assert [t.id for t in store.list_threads()] == ["a", "c", "b"]
