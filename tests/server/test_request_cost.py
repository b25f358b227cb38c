"""What one request may cost the server: bounded memory and time, whatever it sends
or asks for.

The in-process tests check the answers (status, type, field) to bodies and
queries made to be expensive; the tests over a real server process check that
the server keeps answering ``/healthz`` while it refuses them, and that its peak
memory grows by no more than a small multiple of the body's size.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from tests._harness import unavailable

from convostore import Message, open_store
from convostore.keys import KeyManager
from convostore.server import ServerLimits, create_app

from ._helpers import Api, issue_keys, running

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]


def empty_objects(n: int, *, nested: bool = False) -> bytes:
    """An append body of ``n`` empty objects, as the batch or as one message's parts."""
    items = b",".join([b"{}"] * n)
    if nested:
        return b'{"messages":[{"role":"user","parts":[' + items + b"]}]}"
    return b'{"messages":[' + items + b"]}"


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    app = create_app(f"sqlite:///{tmp_path}/cost.db")
    async with running(app) as client:
        yield Api(app, client, await issue_keys(app))


JSON = {"Content-Type": "application/json"}


async def test_a_batch_over_the_batch_limit_is_refused_before_it_is_validated(api: Api) -> None:
    await api.call("POST", "/v1/threads", json={"id": "t"})
    r = await api.call(
        "POST", "/v1/threads/t/messages", content=empty_objects(10_001), headers=JSON
    )
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "messages" and "10000" in r.json()["detail"]
    # The same holds for an import, and for a top-level array of any body.
    snap = b'{"thread":{"id":"x"},"messages":[' + b",".join([b"{}"] * 10_001) + b"]}"
    r = await api.call("POST", "/v1/threads/import", content=snap, headers=JSON)
    assert r.status_code == 422 and r.json()["field"] == "messages"
    assert (await api.call("GET", "/v1/threads/x")).status_code == 404


async def test_too_many_values_or_too_deep_json_is_refused(api: Api) -> None:
    await api.call("POST", "/v1/threads", json={"id": "t"})
    r = await api.call(
        "POST", "/v1/threads/t/messages", content=empty_objects(600_000, nested=True), headers=JSON
    )
    assert r.status_code == 413 and r.json()["type"].endswith("body-too-complex")
    deep = b'{"title":"x","metadata":{"k":' + b"[" * 100 + b"]" * 100 + b"}}"
    r = await api.call("PATCH", "/v1/threads/t", content=deep, headers=JSON)
    assert r.status_code == 400 and "nested" in r.json()["detail"]
    assert (await api.call("GET", "/v1/threads/t")).json()["message_count"] == 0


async def test_invalid_items_are_reported_once_not_once_each(api: Api) -> None:
    await api.call("POST", "/v1/threads", json={"id": "t"})
    r = await api.call("POST", "/v1/threads/t/messages", content=empty_objects(5_000), headers=JSON)
    assert r.status_code == 422
    assert r.json()["field"] == "messages.0.role" and len(r.json()["errors"]) == 1
    r = await api.call(
        "POST", "/v1/threads/t/messages", content=empty_objects(200_000, nested=True), headers=JSON
    )
    assert r.status_code == 422 and len(r.json()["errors"]) == 1


async def test_a_full_batch_within_the_limits_is_stored(api: Api) -> None:
    await api.call("POST", "/v1/threads", json={"id": "t"})
    batch = [{"role": "user", "content": f"m{i}"} for i in range(10_000)]
    r = await api.call("POST", "/v1/threads/t/messages", json={"messages": batch})
    assert r.status_code == 201
    assert (await api.call("GET", "/v1/threads/t")).json()["message_count"] == 10_000


async def test_the_limits_are_the_apps_own(tmp_path: Path) -> None:
    limits = ServerLimits(max_json_values=50, max_json_depth=5, max_window_messages=3)
    app = create_app("memory://", limits=limits)
    async with running(app) as client:
        api = Api(app, client, await issue_keys(app))
        await api.call("POST", "/v1/threads", json={"id": "t"})
        many = {"messages": [{"role": "user", "content": str(i)} for i in range(30)]}
        r = await api.call("POST", "/v1/threads/t/messages", json=many)
        assert r.status_code == 413
        r = await api.call(
            "POST",
            "/v1/threads/t/messages",
            json={
                "messages": [{"role": "user", "content": "x", "metadata": {"extra": {"a": "b"}}}]
            },
        )
        assert r.status_code == 201  # 5 deep: body, messages, message, metadata, extra
        r = await api.call(
            "POST",
            "/v1/threads/t/messages",
            json={
                "messages": [{"role": "user", "content": "x", "metadata": {"extra": {"a": ["b"]}}}]
            },
        )
        assert r.status_code == 400
        for i in range(4):
            await api.call(
                "POST",
                "/v1/threads/t/messages",
                json={"messages": [{"role": "user", "content": str(i)}]},
            )
        window = (
            await api.call("GET", "/v1/threads/t/context", params={"max_tokens": 100_000})
        ).json()
        assert len(window["messages"]) == 3 and window["truncated"] is True
    with pytest.raises(ValueError, match="max_json_depth"):
        ServerLimits(max_json_depth=0)


