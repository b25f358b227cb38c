"""Checks made before a route runs: the API key, then the size of the body.

Both are plain ASGI middlewares rather than FastAPI dependencies because
FastAPI reads and parses a request body before it solves dependencies: done
as a dependency, an anonymous client could make the server read and parse
any body it likes. Here a request without a valid key is refused from its
headers alone, and a body is read only up to the configured limit.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from convostore.keys import KEYS_TENANT

from .bodies import check_json, is_json_body
from .deps import API_KEY_SCOPE, Runtime
from .errors import handle, problem_response
from .limits import ServerLimits

__all__ = ["AuthMiddleware", "BodyLimitMiddleware"]

_DEFAULT_MAX_ITEMS = 10_000
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_PREFIX = "/v1"


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value)
    return None


class AuthMiddleware:
    """Verify ``Authorization: Bearer <key>`` for every ``/v1`` request.

    A missing, malformed, unknown or revoked key gets 401 (the last three with
    the same body, so a client cannot tell which); a read-only key using a
    method other than GET/HEAD/OPTIONS gets 403. The verified key is put in
    the request scope for :func:`convostore.server.deps.current_key`.
    """

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == _PREFIX or path.startswith(_PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        store = self.runtime.store
        keys = self.runtime.keys
        if store is None or keys is None:
            response = problem_response(
                503, "not-ready", "the server is starting or stopping", headers={"Retry-After": "1"}
            )
            await response(scope, receive, send)
            return
        challenge = {"WWW-Authenticate": "Bearer"}
        raw = _header(scope, b"authorization")
        if raw is None:
            response = problem_response(
                401,
                "unauthorized",
                "missing API key: send Authorization: Bearer <key>",
                headers=challenge,
            )
            await response(scope, receive, send)
            return
        scheme, _, token = raw.decode("latin-1").strip().partition(" ")
        try:
            key = await keys.verify(token.strip()) if scheme.lower() == "bearer" else None
        except Exception as exc:  # the store failed: answer as the app would
            response = await handle(Request(scope), exc)
            await response(scope, receive, send)
            return
        if key is None or key.tenant == KEYS_TENANT:
            response = problem_response(
                401,
                "unauthorized",
                "invalid API key",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
            await response(scope, receive, send)
            return
        if key.read_only and scope.get("method", "GET") not in _SAFE_METHODS:
            response = problem_response(403, "read-only-key", "this API key is read-only")
            await response(scope, receive, send)
            return
        scope[API_KEY_SCOPE] = key
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Refuse bodies over the :class:`~convostore.server.limits.ServerLimits`.

    ``Content-Length`` is checked first; the body is then read up to the byte
    limit whatever the header said (it may be absent, as with chunked uploads,
    or wrong). A JSON body is then scanned for its shape (values, depth, items
    of a top-level array) and handed to the app only once it is known to fit.
    """

    def __init__(self, app: ASGIApp, limits: ServerLimits, runtime: Runtime) -> None:
        self.app = app
        self.limits = limits
        self.runtime = runtime
        self.max_body_bytes = limits.max_body_bytes

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413,
            "body-too-large",
            f"the request body is over the limit of {self.max_body_bytes} bytes",
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _header(scope, b"content-length")
        if length is not None:
            text = length.decode("latin-1").strip()
            if not (text.isascii() and text.isdigit()):
                response = problem_response(
                    400, "bad-request", "invalid Content-Length", headers={"Connection": "close"}
                )
                await response(scope, receive, send)
                return
            if len(text) > 18 or int(text) > self.max_body_bytes:
                await self._too_large(scope, receive, send)
                return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            if len(body) > self.max_body_bytes:
                await self._too_large(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        if body and is_json_body(_header(scope, b"content-type")):
            store = self.runtime.store
            max_items = store.limits.max_batch if store is not None else _DEFAULT_MAX_ITEMS
            refused = await check_json(bytes(body), self.limits, max_items)
            if refused is not None:
                await refused(scope, receive, send)
                return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
