"""Processes killed mid-write (SIGKILL), on every backend that declares ``durable``.

100 rounds per file backend (25 for a store behind a server) of a writer killed
at a random moment: every acknowledged message is present exactly once and the
store opens cleanly.
Several processes writing to one store at once is a test of the conformance
suite (``ConcurrencyContract``), run on the backends that declare
``multi_process``.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from tests._harness import BackendSpec, Harness, backend_params, require

from convostore.testing.crash import crash_rounds

CRASH_ROUNDS = int(os.environ.get("CONVOSTORE_CRASH_ROUNDS", "100"))


@pytest.mark.crash
@pytest.mark.parametrize("spec", backend_params("durable"))
def test_sigkilled_writer_loses_no_acknowledged_message(spec: BackendSpec, tmp_path: Path) -> None:
    require(spec)
    # A killed client cannot tear a server's files: for a store behind a server the
    # rounds check that acknowledged means committed, and a quarter of them do.
    rounds = CRASH_ROUNDS // 4 if spec.needs_server else CRASH_ROUNDS
    harness = Harness(spec, "sync", tmp_path)
    try:
        url = harness.create()
        seed = random.randrange(2**32)
        report = crash_rounds(url, rounds=rounds, seed=seed)
    finally:
        harness.cleanup()
    assert report.rounds == rounds
    # the kills must have landed mid-stream, not only before or after the writes
    assert report.acked_batches > rounds, (report, f"seed={seed}")
    assert sum(1 for acked, _ in report.per_round if acked > 0) > rounds // 2


@pytest.mark.crash
def test_crash_harness_notices_lost_writes() -> None:
    """The harness itself can fail: a store that keeps nothing loses acknowledged work."""
    with pytest.raises(AssertionError, match=r"acknowledged thread .* is missing"):
        crash_rounds("memory://", rounds=10, early_kill_ratio=0.0, seed=7)
