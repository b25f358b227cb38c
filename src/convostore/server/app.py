"""Building the app and running it.

:func:`create_app` wires the routers, the two middlewares and the one error
handler around a store that the app's lifespan opens and closes. Nothing is
kept at module level: each app owns a :class:`~convostore.server.deps.Runtime`,
so tests can run many apps side by side. :func:`serve` is what
``convostore serve`` calls.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from convostore import __version__
from convostore.keys import ApiKey, AsyncKeyManager
from convostore.model import HealthCheckResult, HealthReport
from convostore.store import DEFAULT_URL, open_async_store, open_store, url_from_env
from convostore.store.api import AsyncStore

from . import (
    attachments,
    branches,
    context,
    docs,
    message_ops,
    messages,
    search,
    state,
    threads,
)
from ._errors_asgi import UnhandledErrorMiddleware
from .deps import ApiKeyDep, EncodedPathMiddleware, Runtime, runtime_of
from .errors import HANDLED, PROBLEM_JSON, Problem, handle
from .limits import ServerLimits
from .middleware import AuthMiddleware, BodyLimitMiddleware
from .schemas import KeyInfo, Status

__all__ = ["DEFAULT_MAX_BODY_BYTES", "ServerLimits", "create_app", "serve"]

log = logging.getLogger("convostore.server")

DEFAULT_MAX_BODY_BYTES = ServerLimits().max_body_bytes
"""Twice the default size limit of one message, so any single message fits."""

_DESCRIPTION = """\
Threads of LLM chat messages, per tenant. Every `/v1` request needs
`Authorization: Bearer <API key>`; the key decides the tenant. Errors are RFC 9457
problem documents. Writes accept `If-Match: "<thread revision>"` (the ETag) and
answer 409 when it is stale.
"""

_PROBLEM = {"model": Problem, "content": {PROBLEM_JSON: {}}}
_V1_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {**_PROBLEM, "description": "The body is not JSON (or not UTF-8)."},
    401: {**_PROBLEM, "description": "Missing, malformed or revoked API key."},
    403: {**_PROBLEM, "description": "The API key is read-only."},
    404: {**_PROBLEM, "description": "No such thread or message in this tenant."},
    409: {**_PROBLEM, "description": "Stale If-Match, id taken, or thread deleted."},
    413: {**_PROBLEM, "description": "The body is over the size limit."},
    422: {**_PROBLEM, "description": "Invalid input; `field` names it."},
    503: {**_PROBLEM, "description": "The store is unavailable."},
}

_meta = APIRouter(tags=["service"])
_whoami = APIRouter(prefix="/v1", tags=["service"])


@_meta.get("/", include_in_schema=False)
async def root() -> RedirectResponse:
    """The API's interactive docs; a later release may serve a viewer here."""
    return RedirectResponse("/docs")


@_meta.get("/healthz", operation_id="health", response_model=Status)
async def healthz() -> Status:
    """Liveness: the process answers. Reads nothing."""
    return Status(status="ok")


#: What /readyz says of each failed check. It needs no key, so it names the
#: problem without the store's paths or addresses; the server log has those.
_NOT_READY = {
    "open": "the store cannot be reached",
    "schema": "the store's schema version is not the one this server uses",
    "writable": "a write would fail: the store's files, directory or database are read-only",
    "disk-space": "the disk holding the store is full or nearly full",
    "integrity": "the stored data is damaged",
}


