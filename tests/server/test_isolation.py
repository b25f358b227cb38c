"""Tenant isolation over every route of the app's route table.

For each route: a fresh app with two tenants holding data, then every caller
({own key, other tenant's key, no key, bad key, revoked key, read-only key})
against every target ({the caller's own id, the other tenant's id, an id that
does not exist}). A leak is any of:

* a response to a foreign id that differs in any byte (status, headers, body)
  from the response to a missing id;
* a response that carries a marker of the tenant the caller does not belong to;
* a change to stored data by a request that should not be able to write it.

The route list is read from the app's route table (through its OpenAPI
document), so a new route fails this test until a request body for it is
added below.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from convostore.model import attachment_ref
from convostore.server import create_app

from ._helpers import issue_keys, running, runtime

pytestmark = pytest.mark.anyio

TENANT_OF = {"own": "acme", "other": "globex", "read_only": "acme"}
BYTES = {tenant: f"bytes-of-{tenant}".encode() for tenant in ("acme", "globex")}
REFS = {tenant: attachment_ref(data) for tenant, data in BYTES.items()}
IDS = {  # per tenant: thread, message, execution, plus a marker in its content
    "acme": {
        "thread_id": "t-acme",
        "message_id": "m-acme",
        "execution_id": "x-acme",
        "marker": "secret-of-acme",
        "ref": REFS["acme"],
        "user_id": "user-a",
    },
    "globex": {
        "thread_id": "t-globex",
        "message_id": "m-globex",
        "execution_id": "x-globex",
        "marker": "secret-of-globex",
        "ref": REFS["globex"],
        "user_id": "user-g",
    },
    "missing": {
        "thread_id": "t-nowhere",
        "message_id": "m-nowhere",
        "execution_id": "x-nowhere",
        "ref": attachment_ref(b"bytes of nowhere"),
        "user_id": "user-n",
    },
}
#: Every user id above: user state has no owner to look up, so the state of
#: each is dumped for both tenants.
USERS = [ids["user_id"] for ids in IDS.values()]
BODIES: dict[str, Any] = {
    "createThread": {"title": "new"},
    "updateThread": {"title": "changed"},
    "appendMessages": {"messages": [{"role": "user", "content": "appended"}]},
    "updateMessage": {"pinned": True},
    "replaceMessages": {"messages": [{"role": "user", "content": "replaced"}]},
    "replaceThreadState": {"variables": {"a": "b"}},
    "patchThreadState": {"data": {"k": 1}},
    "importThread": {"thread": {"id": "imported"}, "messages": []},
    "uploadAttachment": {"uploaded": "bytes"},
    "forkThread": {"title": "forked"},
    "editInBranch": {"content": "edited"},
    "regenerate": {"messages": [{"role": "assistant", "content": "again"}]},
    "replaceAppState": {"data": {"a": 1}},
    "patchAppState": {"k": 1},
    "replaceUserState": {"data": {"a": 1}},
    "patchUserState": {"k": 1, "who": None},
}
# Query parameters a route needs: the search matches both tenants' markers.
QUERIES: dict[str, Any] = {"searchMessages": {"q": "secret of"}, "trimMessages": {"n": 1}}
BODILESS = {
    "listThreads",
    "getThread",
    "deleteThread",
    "restoreThread",
    "purgeThread",
    "listSummaries",
    "getThreadSummary",
    "exportThread",
    "getThreadState",
    "listMessages",
    "getMessage",
    "deleteMessage",
    "restoreMessage",
    "purgeMessage",
    "popMessage",
    "clearMessages",
    "trimMessages",
    "listExecutionMessages",
    "searchMessages",
    "getCurrentKey",
    "getContext",
    "downloadAttachment",
    "getAttachmentInfo",
    "listBranches",
    "setActiveBranch",
    "getAppState",
    "getUserState",
}
SAFE = {"GET", "HEAD", "OPTIONS"}
#: Routes whose id names nothing a tenant owns: any user id of the caller's
#: tenant has a state (empty until written), so a write to any of them is the
#: caller's own; another tenant's user of the same id is not touched.
UNOWNED = {"replaceUserState", "patchUserState"}


def v1_routes() -> list[tuple[str, str, str]]:
    """(operation id, method, path) of every /v1 route of the app.

    Read from the app's OpenAPI document, which is generated from its route
    table and hides no /v1 route (only the docs page is left out of it).
    """
    spec = create_app("memory://").openapi()
    return sorted(
        (op["operationId"], method.upper(), path)
        for path, item in spec["paths"].items()
        if path.startswith("/v1")
        for method, op in item.items()
    )


ROUTES = v1_routes()


def test_every_route_has_a_request_body_decided() -> None:
    undecided = {op for op, _, _ in ROUTES} - set(BODIES) - BODILESS
    assert not undecided, f"add these operations to the isolation matrix: {undecided}"
    assert len(ROUTES) >= 21


async def seed(app: Any) -> None:
    store = runtime(app).store
    assert store is not None
    for tenant in ("acme", "globex"):
        ids = IDS[tenant]
        view = store.tenant(tenant)
        await view.create_thread(
            id=ids["thread_id"], title=ids["marker"], state={"variables": {"who": ids["marker"]}}
        )
        await view.append(
            ids["thread_id"],
            [
                {
                    "id": ids["message_id"],
                    "role": "user",
                    "content": ids["marker"],
                    "execution_id": ids["execution_id"],
                    "parts": [
                        {"type": "text", "text": ids["marker"]},
                        {"type": "image", "data": BYTES[tenant], "media_type": "image/png"},
                    ],
                },
            ],
        )
        await view.update_state("app", changes={"who": ids["marker"]})
        await view.update_state("user", user_id=ids["user_id"], changes={"who": ids["marker"]})


async def dump(app: Any) -> dict[str, Any]:
    """Everything stored for both tenants, to detect any write."""
    store = runtime(app).store
    assert store is not None
    out: dict[str, Any] = {}
    for tenant in ("acme", "globex"):
        view = store.tenant(tenant)
        threads = (await view.list_threads(include_deleted=True, limit=1000)).items
        out[tenant] = {
            t.id: (await view.export_thread(t.id)).model_dump(mode="json", exclude={"exported_at"})
            for t in threads
        }
        out[tenant]["app state"] = (await view.get_state("app")).model_dump(mode="json")
        for user in USERS:
            state = await view.get_state("user", user_id=user)
            out[tenant][f"state of {user}"] = state.model_dump(mode="json")
    return out


def fill(path: str, target: dict[str, str]) -> str:
    for name in ("thread_id", "message_id", "execution_id", "ref", "user_id"):
        path = path.replace("{" + name + "}", target[name])
    return path


def fingerprint(
    r: httpx.Response, target: str | None = None
) -> tuple[int, tuple[tuple[str, str], ...], bytes]:
    """What a client sees of a response; with ``target``, that target's user id
    (which a user state echoes, the same length for every target) masked."""
    body = r.content
    if target is not None:
        body = body.replace(IDS[target]["user_id"].encode(), b"{user_id}")
    return r.status_code, tuple(sorted(r.headers.multi_items())), body


# 22 routes: on two backends, since what each store keeps apart is the conformance
# suite's (TenantContract, on every backend); here it is the routes that must not leak.
@pytest.mark.parametrize("store_url", ["memory", "sqlite"], indirect=True)
@pytest.mark.parametrize(("op", "method", "path"), ROUTES, ids=[f"{o}" for o, _, _ in ROUTES])
async def test_no_leak(store_url: str, op: str, method: str, path: str) -> None:
    app = create_app(store_url)
    async with running(app) as client:
        tokens = await issue_keys(app)
        tokens["bad"] = "cs_01ARZ3NDEKTSV4RRFFQ69G5FAV_" + "b" * 43
        await seed(app)
        before = await dump(app)
        has_target = "{" in path

        async def send(caller: str, target: str) -> httpx.Response:
            headers = {} if caller == "none" else {"Authorization": f"Bearer {tokens[caller]}"}
            kwargs: dict[str, Any] = {"headers": headers}
            if op in BODIES:
                kwargs["json"] = BODIES[op]
            if op in QUERIES:
                kwargs["params"] = QUERIES[op]
            return await client.request(method, fill(path, IDS[target]), **kwargs)

        owning: list[tuple[str, str]] = []
        for caller in ("none", "bad", "revoked", "read_only", "own", "other"):
            tenant = TENANT_OF.get(caller)
            foreign = "globex" if tenant == "acme" else "acme"
            targets = ("acme", "globex", "missing") if has_target else (tenant or "missing",)
            responses = {}
            for target in targets:
                may_write = (
                    tenant is not None
                    and (target == tenant or op in UNOWNED)
                    and method not in SAFE
                    and caller != "read_only"
                )
                if may_write:
                    owning.append((caller, target))  # sent last, below
                    continue
                r = await send(caller, target)
                assert r.status_code < 500, r.text
                responses[target] = r
                if tenant is not None:
                    assert IDS[foreign]["marker"] not in r.text, (caller, target, r.text)
                    assert foreign not in r.text, (caller, target, r.text)
            if caller in ("none", "bad", "revoked"):
                assert {r.status_code for r in responses.values()} == {401}
                assert len({fingerprint(r) for r in responses.values()}) == 1
            elif caller == "read_only" and method not in SAFE:
                assert {r.status_code for r in responses.values()} == {403}
                assert len({fingerprint(r) for r in responses.values()}) == 1
            else:
                if has_target and foreign in responses:
                    assert fingerprint(responses[foreign], foreign) == fingerprint(
                        responses["missing"], "missing"
                    ), (
                        caller,
                        op,
                    )
                if tenant in responses:  # a read of the caller's own data works
                    assert responses[tenant].status_code < 400, responses[tenant].text

        # Nothing above was allowed to write anything.
        assert await dump(app) == before

        for caller, target in owning:
            r = await send(caller, target)
            if op in UNOWNED:  # the caller's tenant's user of that id, not the other's
                assert r.json()["data"] == BODIES[op].get("data", {"k": 1}), r.text
            assert r.status_code < 400, (caller, op, r.text)
            foreign = "globex" if TENANT_OF[caller] == "acme" else "acme"
            assert IDS[foreign]["marker"] not in r.text and foreign not in r.text
        after = await dump(app)
        # The owners' writes touched their own tenant only.
        for tenant in ("acme", "globex"):
            if not any(TENANT_OF[c] == tenant for c, _ in owning):
                assert after[tenant] == before[tenant]


async def test_ids_taken_in_another_tenant_are_free_here(store_url: str) -> None:
    """Creating with another tenant's ids works, so ids are no existence oracle."""
    app = create_app(store_url)
    async with running(app) as client:
        tokens = await issue_keys(app)
        await seed(app)
        before = await dump(app)
        auth = {"Authorization": f"Bearer {tokens['own']}"}
        theirs = IDS["globex"]
        r = await client.post("/v1/threads", json={"id": theirs["thread_id"]}, headers=auth)
        assert r.status_code == 201, r.text
        r = await client.post(
            f"/v1/threads/{theirs['thread_id']}/messages",
            headers=auth,
            json={"messages": [{"id": theirs["message_id"], "role": "user", "content": "mine"}]},
        )
        assert r.status_code == 201, r.text
        assert r.json()["messages"][0]["content"] == "mine"
        snapshot = {
            "thread": {"id": "copy"},
            "messages": [{"id": theirs["message_id"] + "-2", "role": "user", "content": "x"}],
        }
        assert (
            await client.post("/v1/threads/import", json=snapshot, headers=auth)
        ).status_code == 201
        after = await dump(app)
        assert after["globex"] == before["globex"]
        r = await client.get(f"/v1/messages/{theirs['message_id']}", headers=auth)
        assert r.json()["content"] == "mine"
