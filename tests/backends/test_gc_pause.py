"""The cyclic garbage collector during whole-thread loads: untouched by default.

Library code does not switch the process's collector; a caller who wants long
loads decoded without full collections opts in with
``StoreSettings(pause_gc_on_load=True)``. The checks count the collections that
run while a thread loads, with the collector's threshold at 1 so that any
allocation would set one off: many with the default settings, almost none
(only around the paused decode) when the caller opted in. They do not depend on
timings or on which function decodes.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from convostore import Message, Store, StoreSettings, open_store
from convostore.store.rules.codec import collector_paused

pytestmark = [pytest.mark.performance, pytest.mark.usefixtures("collector_on")]
N = 400


def collections_during(action: Callable[[], Any]) -> int:
    """How many collections ran during ``action`` with a threshold of 1."""
    count = 0

    def started(phase: str, info: dict[str, Any]) -> None:
        nonlocal count
        if phase == "start":
            count += 1

    threshold = gc.get_threshold()
    gc.callbacks.append(started)
    gc.set_threshold(1)
    try:
        action()
    finally:
        gc.set_threshold(*threshold)
        gc.callbacks.remove(started)
    return count


def test_paused_only_when_enabled() -> None:
    with collector_paused(False):
        assert gc.isenabled()
    with collector_paused(True):
        assert not gc.isenabled()
    assert gc.isenabled()


def test_back_on_after_an_error() -> None:
    with pytest.raises(KeyError), collector_paused(True):
        raise KeyError("boom")
    assert gc.isenabled()


def test_left_off_when_it_was_off() -> None:
    gc.disable()
    with collector_paused(True):
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_nested_blocks_switch_it_on_once_at_the_outer_end() -> None:
    with collector_paused(True):
        with collector_paused(True):
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


@pytest.fixture(params=["memory", "json", "sqlite"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return {
        "memory": "memory://",
        "json": f"json:///{tmp_path / 'gc'}",
        "sqlite": f"sqlite:///{tmp_path / 'gc.db'}",
    }[request.param]


def _filled(url: str, **options: Any) -> Store:
    store = open_store(url, **options)
    store.create_thread(id="t")
    store.append("t", [Message.user(f"m{i}") for i in range(N)])
    return store


def check_loads(store: Store) -> Iterator[tuple[str, int]]:
    loads: dict[str, Callable[[], Any]] = {
        "typed": lambda: store.load_messages("t"),
        "dicts": lambda: store.load_messages("t", as_dicts=True),
        "export": lambda: store.export_thread("t"),
    }
    for name, load in loads.items():
        yield name, collections_during(load)
    assert gc.isenabled()


def test_default_settings_leave_the_collector_alone(url: str) -> None:
    with _filled(url) as store:
        for name, count in check_loads(store):
            # At threshold 1 the decoding's allocations collect again and again.
            assert count > N // 4, name


def test_opting_in_pauses_it_for_the_load(url: str) -> None:
    settings = StoreSettings(pause_gc_on_load=True)
    with _filled(url, settings=settings) as store:
        for name, count in check_loads(store):
            # Only the few allocations outside the paused decode collect.
            assert count < N // 8, name
