"""Whole-thread reads decode with Python's cyclic garbage collector paused.

Decoding a long thread keeps every new object alive, and each full collection
the allocations set off walks the growing result again: at 100,000 typed
messages the collector took about three fifths of the load. The checks here record
whether the collector was on at each decoded body, so they do not depend on
timings, and that it is on again afterwards, also after an error.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import convostore.store._logic as logic
import convostore.store.sqlite as sqlite_backend
from convostore import Message, Store, open_store
from convostore.store._logic import collector_paused

Record = Callable[[object, str], list[bool]]
pytestmark = pytest.mark.usefixtures("collector_on")


def test_paused_inside_and_back_on_after() -> None:
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_back_on_after_an_error() -> None:
    with pytest.raises(KeyError), collector_paused():
        raise KeyError("boom")
    assert gc.isenabled()


def test_left_off_when_it_was_off() -> None:
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_nested_blocks_switch_it_on_once_at_the_outer_end() -> None:
    with collector_paused():
        with collector_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def _filled(url: str) -> Store:
    store = open_store(url)
    store.create_thread(id="t")
    store.append("t", [Message.user(f"m{i}") for i in range(30)])
    return store


@pytest.fixture(params=["file", "memory-db"])
def sqlite_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'gc.db'}" if request.param == "file" else "sqlite:///:memory:"


def test_sqlite_typed_load_and_export(sqlite_url: str, collector_log: Record) -> None:
    with _filled(sqlite_url) as store:
        seen = collector_log(sqlite_backend, "_decode_message")
        assert len(store.load_messages("t")) == 30
        assert len(store.export_thread("t").messages) == 30
    assert seen == [False] * 60
    assert gc.isenabled()


def test_sqlite_dict_load(sqlite_url: str, collector_log: Record) -> None:
    with _filled(sqlite_url) as store:
        seen = collector_log(logic, "from_json")
        assert len(store.load_messages("t", as_dicts=True)) == 30
    assert seen == [False] * 30
    assert gc.isenabled()


def test_memory_dict_load(collector_log: Record) -> None:
    with _filled("memory://") as store:
        seen = collector_log(logic, "from_json")
        assert len(store.load_messages("t", as_dicts=True)) == 30
    assert seen == [False] * 30
    assert gc.isenabled()


def test_memory_backend_copies_a_whole_thread_paused(monkeypatch: pytest.MonkeyPatch) -> None:
    # The memory backend hands out deep copies; a whole thread's is built paused.
    seen: list[bool] = []
    original = Message.__deepcopy__

    def copying(self: Message, memo: dict[int, Any] | None = None) -> Message:
        seen.append(gc.isenabled())
        return original(self, memo)

    with _filled("memory://") as store:
        monkeypatch.setattr(Message, "__deepcopy__", copying)
        assert len(store.load_messages("t")) == 30
        assert len(store.export_thread("t").messages) == 30
    assert seen == [False] * 60
    assert gc.isenabled()


def test_back_on_when_a_body_fails_to_decode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0

    def failing(body: str) -> Message:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("damaged row")
        return Message.model_validate_json(body)

    with _filled(f"sqlite:///{tmp_path / 'gc.db'}") as store:
        monkeypatch.setattr(sqlite_backend, "_decode_message", failing)
        with pytest.raises(RuntimeError, match="damaged row"):
            store.load_messages("t")
    assert gc.isenabled()
