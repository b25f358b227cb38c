"""A whole-thread read holds the result, not the stored text beside it.

``load_messages`` on SQLite decodes each body as its row arrives. Fetching every
body first and then decoding them (or one array joined from them) keeps the
thread's whole stored text alive next to its decoded form: about 1.6x the
result at the peak for typed messages and 1.9x for dicts. The peak is
measured with ``tracemalloc``, which counts allocations and not time, so the
check is deterministic.
"""

from __future__ import annotations

import gc
import threading
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from convostore import Message, ToolResultPart, open_store
from convostore.store.sql import rows as sql_rows

N = 600


def _messages() -> list[Message]:
    out = []
    for i in range(N):
        text = f"message {i} " + "lorem ipsum dolor sit amet " * 30
        if i % 3 == 2:
            out.append(
                Message(
                    role="tool",
                    tool_call_id=f"c{i}",
                    parts=[ToolResultPart(tool_call_id=f"c{i}", result=text)],
                )
            )
        else:
            out.append(Message.user(text))
    return out


def _peak_over_result(load: Callable[[], list[Any]]) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        result = load()
        retained, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(result) == N
    return peak / retained


@pytest.mark.performance
@pytest.mark.parametrize("as_dicts", [False, True], ids=["typed", "dicts"])
def test_whole_thread_read_peaks_at_about_its_result(tmp_path: Path, as_dicts: bool) -> None:
    with open_store(f"sqlite:///{tmp_path}/m.db") as store:
        store.create_thread(id="t")
        store.append("t", _messages())
        store.load_messages("t", as_dicts=as_dicts)  # warm caches and statements
        ratio = _peak_over_result(lambda: store.load_messages("t", as_dicts=as_dicts))
    assert ratio < 1.2, f"peak is {ratio:.2f}x the loaded thread"


@pytest.mark.parametrize("as_dicts", [False, True], ids=["typed", "dicts"])
def test_an_in_memory_database_reads_the_same_thread(tmp_path: Path, as_dicts: bool) -> None:
    # It fetches its rows before decoding them (one connection, shared under a lock).
    messages = _messages()
    loaded = []
    for url in (f"sqlite:///{tmp_path}/m.db", "sqlite:///:memory:"):
        with open_store(url) as store:
            store.create_thread(id="t")
            store.append("t", messages)
            loaded.append(store.load_messages("t", as_dicts=as_dicts))
    on_disk, in_memory = loaded
    assert len(in_memory) == N
    assert in_memory == on_disk
    first = in_memory[0]
    assert (first["content"] if as_dicts else first.content) == messages[0].content


@pytest.mark.performance
@pytest.mark.parametrize("read", ["load", "export"])
def test_an_in_memory_database_decodes_outside_the_write_lock(
    read: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # While a body is decoded, another thread must be able to take the lock
    # writers wait on; a store that decoded under it would make them wait.
    free: list[bool] = []
    original = sql_rows.decode_message
    with open_store("sqlite:///:memory:") as store:
        store.create_thread(id="t")
        store.append("t", _messages()[:5])
        lock = store.backend._write_lock

        def probe(body: str) -> Message:
            def try_lock() -> None:
                got = lock.acquire(blocking=False)
                free.append(got)
                if got:
                    lock.release()

            other = threading.Thread(target=try_lock)
            other.start()
            other.join()
            return original(body)

        monkeypatch.setattr(sql_rows, "decode_message", probe)
        if read == "load":
            assert len(store.load_messages("t")) == 5
        else:
            assert len(store.export_thread("t").messages) == 5
    assert free == [True] * 5
