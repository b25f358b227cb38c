"""Hostile requests: malformed, deep, huge or oversized input never gets a 5xx.

Every answer must be a 4xx problem document without a traceback or SQL text,
nothing half-written may remain, and the server must keep serving afterwards.
"""

from __future__ import annotations

import base64
import random
import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote, unquote

import pytest

from convostore.server import create_app
from convostore.testing.contract import REAL_WORLD_IDS

from ._helpers import Api, issue_keys, running

pytestmark = pytest.mark.anyio

LIMIT = 1024 * 1024
FORBIDDEN = (
    "Traceback",
    'File "',
    "sqlite3",
    "SELECT ",
    "INSERT ",
    "UPDATE ",
    "psycopg",
    "pydantic_core",
    "Error(",
)


async def _with_thread(url: str) -> AsyncIterator[Api]:
    app = create_app(url, max_body_bytes=LIMIT)
    async with running(app) as client:
        api = Api(app, client, await issue_keys(app))
        assert (await api.call("POST", "/v1/threads", json={"id": "t"})).status_code == 201
        yield api


@pytest.fixture
async def hapi(store_url: str) -> AsyncIterator[Api]:
    """A thread ``t`` on a fresh store of each backend: for what reaches the store."""
    async for api in _with_thread(store_url):
        yield api


@pytest.fixture
async def vapi() -> AsyncIterator[Api]:
    """The same on the memory store alone, for input refused before any backend
    sees it (the conformance suite checks those refusals on every backend)."""
    async for api in _with_thread("memory://"):
        yield api


def nested(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


def in_message(fragment: str) -> bytes:
    return (
        '{"messages": [{"role": "user", "content": "x", "metadata": {"extra": {}}, '
        '"native": {"format": "raw", "data": ' + fragment + "}}]}"
    ).encode()


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
    (
        "big token count",
        b'{"messages": [{"role": "user", "content": "x", '
        b'"token_count": 99999999999999999999999999}]}',
    ),
    ("negative seq", b'{"messages": [{"role": "user", "content": "x", "seq": -1}]}'),
    ("wide object", in_message("{" + ",".join(f'"k{i}": {i}' for i in range(20_000)) + "}")),
    ("long key", in_message('{"' + "k" * 200_000 + '": 1}')),
    (
        "many messages",
        (
            '{"messages": [' + ",".join(['{"role": "user", "content": "x"}'] * 10_001) + "]}"
        ).encode(),
    ),
    ("unknown part", b'{"messages": [{"role": "user", "parts": [{"type": "evil"}]}]}'),
    (
        "duplicate keys",
        b'{"messages": [], "messages": [{"role": "user", "content": "x"}], "messages": 5}',
    ),
    ("bad escape", b'{"messages": [{"role": "user", "content": "\\x41"}]}'),
]


async def test_hostile_append_bodies(hapi: Api) -> None:
    for name, body in HOSTILE:
        before = (await hapi.call("GET", "/v1/threads/t")).json()["message_count"]
        r = await hapi.call(
            "POST",
            "/v1/threads/t/messages",
            content=body,
            headers={"Content-Type": "application/json"},
        )
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
        for method, path in [
            ("POST", "/v1/threads"),
            ("PATCH", "/v1/threads/t"),
            ("PUT", "/v1/threads/t/state"),
            ("PATCH", "/v1/threads/t/state"),
            ("POST", "/v1/threads/import"),
            ("PATCH", "/v1/messages/m"),
        ]:
            r = await hapi.call(
                method, path, content=body, headers={"Content-Type": "application/json"}
            )
            assert r.status_code < 500, (name, method, path, r.status_code, r.text[:300])
            assert not any(word in r.text for word in FORBIDDEN), r.text[:500]


async def test_valid_but_extreme_json_is_stored_and_served(hapi: Api) -> None:
    """Values that JSON allows and the model accepts round-trip exactly."""
    deep = nested(50, '"leaf"')
    body = in_message('{"big": ' + "9" * 300 + ', "small": 1e-300, "deep": ' + deep + "}")
    r = await hapi.call(
        "POST", "/v1/threads/t/messages", content=body, headers={"Content-Type": "application/json"}
    )
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
    "limit=99999999999999999999999999999",
    "limit=-1",
    "limit=abc",
    "limit=1e3",
    "cursor=" + "A" * 2_000,
    "cursor=%ff%fe",
    "cursor=W10",
    "cursor=WyJ0aHJlYWRzIiwxXQ",
    "include_deleted=maybe",
    "user_id=%00",
    "user_id=" + "u" * 300,
    "agent_name=" + "a" * 300,
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
        for method, suffix in [
            ("GET", ""),
            ("GET", "/messages"),
            ("PATCH", "/state"),
            ("DELETE", ""),
            ("GET", "/export"),
        ]:
            r = await hapi.call(method, f"/v1/threads/{thread_id}{suffix}", json={})
            assert r.status_code in (404, 405, 422), (thread_id, suffix, r.status_code)


