"""User and app state over HTTP, and state changes sent with an append."""

from __future__ import annotations

import asyncio

import pytest

from ._helpers import Api

pytestmark = pytest.mark.anyio


async def test_app_state_read_replace_patch_with_etags(api: Api) -> None:
    r = await api.call("GET", "/v1/state/app", who="read_only")
    assert r.status_code == 200 and r.headers["etag"] == '"0"'
    assert r.json()["data"] == {} and r.json()["revision"] == 0

    r = await api.call("PUT", "/v1/state/app", json={"data": {"a": 1, "b": 2}})
    assert r.status_code == 200 and r.headers["etag"] == '"1"'
    r = await api.call(
        "PATCH", "/v1/state/app", json={"a": None, "c": [1]}, headers={"If-Match": '"1"'}
    )
    assert r.status_code == 200 and r.json()["data"] == {"b": 2, "c": [1]}
    assert r.headers["etag"] == '"2"'

    # A stale If-Match is a conflict, and nothing is written.
    r = await api.call("PATCH", "/v1/state/app", json={"b": 3}, headers={"If-Match": '"1"'})
    assert r.status_code == 409 and r.json()["type"].endswith("revision-conflict")
    assert (await api.call("GET", "/v1/state/app")).json()["data"] == {"b": 2, "c": [1]}

    # Read keys read, and only read; the other tenant sees its own state.
    r = await api.call("PATCH", "/v1/state/app", json={"x": 1}, who="read_only")
    assert r.status_code == 403
    assert (await api.call("GET", "/v1/state/app", who="other")).json()["revision"] == 0


async def test_user_state_and_bad_input(api: Api) -> None:
    r = await api.call("PATCH", "/v1/state/users/ada", json={"lang": "fr"})
    assert r.status_code == 200 and r.json()["user_id"] == "ada"
    assert (await api.call("GET", "/v1/state/users/bob")).json()["data"] == {}
    r = await api.call("PATCH", "/v1/state/users/ada", json={"user:lang": "en"})
    assert r.status_code == 422 and r.json()["field"] == "state.changes.user:lang"
    r = await api.call("PUT", "/v1/state/users/ada", json={"data": {}, "extra": 1})
    assert r.status_code == 422
    r = await api.call("PUT", "/v1/state/users/ada", json={"data": {}})
    assert r.json()["data"] == {} and r.json()["revision"] == 2


async def test_concurrent_patches_of_other_keys_lose_none(api: Api) -> None:
    await asyncio.gather(
        *(api.call("PATCH", "/v1/state/users/ada", json={f"k{i}": i}) for i in range(20))
    )
    r = await api.call("GET", "/v1/state/users/ada")
    assert r.json()["data"] == {f"k{i}": i for i in range(20)}
    assert r.json()["revision"] == 20


async def test_append_with_state_is_atomic_and_a_retry_applies_it_once(api: Api) -> None:
    r = await api.call("POST", "/v1/threads", json={"id": "t1", "user_id": "ada"})
    assert r.status_code == 201
    body = {
        "messages": [{"role": "user", "content": "hi"}],
        "state": {
            "thread": {"changes": {"step": 1}},
            "user": {"changes": {"visits": 1}},
            "app": {"changes": {"seen": True}},
        },
    }
    key = {"Idempotency-Key": "req-1"}
    r = await api.call("POST", "/v1/threads/t1/messages", json=body, headers=key)
    assert r.status_code == 201, r.text
    again = await api.call("POST", "/v1/threads/t1/messages", json=body, headers=key)
    assert again.status_code == 201 and again.json() == r.json()
    assert (await api.call("GET", "/v1/state/users/ada")).json()["revision"] == 1
    assert (await api.call("GET", "/v1/threads/t1/state")).json()["data"] == {"step": 1}

    stale = {
        "messages": [{"role": "user", "content": "lost"}],
        "state": {"user": {"changes": {"visits": 2}, "expected_revision": 0}},
    }
    r = await api.call("POST", "/v1/threads/t1/messages", json=stale)
    assert r.status_code == 409
    thread = (await api.call("GET", "/v1/threads/t1")).json()
    assert thread["message_count"] == 1
    assert (await api.call("GET", "/v1/state/users/ada")).json()["data"] == {"visits": 1}
