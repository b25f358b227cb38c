"""The context window route, which exposes ``AsyncStore.context`` over HTTP."""

from __future__ import annotations

import pytest

from ._helpers import Api

pytestmark = pytest.mark.anyio


async def seed(api: Api) -> None:
    assert (await api.call("POST", "/v1/threads", json={"id": "t"})).status_code == 201
    msgs = [{"role": "system", "content": "be brief", "token_count": 5}]
    for i in range(1, 7):
        msgs.append({"role": "user", "content": f"q{i}", "token_count": 10})
        msgs.append({"role": "assistant", "content": f"a{i}", "token_count": 10})
    assert (
        await api.call("POST", "/v1/threads/t/messages", json={"messages": msgs})
    ).status_code == 201


async def test_window_keeps_the_system_prompt_and_the_newest_messages(api: Api) -> None:
    await seed(api)
    r = await api.call("GET", "/v1/threads/t/context", params={"max_tokens": 45})
    assert r.status_code == 200, r.text
    body = r.json()
    contents = [m["content"] for m in body["messages"]]
    assert contents == ["be brief", "q5", "a5", "q6", "a6"]
    assert body["tokens"] == 45 and body["estimated"] is False
    assert body["truncated"] is True


async def test_message_budget_and_start_on_user(api: Api) -> None:
    await seed(api)
    r = await api.call(
        "GET", "/v1/threads/t/context", params={"max_messages": 4, "start_on_user": True}
    )
    contents = [m["content"] for m in r.json()["messages"]]
    assert contents[0] == "be brief"
    assert contents[1].startswith("q") and len(contents) <= 4
    whole = (await api.call("GET", "/v1/threads/t/context")).json()
    assert len(whole["messages"]) == 13 and whole["truncated"] is False


async def test_budget_too_small_for_the_mandatory_part_is_422(api: Api) -> None:
    await seed(api)
    r = await api.call("GET", "/v1/threads/t/context", params={"max_tokens": 1})
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("context-budget")


async def test_bad_parameters_and_unknown_threads(api: Api) -> None:
    await seed(api)
    r = await api.call("GET", "/v1/threads/t/context", params={"max_tokens": 0})
    assert r.status_code == 422 and r.json()["field"] == "max_tokens"
    assert (await api.call("GET", "/v1/threads/nope/context")).status_code == 404
    assert (await api.call("GET", "/v1/threads/t/context", who="other")).status_code == 404
    assert (await api.call("GET", "/v1/threads/t/context", who="read_only")).status_code == 200
