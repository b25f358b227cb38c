"""Every append statement stays within psycopg's cache of converted queries.

psycopg rewrites a query's named placeholders on every ``execute`` and keeps the
result only for statements of at most 50 parameters and 4 KiB; a longer one is
parsed again on every call. A four-message turn once took 53 parameters (the
thread's counters became columns) and paid that parse on every append. These
checks need no server.
"""

from __future__ import annotations

import datetime as dt

import pytest

pytest.importorskip("psycopg")

from psycopg import _queries

from convostore.store.postgres._statements import _COUNTERS, SMALL_BATCH, PgStatements
from convostore.store.sql.statements import Query

MAX_PARAMS = _queries.MAX_CACHED_STATEMENT_PARAMS
MAX_TEXT = _queries.MAX_CACHED_STATEMENT_LENGTH


def test_the_backends_bound_is_psycopgs() -> None:
    from convostore.store.postgres._statements import CACHED_LENGTH, CACHED_PARAMS

    assert CACHED_PARAMS <= MAX_PARAMS
    assert CACHED_LENGTH <= MAX_TEXT


def _statements(n: int) -> dict[str, Query]:
    sq = PgStatements("convostore")
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    rows = [(i, f"msg_{i}", "user", None, now, False, False, False, "{}") for i in range(n)]
    counters = dict.fromkeys(_COUNTERS, 0)
    (write,) = sq.append_write("default", "t", counters, rows)
    return {
        "insert": sq.insert_messages("default", "t", rows),
        "insert_or_skip": sq.insert_messages("default", "t", rows, skip_taken=True),
        "write": write,
        "if_unchanged": sq.append_if_unchanged("default", "t", counters, counters, "{}", rows),
    }


@pytest.mark.parametrize("n", range(1, 2 * SMALL_BATCH + 2))
def test_batches_of_any_size_stay_cacheable(n: int) -> None:
    for kind, query in _statements(n).items():
        assert isinstance(query.params, dict)
        assert len(query.params) <= MAX_PARAMS, (kind, n, len(query.params))
        assert len(query.sql) <= MAX_TEXT, (kind, n, len(query.sql))


def test_placeholders_match_parameters() -> None:
    # Whichever form a batch takes, the statement names exactly the parameters sent.
    import re

    for n in (1, SMALL_BATCH, SMALL_BATCH + 1):
        for kind, query in _statements(n).items():
            assert isinstance(query.sql, bytes) and isinstance(query.params, dict)
            named = set(re.findall(rb"%\((\w+)\)[sb]", query.sql))
            assert {k.encode() for k in query.params} == named, (kind, n)
