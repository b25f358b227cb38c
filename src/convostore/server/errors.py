"""Every error the server answers with, mapped in one place.

One function, :func:`handle`, turns any exception into an RFC 9457 problem
document (``application/problem+json`` with ``type``, ``title``, ``status``,
``detail``). The app registers it for every exception class and the
middlewares call it for the errors they raise before routing, so there is a
single table to read to know what a client can see.

What a client never sees: a traceback, SQL text, a driver message or a file
path. Errors of the store that are not the client's doing (backend down,
schema mismatch, bugs) get a fixed detail; the exception goes to the log.

A not-found answer does not depend on the id asked for: another tenant's thread
and a thread that never existed produce byte-identical bodies.
"""

from __future__ import annotations

import http
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from convostore import errors as e

__all__ = ["PROBLEM_JSON", "ApiError", "Problem", "handle", "problem_response"]

log = logging.getLogger("convostore.server")

PROBLEM_JSON = "application/problem+json"
_TYPE_PREFIX = "urn:convostore:problem:"


class Problem(BaseModel):
    """An RFC 9457 problem document; ``field`` names the offending input if known."""

    type: str = Field(examples=[f"{_TYPE_PREFIX}not-found"])
    title: str
    status: int
    detail: str
    field: str | None = None
    errors: list[dict[str, str]] | None = None


