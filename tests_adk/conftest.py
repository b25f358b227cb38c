"""Fixtures of the ADK adapter's tests: the async test runner (anyio's pytest
plugin on asyncio) and a fresh store URL of each backend.

PostgreSQL runs in a database of its own on ``CONVOSTORE_TEST_PG_URL``
(default ``postgresql://postgres@127.0.0.1:5432/postgres``), created for the
test and dropped after it; with ``CI=true`` a server that does not answer
fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_URL = os.environ.get("CONVOSTORE_TEST_PG_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
BACKENDS = ["memory", "sqlite", "postgres"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _admin_url() -> str:
    base, _, _ = PG_URL.rpartition("/")
    return base + "/postgres"


@pytest.fixture
def pg_database() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards."""
    try:
        import psycopg

        admin = psycopg.connect(_admin_url(), autocommit=True, connect_timeout=3)
    except Exception as exc:  # the driver is missing or the server does not answer
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL not available: {exc}")
    name = "convostore_adk_" + uuid.uuid4().hex[:12]
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield _admin_url().rpartition("/")[0] + "/" + name
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store of each backend."""
    return url_of(request, tmp_path)


def url_of(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store of the backend ``request.param``."""
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("pg_database")
    return url + "?auto_migrate=true"
