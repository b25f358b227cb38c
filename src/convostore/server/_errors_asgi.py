"""The outermost middleware: an exception that escapes everything else becomes a
normal 500 on a connection that stays open.

Starlette runs the handler registered for ``Exception`` in its
``ServerErrorMiddleware``, which sends the handler's response and then raises
the exception again, for the server to log; uvicorn answers that by closing
the connection, so every 500 also cost the client its keep-alive connection
(and a pooled client its next request on it). Here the exception is caught
one layer further in, answered with :func:`~convostore.server.errors.handle`
(the same problem document, logged the same way) and not raised again.

Only an exception raised after the response has started is raised again: the
client already has a status line and part of a body, and closing the
connection is the only way left to tell it the body is incomplete.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import handle

__all__ = ["UnhandledErrorMiddleware"]

log = logging.getLogger("convostore.server")


class UnhandledErrorMiddleware:
    """Answer any exception of an HTTP request as its problem response, once."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        finished = False

        async def tracking_send(message: Message) -> None:
            nonlocal started, finished
            if message["type"] == "http.response.start":
                started = True
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                finished = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if finished:  # the client has its whole answer: log, keep the connection
                log.exception(
                    "error after the response on %s %s",
                    scope.get("method"),
                    scope.get("path"),
                    exc_info=exc,
                )
                return
            if started:
                raise
            response = await handle(Request(scope), exc)
            await response(scope, receive, send)
