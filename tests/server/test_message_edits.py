"""Editing a message over HTTP keeps it whole, as the store does."""

from __future__ import annotations

import pytest

from ._helpers import Api

pytestmark = pytest.mark.anyio


async def test_patching_content_rewrites_parts_and_count(api: Api) -> None:
    assert (await api.call("POST", "/v1/threads", json={"id": "t"})).status_code == 201
    r = await api.call(
        "POST",
        "/v1/threads/t/messages",
        json={"messages": [{"id": "m1", "role": "user", "content": "hi"}]},
    )
    assert r.status_code == 201
    before = (await api.call("GET", "/v1/messages/m1")).json()
    long = "Please summarise the attached quarterly report, section by section. " * 30
    r = await api.call("PATCH", "/v1/messages/m1", json={"content": long})
    assert r.status_code == 200, r.text
    got = (await api.call("GET", "/v1/messages/m1")).json()
    assert got["content"] == long
    assert got["parts"] == [{"type": "text", "text": long}]
    assert got["token_count"] > 10 * before["token_count"]
    thread = (await api.call("GET", "/v1/threads/t")).json()
    assert thread["token_count"] == got["token_count"]
    window = (await api.call("GET", "/v1/threads/t/context", params={"max_tokens": 100_000})).json()
    assert window["tokens"] == got["token_count"]
    assert window["messages"][0]["parts"] == [{"type": "text", "text": long}]
