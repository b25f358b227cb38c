"""The REST API end to end through an in-process ASGI client, on memory and SQLite."""

from __future__ import annotations

import pytest

from convostore.model import ConversationSnapshot

from ._helpers import Api

pytestmark = pytest.mark.anyio


async def new_thread(api: Api, **body: object) -> dict[str, object]:
    r = await api.call("POST", "/v1/threads", json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_thread_lifecycle_with_etags(api: Api) -> None:
    r = await api.call(
        "POST",
        "/v1/threads",
        json={"id": "t1", "title": "hello", "user_id": "u1", "agent_name": "bot"},
    )
    assert r.status_code == 201
    assert r.headers["location"] == "/v1/threads/t1"
    assert r.headers["etag"] == '"0"'
    body = r.json()
    assert body["tenant_id"] == "acme" and body["title"] == "hello"

    r = await api.call("GET", "/v1/threads/t1")
    assert r.status_code == 200 and r.headers["etag"] == '"0"'

    r = await api.call(
        "PATCH", "/v1/threads/t1", json={"title": "renamed"}, headers={"If-Match": '"0"'}
    )
    assert r.status_code == 200 and r.json()["title"] == "renamed"
    assert r.headers["etag"] == '"1"'

    # A stale If-Match is a conflict, and nothing is written.
    r = await api.call(
        "PATCH", "/v1/threads/t1", json={"title": "lost"}, headers={"If-Match": '"0"'}
    )
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("revision-conflict")
    assert (await api.call("GET", "/v1/threads/t1")).json()["title"] == "renamed"

    # Weak and bare forms of the ETag are understood, and * matches anything.
    assert (
        await api.call(
            "PATCH", "/v1/threads/t1", json={"model": "m"}, headers={"If-Match": 'W/"1"'}
        )
    ).status_code == 200
    assert (
        await api.call("PATCH", "/v1/threads/t1", json={"model": "n"}, headers={"If-Match": "*"})
    ).status_code == 200

    r = await api.call("DELETE", "/v1/threads/t1")
    assert r.status_code == 200 and r.json()["deleted_at"] is not None
    assert (await api.call("GET", "/v1/threads")).json()["items"] == []
    listed = (await api.call("GET", "/v1/threads", params={"include_deleted": True})).json()
    assert [t["id"] for t in listed["items"]] == ["t1"]
    # Writing to a deleted thread is a conflict until it is restored.
    r = await api.call(
        "POST", "/v1/threads/t1/messages", json={"messages": [{"role": "user", "content": "x"}]}
    )
    assert r.status_code == 409 and r.json()["type"].endswith("thread-deleted")

    r = await api.call("POST", "/v1/threads/t1/restore")
    assert r.status_code == 200 and r.json()["deleted_at"] is None

    r = await api.call("POST", "/v1/threads/t1/purge")
    assert r.status_code == 204 and r.content == b""
    assert (await api.call("GET", "/v1/threads/t1")).status_code == 404


async def test_create_thread_without_body_and_duplicate_id(api: Api) -> None:
    r = await api.call("POST", "/v1/threads")
    assert r.status_code == 201 and r.json()["id"].startswith("th_")
    await new_thread(api, id="dup")
    r = await api.call("POST", "/v1/threads", json={"id": "dup"})
    assert r.status_code == 409 and r.json()["type"].endswith("thread-exists")


async def test_list_threads_pages_and_filters(api: Api) -> None:
    for i in range(5):
        await new_thread(
            api, id=f"t{i}", user_id="alice" if i % 2 else "bob", agent_name="a" if i < 3 else "b"
        )
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await api.call("GET", "/v1/threads", params=params)).json()
        assert len(page["items"]) <= 2
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["t4", "t3", "t2", "t1", "t0"]  # newest activity first
    alice = (await api.call("GET", "/v1/threads", params={"user_id": "alice"})).json()
    assert {t["id"] for t in alice["items"]} == {"t1", "t3"}
    agent_b = (await api.call("GET", "/v1/threads", params={"agent_name": "b"})).json()
    assert {t["id"] for t in agent_b["items"]} == {"t3", "t4"}
    r = await api.call("GET", "/v1/threads", params={"cursor": "garbage!"})
    assert r.status_code == 422 and r.json()["field"] == "cursor"


