"""Fixtures for the HTTP server tests: an app on a fresh store, keys, an ASGI client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from convostore.server import create_app

from ._helpers import STORES, Api, issue_keys, running, store_url


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=STORES)
async def api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Api]:
    app = create_app(store_url(request.param, tmp_path), max_body_bytes=64 * 1024)
    async with running(app) as client:
        yield Api(app, client, await issue_keys(app))


@pytest.fixture
async def mem_api() -> AsyncIterator[Api]:
    """Like ``api`` on the memory store only, for tests about the HTTP layer itself."""
    app = create_app("memory://", max_body_bytes=64 * 1024)
    async with running(app) as client:
        yield Api(app, client, await issue_keys(app))
