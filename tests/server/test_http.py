"""The HTTP layer itself: authentication, permissions, limits, error bodies, OpenAPI, docs."""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from convostore import AsyncStore, BackendUnavailableError, SchemaTooNewError, open_async_store
from convostore.keys import KEYS_TENANT
from convostore.server import app as app_module
from convostore.server import create_app, serve

from ._helpers import Api, running, runtime

pytestmark = pytest.mark.anyio

PROBLEM_KEYS = {"type", "title", "status", "detail"}


def assert_problem(r: httpx.Response, status: int) -> dict[str, object]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = r.json()
    assert set(body) >= PROBLEM_KEYS and body["status"] == status
    return body


async def test_missing_malformed_and_revoked_keys_get_401(mem_api: Api) -> None:
    c = mem_api.client
    body = assert_problem(await c.get("/v1/threads"), 401)
    assert "Authorization" in str(body["detail"])
    for header in (
        "Bearer",
        "Bearer nope",
        "Basic dXNlcjpwdw==",
        "cs_x",
        "Bearer  ",
        f"Bearer {mem_api.tokens['revoked']}",
        f"Token {mem_api.tokens['own']}",
    ):
        r = await c.get("/v1/threads", headers={"Authorization": header})
        assert_problem(r, 401)
        assert r.headers["www-authenticate"].startswith("Bearer")
    # Unknown, malformed and revoked keys are told apart by nothing.
    bodies = {
        (await c.get("/v1/threads", headers={"Authorization": f"Bearer {t}"})).content
        for t in ("junk", mem_api.tokens["revoked"], "cs_01ARZ3NDEKTSV4RRFFQ69G5FAV_" + "a" * 43)
    }
    assert len(bodies) == 1
    # The scheme name is case-insensitive.
    r = await c.get("/v1/threads", headers={"Authorization": f"bearer {mem_api.tokens['own']}"})
    assert r.status_code == 200


async def test_read_only_key_reads_but_cannot_write(mem_api: Api) -> None:
    await mem_api.call("POST", "/v1/threads", json={"id": "t"})
    assert (await mem_api.call("GET", "/v1/threads/t", who="read_only")).status_code == 200
    for method, path in [
        ("POST", "/v1/threads"),
        ("PATCH", "/v1/threads/t"),
        ("DELETE", "/v1/threads/t"),
        ("POST", "/v1/threads/t/purge"),
        ("PUT", "/v1/threads/t/state"),
    ]:
        r = await mem_api.call(method, path, who="read_only", json={})
        assert_problem(r, 403)
    assert (await mem_api.call("GET", "/v1/threads/t")).json()["deleted_at"] is None


async def test_key_of_the_reserved_tenant_is_refused(mem_api: Api) -> None:
    keys = runtime(mem_api.app).keys
    assert keys is not None
    # Forge a key for the reserved tenant behind the manager's back.
    key, token = await keys.create("acme")
    raw = runtime(mem_api.app).store
    assert raw is not None
    record = await raw.tenant(KEYS_TENANT).get_thread(key.id)
    await raw.tenant(KEYS_TENANT).update_thread(
        key.id, metadata={**record.metadata, "tenant": KEYS_TENANT}, user_id=KEYS_TENANT
    )
    r = await mem_api.client.get("/v1/threads", headers={"Authorization": f"Bearer {token}"})
    assert_problem(r, 401)