@_meta.get(
    "/readyz",
    operation_id="ready",
    response_model=Status,
    responses={
        503: {
            **_PROBLEM,
            "description": "The store cannot be used: the "
            "problem detail names the checks "
            "that failed.",
        }
    },
)
async def readyz(request: Request) -> Response:
    """Readiness: the store can serve reads and writes now.

    Runs the store's cheap health check: the store answers, its schema is
    current, a write transaction can be begun and rolled back, its files are
    writable, disk space is left, and its header and schema (a small SQLite
    database: all its pages) are sound. On 503 the problem's ``errors`` name
    each failed check (``check``: ``open``, ``schema``, ``writable``,
    ``disk-space``, ``integrity``).
    """
    store, _ = runtime_of(request).require()
    report = await store.health_check()
    _log_readiness(request.app, report)
    if report.ok:
        return JSONResponse({"status": "ready"})
    from .errors import problem_response

    failed = report.problems or [HealthCheckResult(name="open", ok=False)]
    reasons = [(c.name, _NOT_READY.get(c.name, "the check failed")) for c in failed]
    return problem_response(
        503,
        "not-ready",
        "the store is not ready: " + "; ".join(f"{n}: {why}" for n, why in reasons),
        headers={"Retry-After": "1"},
        errors=[{"check": n, "message": why} for n, why in reasons],
    )


def _log_readiness(app: FastAPI, report: HealthReport) -> None:
    """Log the health check's whole findings whenever readiness changes."""
    now = tuple(c.name for c in report.problems) if not report.ok else ()
    if now == getattr(app.state, "convostore_unready", ()):
        return
    app.state.convostore_unready = now
    if now:
        log.warning("not ready: %s", report.detail.get("error") or ", ".join(now))
    else:
        log.info("ready again: the store's health check passes")


@_whoami.get("/whoami", operation_id="getCurrentKey", response_model=KeyInfo)
async def whoami(key: ApiKeyDep) -> KeyInfo:
    """The API key this request was made with: its tenant and whether it is read-only."""
    return KeyInfo(
        id=key.id,
        tenant=key.tenant,
        read_only=key.read_only,
        label=key.label,
        created_at=key.created_at,
    )


