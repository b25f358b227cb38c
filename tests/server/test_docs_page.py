"""The API docs page is package data, and /docs serves it byte for byte."""

from __future__ import annotations

import importlib.resources

import pytest

from ._helpers import Api

pytestmark = pytest.mark.anyio


def packaged_page() -> bytes:
    return (importlib.resources.files("convostore.server") / "static" / "docs.html").read_bytes()


def test_the_page_is_package_data() -> None:
    page = packaged_page()
    assert page.startswith(b"<!doctype html>\n") and page.endswith(b"</html>\n")
    page.decode("utf-8")  # served as UTF-8


async def test_docs_serves_the_packaged_page_unchanged(mem_api: Api) -> None:
    r = await mem_api.client.get("/docs")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.content == packaged_page()
    assert r.headers["content-length"] == str(len(packaged_page()))
