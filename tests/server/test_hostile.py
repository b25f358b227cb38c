"""Hostile requests: malformed, deep, huge or oversized input never gets a 5xx.

Every answer must be a 4xx problem document without a traceback or SQL text,
nothing half-written may remain, and the server must keep serving afterwards.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from convostore.server import create_app

from ._helpers import STORES, Api, issue_keys, running, store_url

pytestmark = pytest.mark.anyio

LIMIT = 1024 * 1024
FORBIDDEN = ("Traceback", "File \"", "sqlite3", "SELECT ", "INSERT ", "UPDATE ", "psycopg",
             "pydantic_core", "Error(")


@pytest.fixture(params=STORES)
async def hapi(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Api]:
    app = create_app(store_url(request.param, tmp_path), max_body_bytes=LIMIT)
    async with running(app) as client:
        api = Api(app, client, await issue_keys(app))
        assert (await api.call("POST", "/v1/threads", json={"id": "t"})).status_code == 201
        yield api


def nested(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


def in_message(fragment: str) -> bytes:
    return ('{"messages": [{"role": "user", "content": "x", "metadata": {"extra": {}}, '
            '"native": {"format": "raw", "data": ' + fragment + '}}]}').encode()


HOSTILE: list[tuple[str, bytes]] = [
    ("invalid utf-8", b'{"messages": [{"role": "user", "content": "\xff\xfe\xc3("}]}'),
    ("utf-8 bom garbage", b"\xef\xbb\xbf\xff{}"),
    ("lone surrogate", b'{"messages": [{"role": "user", "content": "\\ud800"}]}'),
    ("nul character", b'{"messages": [{"role": "user", "content": "a\\u0000b"}]}'),
    ("truncated", b'{"messages": [{"role": "user", "cont'),
    ("empty", b""),
    ("null", b"null"),
    ("list", b"[1, 2, 3]"),
    ("string", b'"messages"'),
    ("deep 100k", in_message(nested(100_000))),
    ("deep 5k", in_message(nested(5_000))),
    ("deep 900", in_message(nested(900))),
    ("deep 300", in_message(nested(300))),
    ("deep objects", in_message('{"a":' * 2_000 + "1" + "}" * 2_000)),
    ("huge int", in_message("1" * 5_000)),
    ("huge int 4000", in_message("9" * 4_000)),
    ("huge float", in_message("1e999")),
    ("negative huge float", in_message("-1e999")),
    ("tiny float", in_message("1e-999")),
    ("nan", in_message("NaN")),
    ("infinity", in_message("Infinity")),
    ("big token count", b'{"messages": [{"role": "user", "content": "x", '
                        b'"token_count": 99999999999999999999999999}]}'),
    ("negative seq", b'{"messages": [{"role": "user", "content": "x", "seq": -1}]}'),
    ("wide object", in_message("{" + ",".join(f'"k{i}": {i}' for i in range(20_000)) + "}")),
    ("long key", in_message('{"' + "k" * 200_000 + '": 1}')),
    ("many messages", ('{"messages": [' + ",".join(['{"role": "user", "content": "x"}'] * 10_001)
                       + "]}").encode()),
    ("unknown part", b'{"messages": [{"role": "user", "parts": [{"type": "evil"}]}]}'),
    ("duplicate keys", b'{"messages": [], "messages": [{"role": "user", "content": "x"}],'
                       b' "messages": 5}'),
    ("bad escape", b'{"messages": [{"role": "user", "content": "\\x41"}]}'),
]


async def test_hostile_append_bodies(hapi: Api) -> None:
    for name, body in HOSTILE:
        before = (await hapi.call("GET", "/v1/threads/t")).json()["message_count"]
        r = await hapi.call("POST", "/v1/threads/t/messages", content=body,
                            headers={"Content-Type": "application/json"})
        assert r.status_code < 500, (name, r.status_code, r.text[:300])
        count = (await hapi.call("GET", "/v1/threads/t")).json()["message_count"]
        if r.status_code >= 400:
            assert r.headers["content-type"] == "application/problem+json", name
            assert not any(word in r.text for word in FORBIDDEN), (name, r.text[:500])
            assert count == before, name  # a refused batch left nothing behind
        else:  # valid JSON that the model accepts: it must also read back
            assert count == before + len(r.json()["messages"]), name
            page = await hapi.call("GET", "/v1/threads/t/messages", params={"limit": 1000})
            assert page.status_code == 200, name
            assert (await hapi.call("GET", "/v1/threads/t/export")).status_code == 200, name


async def test_hostile_bodies_on_other_writes(hapi: Api) -> None:
    for name, body in HOSTILE[:14]:
        for method, path in [("POST", "/v1/threads"), ("PATCH", "/v1/threads/t"),
                             ("PUT", "/v1/threads/t/state"), ("PATCH", "/v1/threads/t/state"),
                             ("POST", "/v1/threads/import"), ("PATCH", "/v1/messages/m")]:
            r = await hapi.call(method, path, content=body,
                                headers={"Content-Type": "application/json"})
            assert r.status_code < 500, (name, method, path, r.status_code, r.text[:300])
            assert not any(word in r.text for word in FORBIDDEN), r.text[:500]


async def test_valid_but_extreme_json_is_stored_and_served(hapi: Api) -> None:
    """Values that JSON allows and the model accepts round-trip exactly."""
    deep = nested(50, '"leaf"')
    body = in_message('{"big": ' + "9" * 300 + ', "small": 1e-300, "deep": ' + deep + "}")
    r = await hapi.call("POST", "/v1/threads/t/messages", content=body,
                        headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    mid = r.json()["messages"][0]["id"]
    got = (await hapi.call("GET", f"/v1/messages/{mid}")).json()
    assert got["native"]["data"]["big"] == int("9" * 300)


HEADERS = [
    ("If-Match", '"' + "9" * 40 + '"'),
    ("If-Match", "\u00e9t\u00e9"),
    ("Idempotency-Key", "k" * 10_000),
    ("Content-Type", "application/json; charset=utf-32"),
    ("Content-Type", "text/plain"),
    ("Content-Length", "-1"),
    ("Content-Length", "\u00b2"),
    ("Content-Length", "9" * 5_000),
]
QUERIES = [
    "limit=99999999999999999999999999999", "limit=-1", "limit=abc", "limit=1e3",
    "cursor=" + "A" * 2_000, "cursor=%ff%fe", "cursor=W10", "cursor=WyJ0aHJlYWRzIiwxXQ",
    "include_deleted=maybe", "user_id=%00", "user_id=" + "u" * 300, "agent_name=" + "a" * 300,
]
PATH_IDS = ["x" * 300, "%ff", "%00", "..", "a%2Fb", "-lead", " space", "%F0%9F%92%A9", "a.b:c@d"]


async def test_hostile_headers_queries_and_paths(hapi: Api) -> None:
    body = b'{"messages": [{"role": "user", "content": "x"}]}'
    for where, value in HEADERS:
        headers = {"Content-Type": "application/json", where: value.encode("latin-1")}
        r = await hapi.call("POST", "/v1/threads/t/messages", content=body, headers=headers)
        assert r.status_code < 500, (where, r.status_code, r.text[:300])
        if where != "Content-Type":
            assert r.status_code in (400, 413, 422), (where, r.status_code, r.text[:300])
    for query in QUERIES:
        for path in ("/v1/threads", "/v1/threads/t/messages", "/v1/summaries"):
            r = await hapi.call("GET", f"{path}?{query}")
            assert r.status_code < 500, (path, query, r.text[:300])
    for thread_id in PATH_IDS:
        for method, suffix in [("GET", ""), ("GET", "/messages"), ("PATCH", "/state"),
                               ("DELETE", ""), ("GET", "/export")]:
            r = await hapi.call(method, f"/v1/threads/{thread_id}{suffix}", json={})
            assert r.status_code in (404, 405, 422), (thread_id, suffix, r.status_code)


async def test_random_bytes_never_break_the_server(hapi: Api) -> None:
    rng = random.Random(20240607)
    seeds = [b'{"messages": [{"role": "user", "content": "x"}]}', b'{"title": "t"}', b"{}"]
    paths = [("POST", "/v1/threads/t/messages"), ("POST", "/v1/threads"),
             ("PATCH", "/v1/threads/t"), ("PATCH", "/v1/threads/t/state"),
             ("POST", "/v1/threads/import")]
    for _ in range(300):
        body = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 6)):
            pos = rng.randrange(len(body) + 1)
            if rng.random() < 0.5 and body:
                body[pos % len(body)] = rng.randrange(256)
            else:
                body[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        method, path = rng.choice(paths)
        r = await hapi.call(method, path, content=bytes(body),
                            headers={"Content-Type": "application/json"})
        assert r.status_code < 500, (method, path, bytes(body), r.text[:300])
    assert (await hapi.client.get("/healthz")).status_code == 200
    assert (await hapi.call("GET", "/v1/threads/t")).status_code == 200


async def test_oversized_bodies_on_every_write(hapi: Api) -> None:
    big = b'{"title": "' + b"x" * (LIMIT + 10) + b'"}'
    for method, path in [("POST", "/v1/threads"), ("PATCH", "/v1/threads/t"),
                         ("POST", "/v1/threads/t/messages"), ("POST", "/v1/threads/import"),
                         ("PUT", "/v1/threads/t/state")]:
        r = await hapi.call(method, path, content=big,
                            headers={"Content-Type": "application/json"})
        assert r.status_code == 413, (method, path, r.status_code)


async def test_unauthenticated_bodies_are_not_read(tmp_path: Path) -> None:
    app = create_app("memory://", max_body_bytes=LIMIT)
    async with running(app) as client:
        await issue_keys(app)
        r = await client.post("/v1/threads", content=b"\xff" * 1000,
                              headers={"Content-Type": "application/json"})
        assert r.status_code == 401  # not 400: the key is checked before the body
        r = await client.post("/v1/threads", content=b"x" * (LIMIT + 1))
        assert r.status_code == 401
