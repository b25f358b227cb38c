"""Fixtures for the PostgreSQL backend tests.

Every test gets its own schema, created through the backend and dropped
afterwards, so runs never see each other's rows. Without a reachable server the
tests skip with the reason, except when ``CI=true``: there a missing server is
a failure, not a silent pass.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from tests._harness import require_pg


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The URL of a reachable server; skips (or fails on CI) without one."""
    return require_pg()


@pytest.fixture
def schema(pg_url: str) -> Iterator[str]:
    """A fresh schema name, dropped (with everything in it) after the test."""
    from convostore.store.postgres import drop_schema

    name = f"cs_test_{uuid.uuid4().hex[:12]}"
    yield name
    drop_schema(pg_url, name)


@pytest.fixture
def store(pg_url: str, schema: str) -> Iterator[object]:
    """A migrated sync store in its own schema."""
    from convostore.store import open_store

    with open_store(pg_url, schema=schema, auto_migrate=True) as s:
        yield s
