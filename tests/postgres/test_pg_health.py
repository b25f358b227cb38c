"""A PostgreSQL store whose server refuses writes is not healthy, and says so."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

from convostore import open_store


def test_a_read_only_database_fails_the_writable_check(pg_url: str) -> None:
    import psycopg

    name = f"convostore_ro_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(pg_url)._replace(path=f"/{name}"))
    try:
        with open_store(url, auto_migrate=True) as store:
            assert store.health_check().ok
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        with open_store(url) as store:
            report = store.health_check()
        assert not report.ok
        assert "writable" in [c.name for c in report.problems]
    finally:
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


pytestmark = pytest.mark.timeout(60)
