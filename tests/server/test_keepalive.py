"""A 500 is a normal response: it never closes the client's keep-alive connection.

Starlette's outermost middleware raises an exception again after sending the
500 of the handler registered for ``Exception``, and uvicorn then closes the
connection; the app answers such exceptions itself, one layer further in.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from convostore import AsyncStore, open_store
from convostore.keys import KeyManager
from convostore.server import create_app

from ._helpers import Api, issue_keys, running

pytestmark = pytest.mark.timeout(60)


async def _boom(self: AsyncStore, *args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("a bug in the store")


@pytest.fixture
def broken_summaries(monkeypatch: pytest.MonkeyPatch) -> None:
    """GET /v1/summaries hits a bug; every other route works."""
    monkeypatch.setattr(AsyncStore, "summaries", _boom)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[int, str]]:
    """(port, token) of a uvicorn server in a thread, over a SQLite file."""
    url = f"sqlite:///{tmp_path}/live.db"
    with open_store(url) as store:
        _, token = KeyManager(store).create("acme")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(url), log_level="critical", lifespan="on", timeout_graceful_shutdown=5
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "uvicorn exited during startup"
        assert time.monotonic() < deadline, "uvicorn did not start in time"
        time.sleep(0.02)  # polls a real server starting in another thread: no clock to drive
    try:
        yield port, token
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        assert not thread.is_alive(), "uvicorn did not stop in time"


def test_a_500_keeps_the_connection_open(live: tuple[int, str], broken_summaries: None) -> None:
    port, token = live
    auth = {"Authorization": f"Bearer {token}"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/v1/summaries", headers=auth)
        first = conn.getresponse()
        body = first.read()
        assert first.status == 500
        assert first.getheader("content-type") == "application/problem+json"
        assert b"urn:convostore:problem:internal" in body and b"a bug" not in body
        assert (first.getheader("connection") or "").lower() != "close"
        sock = conn.sock
        assert sock is not None
        conn.request("GET", "/v1/threads", headers=auth)  # same connection, no reconnect
        second = conn.getresponse()
        assert second.status == 200, second.read()
        assert second.read().startswith(b'{"items":[]')
        assert conn.sock is sock
    finally:
        conn.close()


@pytest.mark.anyio
async def test_a_500_is_answered_not_raised(broken_summaries: None) -> None:
    app = create_app("memory://")
    async with running(app) as client:  # ASGITransport raises what the app raises
        api = Api(app, client, await issue_keys(app))
        r = await api.call("GET", "/v1/summaries")
        assert r.status_code == 500
        assert r.json() == {
            "type": "urn:convostore:problem:internal",
            "title": "Internal Server Error",
            "status": 500,
            "detail": "internal server error",
        }
        assert (await api.call("GET", "/v1/threads")).status_code == 200


async def _run(app: Any) -> list[dict[str, Any]]:
    from convostore.server._errors_asgi import UnhandledErrorMiddleware

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/x",
        "headers": [],
        "query_string": b"",
        "app": None,
    }
    await UnhandledErrorMiddleware(app)(scope, receive, send)
    return sent


@pytest.mark.anyio
async def test_an_error_after_a_whole_response_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        raise RuntimeError("in a background task")

    sent = await _run(app)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert "error after the response on GET /x" in caplog.text


@pytest.mark.anyio
async def test_an_error_in_the_middle_of_a_body_still_closes_the_connection() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"[1,", "more_body": True})
        raise RuntimeError("the stream broke")

    with pytest.raises(RuntimeError, match="the stream broke"):
        await _run(app)
