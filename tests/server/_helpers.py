"""Helpers of the HTTP server tests: an in-process client, keys, the app's runtime.

httpx's ASGITransport does not run an app's lifespan, so :func:`running` enters
``app.router.lifespan_context`` around the client: the store is opened and
closed exactly as under a real server.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI

from convostore.server.deps import Runtime


@contextlib.asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client talking to ``app`` in process, with its lifespan entered."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


def runtime(app: FastAPI) -> Runtime:
    rt: Runtime = app.state.convostore
    return rt


@dataclass
class Api:
    """A running app with one key of each kind the tests need."""

    app: FastAPI
    client: httpx.AsyncClient
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str = "own", **headers: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}", **headers}

    async def call(self, method: str, path: str, who: str = "own", **kw: Any) -> httpx.Response:
        headers = {**self.auth(who), **kw.pop("headers", {})}
        return await self.client.request(method, path, headers=headers, **kw)


async def issue_keys(app: FastAPI) -> dict[str, str]:
    """Tokens: ``own`` (tenant acme), ``other`` (globex), ``read_only`` and
    ``revoked`` (both acme)."""
    keys = runtime(app).keys
    assert keys is not None
    _, own = await keys.create("acme", label="own")
    _, other = await keys.create("globex", label="other")
    _, ro = await keys.create("acme", read_only=True, label="read-only")
    gone, revoked = await keys.create("acme", label="revoked")
    await keys.revoke(gone.id)
    return {"own": own, "other": other, "read_only": ro, "revoked": revoked}
