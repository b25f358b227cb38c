"""Attachments over HTTP: upload once, reference, download, with tenant walls."""

from __future__ import annotations

import base64
import hashlib

import pytest

from ._helpers import Api

pytestmark = pytest.mark.anyio

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def ref(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


async def test_upload_reference_and_download(api: Api) -> None:
    up = await api.call(
        "POST", "/v1/attachments", content=PNG, headers={"Content-Type": "image/png"}
    )
    assert up.status_code == 201, up.text
    info = up.json()
    assert (info["ref"], info["media_type"], info["size_bytes"]) == (
        ref(PNG),
        "image/png",
        len(PNG),
    )
    again = await api.call("POST", "/v1/attachments", content=PNG)
    assert again.json()["created_at"] == info["created_at"]  # stored once

    t = (await api.call("POST", "/v1/threads", json={})).json()
    body = {"messages": [{"role": "user", "parts": [{"type": "image", "attachment": ref(PNG)}]}]}
    stored = await api.call("POST", f"/v1/threads/{t['id']}/messages", json=body)
    assert stored.status_code == 201, stored.text
    assert stored.json()["messages"][0]["parts"][0]["attachment"] == ref(PNG)

    got = await api.call("GET", f"/v1/attachments/{ref(PNG)}")
    assert got.status_code == 200
    assert got.content == PNG
    assert got.headers["content-type"] == "image/png"
    assert got.headers["etag"] == f'"{ref(PNG)[7:]}"'
    assert got.headers["x-content-type-options"] == "nosniff"
    short = await api.call("GET", f"/v1/attachments/{ref(PNG)[7:]}/info")
    assert short.json()["size_bytes"] == len(PNG)


async def test_inline_bytes_in_an_append_come_back_as_a_reference(api: Api) -> None:
    t = (await api.call("POST", "/v1/threads", json={})).json()
    part = {"type": "image", "media_type": "image/png", "data": base64.b64encode(PNG).decode()}
    body = {"messages": [{"role": "user", "parts": [{"type": "text", "text": "see"}, part]}]}
    stored = (await api.call("POST", f"/v1/threads/{t['id']}/messages", json=body)).json()
    image = stored["messages"][0]["parts"][1]
    assert image["attachment"] == ref(PNG) and "data" not in image
    got = await api.call("GET", f"/v1/attachments/{ref(PNG)}")
    assert got.content == PNG


async def test_another_tenant_cannot_read_them(api: Api) -> None:
    await api.call("POST", "/v1/attachments", content=PNG)
    foreign = await api.call("GET", f"/v1/attachments/{ref(PNG)}", who="other")
    missing = await api.call("GET", f"/v1/attachments/{ref(b'none')}", who="other")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()
    reader = await api.call("GET", f"/v1/attachments/{ref(PNG)}", who="read_only")
    assert reader.content == PNG
    refused = await api.call("POST", "/v1/attachments", content=b"x", who="read_only")
    assert refused.status_code == 403


async def test_bad_uploads_and_references(api: Api) -> None:
    empty = await api.call("POST", "/v1/attachments", content=b"")
    assert empty.status_code == 422
    bad = await api.call("GET", "/v1/attachments/sha256:nothex")
    assert bad.status_code == 422 and bad.json()["field"] == "ref"
    t = (await api.call("POST", "/v1/threads", json={})).json()
    body = {"messages": [{"role": "user", "parts": [{"type": "image", "attachment": ref(b"?")}]}]}
    r = await api.call("POST", f"/v1/threads/{t['id']}/messages", json=body)
    assert r.status_code == 404
    assert (await api.call("GET", f"/v1/threads/{t['id']}")).json()["message_count"] == 0
    big = await api.call("POST", "/v1/attachments", content=b"\0" * (64 * 1024 + 1))
    assert big.status_code == 413


async def test_context_and_append_in_provider_formats(api: Api) -> None:
    t = (await api.call("POST", "/v1/threads", json={})).json()
    anthropic = {
        "system": "Be brief.",
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "weather",
                        "input": {"city": "Paris"},
                    }
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "18 C"}],
            },
            {"role": "assistant", "content": "18 °C."},
        ],
    }
    path = f"/v1/threads/{t['id']}/messages?format=anthropic"
    first = await api.call("POST", path, json=anthropic, headers={"Idempotency-Key": "k1"})
    assert first.status_code == 201, first.text
    again = await api.call("POST", path, json=anthropic, headers={"Idempotency-Key": "k1"})
    assert again.json() == first.json()  # a retry adds nothing
    assert (await api.call("GET", f"/v1/threads/{t['id']}")).json()["message_count"] == 5
    other = {**anthropic, "system": "Be long."}
    reused = await api.call("POST", path, json=other, headers={"Idempotency-Key": "k1"})
    assert reused.status_code == 409

    got = await api.call("GET", f"/v1/threads/{t['id']}/context?format=anthropic")
    assert got.status_code == 200
    from convostore.formats.anthropic import from_anthropic, to_anthropic

    assert got.json() == to_anthropic(from_anthropic(anthropic))  # the canonical spelling
    chat = (await api.call("GET", f"/v1/threads/{t['id']}/context?format=openai-chat")).json()
    assert [m["role"] for m in chat] == ["system", "user", "assistant", "tool", "assistant"]
    assert chat[2]["tool_calls"][0]["function"] == {
        "name": "weather",
        "arguments": '{"city":"Paris"}',
    }

    bad = await api.call("POST", path, json={"messages": [{"role": "robot", "content": "x"}]})
    assert bad.status_code == 422
    unknown = await api.call("GET", f"/v1/threads/{t['id']}/context?format=cohere")
    assert unknown.status_code == 422


async def test_an_http_export_is_self_contained(api: Api) -> None:
    t = (await api.call("POST", "/v1/threads", json={})).json()
    part = {"type": "image", "media_type": "image/png", "data": base64.b64encode(PNG).decode()}
    body = {"messages": [{"role": "user", "parts": [part]}]}
    await api.call("POST", f"/v1/threads/{t['id']}/messages", json=body)
    doc = (await api.call("GET", f"/v1/threads/{t['id']}/export")).json()
    assert [a["ref"] for a in doc["attachments"]] == [ref(PNG)]
    imported = await api.call("POST", "/v1/threads/import", json=doc, who="other")
    assert imported.status_code == 201, imported.text
    got = await api.call("GET", f"/v1/attachments/{ref(PNG)}", who="other")
    assert got.content == PNG