async def test_body_over_the_limit_gets_413(mem_api: Api) -> None:
    await mem_api.call("POST", "/v1/threads", json={"id": "t"})
    big = b'{"messages": [{"role": "user", "content": "' + b"x" * 70_000 + b'"}]}'
    r = await mem_api.call(
        "POST", "/v1/threads/t/messages", content=big, headers={"Content-Type": "application/json"}
    )
    assert_problem(r, 413)

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: streamed
        yield b'{"messages": [{"role": "user", "content": "'
        for _ in range(20):
            yield b"y" * 4096
        yield b'"}]}'

    r = await mem_api.call(
        "POST",
        "/v1/threads/t/messages",
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )
    assert "content-length" not in r.request.headers
    assert_problem(r, 413)

    # A lying Content-Length does not let a bigger body through either.
    r = await mem_api.call(
        "POST",
        "/v1/threads/t/messages",
        content=big,
        headers={"Content-Type": "application/json", "Content-Length": "10"},
    )
    assert r.status_code in (400, 413, 422)
    assert (await mem_api.call("GET", "/v1/threads/t")).json()["message_count"] == 0
    r = await mem_api.call(
        "POST", "/v1/threads/t/messages", json={"messages": [{"role": "user", "content": "small"}]}
    )
    assert r.status_code == 201


async def test_validation_errors_name_the_field(mem_api: Api) -> None:
    await mem_api.call("POST", "/v1/threads", json={"id": "t"})
    r = await mem_api.call(
        "POST", "/v1/threads/t/messages", json={"messages": [{"role": "wizard", "content": "x"}]}
    )
    body = assert_problem(r, 422)
    assert body["field"] == "messages.0.role"
    r = await mem_api.call("GET", "/v1/threads", params={"limit": 0})
    assert assert_problem(r, 422)["field"] == "limit"
    r = await mem_api.call(
        "PATCH", "/v1/threads/t", json={"title": "x"}, headers={"If-Match": "yesterday"}
    )
    assert assert_problem(r, 422)["field"] == "If-Match"
    r = await mem_api.call("GET", "/v1/threads/bad%0Aid")
    assert assert_problem(r, 422)["field"] == "thread_id"
    r = await mem_api.call("POST", "/v1/threads", json={"tenant_id": "globex"})
    assert assert_problem(r, 422)["field"] == "tenant_id"


async def test_unknown_routes_and_methods_are_problems(mem_api: Api) -> None:
    assert_problem(await mem_api.call("GET", "/v1/nothing-here"), 404)
    assert_problem(await mem_api.client.get("/nothing-here"), 404)
    r = await mem_api.call("PUT", "/v1/threads")
    assert_problem(r, 405)
    assert r.headers["allow"] == "GET, POST"  # every method of the path, not one route's
    r = await mem_api.call("POST", "/v1/threads/t/state")
    assert_problem(r, 405)
    assert r.headers["allow"] == "GET, PATCH, PUT"


async def test_openapi_documents_errors_as_problem_json(mem_api: Api) -> None:
    spec = (await mem_api.client.get("/openapi.json")).json()
    responses = spec["paths"]["/v1/threads/{thread_id}"]["patch"]["responses"]
    for code in ("400", "401", "403", "404", "409", "413", "422", "503"):
        assert set(responses[code]["content"]) == {"application/problem+json"}, code


async def test_not_ready_before_the_lifespan(tmp_path: Path) -> None:
    app = create_app("memory://")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        assert_problem(await c.get("/v1/threads"), 503)
        assert_problem(await c.get("/readyz"), 503)
        assert (await c.get("/healthz")).status_code == 200


