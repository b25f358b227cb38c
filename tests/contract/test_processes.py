"""Several processes, and processes killed mid-write (SIGKILL), on the file backends.

* 4 processes x 250 appends to one thread of one SQLite file: nothing lost or
  duplicated, seq strictly increasing and gap-free, each writer's messages in
  the order it sent them.
* 100 rounds per file backend of a writer killed at a random moment: every
  acknowledged message is present exactly once and the store opens cleanly.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from convostore.store import open_store
from convostore.testing.backends import JSON, SQLITE, BackendSpec, require
from convostore.testing.crash import crash_rounds, run_writers

CRASH_ROUNDS = int(os.environ.get("CONVOSTORE_CRASH_ROUNDS", "100"))


def test_processes_append_to_one_sqlite_file(tmp_path: Path) -> None:
    require(SQLITE)
    url = SQLITE.url(tmp_path)
    with open_store(url) as store:
        store.create_thread(id="shared")
    processes, appends = 4, 250
    acked = run_writers(url, "shared", processes=processes, appends=appends)
    with open_store(url) as store:
        msgs = list(store.iter_messages("shared", include_deleted=True))
        thread = store.get_thread("shared")
    total = processes * appends
    assert [m.seq for m in msgs] == list(range(1, total + 1))
    ids = [m.id for m in msgs]
    assert len(set(ids)) == total
    assert set(ids) == {f"p{k}-{i}" for k in range(processes) for i in range(appends)}
    assert thread.message_count == total
    by_id = {m.id: m.seq for m in msgs}
    for tag, seqs in acked.items():
        assert seqs == [by_id[f"{tag}-{i}"] for i in range(appends)]
        assert seqs == sorted(seqs)


@pytest.mark.crash
@pytest.mark.parametrize("spec", [JSON, SQLITE], ids=lambda s: s.name)
def test_sigkilled_writer_loses_no_acknowledged_message(spec: BackendSpec, tmp_path: Path) -> None:
    require(spec)
    seed = random.randrange(2**32)
    report = crash_rounds(spec.url(tmp_path), rounds=CRASH_ROUNDS, seed=seed)
    assert report.rounds == CRASH_ROUNDS
    # the kills must have landed mid-stream, not only before or after the writes
    assert report.acked_batches > CRASH_ROUNDS, (report, f"seed={seed}")
    assert sum(1 for acked, _ in report.per_round if acked > 0) > CRASH_ROUNDS // 2


@pytest.mark.crash
def test_crash_harness_notices_lost_writes() -> None:
    """The harness itself can fail: a store that keeps nothing loses acknowledged work."""
    with pytest.raises(AssertionError, match=r"acknowledged thread .* is missing"):
        crash_rounds("memory://", rounds=10, early_kill_ratio=0.0, seed=7)
