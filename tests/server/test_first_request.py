"""The first minutes with the server: the README's first request, a body sent as a
form instead of JSON, and the root URL."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from ._helpers import Api

README = Path(__file__).resolve().parents[2] / "README.md"

pytestmark = pytest.mark.anyio


def _first_curl() -> list[str]:
    text = README.read_text(encoding="utf-8")
    line = next(ln for ln in text.splitlines() if ln.startswith("curl "))
    return shlex.split(line.split(" #")[0])


def _request_of(argv: list[str]) -> tuple[str, str, dict[str, str], str | None]:
    """Method, path, headers and body of a curl command line (the flags it uses)."""
    method, headers, body, url = "GET", {}, None, ""
    args = iter(argv[1:])
    for arg in args:
        if arg == "-X":
            method = next(args)
        elif arg == "-H":
            name, _, value = next(args).partition(":")
            headers[name.strip()] = value.strip()
        elif arg in ("-d", "--data", "--json"):
            body = next(args)
            if arg == "--json":
                headers.setdefault("Content-Type", "application/json")
            if method == "GET":
                method = "POST"
        else:
            url = arg
    if body is not None:
        # curl's default for -d, unless the command names another type
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    return method, "/" + url.split("/", 1)[1], headers, body


async def test_the_readme_first_curl_creates_a_thread(mem_api: Api) -> None:
    method, path, headers, body = _request_of(_first_curl())
    headers["Authorization"] = f"Bearer {mem_api.tokens['own']}"
    r = await mem_api.client.request(method, path, headers=headers, content=body)
    assert r.status_code == 201, r.text
    assert r.json()["user_id"] == "alice"


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"],
)
async def test_a_body_that_is_not_sent_as_json_is_told_so(mem_api: Api, content_type: str) -> None:
    for path, body in (
        ("/v1/threads", '{"user_id": "alice"}'),
        ("/v1/threads/t/messages", '{"messages": [{"role": "user", "content": "hi"}]}'),
    ):
        r = await mem_api.call("POST", path, content=body, headers={"Content-Type": content_type})
        assert r.status_code == 422, (path, r.text)
        problem = r.json()
        assert r.headers["content-type"] == "application/problem+json"
        assert "application/json" in problem["detail"]
        assert content_type.split(";")[0] in problem["detail"]
        assert problem["field"] == "body"


async def test_json_with_a_charset_or_a_json_suffix_is_accepted(mem_api: Api) -> None:
    for ct in ("application/json; charset=utf-8", "application/merge-patch+json"):
        r = await mem_api.call(
            "POST", "/v1/threads", content=b'{"user_id": "bob"}', headers={"Content-Type": ct}
        )
        assert r.status_code == 201, (ct, r.text)


async def test_a_post_without_a_body_still_works(mem_api: Api) -> None:
    r = await mem_api.call("POST", "/v1/threads")
    assert r.status_code == 201, r.text


async def test_the_root_redirects_to_the_docs(mem_api: Api) -> None:
    r = await mem_api.client.get("/")
    assert r.status_code in (302, 307)
    assert r.headers["location"] == "/docs"
    assert (await mem_api.client.get("/", follow_redirects=True)).status_code == 200
    assert "/" not in (await mem_api.client.get("/openapi.json")).json()["paths"]


def test_the_curl_examples_send_json() -> None:
    text = README.read_text(encoding="utf-8")
    for line in (ln for ln in text.splitlines() if re.match(r"\s*curl ", ln)):
        if " -d " in line or " --data" in line:
            assert "Content-Type: application/json" in line or "--json" in line, line
