"""What a route receives: the caller's key, a store bound to its tenant, If-Match,
and ids from the path.

The store lives in a :class:`Runtime` owned by one app (filled in by the
lifespan, emptied at shutdown), so two apps in one process never share state
and nothing is kept at module level. Authentication itself happens in
:mod:`convostore.server.middleware`, before the body is read; the
dependencies here only hand its result to the routes and describe the bearer
scheme in the OpenAPI document.

Ids may hold any character but controls, ``/``, ``%`` and ``?`` included, so a
client sends an id in a path percent-encoded as one segment (``a%2Fb``). Servers
hand the application the path already decoded, where ``a%2Fb`` and ``a/b`` are
the same; :class:`EncodedPathMiddleware` routes on the path as it was sent
instead, and :data:`PathId` decodes each id segment once, after routing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import quote, quote_from_bytes, unquote_to_bytes

from fastapi import Depends, Header, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BeforeValidator
from starlette.types import ASGIApp, Receive, Scope, Send

from convostore.errors import ValidationError
from convostore.keys import ApiKey, AsyncKeyManager
from convostore.model import Identifier
from convostore.store.api import AsyncStore

from .errors import ApiError
from .limits import ServerLimits

__all__ = [
    "ApiKeyDep",
    "EncodedPathMiddleware",
    "ExpectedRevision",
    "LimitsDep",
    "PathId",
    "Runtime",
    "TenantStore",
    "etag",
    "id_segment",
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
    limits: ServerLimits = field(default_factory=ServerLimits)

    def require(self) -> tuple[AsyncStore, AsyncKeyManager]:
        if self.store is None or self.keys is None:
            raise ApiError(
                503, "not-ready", "the server is starting or stopping", headers={"Retry-After": "1"}
            )
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
        raise ApiError(
            401,
            "unauthorized",
            "missing or invalid API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return key


ApiKeyDep = Annotated[ApiKey, Depends(current_key)]


async def tenant_store(request: Request, key: ApiKeyDep) -> AsyncStore:
    """The store bound to the caller's tenant: every route reads and writes through it."""
    store, _ = runtime_of(request).require()
    return store.tenant(key.tenant)


TenantStore = Annotated[AsyncStore, Depends(tenant_store)]


def server_limits(request: Request) -> ServerLimits:
    """The limits of the app serving the request."""
    return runtime_of(request).limits


LimitsDep = Annotated[ServerLimits, Depends(server_limits)]

# Used with fullmatch: a "$" anchor would also match before a final newline.
_ETAG = re.compile(r'\s*(?:W/)?"?(\d{1,18})"?\s*')


async def expected_revision(
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            pattern=r'^\s*(\*|(W/)?"?\d{1,18}"?)\s*$',
            description="The revision the write expects (the thread's; on /v1/state "
            'the state\'s), as sent in the ETag header (`"3"`); a stale one gets 409. '
            "`*` matches any.",
        ),
    ] = None,
) -> int | None:
    """The revision named by ``If-Match`` (a thread's, or a user or app state's);
    ``None`` when absent or ``*``."""
    if if_match is None or if_match.strip() == "*":
        return None
    match = _ETAG.fullmatch(if_match)
    if match is None:
        raise ValidationError('must be a revision such as "3"', field="If-Match")
    return int(match.group(1))


ExpectedRevision = Annotated[int | None, Depends(expected_revision)]


def etag(revision: int) -> str:
    """The ETag of a thread at ``revision``; send it back as If-Match."""
    return f'"{revision}"'


# --- ids in the path -------------------------------------------------------------

# Printable ASCII but "%" stays as it is in a routing path; everything else is
# percent-encoded, so the routing path is ASCII and every segment decodes once.
_AS_SENT = "".join(chr(c) for c in range(0x21, 0x7F))
_AS_SENT_DECODED = _AS_SENT.replace("%", "")


def routing_path(scope: Scope) -> str:
    """The request path as the client sent it: percent escapes kept, ASCII only."""
    raw = scope.get("raw_path")
    if isinstance(raw, bytes):
        return quote_from_bytes(raw.split(b"?", 1)[0], safe=_AS_SENT)
    # No raw path from the server: an encoded "/" is lost already, but a "%" or a
    # non-ASCII character of an id still comes through exactly.
    return quote(str(scope.get("path", "")), safe=_AS_SENT_DECODED)


class EncodedPathMiddleware:
    """Route on the path as sent, so ``/v1/threads/a%2Fb`` names thread ``a/b``.

    The route's path parameters then arrive percent-encoded and :data:`PathId`
    decodes them; every path parameter of the API is an id.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = {**scope, "path": routing_path(scope)}
        await self.app(scope, receive, send)


def _from_segment(value: object) -> object:
    # Bytes that are not UTF-8 become lone surrogates, which the id rule refuses.
    if isinstance(value, str):
        return unquote_to_bytes(value).decode("utf-8", "surrogateescape")
    return value


PathId = Annotated[Identifier, BeforeValidator(_from_segment)]
"""An id taken from one percent-encoded path segment."""


def id_segment(value: str) -> str:
    """``value`` as one path segment: every reserved character percent-encoded, and
    the dots of ``.`` and ``..`` too, which clients would otherwise resolve away."""
    segment = quote(value, safe="")
    return segment.replace(".", "%2E") if segment in (".", "..") else segment
