"""The interactive API docs page, served whole from the app: no CDN, no network.

FastAPI's stock Swagger UI and ReDoc pages load their JavaScript and CSS from
a CDN, so they are blank on an air-gapped host, and vendoring Swagger UI would
add a megabyte of third-party code to the package. This page is one small
HTML document with inline script and style: it reads ``/openapi.json``, lists
every operation with its parameters, body schema and responses, and has a
"try it" form that sends requests with the API key typed into the page (kept in
``sessionStorage`` only). Everything is inserted as text, never as HTML.

The page itself is package data, ``static/docs.html``, read once at import.
"""

from __future__ import annotations

import importlib.resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

#: The page (UTF-8), kept as package data and served byte for byte as it is.
_PAGE = (importlib.resources.files("convostore.server") / "static" / "docs.html").read_bytes()


@router.get("/docs", response_class=HTMLResponse)
async def docs_page() -> HTMLResponse:
    """The interactive API documentation."""
    return HTMLResponse(
        _PAGE,
        headers={
            "Content-Security-Policy": "default-src 'self'; script-src 'unsafe-inline'; "
            "style-src 'unsafe-inline'; connect-src 'self'",
        },
    )
