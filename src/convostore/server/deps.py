"""What a route receives: the caller's key, a store bound to its tenant, If-Match.

The store lives in a :class:`Runtime` owned by one app (filled in by the
lifespan, emptied at shutdown), so two apps in one process never share state
and nothing is kept at module level. Authentication itself happens in
:mod:`convostore.server.middleware`, before the body is read; the
dependencies here only hand its result to the routes and describe the bearer
scheme in the OpenAPI document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from convostore.errors import ValidationError
from convostore.keys import ApiKey, AsyncKeyManager
from convostore.store.facade import AsyncStore

from .errors import ApiError

__all__ = [
    "ApiKeyDep",
    "ExpectedRevision",
    "Runtime",
    "TenantStore",
    "etag",
    "runtime_of",
]

API_KEY_SCOPE = "convostore.api_key"

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key: `Authorization: Bearer cs_<key_id>_<secret>`. "
                "Create one with `convostore keys create --tenant NAME`.",
)


@dataclass
class Runtime:
    """The resources of one app; set while its lifespan runs."""

    store: AsyncStore | None = None
    keys: AsyncKeyManager | None = None

    def require(self) -> tuple[AsyncStore, AsyncKeyManager]:
        if self.store is None or self.keys is None:
            raise ApiError(503, "not-ready", "the server is starting or stopping",
                           headers={"Retry-After": "1"})
        return self.store, self.keys


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.convostore
    return runtime


async def current_key(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> ApiKey:
    """The key the middleware verified for this request."""
    key = request.scope.get(API_KEY_SCOPE)
    if not isinstance(key, ApiKey):  # only when the middleware is not in front
        raise ApiError(401, "unauthorized", "missing or invalid API key",
                       headers={"WWW-Authenticate": "Bearer"})
    return key


ApiKeyDep = Annotated[ApiKey, Depends(current_key)]


async def tenant_store(request: Request, key: ApiKeyDep) -> AsyncStore:
    """The store bound to the caller's tenant: every route reads and writes through it."""
    store, _ = runtime_of(request).require()
    return store.tenant(key.tenant)


TenantStore = Annotated[AsyncStore, Depends(tenant_store)]

_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,18})"?\s*$')


async def expected_revision(
    if_match: Annotated[
        str | None,
        Header(alias="If-Match", pattern=r'^\s*(\*|(W/)?"?\d{1,18}"?)\s*$',
               description='The thread revision the write expects, as sent in the ETag '
               'header (`"3"`); a stale one gets 409. `*` matches any.'),
    ] = None,
) -> int | None:
    """The thread revision named by ``If-Match``; ``None`` when absent or ``*``."""
    if if_match is None or if_match.strip() == "*":
        return None
    match = _ETAG.match(if_match)
    if match is None:
        raise ValidationError('must be a thread revision such as "3"', field="If-Match")
    return int(match.group(1))


ExpectedRevision = Annotated[int | None, Depends(expected_revision)]


def etag(revision: int) -> str:
    """The ETag of a thread at ``revision``; send it back as If-Match."""
    return f'"{revision}"'