async def test_context_budgets_are_capped_by_the_server(api: Api) -> None:
    await api.call("POST", "/v1/threads", json={"id": "t"})
    await api.call(
        "POST", "/v1/threads/t/messages", json={"messages": [{"role": "user", "content": "hi"}]}
    )
    for params, field in (
        ({"max_messages": 1_000_000}, "max_messages"),
        ({"max_tokens": 2**31 - 1}, "max_tokens"),
        ({"max_tokens": 2**64}, "max_tokens"),
    ):
        r = await api.call("GET", "/v1/threads/t/context", who="read_only", params=params)
        assert r.status_code == 422 and r.json()["field"] == field, (params, r.text)
    ok = await api.call(
        "GET",
        "/v1/threads/t/context",
        who="read_only",
        params={"max_messages": 10_000, "max_tokens": 10_000_000},
    )
    assert ok.status_code == 200 and [m["content"] for m in ok.json()["messages"]] == ["hi"]
    default = await api.call("GET", "/v1/threads/t/context", who="read_only")
    assert default.status_code == 200 and len(default.json()["messages"]) == 1


async def test_execution_messages_are_bounded_by_limit(api: Api) -> None:
    await api.call("POST", "/v1/threads", json={"id": "t"})
    batch = [{"role": "user", "content": str(i), "execution_id": "run"} for i in range(5)]
    await api.call("POST", "/v1/threads/t/messages", json={"messages": batch})
    r = await api.call("GET", "/v1/executions/run/messages", params={"limit": 2})
    assert [m["content"] for m in r.json()] == ["0", "1"]
    r = await api.call("GET", "/v1/executions/run/messages", params={"limit": 1001})
    assert r.status_code == 422
    assert len((await api.call("GET", "/v1/executions/run/messages")).json()) == 5


async def test_export_streams_the_thread_as_first_read(api: Api) -> None:
    await api.call("POST", "/v1/threads", json={"id": "t"})
    for chunk in range(3):
        await api.call(
            "POST",
            "/v1/threads/t/messages",
            json={"messages": [{"role": "user", "content": f"{chunk}-{i}"} for i in range(1000)]},
        )
    await api.call(
        "DELETE",
        "/v1/messages/"
        + (await api.call("GET", "/v1/threads/t/messages", params={"limit": 1})).json()["items"][0][
            "id"
        ],
    )
    async with api.client.stream("GET", "/v1/threads/t/export", headers=api.auth()) as r:
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        assert "content-length" not in r.headers  # streamed, not built whole
        raw = b"".join([piece async for piece in r.aiter_bytes()])
    snap = json.loads(raw)
    assert len(snap["messages"]) == 3000 and snap["messages"][0]["deleted_at"] is not None
    assert [m["seq"] for m in snap["messages"]] == list(range(1, 3001))
    missing = await api.call("GET", "/v1/threads/nope/export")
    assert missing.status_code == 404


# --- against a real server process ---------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _peak_rss(pid: int) -> int:
    """The process's peak resident memory in bytes (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str, int]]:
    """(base URL, token, pid) of ``convostore serve`` on a SQLite file."""
    if not Path("/proc/self/status").exists():
        unavailable("needs /proc to read the server's memory")
    url = f"sqlite:///{tmp_path}/serve.db"
    with open_store(url) as store:
        _, token = KeyManager(store).create("acme")
        store.tenant("acme").create_thread(id="t")
        store.tenant("acme").append("t", [Message.user("hi")])
    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "convostore", "serve", "--store", url, "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)  # polls a real server process starting up
        yield base, token, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def _sample_health(base: str, stop: threading.Event, out: list[float]) -> None:
    with httpx.Client(base_url=base, timeout=10) as c:
        while not stop.is_set():
            start = time.perf_counter()
            c.get("/healthz").raise_for_status()
            out.append(time.perf_counter() - start)
            time.sleep(0.005)  # paces the probe: real latency under a real load is measured


@pytest.mark.parametrize("body", ["batch", "parts"])
def test_a_hostile_body_neither_stalls_nor_balloons_the_server(
    server: tuple[str, str, int], body: str
) -> None:
    base, token, pid = server
    payload = empty_objects(2_700_000, nested=body == "parts")  # 8.1 MB of {}
    with httpx.Client(base_url=base, timeout=60) as c:  # warm up every route used
        c.get("/healthz")
        c.get("/v1/threads/t", headers={"Authorization": f"Bearer {token}"})
    before = _peak_rss(pid)
    latencies: list[float] = []
    stop = threading.Event()
    sampler = threading.Thread(target=_sample_health, args=(base, stop, latencies))
    sampler.start()
    try:
        # Real time on purpose: the probe measures whether the server stalls, so it
        # samples a while before and after the hostile request.
        time.sleep(0.1)
        r = httpx.post(
            base + "/v1/threads/t/messages",
            content=payload,
            timeout=60,
            headers={"Authorization": f"Bearer {token}", **JSON},
        )
        time.sleep(0.1)
    finally:
        stop.set()
        sampler.join()
    assert r.status_code in (413, 422), r.text
    grown = _peak_rss(pid) - before
    assert grown <= 4 * len(payload), f"peak memory grew by {grown / 2**20:.0f} MiB"
    assert latencies and max(latencies) < 0.1, f"/healthz took {max(latencies):.3f} s"
