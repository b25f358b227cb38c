"""Branches over HTTP: fork, edit, regenerate, list, activate, and a branch read
like any thread."""

from __future__ import annotations

import pytest

from ._helpers import Api

pytestmark = pytest.mark.anyio


async def _texts(api: Api, thread_id: str) -> list[str]:
    r = await api.call("GET", f"/v1/threads/{thread_id}/messages", params={"limit": 100})
    assert r.status_code == 200, r.text
    return [m["content"] for m in r.json()["items"]]


async def test_fork_edit_regenerate_and_activate(api: Api) -> None:
    assert (await api.call("POST", "/v1/threads", json={"id": "t"})).status_code == 201
    sent = [
        {"id": "s", "role": "system", "content": "be brief"},
        {"id": "q", "role": "user", "content": "question"},
        {"id": "a", "role": "assistant", "content": "answer"},
    ]
    r = await api.call("POST", "/v1/threads/t/messages", json={"messages": sent})
    assert r.status_code == 201, r.text

    r = await api.call(
        "POST",
        "/v1/threads/t/fork",
        json={
            "id": "b",
            "at": "q",
            "title": "other",
            "messages": [{"role": "assistant", "content": "another answer"}],
        },
    )
    assert r.status_code == 201, r.text
    branch = r.json()
    assert r.headers["Location"] == "/v1/threads/b"
    assert branch["parent_thread_id"] == "t" and branch["fork_seq"] == 2
    assert branch["lineage"] == [{"thread_id": "t", "seq": 2}]
    assert await _texts(api, "b") == ["be brief", "question", "another answer"]
    assert await _texts(api, "t") == ["be brief", "question", "answer"]
    window = (await api.call("GET", "/v1/threads/b/context", params={"max_tokens": 1000})).json()
    assert [m["content"] for m in window["messages"]] == ["be brief", "question", "another answer"]

    r = await api.call("POST", "/v1/messages/q/edit", json={"content": "better question"})
    assert r.status_code == 201, r.text
    edited = r.json()["id"]
    assert await _texts(api, edited) == ["be brief", "better question"]
    r = await api.call("POST", "/v1/messages/a/regenerate", json={"id": "g"})
    assert r.status_code == 201 and await _texts(api, "g") == ["be brief", "question"]

    listed = (await api.call("GET", "/v1/threads/b/branches")).json()
    assert [x["thread"]["id"] for x in listed] == ["t", "b", edited, "g"]
    assert [x["shared_seq"] for x in listed] == [2, 3, 1, 2]
    r = await api.call("POST", "/v1/threads/b/activate")
    assert r.status_code == 200 and r.json()["active_branch_id"] == "b"
    listed = (await api.call("GET", "/v1/threads/t/branches")).json()
    assert [x["is_active"] for x in listed] == [False, True, False, False]

    # A shared message is frozen; the parent cannot be purged under its branches.
    r = await api.call("PATCH", "/v1/messages/q", json={"content": "changed"})
    assert r.status_code == 409, r.text
    assert (await api.call("POST", "/v1/threads/t/purge")).status_code == 409
    exported = (await api.call("GET", "/v1/threads/b/export")).json()
    assert [m["content"] for m in exported["messages"]] == await _texts(api, "b")


async def test_bad_forks(api: Api) -> None:
    assert (await api.call("POST", "/v1/threads", json={"id": "t"})).status_code == 201
    assert (await api.call("POST", "/v1/threads/missing/fork")).status_code == 404
    r = await api.call("POST", "/v1/threads/t/fork", json={"at_seq": 5})
    assert r.status_code == 422, r.text
    assert (await api.call("POST", "/v1/threads/t/fork", json={"at": "nope"})).status_code == 404
    assert (await api.call("POST", "/v1/messages/nope/regenerate")).status_code == 404
