"""Fixtures for the HTTP server tests: an app on a fresh store, keys, an ASGI client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from convostore.server import create_app

from ._helpers import Api, issue_keys, running


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def api(store_url: str) -> AsyncIterator[Api]:
    """A running app with keys on a fresh store of each backend (``store_url``)."""
    app = create_app(store_url, max_body_bytes=64 * 1024)
    async with running(app) as client:
        yield Api(app, client, await issue_keys(app))


@pytest.fixture
async def mem_api() -> AsyncIterator[Api]:
    """Like ``api`` on the memory store only, for tests about the HTTP layer itself."""
    app = create_app("memory://", max_body_bytes=64 * 1024)
    async with running(app) as client:
        yield Api(app, client, await issue_keys(app))
