"""Restore, purge, pop, clear, trim and replace over HTTP: one store call each."""

from __future__ import annotations

from typing import Any

import pytest

from ._helpers import Api

pytestmark = pytest.mark.anyio


async def _thread(api: Api) -> None:
    assert (await api.call("POST", "/v1/threads", json={"id": "t"})).status_code == 201
    messages = [
        {"id": "m1", "role": "system", "content": "be brief"},
        {"id": "m2", "role": "user", "content": "one"},
        {"id": "m3", "role": "assistant", "content": "two"},
        {"id": "m4", "role": "user", "content": "three"},
    ]
    r = await api.call("POST", "/v1/threads/t/messages", json={"messages": messages})
    assert r.status_code == 201, r.text


async def _ids(api: Api, **params: Any) -> list[tuple[str, int]]:
    page = (await api.call("GET", "/v1/threads/t/messages", params=params)).json()
    return [(m["id"], m["seq"]) for m in page["items"]]


async def test_purge_and_restore(api: Api) -> None:
    await _thread(api)
    r = await api.call("POST", "/v1/messages/m2/purge")
    assert r.status_code == 200 and r.json()["id"] == "m2"
    assert await _ids(api, include_deleted=True) == [("m1", 1), ("m3", 2), ("m4", 3)]
    assert (await api.call("GET", "/v1/messages/m2")).status_code == 404
    assert (await api.call("DELETE", "/v1/messages/m3")).status_code == 200
    r = await api.call("POST", "/v1/messages/m3/restore")
    assert r.status_code == 200 and r.json()["deleted_at"] is None
    assert await _ids(api) == [("m1", 1), ("m3", 2), ("m4", 3)]


async def test_pop_until_null(api: Api) -> None:
    await _thread(api)
    popped = []
    for _ in range(5):
        r = await api.call("POST", "/v1/threads/t/messages/pop")
        assert r.status_code == 200, r.text
        popped.append(r.json()["message"] and r.json()["message"]["id"])
    assert popped == ["m4", "m3", "m2", "m1", None]
    thread = (await api.call("GET", "/v1/threads/t")).json()
    assert (thread["message_count"], thread["turn_count"]) == (0, 0)


async def test_clear_modes_and_a_stale_revision(api: Api) -> None:
    await _thread(api)
    rev = (await api.call("GET", "/v1/threads/t")).json()["revision"]
    r = await api.call("POST", "/v1/threads/t/messages/clear", headers={"If-Match": f'"{rev + 5}"'})
    assert r.status_code == 409, r.text
    r = await api.call("POST", "/v1/threads/t/messages/clear")
    assert r.status_code == 200, r.text
    assert r.json()["cleared"] == 3 and r.headers["ETag"] == f'"{rev + 1}"'
    assert (await api.call("POST", "/v1/threads/t/messages/clear?mode=shred")).status_code == 422
    r = await api.call("POST", "/v1/threads/t/messages/clear?mode=purge&keep=none")
    assert r.json()["cleared"] == 1  # the system prompt; the archived ones stay
    assert [mid for mid, _ in await _ids(api, include_deleted=True)] == ["m2", "m3", "m4"]


async def test_trim_takes_the_oldest(api: Api) -> None:
    await _thread(api)
    r = await api.call("POST", "/v1/threads/t/messages/trim?n=2")
    assert r.status_code == 200, r.text
    assert [m["id"] for m in r.json()["messages"]] == ["m2", "m3"]  # the system prompt stays
    assert r.json()["messages"][0]["archived_at"] is None  # as they were
    assert r.headers["ETag"] == f'"{r.json()["thread"]["revision"]}"'
    r = await api.call("POST", "/v1/threads/t/messages/trim?n=5&mode=purge&keep=none")
    assert [m["id"] for m in r.json()["messages"]] == ["m1", "m4"]
    assert (await api.call("POST", "/v1/threads/t/messages/trim?n=-1")).status_code == 422
    assert (await api.call("POST", "/v1/threads/t/messages/trim")).status_code == 422
    assert (await api.call("POST", "/v1/threads/nope/messages/trim?n=1")).status_code == 404


async def test_replace_the_history(api: Api) -> None:
    await _thread(api)
    body = {"messages": [{"id": "m1", "role": "system", "content": "be brief"},
                         {"role": "user", "content": "summary"}]}  # fmt: skip
    r = await api.call("PUT", "/v1/threads/t/messages", json=body)
    assert r.status_code == 200, r.text
    assert [m["seq"] for m in r.json()["messages"]] == [1, 2]
    assert (await _ids(api))[0] == ("m1", 1)
    r = await api.call("PUT", "/v1/threads/t/messages", json={"messages": []})
    assert r.status_code == 200 and r.json()["messages"] == []
    assert await _ids(api, include_deleted=True) == []
    r = await api.call("PUT", "/v1/threads/t/messages", json={"messages": [{"role": "x"}]})
    assert r.status_code == 422
