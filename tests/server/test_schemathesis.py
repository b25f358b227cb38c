"""Property-based tests generated from the app's own OpenAPI document.

Schemathesis derives requests (valid and invalid) for every operation from
``/openapi.json`` and sends them through the app in process. The bar is zero
server errors, and responses whose status codes, media types and bodies match
what the document declares. Two stock checks are left out on purpose: the
store accepts some inputs more leniently than JSON Schema can say (pydantic's
lax mode reads ``0`` as a date), and refuses some that JSON Schema cannot
describe (an opaque cursor that does not decode, a snapshot whose ``pinned``
list does not match its messages). The number of examples per operation is
bounded to keep the run short.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from tests._harness import need_module

from convostore import open_async_store
from convostore.keys import AsyncKeyManager
from convostore.server import create_app

schemathesis = need_module("schemathesis", "the dev dependency group")
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.timeout(240)

MAX_EXAMPLES = 20
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


async def _prepare() -> tuple[Any, str]:
    store = open_async_store("memory://")
    await store.open()
    _, token = await AsyncKeyManager(store).create("acme")
    view = store.tenant("acme")
    await view.create_thread(id="t1", title="seeded")
    await view.append("t1", [{"id": "m1", "role": "user", "content": "hi"}])
    return store, token


# Built at import because schemathesis parametrizes at collection time.
STORE, TOKEN = asyncio.run(_prepare())
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(STORE, max_body_bytes=256 * 1024)
)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors(case: Any) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS)
