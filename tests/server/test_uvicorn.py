"""The app under a real uvicorn on a loopback port: sockets, lifespan, shutdown.

The server runs in a thread on a port the OS picked, and every wait is bounded
so a broken server fails the test instead of hanging it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import uvicorn

from convostore import open_store
from convostore.keys import KeyManager
from convostore.server import create_app

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(base URL, token) of a uvicorn server over a SQLite file."""
    url = f"sqlite:///{tmp_path}/live.db"
    with open_store(url) as store:  # keys made the way the CLI makes them
        _, token = KeyManager(store).create("acme")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(url, max_body_bytes=4096),
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=5,
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
        yield f"http://127.0.0.1:{port}", token
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        assert not thread.is_alive(), "uvicorn did not stop in time"


def test_round_trip_over_a_real_socket(live: tuple[str, str]) -> None:
    base, token = live
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, timeout=10) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        assert c.get("/readyz").json() == {"status": "ready"}
        assert c.get("/v1/threads").status_code == 401
        r = c.post("/v1/threads", json={"id": "t"}, headers=auth)
        assert r.status_code == 201 and r.headers["etag"] == '"0"'
        body = {"messages": [{"role": "user", "content": "over the wire"}]}
        r = c.post("/v1/threads/t/messages", json=body, headers={**auth, "Idempotency-Key": "k1"})
        again = c.post(
            "/v1/threads/t/messages", json=body, headers={**auth, "Idempotency-Key": "k1"}
        )
        assert r.status_code == again.status_code == 201
        assert c.get("/v1/threads/t", headers=auth).json()["message_count"] == 1
        stale = c.patch("/v1/threads/t", json={"title": "x"}, headers={**auth, "If-Match": '"0"'})
        assert stale.status_code == 409
        assert c.get("/docs").status_code == 200
        assert c.get("/openapi.json").json()["info"]["title"] == "convostore"


def test_limits_and_garbage_over_a_real_socket(live: tuple[str, str]) -> None:
    base, token = live
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with httpx.Client(base_url=base, timeout=10) as c:
        c.post("/v1/threads", json={"id": "t"}, headers=auth)
        r = c.post("/v1/threads/t/messages", content=b"x" * 10_000, headers=auth)
        assert r.status_code == 413
        assert r.headers["content-type"] == "application/problem+json"

        def chunked() -> Iterator[bytes]:
            for _ in range(10):
                yield b"y" * 1000

        r = c.post("/v1/threads/t/messages", content=chunked(), headers=auth)
        assert r.status_code == 413
        r = c.post("/v1/threads/t/messages", content=b"\xc3\x28{garbage", headers=auth)
        assert r.status_code == 400 and "UTF-8" in r.json()["detail"]
    # The server keeps serving after the bad requests, on fresh connections too.
    with httpx.Client(base_url=base, timeout=10) as c:
        r = c.post(
            "/v1/threads/t/messages",
            json={"messages": [{"role": "user", "content": "fine"}]},
            headers=auth,
        )
        assert r.status_code == 201


def test_raw_malformed_http_is_refused(live: tuple[str, str]) -> None:
    base, _ = live
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"POST /v1/threads HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 4")
    with httpx.Client(base_url=base, timeout=10) as c:
        assert c.get("/healthz").status_code == 200


def test_ids_with_reserved_characters_over_a_real_socket(live: tuple[str, str]) -> None:
    base, token = live
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, timeout=10, headers=auth) as c:
        for tid in ("a/b?c#d%e José", "x/messages", "..", "auth0|1"):
            r = c.post("/v1/threads", json={"id": tid})
            assert r.status_code == 201, r.text
            segment = quote(tid, safe="")
            if segment == "..":
                segment = "%2E%2E"
            assert r.headers["location"] == f"/v1/threads/{segment}"
            r = c.post(
                f"/v1/threads/{segment}/messages",
                json={"messages": [{"role": "user", "content": tid}]},
            )
            assert r.status_code == 201, r.text
            r = c.get(f"/v1/threads/{segment}")
            assert (r.status_code, r.json()["id"], r.json()["message_count"]) == (200, tid, 1)
        r = c.get("/v1/threads/%FF")
        assert r.status_code == 422 and r.json()["field"] == "thread_id"
