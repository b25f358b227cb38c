"""Google ADK: a session service kept in convostore (``pip install 'convostore[adk]'``).

:class:`ConvostoreSessionService` is a ``google.adk.sessions.BaseSessionService``
over a convostore store: give it to a ``Runner`` in place of ADK's in-memory
or database service.

- An ADK app is a convostore **tenant** (``app:`` state is the tenant's app
  state) and also the thread's ``agent_name``; a session is a **thread** of
  the user (id ``<user id>:<session id>``, ``user:`` state is the user's
  state, the other keys the thread's ``state.data``); ``temp:`` state is
  never stored.
- An event is a **message**: its content converted through the ``gemini``
  format (roles, parts, tool calls, usage), the whole event JSON kept as
  ``native`` (format ``adk``), so ``get_session`` gives back events equal to
  those appended.
- An event, its state delta in every scope and the stale-session check (the
  thread's revision) are one ``append``, atomic on every backend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["ConvostoreSessionService"]

if TYPE_CHECKING:
    from convostore.integrations.adk._service import ConvostoreSessionService


def __getattr__(name: str) -> Any:
    if name != "ConvostoreSessionService":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        from convostore.integrations.adk._service import ConvostoreSessionService
    except ImportError as exc:
        if exc.name is not None and exc.name.split(".")[0] != "google":
            raise
        raise ImportError(
            "the Google ADK session service needs google-adk: pip install 'convostore[adk]'",
            name=exc.name,
        ) from exc
    return ConvostoreSessionService
