"""The window reads a backend inherits from ``CoreBackend`` (for third-party backends
that override only the required handlers) give what the indexed reads of the
built-in backends give: live, unarchived rows only."""

from __future__ import annotations

import datetime as dt

from convostore import Message
from convostore.store import Store, ops
from convostore.store.backend import CoreBackend
from convostore.store.memory import MemoryBackend


class _Inherited(MemoryBackend):
    context_page = CoreBackend.context_page
    mandatory = CoreBackend.mandatory


def test_inherited_window_reads_skip_archived_and_deleted_rows() -> None:
    store = Store(_Inherited())
    store.create_thread(id="t1")
    store.append(
        "t1",
        [Message.system("sys", id="s")] + [Message.user(f"u{i}", id=f"u{i}") for i in range(30)],
    )
    when = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
    for i in range(25):
        store.update_message(f"u{i}", archived_at=when)
    store.delete_message("u27")
    first = store.backend.execute(
        ops.ContextPage("default", "t1", 3, 2**63 - 1, with_mandatory=True)
    )
    assert [m.id for m in first.mandatory or []] == ["s"]
    assert [seq for seq, _ in first.rows] == [31, 30, 28]
    rest = store.backend.execute(ops.ContextPage("default", "t1", 10, 28))
    assert [seq for seq, _ in rest.rows] == [27, 1]
    assert [m.id for m in store.context("t1", max_messages=50).messages] == [
        "s",
        "u25",
        "u26",
        "u28",
        "u29",
    ]