async def test_append_and_list_messages_both_ways(api: Api) -> None:
    await new_thread(api, id="t")
    msgs = [{"role": "system", "content": "be brief"}] + [
        {"role": "user" if i % 2 else "assistant", "content": f"m{i}"} for i in range(1, 8)
    ]
    r = await api.call("POST", "/v1/threads/t/messages", json={"messages": msgs})
    assert r.status_code == 201
    stored = r.json()["messages"]
    assert [m["seq"] for m in stored] == list(range(1, 9))
    assert all(m["thread_id"] == "t" for m in stored)

    forward: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await api.call("GET", "/v1/threads/t/messages", params=params)).json()
        forward += [m["content"] for m in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert forward == ["be brief"] + [f"m{i}" for i in range(1, 8)]

    page = (
        await api.call("GET", "/v1/threads/t/messages", params={"limit": 3, "from_end": True})
    ).json()
    assert [m["content"] for m in page["items"]] == ["m5", "m6", "m7"]
    older = (
        await api.call(
            "GET", "/v1/threads/t/messages", params={"limit": 3, "cursor": page["prev_cursor"]}
        )
    ).json()
    assert [m["content"] for m in older["items"]] == ["m2", "m3", "m4"]

    thread = (await api.call("GET", "/v1/threads/t")).json()
    assert thread["message_count"] == 8 and thread["turn_count"] == 4


async def test_idempotency_key_makes_retries_add_nothing(api: Api) -> None:
    await new_thread(api, id="t")
    body = {
        "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    }
    headers = {"Idempotency-Key": "req-42"}
    first = await api.call("POST", "/v1/threads/t/messages", json=body, headers=headers)
    again = await api.call("POST", "/v1/threads/t/messages", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert [m["id"] for m in first.json()["messages"]] == [
        m["id"] for m in again.json()["messages"]
    ]
    assert (await api.call("GET", "/v1/threads/t")).json()["message_count"] == 2

    # The same key with another body is refused rather than silently ignored.
    other = {"messages": [{"role": "user", "content": "something else"}]}
    r = await api.call("POST", "/v1/threads/t/messages", json=other, headers=headers)
    assert r.status_code == 409 and r.json()["type"].endswith("idempotency-key-reused")

    # Without a key every request appends; client-chosen ids are idempotent too.
    await api.call("POST", "/v1/threads/t/messages", json=other)
    await api.call("POST", "/v1/threads/t/messages", json=other)
    with_id = {"messages": [{"id": "m-1", "role": "user", "content": "once"}]}
    await api.call("POST", "/v1/threads/t/messages", json=with_id)
    await api.call("POST", "/v1/threads/t/messages", json=with_id)
    assert (await api.call("GET", "/v1/threads/t")).json()["message_count"] == 5


@pytest.mark.parametrize("change", ["longer", "shorter", "other message"])
async def test_an_idempotency_key_is_bound_to_the_whole_request(api: Api, change: str) -> None:
    """A key reused with a batch that shares a prefix with the first is refused
    whole: nothing is appended, even at positions the first request never had."""
    await new_thread(api, id="t")
    sent = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    headers = {"Idempotency-Key": "req-7"}
    first = await api.call(
        "POST", "/v1/threads/t/messages", json={"messages": sent}, headers=headers
    )
    assert first.status_code == 201
    other = {
        "longer": [*sent, {"role": "user", "content": "and more"}],
        "shorter": sent[:1],
        "other message": [sent[0], {"role": "assistant", "content": "bye"}],
    }[change]
    r = await api.call("POST", "/v1/threads/t/messages", json={"messages": other}, headers=headers)
    assert r.status_code == 409, r.text
    assert r.json()["type"].endswith("idempotency-key-reused")
    listed = (await api.call("GET", "/v1/threads/t/messages")).json()["items"]
    assert [m["content"] for m in listed] == ["hi", "hello"]
    # The first request's retry is still a replay, and says which request it was.
    again = await api.call(
        "POST", "/v1/threads/t/messages", json={"messages": sent}, headers=headers
    )
    assert again.status_code == 201
    assert again.json()["messages"] == first.json()["messages"]
    digests = {m["request_digest"] for m in first.json()["messages"]}
    assert len(digests) == 1 and None not in digests


async def test_a_retry_that_reorders_json_keys_is_the_same_request(api: Api) -> None:
    await new_thread(api, id="t")
    headers = {"Idempotency-Key": "req-8", "Content-Type": "application/json"}
    one = b'{"messages":[{"role":"user","content":"hi","pinned":true}]}'
    two = b'{"messages": [{"pinned": true, "content": "hi", "role": "user"}]}'
    a = await api.call("POST", "/v1/threads/t/messages", content=one, headers=headers)
    b = await api.call("POST", "/v1/threads/t/messages", content=two, headers=headers)
    assert a.status_code == b.status_code == 201
    assert (await api.call("GET", "/v1/threads/t")).json()["message_count"] == 1


async def test_a_retried_conditional_append_is_a_replay_not_a_conflict(api: Api) -> None:
    """The response to an append with If-Match was lost; the client sends it again."""
    await new_thread(api, id="t")
    body = {"messages": [{"role": "user", "content": "hi"}]}
    headers = {"If-Match": '"0"', "Idempotency-Key": "once"}
    first = await api.call("POST", "/v1/threads/t/messages", json=body, headers=headers)
    again = await api.call("POST", "/v1/threads/t/messages", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    other = {"messages": [{"role": "user", "content": "new"}]}
    r = await api.call(
        "POST",
        "/v1/threads/t/messages",
        json=other,
        headers={"If-Match": '"0"', "Idempotency-Key": "twice"},
    )
    assert r.status_code == 409


async def test_append_is_atomic_and_checks_if_match(api: Api) -> None:
    await new_thread(api, id="t")
    bad = {
        "messages": [
            {"role": "user", "content": "ok"},
            {"role": "user", "content": "x", "thread_id": "elsewhere"},
        ]
    }
    r = await api.call("POST", "/v1/threads/t/messages", json=bad)
    assert r.status_code == 422
    assert (await api.call("GET", "/v1/threads/t")).json()["message_count"] == 0
    one = {"messages": [{"role": "user", "content": "a"}]}
    r = await api.call("POST", "/v1/threads/t/messages", json=one, headers={"If-Match": '"5"'})
    assert r.status_code == 409
    r = await api.call("POST", "/v1/threads/t/messages", json=one, headers={"If-Match": '"0"'})
    assert r.status_code == 201
    r = await api.call("POST", "/v1/threads/t/messages", json={"messages": []})
    assert r.status_code == 422 and r.json()["field"] == "messages"


async def test_message_get_update_delete(api: Api) -> None:
    await new_thread(api, id="t")
    r = await api.call(
        "POST",
        "/v1/threads/t/messages",
        json={"messages": [{"id": "m1", "role": "user", "content": "hi"}]},
    )
    assert r.status_code == 201
    got = (await api.call("GET", "/v1/messages/m1")).json()
    assert got["content"] == "hi" and got["seq"] == 1
    r = await api.call("PATCH", "/v1/messages/m1", json={"content": "hey", "pinned": True})
    assert r.status_code == 200 and r.json()["content"] == "hey" and r.json()["pinned"]
    r = await api.call(
        "PATCH", "/v1/messages/m1", json={"pinned": False}, headers={"If-Match": '"0"'}
    )
    assert r.status_code == 409
    r = await api.call("DELETE", "/v1/messages/m1")
    assert r.status_code == 200 and r.json()["deleted_at"] is not None
    assert (await api.call("GET", "/v1/threads/t/messages")).json()["items"] == []
    page = (
        await api.call("GET", "/v1/threads/t/messages", params={"include_deleted": True})
    ).json()
    assert [m["id"] for m in page["items"]] == ["m1"]
    assert (await api.call("GET", "/v1/messages/nope")).status_code == 404


async def test_execution_messages(api: Api) -> None:
    await new_thread(api, id="t")
    msgs = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a", "execution_id": "run-1"},
        {"role": "assistant", "content": "b", "execution_id": "run-1"},
    ]
    await api.call("POST", "/v1/threads/t/messages", json={"messages": msgs})
    r = await api.call("GET", "/v1/executions/run-1/messages")
    assert [m["content"] for m in r.json()] == ["a", "b"]


async def test_state_get_put_patch(api: Api) -> None:
    await new_thread(api, id="t", state={"variables": {"lang": "en"}, "data": {"n": 1}})
    r = await api.call("GET", "/v1/threads/t/state")
    assert r.json() == {"variables": {"lang": "en"}, "data": {"n": 1}}
    assert r.headers["etag"] == '"0"'

    r = await api.call(
        "PATCH",
        "/v1/threads/t/state",
        json={"variables": {"lang": None, "mood": "calm"}, "data": {"cart": [1, 2], "n": None}},
    )
    assert r.status_code == 200
    assert r.json() == {"variables": {"mood": "calm"}, "data": {"cart": [1, 2]}}
    assert r.headers["etag"] == '"1"'

    r = await api.call(
        "PUT", "/v1/threads/t/state", json={"variables": {"a": "b"}}, headers={"If-Match": '"1"'}
    )
    assert r.status_code == 200 and r.json() == {"variables": {"a": "b"}, "data": {}}
    r = await api.call("PUT", "/v1/threads/t/state", json={}, headers={"If-Match": '"1"'})
    assert r.status_code == 409
    r = await api.call(
        "PATCH", "/v1/threads/t/state", json={"data": {"x": 1}}, headers={"If-Match": '"1"'}
    )
    assert r.status_code == 409
    r = await api.call("PUT", "/v1/threads/t/state", json={"variables": {"a": 1}})
    assert r.status_code == 422 and r.json()["field"] == "variables.a"


async def test_summaries(api: Api) -> None:
    await new_thread(api, id="t", agent_name="bot")
    await api.call(
        "POST",
        "/v1/threads/t/messages",
        json={
            "messages": [
                {"role": "user", "content": "q"},
                {
                    "role": "assistant",
                    "parts": [
                        {
                            "type": "tool-call",
                            "tool_call_id": "c1",
                            "tool_name": "search",
                            "args": {"q": 1},
                        }
                    ],
                },
            ]
        },
    )
    one = (await api.call("GET", "/v1/threads/t/summary")).json()
    assert one["message_count"] == 2 and one["tool_call_count"] == 1 and one["turn_count"] == 1
    listed = (await api.call("GET", "/v1/summaries", params={"agent_name": "bot"})).json()
    assert [s["id"] for s in listed] == ["t"]


async def test_export_import_round_trip(api: Api) -> None:
    await new_thread(api, id="t", title="trip")
    await api.call(
        "POST",
        "/v1/threads/t/messages",
        json={
            "messages": [
                {"role": "user", "content": "q", "pinned": True},
                {"role": "assistant", "content": "a"},
            ]
        },
    )
    r = await api.call("GET", "/v1/threads/t/export")
    assert r.status_code == 200
    assert r.headers["content-disposition"] == 'attachment; filename="t.json"'
    snap = r.json()
    assert snap["version"] == 1 and [m["pinned"] for m in snap["messages"]] == [True, False]
    # The streamed document is the library's snapshot of the thread.
    parsed = ConversationSnapshot.model_validate(snap)
    assert parsed.pinned == [True, False] and parsed.thread.message_count == 2

    # Message ids are unique within a tenant, so a copy goes to another tenant.
    r = await api.call("POST", "/v1/threads/import", json=snap, who="other")
    assert r.status_code == 201 and r.json()["id"] == "t"
    assert r.json()["tenant_id"] == "globex"
    assert r.json()["message_count"] == 2 and r.json()["title"] == "trip"
    copied = (await api.call("GET", "/v1/threads/t/messages", who="other")).json()
    assert [m["pinned"] for m in copied["items"]] == [True, False]
    r = await api.call("POST", "/v1/threads/import", json=snap, who="other")
    assert r.status_code == 409

    r = await api.call("POST", "/v1/threads/import", json={**snap, "version": 99})
    assert r.status_code == 422 and r.json()["field"] == "version"

    # The import lands in the caller's tenant whatever the snapshot says.
    bare = {**snap, "messages": [], "pinned": []}
    bare["thread"] = {**snap["thread"], "tenant_id": "globex"}
    r = await api.call("POST", "/v1/threads/import", json=bare, params={"thread_id": "c2"})
    assert r.status_code == 201 and r.json()["tenant_id"] == "acme"
    assert r.json()["id"] == "c2"


async def test_whoami(api: Api) -> None:
    r = await api.call("GET", "/v1/whoami", who="read_only")
    body = r.json()
    assert body["tenant"] == "acme" and body["read_only"] is True
    assert "hash" not in r.text and api.tokens["read_only"] not in r.text


async def test_health_and_readiness_need_no_key(api: Api) -> None:
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    assert (await api.client.get("/readyz")).json() == {"status": "ready"}


async def test_import_with_new_ids_copies_a_thread_in_the_same_tenant(api: Api) -> None:
    await new_thread(api, id="orig", title="trip")
    r = await api.call(
        "POST",
        "/v1/threads/orig/messages",
        json={
            "messages": [
                {"id": "m1", "role": "user", "content": "q"},
                {
                    "id": "m2",
                    "role": "assistant",
                    "content": "a",
                    "parent_id": "m1",
                    "parent_type": "user_message",
                },
            ]
        },
    )
    assert r.status_code == 201, r.text
    snap = (await api.call("GET", "/v1/threads/orig/export")).json()

    r = await api.call("POST", "/v1/threads/import", json=snap, params={"thread_id": "copy"})
    assert r.status_code == 409  # same tenant, same message ids
    r = await api.call(
        "POST", "/v1/threads/import", json=snap, params={"thread_id": "copy", "new_ids": "true"}
    )
    assert r.status_code == 201, r.text
    assert r.json()["id"] == "copy" and r.json()["message_count"] == 2
    copied = (await api.call("GET", "/v1/threads/copy/messages")).json()["items"]
    assert [m["content"] for m in copied] == ["q", "a"]
    assert {m["id"] for m in copied}.isdisjoint({"m1", "m2"})
    assert copied[1]["parent_id"] == copied[0]["id"]
    original = (await api.call("GET", "/v1/threads/orig/messages")).json()["items"]
    assert [m["id"] for m in original] == ["m1", "m2"]

    # without a thread id the copy gets a fresh one
    r = await api.call("POST", "/v1/threads/import", json=snap, params={"new_ids": "true"})
    assert r.status_code == 201, r.text
    assert r.json()["id"] not in ("orig", "copy")
    r = await api.call("POST", "/v1/threads/import", json=snap, params={"new_ids": "maybe"})
    assert r.status_code == 422 and r.json()["field"] == "new_ids"