def create_app(
    store_or_url: AsyncStore | str | None = None,
    *,
    max_body_bytes: int | None = None,
    limits: ServerLimits | None = None,
) -> FastAPI:
    """The convostore HTTP API as an ASGI app.

    Args:
        store_or_url: an :class:`AsyncStore` (the caller keeps owning it: the app
            opens it but does not close it), or a store URL that the app opens
            when it starts and closes when it stops. ``None`` reads
            ``CONVOSTORE_URL`` and falls back to the embedded SQLite file.
        max_body_bytes: request bodies over this size get 413 (a shorthand
            for the field of ``limits``, which it overrides).
        limits: what one request may send and ask for
            (:class:`~convostore.server.limits.ServerLimits`; its defaults
            when ``None``).

    Returns:
        A FastAPI app; run it with any ASGI server, or with :func:`serve`.
    """
    limits = _limits(limits, max_body_bytes)
    runtime = Runtime(limits=limits)
    url = url_from_env() if store_or_url is None else store_or_url

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = not isinstance(url, AsyncStore)
        try:
            store = open_async_store(url) if isinstance(url, str) else url
            await store.open()
        except Exception as exc:
            app.state.startup_error = exc  # for serve() to report as the store's error
            raise
        runtime.store, runtime.keys = store, AsyncKeyManager(store)
        try:
            yield
        finally:
            runtime.store = runtime.keys = None
            if owned:
                await store.close()

    app = FastAPI(
        title="convostore",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.convostore = runtime
    for cls in HANDLED:
        app.add_exception_handler(cls, handle)
    app.add_middleware(EncodedPathMiddleware)  # innermost: routing sees ids as sent
    app.add_middleware(BodyLimitMiddleware, limits=limits, runtime=runtime)
    app.add_middleware(AuthMiddleware, runtime=runtime)  # outermost: before the body
    app.add_middleware(UnhandledErrorMiddleware)  # around all: a 500 keeps the connection
    app.include_router(_meta)
    app.include_router(docs.router)
    routers = [
        threads.router,
        branches.router,
        messages.router,
        message_ops.router,
        state.router,
        search.router,
        attachments.router,
        _whoami,
    ]
    if context.available():
        routers.append(context.router)
    for router in routers:
        app.include_router(router, responses=_V1_ERRORS)
    _problems_as_problem_json(app)
    return app


def _limits(limits: ServerLimits | None, max_body_bytes: int | None) -> ServerLimits:
    limits = limits if limits is not None else ServerLimits()
    if not isinstance(limits, ServerLimits):
        raise TypeError("limits must be a ServerLimits")
    if max_body_bytes is None:
        return limits
    if (
        isinstance(max_body_bytes, bool)
        or not isinstance(max_body_bytes, int)
        or max_body_bytes < 1
    ):
        raise ValueError("max_body_bytes must be a positive integer")
    return dataclasses.replace(limits, max_body_bytes=max_body_bytes)


def _problems_as_problem_json(app: FastAPI) -> None:
    """Document error bodies under ``application/problem+json`` only.

    FastAPI files a response ``model`` under ``application/json``; the errors
    are sent as ``application/problem+json``, so the schema is moved there.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = generate()
            for item in spec.get("paths", {}).values():
                for op in item.values():
                    for response in op.get("responses", {}).values():
                        content = response.get("content", {})
                        if PROBLEM_JSON in content and "application/json" in content:
                            content[PROBLEM_JSON] = content.pop("application/json")
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + host))


def serve(
    url: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    max_body_bytes: int | None = None,
    log_level: str = "info",
    out: TextIO | None = None,
    limits: ServerLimits | None = None,
) -> None:
    """Run the API with uvicorn until interrupted.

    Prints where it listens, which store it uses and how to get an API key.

    Args:
        url: the store URL; ``None`` reads ``CONVOSTORE_URL``, else the
            embedded SQLite file.
        host: the interface to bind; the default accepts local clients only.
        port: the TCP port.
        max_body_bytes: request bodies over this size get 413.
        log_level: uvicorn's log level.
        out: where to print the banner (standard output by default).
        limits: what one request may send and ask for (see :func:`create_app`).
    """
    import uvicorn

    store_url = url or url_from_env()
    shown = f"[{host}]" if ":" in host else host
    store_flag = "" if store_url == DEFAULT_URL else " --store URL"
    key_hint = (
        f"convostore keys create{store_flag} --tenant NAME   "
        "(then send Authorization: Bearer <key>)"
    )
    target: AsyncStore | str = store_url
    if urlsplit(store_url).scheme.lower() == "memory":
        # No other process can reach this store, so the CLI cannot issue a key
        # for it: issue one here, for the tenant "default".
        target = open_async_store(store_url)
        _, token = asyncio.run(_first_key(target))
        key_hint = f"{token}   (tenant default; this store lives in this process only)"
    else:
        target = _opened(store_url)
    app = create_app(target, max_body_bytes=max_body_bytes, limits=limits)
    print(
        f"convostore {__version__} serving on http://{shown}:{port}\n"
        f"  store:   {_redact(store_url)}\n"
        f"  docs:    http://{shown}:{port}/docs\n"
        f"  API key: {key_hint}",
        file=out or sys.stdout,
        flush=True,
    )
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level)
    except SystemExit:
        failed = getattr(app.state, "startup_error", None)
        if failed is not None:  # the store failed after all: its error, not uvicorn's exit
            raise failed from None
        raise
    finally:
        if isinstance(target, AsyncStore):
            asyncio.run(target.close())


def _opened(url: str) -> AsyncStore | str:
    """The store of ``url``, opened before the server starts, so a store that
    cannot be opened (a missing or unwritable directory, a damaged file, a
    server that refuses connections, a newer schema) fails with its own error
    before uvicorn starts, rather than with a traceback from inside its
    startup. A PostgreSQL pool belongs to the event loop that opens it, so
    that store is opened once to check it, and again by the app."""
    if urlsplit(url).scheme.lower().startswith("postgres"):
        open_store(url).close()
        return url
    return open_async_store(url)  # a file store is opened by its constructor


async def _first_key(store: AsyncStore) -> tuple[ApiKey, str]:
    await store.open()
    return await AsyncKeyManager(store).create("default", label="serve")
