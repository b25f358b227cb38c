"""Behind PgBouncer in transaction pooling mode.

The conformance suite (``postgres-pgbouncer-*`` in ``tests/contract``) and the
concurrency tests run through the session's PgBouncer; these pin why the
``pgbouncer`` option is needed and what it sets.
"""

from __future__ import annotations

import psycopg
import pytest

from convostore import ValidationError
from convostore.store import open_store
from convostore.store.postgres._config import parse_config

pytestmark = pytest.mark.postgres


def test_pgbouncer_option_turns_server_side_prepares_off() -> None:
    assert parse_config("postgresql://h/db?pgbouncer=true", {}).prepare_threshold is None
    assert parse_config("postgresql://h/db", {"pgbouncer": True}).prepare_threshold is None
    assert parse_config("postgresql://h/db", {}).prepare_threshold == 5
    assert "pgbouncer" not in parse_config("postgresql://h/db?pgbouncer=1", {}).conninfo


def test_pgbouncer_with_prepared_statements_is_a_validation_error() -> None:
    with pytest.raises(ValidationError) as err:
        parse_config("postgresql://h/db?pgbouncer=true&prepare_threshold=2", {})
    assert err.value.field == "prepare_threshold"


def test_bouncer_shares_server_sessions_so_prepares_collide(pgbouncer_url: str) -> None:
    """What the option avoids: two clients taking turns on one server session
    both prepare psycopg's first statement name there, and the second fails."""
    url = pgbouncer_url.partition("?")[0]
    with (
        psycopg.connect(url, autocommit=True, prepare_threshold=0) as a,
        psycopg.connect(url, autocommit=True, prepare_threshold=0) as b,
    ):
        a.execute("SELECT %s::int", (1,))
        with pytest.raises(psycopg.errors.DuplicatePreparedStatement):
            b.execute("SELECT %s::int", (2,))


def test_store_through_bouncer_keeps_working_past_the_prepare_threshold(
    pgbouncer_url: str, schema: str
) -> None:
    """Many more calls than the prepare threshold, on a pool wider than the
    bouncer's: nothing prepared server-side, nothing lost."""
    with open_store(pgbouncer_url, schema=schema, auto_migrate=True, min_size=6) as store:
        thread = store.create_thread()
        for i in range(30):
            store.append(thread.id, {"role": "user", "content": f"m{i}"})
            assert [m.seq for m in store.recent(thread.id, 100)] == list(range(1, i + 2))