async def test_random_bytes_never_break_the_server(hapi: Api) -> None:
    rng = random.Random(20240607)
    seeds = [b'{"messages": [{"role": "user", "content": "x"}]}', b'{"title": "t"}', b"{}"]
    paths = [
        ("POST", "/v1/threads/t/messages"),
        ("POST", "/v1/threads"),
        ("PATCH", "/v1/threads/t"),
        ("PATCH", "/v1/threads/t/state"),
        ("POST", "/v1/threads/import"),
    ]
    for _ in range(300):
        body = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 6)):
            pos = rng.randrange(len(body) + 1)
            if rng.random() < 0.5 and body:
                body[pos % len(body)] = rng.randrange(256)
            else:
                body[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        method, path = rng.choice(paths)
        r = await hapi.call(
            method, path, content=bytes(body), headers={"Content-Type": "application/json"}
        )
        assert r.status_code < 500, (method, path, bytes(body), r.text[:300])
    assert (await hapi.client.get("/healthz")).status_code == 200
    assert (await hapi.call("GET", "/v1/threads/t")).status_code == 200


async def test_oversized_bodies_on_every_write(hapi: Api) -> None:
    big = b'{"title": "' + b"x" * (LIMIT + 10) + b'"}'
    for method, path in [
        ("POST", "/v1/threads"),
        ("PATCH", "/v1/threads/t"),
        ("POST", "/v1/threads/t/messages"),
        ("POST", "/v1/threads/import"),
        ("PUT", "/v1/threads/t/state"),
    ]:
        r = await hapi.call(method, path, content=big, headers={"Content-Type": "application/json"})
        assert r.status_code == 413, (method, path, r.status_code)


async def test_unauthenticated_bodies_are_not_read(tmp_path: Path) -> None:
    app = create_app("memory://", max_body_bytes=LIMIT)
    async with running(app) as client:
        await issue_keys(app)
        r = await client.post(
            "/v1/threads", content=b"\xff" * 1000, headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 401  # not 400: the key is checked before the body
        r = await client.post("/v1/threads", content=b"x" * (LIMIT + 1))
        assert r.status_code == 401


# --- real-world and hostile ids in paths, queries and bodies --------------------


def segment(value: str) -> str:
    """``value`` as one URL path segment: every reserved character percent-encoded,
    and the dots of "." and "..", which a client would resolve away."""
    encoded = quote(value, safe="")
    return encoded.replace(".", "%2E") if encoded in (".", "..") else encoded


@pytest.fixture
async def idapi(store_url: str) -> AsyncIterator[Api]:
    app = create_app(store_url, max_body_bytes=LIMIT)
    async with running(app) as client:
        yield Api(app, client, await issue_keys(app))


async def test_real_world_ids_work_in_every_route(idapi: Api) -> None:
    api = idapi
    for n, rid in enumerate((*REAL_WORLD_IDS, "t/messages", "x/restore", "q?a=1", "#frag")):
        p = f"/v1/threads/{segment(rid)}"
        r = await api.call("POST", "/v1/threads", json={"id": rid, "user_id": rid})
        assert r.status_code == 201, (rid, r.text)
        assert r.json()["id"] == rid and r.headers["location"] == p
        r = await api.call(
            "POST",
            f"{p}/messages",
            json={
                "messages": [
                    {"role": "user", "content": "q", "id": rid, "execution_id": rid},
                    {"role": "assistant", "content": "a", "id": f"r{n}", "parent_id": rid},
                ]
            },
        )
        assert r.status_code == 201, (rid, r.text)
        r = await api.call("GET", p)
        assert (r.status_code, r.json()["id"], r.json()["user_id"]) == (200, rid, rid), rid
        r = await api.call("GET", "/v1/threads", params={"user_id": rid})
        assert [t["id"] for t in r.json()["items"]] == [rid]
        r = await api.call("GET", "/v1/summaries", params={"user_id": rid})
        assert [t["id"] for t in r.json()] == [rid]
        r = await api.call("GET", f"{p}/messages", params={"limit": 1})
        assert [m["id"] for m in r.json()["items"]] == [rid]
        r = await api.call(
            "GET", f"{p}/messages", params={"limit": 1, "cursor": r.json()["next_cursor"]}
        )
        assert [(m["id"], m["parent_id"]) for m in r.json()["items"]] == [(f"r{n}", rid)]
        r = await api.call("GET", f"/v1/messages/{segment(rid)}")
        assert (r.status_code, r.json()["id"], r.json()["thread_id"]) == (200, rid, rid)
        r = await api.call("PATCH", f"/v1/messages/{segment(rid)}", json={"pinned": True})
        assert (r.status_code, r.json()["pinned"]) == (200, True)
        r = await api.call(
            "GET", f"/v1/executions/{segment(rid)}/messages", params={"thread_id": rid}
        )
        assert [m["id"] for m in r.json()] == [rid]
        for suffix in ("/summary", "/state", "/context"):
            r = await api.call("GET", p + suffix)
            assert r.status_code == 200, (rid, suffix, r.text)
        r = await api.call("GET", f"{p}/export")
        assert r.status_code == 200 and r.json()["thread"]["id"] == rid
        disposition = r.headers["content-disposition"]
        assert disposition.isascii() and "\n" not in disposition
        extended = re.search(r"filename\*=UTF-8''(\S+)", disposition)
        plain = re.search(r'filename="([^"]*)"', disposition)
        assert plain is not None
        assert (unquote(extended[1]) if extended else plain[1]) == f"{rid}.json"
        r = await api.call(
            "POST", "/v1/threads/import", who="other", json=r.json(), params={"thread_id": rid}
        )
        assert r.status_code == 201 and r.headers["location"] == p, (rid, r.text)
        r = await api.call("DELETE", p)
        assert (r.status_code, r.json()["id"]) == (200, rid)
        assert (await api.call("POST", f"{p}/restore")).status_code == 200
        assert (await api.call("POST", f"{p}/purge")).status_code == 204
        assert (await api.call("GET", p)).status_code == 404
        assert (await api.call("GET", p, who="other")).json()["id"] == rid


async def test_an_encoded_slash_stays_inside_its_id(idapi: Api) -> None:
    api = idapi
    for tid in ("x", "x/messages", "x/restore"):
        assert (await api.call("POST", "/v1/threads", json={"id": tid})).status_code == 201
    await api.call(
        "POST", "/v1/threads/x/messages", json={"messages": [{"role": "user", "content": "of x"}]}
    )
    r = await api.call("GET", "/v1/threads/x%2Fmessages")
    assert r.json()["id"] == "x/messages"  # the thread, not the messages of "x"
    r = await api.call("GET", "/v1/threads/x%2fmessages/messages")
    assert r.status_code == 200 and r.json()["items"] == []
    r = await api.call("POST", "/v1/threads/x%2Frestore")
    assert r.status_code == 405  # a thread path: no POST there
    assert (await api.call("GET", "/v1/threads/x")).json()["message_count"] == 1


@pytest.mark.parametrize(
    "bad",
    ["a\x00b", "line\nbreak", "trailing\n", "\x1b[31mred", "c1\x85", "ls\u2028", "x" * 256],
    ids=ascii,
)
async def test_ids_with_control_characters_get_422_naming_the_field(vapi: Api, bad: str) -> None:
    hapi = vapi
    msg = {"role": "user", "content": "x"}
    cases = [
        ("POST", "/v1/threads", {"json": {"id": bad}}, "id"),
        ("POST", "/v1/threads", {"json": {"user_id": bad}}, "user_id"),
        ("PATCH", "/v1/threads/t", {"json": {"user_id": bad}}, "user_id"),
        ("GET", f"/v1/threads/{segment(bad)}", {}, "thread_id"),
        ("GET", f"/v1/threads/{segment(bad)}/messages", {}, "thread_id"),
        ("DELETE", f"/v1/threads/{segment(bad)}", {}, "thread_id"),
        ("GET", f"/v1/messages/{segment(bad)}", {}, "message_id"),
        ("GET", f"/v1/executions/{segment(bad)}/messages", {}, "execution_id"),
        ("GET", "/v1/threads", {"params": {"user_id": bad}}, "user_id"),
        (
            "POST",
            "/v1/threads/t/messages",
            {"json": {"messages": [{**msg, "id": bad}]}},
            "messages.0.id",
        ),
        (
            "POST",
            "/v1/threads/t/messages",
            {"json": {"messages": [{**msg, "execution_id": bad}]}},
            "messages.0.execution_id",
        ),
    ]
    for method, path, kw, field in cases:
        r = await hapi.call(method, path, **kw)
        assert r.status_code == 422, (method, path, r.status_code, r.text[:300])
        body = r.json()
        assert body["field"] == field, (method, path, body)
        assert "control characters" in body["detail"], body
    r = await hapi.call("GET", "/v1/threads/t")
    assert r.json()["message_count"] == 0 and r.json()["user_id"] is None


def crafted_cursor(json_text: str) -> str:
    """A cursor holding ``json_text``, base64-encoded as the server encodes its own."""
    return base64.urlsafe_b64encode(json_text.encode()).decode().rstrip("=")


CRAFTED_LISTINGS = [
    pytest.param(
        "/v1/threads",
        {"cursor": crafted_cursor(f'["threads",{2**64},"t"]')},
        "cursor",
        id="threads-time-over-64-bits",
    ),
    pytest.param(
        "/v1/threads",
        {"cursor": crafted_cursor(f'["threads",{-(2**63 + 1)},"t"]')},
        "cursor",
        id="threads-time-below-int64",
    ),
    pytest.param(
        "/v1/threads",
        {"cursor": crafted_cursor(f'["threads",{2**62},"t"]')},
        "cursor",
        id="threads-time-past-year-9999",
    ),
    pytest.param(
        "/v1/threads",
        {"cursor": crafted_cursor('["threads",true,"t"]')},
        "cursor",
        id="threads-bool-time",
    ),
    pytest.param(
        "/v1/threads",
        {"cursor": crafted_cursor('["threads",0,"t\\n"]')},
        "cursor",
        id="threads-trailing-newline-id",
    ),
    pytest.param(
        "/v1/threads/t/messages",
        {"cursor": crafted_cursor(f'["messages","t","after",{2**64}]')},
        "cursor",
        id="messages-seq-over-64-bits",
    ),
    pytest.param(
        "/v1/threads/t/messages",
        {"cursor": crafted_cursor(f'["messages","t","before",{2**63}]')},
        "cursor",
        id="messages-seq-past-int64",
    ),
    pytest.param(
        "/v1/threads/t/messages",
        {"cursor": crafted_cursor('["messages","t","after",true]')},
        "cursor",
        id="messages-bool-seq",
    ),
    pytest.param(
        "/v1/threads", {"agent_name": "agent\x00"}, "agent_name", id="threads-nul-agent-name"
    ),
    pytest.param(
        "/v1/summaries", {"agent_name": "\x00"}, "agent_name", id="summaries-nul-agent-name"
    ),
    pytest.param(
        "/v1/threads", {"user_id": "u1\n"}, "user_id", id="threads-trailing-newline-user-id"
    ),
]


@pytest.mark.parametrize(("path", "params", "field"), CRAFTED_LISTINGS)
async def test_crafted_cursors_and_filters_get_422(
    vapi: Api, path: str, params: dict[str, str], field: str
) -> None:
    hapi = vapi
    r = await hapi.call(
        "POST", "/v1/threads/t/messages", json={"messages": [{"role": "user", "content": "x"}]}
    )
    assert r.status_code == 201
    r = await hapi.call("GET", path, params=params)
    assert r.status_code == 422, (path, params, r.status_code, r.text[:300])
    assert r.json()["field"] == field, r.json()
    assert (await hapi.call("GET", "/v1/threads/t/messages")).status_code == 200


async def test_an_id_that_is_not_utf8_gets_422(vapi: Api) -> None:
    hapi = vapi
    for path, field in [("/v1/threads/%FF", "thread_id"), ("/v1/messages/a%C3", "message_id")]:
        r = await hapi.call("GET", path)
        assert r.status_code == 422 and r.json()["field"] == field, (path, r.text)


async def test_a_damaged_thread_file_costs_that_thread_only(tmp_path: Path) -> None:
    root = tmp_path / "store"
    url = f"json:///{root}"
    app = create_app(url, max_body_bytes=LIMIT)
    async with running(app) as client:
        tokens = await issue_keys(app)
        api = Api(app, client, tokens)
        for tid in ("good", "bad"):
            assert (await api.call("POST", "/v1/threads", json={"id": tid})).status_code == 201
    damaged = next(root.glob("acme/bad.json"))
    damaged.write_bytes(b'{"format": "convostore.thread", "vers')
    app = create_app(url, max_body_bytes=LIMIT)
    async with running(app) as client:
        api = Api(app, client, tokens)
        assert (await api.call("GET", "/v1/threads/good")).status_code == 200
        listed = (await api.call("GET", "/v1/threads")).json()["items"]
        assert [t["id"] for t in listed] == ["good"]
        for method, path in [
            ("GET", "/v1/threads/bad"),
            ("GET", "/v1/threads/bad/messages"),
            ("POST", "/v1/threads/bad/messages"),
            ("DELETE", "/v1/threads/bad"),
        ]:
            body = {"messages": [{"role": "user", "content": "x"}]}
            r = await api.call(method, path, json=body if method == "POST" else None)
            assert r.status_code == 500, (method, path, r.text)
            assert r.json()["type"].endswith(":thread-damaged")
            assert str(root) not in r.text  # the file's place is the operator's business
        r = await api.call("POST", "/v1/threads", json={"id": "bad"})
        assert r.status_code == 500
        assert (await client.get("/readyz")).status_code == 200
    assert damaged.read_bytes() == b'{"format": "convostore.thread", "vers'