async def test_a_given_store_is_used_and_left_open() -> None:
    store = open_async_store("memory://")
    async with store:
        await store.tenant("acme").create_thread(id="pre")
        app = create_app(store)
        async with running(app) as c:
            keys = runtime(app).keys
            assert keys is not None
            _, token = await keys.create("acme")
            r = await c.get("/v1/threads/pre", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200
        assert (await store.tenant("acme").get_thread("pre")).id == "pre"


async def test_url_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CONVOSTORE_URL", f"sqlite:///{tmp_path}/env.db")
    app = create_app()
    async with running(app):
        store = runtime(app).store
        assert store is not None and "env.db" in store.backend.describe()
    assert (tmp_path / "env.db").exists()


def test_max_body_bytes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_body_bytes"):
        create_app("memory://", max_body_bytes=0)


async def test_openapi_has_stable_operation_ids_and_bearer_auth(mem_api: Api) -> None:
    spec = (await mem_api.client.get("/openapi.json")).json()
    ops = {
        op["operationId"]: (method.upper(), path)
        for path, item in spec["paths"].items()
        for method, op in item.items()
    }
    expected = {
        "health": ("GET", "/healthz"),
        "ready": ("GET", "/readyz"),
        "createThread": ("POST", "/v1/threads"),
        "listThreads": ("GET", "/v1/threads"),
        "getThread": ("GET", "/v1/threads/{thread_id}"),
        "updateThread": ("PATCH", "/v1/threads/{thread_id}"),
        "deleteThread": ("DELETE", "/v1/threads/{thread_id}"),
        "restoreThread": ("POST", "/v1/threads/{thread_id}/restore"),
        "purgeThread": ("POST", "/v1/threads/{thread_id}/purge"),
        "listSummaries": ("GET", "/v1/summaries"),
        "getThreadSummary": ("GET", "/v1/threads/{thread_id}/summary"),
        "exportThread": ("GET", "/v1/threads/{thread_id}/export"),
        "importThread": ("POST", "/v1/threads/import"),
        "getThreadState": ("GET", "/v1/threads/{thread_id}/state"),
        "replaceThreadState": ("PUT", "/v1/threads/{thread_id}/state"),
        "patchThreadState": ("PATCH", "/v1/threads/{thread_id}/state"),
        "getAppState": ("GET", "/v1/state/app"),
        "replaceAppState": ("PUT", "/v1/state/app"),
        "patchAppState": ("PATCH", "/v1/state/app"),
        "getUserState": ("GET", "/v1/state/users/{user_id}"),
        "replaceUserState": ("PUT", "/v1/state/users/{user_id}"),
        "patchUserState": ("PATCH", "/v1/state/users/{user_id}"),
        "appendMessages": ("POST", "/v1/threads/{thread_id}/messages"),
        "listMessages": ("GET", "/v1/threads/{thread_id}/messages"),
        "getMessage": ("GET", "/v1/messages/{message_id}"),
        "updateMessage": ("PATCH", "/v1/messages/{message_id}"),
        "deleteMessage": ("DELETE", "/v1/messages/{message_id}"),
        "restoreMessage": ("POST", "/v1/messages/{message_id}/restore"),
        "purgeMessage": ("POST", "/v1/messages/{message_id}/purge"),
        "popMessage": ("POST", "/v1/threads/{thread_id}/messages/pop"),
        "clearMessages": ("POST", "/v1/threads/{thread_id}/messages/clear"),
        "trimMessages": ("POST", "/v1/threads/{thread_id}/messages/trim"),
        "replaceMessages": ("PUT", "/v1/threads/{thread_id}/messages"),
        "listExecutionMessages": ("GET", "/v1/executions/{execution_id}/messages"),
        "searchMessages": ("GET", "/v1/search"),
        "getCurrentKey": ("GET", "/v1/whoami"),
        "getContext": ("GET", "/v1/threads/{thread_id}/context"),
        "uploadAttachment": ("POST", "/v1/attachments"),
        "downloadAttachment": ("GET", "/v1/attachments/{ref}"),
        "getAttachmentInfo": ("GET", "/v1/attachments/{ref}/info"),
        "forkThread": ("POST", "/v1/threads/{thread_id}/fork"),
        "editInBranch": ("POST", "/v1/messages/{message_id}/edit"),
        "regenerate": ("POST", "/v1/messages/{message_id}/regenerate"),
        "listBranches": ("GET", "/v1/threads/{thread_id}/branches"),
        "setActiveBranch": ("POST", "/v1/threads/{thread_id}/activate"),
    }
    assert ops == expected
    assert spec["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    for path, item in spec["paths"].items():
        for op in item.values():
            if path.startswith("/v1"):
                assert op["security"] == [{"ApiKey": []}], op["operationId"]
                assert "401" in op["responses"], op["operationId"]


async def test_docs_page_works_offline(mem_api: Api) -> None:
    r = await mem_api.client.get("/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in r.text
    # Nothing is loaded from another host: no src/href to an absolute URL.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", r.text)
    assert "connect-src 'self'" in r.headers["content-security-policy"]
    assert (await mem_api.client.get("/redoc")).status_code == 404


def test_serve_prints_url_store_and_key_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    calls: list[tuple[object, str, int]] = []
    monkeypatch.setattr(
        uvicorn, "run", lambda app, host, port, **kw: calls.append((app, host, port))
    )
    monkeypatch.setattr(app_module, "_opened", lambda url: url)  # no store is reached
    out = io.StringIO()
    serve("postgresql://bob:hunter2@db.example:5432/chat", "127.0.0.1", 8765, out=out)
    text = out.getvalue()
    assert "http://127.0.0.1:8765" in text
    assert "postgresql://bob:***@db.example:5432/chat" in text and "hunter2" not in text
    assert "convostore keys create --store URL --tenant NAME" in text
    assert calls and calls[0][1:] == ("127.0.0.1", 8765)

    out = io.StringIO()
    serve("sqlite:///convostore.db", "::1", 9000, out=out)
    assert "http://[::1]:9000" in out.getvalue()
    assert "convostore keys create --tenant NAME" in out.getvalue()


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (RuntimeError("boom at SELECT secret FROM threads"), 500),
        (KeyError("thread_id"), 500),
        (BackendUnavailableError("sqlite3.OperationalError: disk I/O error in /var/db"), 503),
        (SchemaTooNewError("schema 9 at /srv/x.db", found=9, expected=2), 503),
    ],
)
async def test_server_side_failures_leak_nothing(
    monkeypatch: pytest.MonkeyPatch, error: Exception, status: int
) -> None:
    app = create_app("memory://")
    async with app.router.lifespan_context(app):
        keys = runtime(app).keys
        assert keys is not None
        _, token = await keys.create("acme")

        async def broken(self: AsyncStore, *args: object, **kwargs: object) -> None:
            raise error

        monkeypatch.setattr(AsyncStore, "list_messages", broken)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            auth = {"Authorization": f"Bearer {token}"}
            r = await c.get("/v1/threads/t/messages", headers=auth)
            body = assert_problem(r, status)
            for word in ("SELECT", "sqlite3", "/var/db", "/srv", "Traceback", "boom", "thread_id"):
                assert word not in r.text, word
            assert body["detail"]
            monkeypatch.undo()
            # The next request is served normally.
            assert (await c.get("/v1/threads", headers=auth)).status_code == 200


async def test_store_failure_while_checking_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app("memory://")
    async with running(app) as c:
        keys = runtime(app).keys
        assert keys is not None
        _, token = await keys.create("acme")

        async def down(self: AsyncStore, *args: object, **kwargs: object) -> None:
            raise BackendUnavailableError("could not connect to 10.0.0.5:5432")

        monkeypatch.setattr(AsyncStore, "get_thread", down)
        r = await c.get("/v1/threads", headers={"Authorization": f"Bearer {token}"})
        assert_problem(r, 503)
        assert "10.0.0.5" not in r.text and r.headers["retry-after"] == "1"


def test_serve_on_a_memory_store_issues_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    apps: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port, **kw: apps.append(app))
    out = io.StringIO()
    serve("memory://", "127.0.0.1", 8000, out=out)
    token = re.search(r"API key: (cs_\S+)", out.getvalue())
    assert token is not None, out.getvalue()

    async def whoami() -> tuple[int, str]:
        app = apps[0]
        assert isinstance(app, FastAPI)
        async with running(app) as c:
            r = await c.get("/v1/whoami", headers={"Authorization": f"Bearer {token[1]}"})
            return r.status_code, r.json()["tenant"]

    assert asyncio.run(whoami()) == (200, "default")