class ApiError(Exception):
    """An error raised by the server itself (authentication, permissions, headers)."""

    def __init__(
        self, status: int, slug: str, detail: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.headers = dict(headers or {})


# (exception class, status, type slug, fixed detail or None to use str(exc)).
# Checked in order: subclasses before their bases.
_TABLE: Sequence[tuple[type[BaseException], int, str, str | None]] = (
    (e.ThreadNotFoundError, 404, "not-found", "thread not found"),
    (e.MessageNotFoundError, 404, "not-found", "message not found"),
    (e.AttachmentNotFoundError, 404, "not-found", "attachment not found"),
    (e.NotFoundError, 404, "not-found", "not found"),
    (e.RevisionConflictError, 409, "revision-conflict", None),
    (e.StateConflictError, 409, "revision-conflict", None),
    (e.DuplicateMessageError, 409, "duplicate-message", None),
    (e.ThreadExistsError, 409, "thread-exists", None),
    (e.ThreadDeletedError, 409, "thread-deleted", None),
    (e.ConflictError, 409, "conflict", None),
    (e.ContextBudgetError, 422, "context-budget", None),
    (e.UnsupportedSnapshotVersionError, 422, "unsupported-snapshot-version", None),
    (e.AttachmentTooLargeError, 413, "attachment-too-large", None),
    (e.ValidationError, 422, "validation", None),
    (
        e.SchemaVersionError,
        503,
        "schema-version",
        "the store's schema does not match this server; see the server log",
    ),
    (e.StoreLockedError, 503, "store-locked", "the store is busy; retry shortly"),
    (
        e.DamagedThreadError,
        500,
        "thread-damaged",
        "this thread's stored data is damaged; it cannot be read or changed until the "
        "operator restores it (see the server log)",
    ),
    (
        e.BackendUnavailableError,
        503,
        "backend-unavailable",
        "the store is unavailable; retry shortly",
    ),
    (e.MissingDependencyError, 500, "missing-dependency", None),
)


def _title(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_response(
    status: int, slug: str, detail: str, *, headers: Mapping[str, str] | None = None, **extra: Any
) -> Response:
    """A problem+json response; ``extra`` members are added when not ``None``."""
    body = Problem(
        type=_TYPE_PREFIX + slug,
        title=_title(status),
        status=status,
        detail=detail,
        **{k: v for k, v in extra.items() if v is not None},
    )
    return Response(
        body.model_dump_json(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=dict(headers or {}),
    )


def _field_of(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        where, rest = parts[0], parts[1:]
        if where == "header" and rest:
            return "-".join(w.capitalize() for w in rest[0].split("-"))
        parts = rest
    return ".".join(parts) or "body"


def _clip(text: str, size: int = 200) -> str:
    return text if len(text) <= size else text[: size - 1] + "\u2026"


def _describe(err: Mapping[str, Any]) -> dict[str, str]:
    loc = tuple(err.get("loc", ()))
    kind = str(err.get("type", "invalid"))
    if kind == "json_invalid":  # FastAPI reports the byte offset as the location
        reason = (err.get("ctx") or {}).get("error", "invalid JSON")
        pos = loc[1] if len(loc) > 1 else "?"
        return {
            "field": "body",
            "message": f"invalid JSON at character {pos}: {reason}",
            "type": kind,
        }
    return {
        "field": _clip(_field_of(loc)),
        "message": _clip(str(err.get("msg", "invalid"))),
        "type": kind,
    }


def _unparsable(cause: BaseException | None) -> str:
    if isinstance(cause, UnicodeError):
        return "the body is not valid UTF-8 JSON"
    if isinstance(cause, RecursionError):
        return "the body's JSON is nested too deeply"
    return "the body is not valid JSON"


def _json_media_type(content_type: str) -> bool:
    """``application/json`` or any ``+json`` type, parameters ignored."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _not_json(request: Request, exc: RequestValidationError) -> Response | None:
    """The problem for a body sent under a content type other than JSON.

    FastAPI reads a body as JSON only when it is labelled JSON; any other body
    (a form, which is what ``curl -d`` sends by default, or text) reaches the
    model as raw bytes and fails with a type error that never says why. Every
    body of the API is JSON, so the answer names the content type to send.
    """
    content_type = request.headers.get("content-type")
    if not content_type or _json_media_type(content_type):
        return None
    if not any(tuple(err.get("loc", ()))[:1] == ("body",) for err in exc.errors()):
        return None
    media = _clip(content_type.split(";", 1)[0].strip(), 100)
    detail = (
        f"the body must be JSON sent with Content-Type: application/json; this request sent {media}"
    )
    return problem_response(
        422,
        "validation",
        detail,
        field="body",
        errors=[{"field": "body", "message": detail, "type": "content_type"}],
    )


def _validation(request: Request, exc: RequestValidationError) -> Response:
    problem = _not_json(request, exc)
    if problem is not None:
        return problem
    errors = [_describe(err) for err in exc.errors()]
    first = errors[0] if errors else {"field": "body", "message": "invalid request"}
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return problem_response(
        422,
        "validation",
        f"{first['field']}: {first['message']}{more}",
        field=first["field"],
        errors=errors[:20],
    )


def _allowed(request: Request) -> str:
    """Every method the app serves at the request's path, for a 405's ``Allow``.

    The router names only the methods of the first route whose path matched;
    the OpenAPI document knows them all.
    """
    spec = request.app.openapi()
    path = request.url.path
    methods: set[str] = set()
    for template, item in spec.get("paths", {}).items():
        pattern = re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            methods.update(m.upper() for m in item if m in _METHODS)
    return ", ".join(sorted(methods))


_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


async def handle(request: Request, exc: Exception) -> Response:
    """The one exception handler: any exception in, a problem response out."""
    if isinstance(exc, ApiError):
        return problem_response(exc.status, exc.slug, exc.detail, headers=exc.headers)
    if isinstance(exc, RequestValidationError):
        return _validation(request, exc)
    if isinstance(exc, HTTPException):
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed(request)
        slug = "-".join(_title(exc.status_code).lower().split())
        detail = exc.detail if isinstance(exc.detail, str) else _title(exc.status_code)
        if exc.status_code == 400 and exc.__cause__ is not None:  # FastAPI's body parse
            slug, detail = "invalid-body", _unparsable(exc.__cause__)
        return problem_response(exc.status_code, slug, detail, headers=headers)
    for cls, status, slug, fixed in _TABLE:
        if isinstance(exc, cls):
            if status >= 500:
                log.error("store error on %s %s: %r", request.method, request.url.path, exc)
            retry = {"Retry-After": "1"} if status == 503 else None
            field = exc.field if isinstance(exc, e.ValidationError) else None
            return problem_response(status, slug, fixed or str(exc), headers=retry, field=field)
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(500, "internal", "internal server error")


#: The exception classes :func:`handle` is registered for on the app.
HANDLED: tuple[type[Exception], ...] = (
    ApiError,
    RequestValidationError,
    HTTPException,
    e.ConvostoreError,
    Exception,
)
