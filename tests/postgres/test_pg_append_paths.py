"""The two ways a PostgreSQL append is written, and why they agree.

A backend remembers each thread row as it last created, read or wrote it. An append to
such a thread is one guarded statement: it writes only if the row still holds
exactly that text and none of the batch's ids is stored. Anything else (a
write from another process, a re-send, a deleted or purged thread, a stale
revision check) makes it write nothing, and the locked path decides on the row
as it is. These tests pin both halves: the common case takes one statement,
and a changed row is never overwritten.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from convostore import (
    Message,
    RevisionConflictError,
    ThreadDeletedError,
    ThreadNotFoundError,
)
from convostore.store import Store, open_async_store, open_store
from convostore.store.postgres import _backend
from convostore.store.sql import handlers as _handlers

pytestmark = pytest.mark.postgres


class Paths:
    """Counts how often each append path ran, and how often the quick one wrote."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.locked = self.known = self.known_wrote = 0
        locked, known = _handlers.append, _handlers.append_known

        def count_locked(*args: Any) -> Any:
            self.locked += 1
            return (yield from locked(*args))

        def count_known(*args: Any) -> Any:
            self.known += 1
            done = yield from known(*args)
            self.known_wrote += done is not None
            return done

        monkeypatch.setattr(_handlers, "append", count_locked)
        monkeypatch.setattr(_handlers, "append_known", count_known)


@pytest.fixture
def paths(monkeypatch: pytest.MonkeyPatch) -> Paths:
    return Paths(monkeypatch)


@pytest.fixture
def two(pg_url: str, schema: str) -> Iterator[tuple[Store, Store]]:
    """Two stores on one schema, as two processes would have."""
    with (
        open_store(pg_url, schema=schema, auto_migrate=True) as a,
        open_store(pg_url, schema=schema) as b,
    ):
        yield a, b


def test_appends_after_the_first_take_one_statement(store: Store, paths: Paths) -> None:
    t = store.create_thread()
    for i in range(6):
        store.append(t.id, [Message.user(f"q{i}"), Message.assistant(f"a{i}")])
    # The first writes on the row the create stored, each next one on what the
    # one before left: no lock query at all.
    assert (paths.locked, paths.known, paths.known_wrote) == (0, 6, 6)
    thread = store.get_thread(t.id)
    assert (thread.message_count, thread.turn_count, thread.revision) == (12, 6, 6)
    seqs = [m.seq for m in store.load_messages(t.id)]
    assert seqs == list(range(1, 13))


def test_large_batches_take_the_same_paths(store: Store, paths: Paths) -> None:
    t = store.create_thread()
    for i in range(3):
        store.append(t.id, [Message.user(f"{i}-{k}") for k in range(20)])
    assert (paths.locked, paths.known_wrote) == (0, 3)
    assert [m.seq for m in store.load_messages(t.id)] == list(range(1, 61))


def test_a_write_from_elsewhere_is_never_overwritten(
    two: tuple[Store, Store], paths: Paths
) -> None:
    a, b = two
    t = a.create_thread()
    a.append(t.id, Message.user("one"))
    b.update_thread(t.id, title="set elsewhere", metadata={"k": 1})
    b.append(t.id, Message.user("two"))
    # a's remembered row is stale: its one-statement attempt writes nothing,
    # and the locked path appends on top of b's writes.
    stored = a.append(t.id, Message.user("three"))
    assert [m.seq for m in stored] == [3]
    assert (paths.known, paths.known_wrote) == (2, 1)
    thread = a.get_thread(t.id)
    assert (thread.title, thread.metadata) == ("set elsewhere", {"k": 1})
    assert (thread.message_count, thread.turn_count) == (3, 3)
    assert [m.content for m in a.load_messages(t.id)] == ["one", "two", "three"]
    # Now a knows the row again.
    a.append(t.id, Message.user("four"))
    assert paths.known_wrote == 2


def test_interleaved_writers_keep_seq_gap_free(two: tuple[Store, Store]) -> None:
    a, b = two
    t = a.create_thread()
    for i in range(20):
        (a if i % 3 else b).append(t.id, [Message.user(f"u{i}"), Message.assistant(f"r{i}")])
    msgs = a.load_messages(t.id)
    assert [m.seq for m in msgs] == list(range(1, 41))
    assert [m.content for m in msgs][::2] == [f"u{i}" for i in range(20)]
    thread = b.get_thread(t.id)
    assert (thread.message_count, thread.turn_count, thread.revision) == (40, 20, 20)


def test_deleted_or_purged_elsewhere_is_refused(two: tuple[Store, Store]) -> None:
    a, b = two
    t = a.create_thread()
    a.append(t.id, Message.user("one"))
    b.delete_thread(t.id)
    with pytest.raises(ThreadDeletedError):
        a.append(t.id, Message.user("two"))
    b.restore_thread(t.id)
    a.append(t.id, Message.user("two"))
    b.purge_thread(t.id)
    with pytest.raises(ThreadNotFoundError):
        a.append(t.id, Message.user("three"))
    # Recreated under the same id: a starts from the new, empty row.
    b.create_thread(id=t.id)
    assert [m.seq for m in a.append(t.id, Message.user("again"))] == [1]


def test_resends_and_revision_checks_are_decided_on_the_current_row(
    two: tuple[Store, Store], paths: Paths
) -> None:
    a, b = two
    t = a.create_thread()
    first = a.append(t.id, Message.user("one", id="m-1"))
    again = a.append(t.id, Message.user("one", id="m-1"))  # a re-send
    assert again == first
    assert a.get_thread(t.id).message_count == 1
    # a remembers revision 1, the row is at 2: a check against 2 passes and
    # one against 1 is refused, as the row says, not as a remembers.
    b.update_thread(t.id, title="x")
    a.append(t.id, Message.user("two"), expected_revision=2)
    with pytest.raises(RevisionConflictError):
        a.append(t.id, Message.user("three"), expected_revision=2)
    assert [m.content for m in a.load_messages(t.id)] == ["one", "two"]
    assert paths.known_wrote == 1  # only the first append


def test_async_face_takes_the_same_paths(pg_url: str, schema: str, paths: Paths) -> None:
    async def run() -> None:
        async with open_async_store(pg_url, schema=schema, auto_migrate=True) as a:
            t = await a.create_thread()
            for i in range(4):
                await a.append(t.id, Message.user(f"q{i}"))
            with open_store(pg_url, schema=schema) as b:
                b.append(t.id, Message.user("elsewhere"))
            stored = await a.append(t.id, Message.user("last"))
            assert [m.seq for m in stored] == [6]

    asyncio.run(run())
    # 4 quick; the other store's locked one; a quick try that writes nothing + locked.
    assert (paths.locked, paths.known, paths.known_wrote) == (2, 5, 4)


def test_known_rows_are_bounded() -> None:
    from convostore.model import Thread

    rows = _backend._KnownRows(size=3, max_body=100)
    known = _handlers.Known(Thread(id="t"), "{}", {})
    for i in range(5):
        rows.keep(("default", f"t{i}"), known)
    assert [rows.get(("default", f"t{i}")) is not None for i in range(5)] == [
        False,
        False,
        True,
        True,
        True,
    ]
    rows.keep(("default", "t4"), _handlers.Known(Thread(id="t4"), "x" * 101, {}))
    assert rows.get(("default", "t4")) is None  # too big to keep, and the old one dropped
    rows.forget(("default", "t3"))
    assert rows.get(("default", "t3")) is None
