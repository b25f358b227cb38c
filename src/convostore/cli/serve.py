"""``convostore serve``: run the HTTP server on a store.

The server module does the work and prints where it listens, which store it
serves and how to get a key; this command only gathers the options, so the CLI
never needs FastAPI unless it is asked to serve.
"""

from __future__ import annotations

import click

from convostore.cli._common import resolve_url, store_option
from convostore.errors import MissingDependencyError


@click.command()
@store_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    envvar="CONVOSTORE_HOST",
    show_envvar=True,
    help="Interface to listen on; 0.0.0.0 for every one.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    envvar="CONVOSTORE_PORT",
    show_envvar=True,
    help="TCP port to listen on.",
)
def serve(store_url: str | None, host: str, port: int) -> None:
    """Serve the store over HTTP (needs the server extra).

    Requests authenticate with an API key: create one with
    convostore keys create --tenant NAME.

    The store is opened before the server starts: one that cannot be opened (a
    missing or unwritable directory, a damaged file, a server that refuses
    connections, a newer schema) is one line on stderr and exit code 5. A store
    that opens but cannot take writes (read-only, full disk) is served, and
    GET /readyz answers 503 naming the problem.
    """
    try:
        from convostore.server import serve as run
    except ImportError as exc:
        if exc.name and exc.name.split(".")[0] in ("fastapi", "uvicorn", "starlette"):
            raise MissingDependencyError(exc.name, "server") from None
        raise
    run(resolve_url(store_url), host, port)
