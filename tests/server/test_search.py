"""GET /v1/search: the tenant's messages by full-text query, in pages."""

from __future__ import annotations

import pytest

from convostore.model import Page, SearchHit

from ._helpers import Api

pytestmark = pytest.mark.anyio


async def _seed(api: Api) -> None:
    for who, words in (("own", "blue whale"), ("other", "blue whale of globex")):
        r = await api.call("POST", "/v1/threads", who, json={"id": "t", "user_id": "u"})
        assert r.status_code == 201, r.text
        msgs = [{"role": "user", "content": f"{words} number {i}"} for i in range(5)]
        r = await api.call("POST", "/v1/threads/t/messages", who, json={"messages": msgs})
        assert r.status_code == 201, r.text


async def test_search_pages_through_the_tenants_hits_only(api: Api) -> None:
    await _seed(api)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"q": "blue whale", "limit": 2, **({"cursor": cursor} if cursor else {})}
        r = await api.call("GET", "/v1/search", "read_only", params=params)
        assert r.status_code == 200, r.text
        page = Page[SearchHit].model_validate_json(r.content)
        assert all("globex" not in h.message.content for h in page.items)
        seen += [h.message.id for h in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5
    r = await api.call("GET", "/v1/search", params={"q": "globex"})
    assert r.json()["items"] == []
    r = await api.call("GET", "/v1/search", "other", params={"q": "globex", "role": "user"})
    assert len(r.json()["items"]) == 5
    hit = r.json()["items"][0]
    assert hit["thread_id"] == "t" and hit["snippet"]["highlights"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "q"),
        ({"q": '"open'}, "query"),
        ({"q": "!!!"}, "query"),
        ({"q": "x", "role": "robot"}, "role"),
        ({"q": "x", "cursor": "nonsense"}, "cursor"),
        ({"q": "x", "limit": 0}, "limit"),
        ({"q": "x", "since": "not a time"}, "since"),
    ],
)
async def test_bad_searches_are_422_naming_the_field(
    mem_api: Api, params: dict[str, object], field: str
) -> None:
    r = await mem_api.call("GET", "/v1/search", params=params)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field
