"""The HTTP server: the store's API over REST, one tenant per API key.

Needs the ``server`` extra (FastAPI and uvicorn). :func:`create_app` returns an
ASGI app for any ASGI server; :func:`serve` runs it with uvicorn and is what
``convostore serve`` calls. The routes, status codes and error bodies are
described in ``docs/server.md`` and in the app's own ``/openapi.json``.
"""

from convostore.server.app import DEFAULT_MAX_BODY_BYTES, create_app, serve
from convostore.server.limits import ServerLimits

__all__ = ["DEFAULT_MAX_BODY_BYTES", "ServerLimits", "create_app", "serve"]
