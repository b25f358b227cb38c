"""The context window route: the newest messages of a thread that fit a budget.

The selection (system prompt and pinned messages always in, tool calls kept
with their results, optional start on a user turn) is the library's
``AsyncStore.context``; this route only exposes its parameters. The route is
registered only when the installed library provides that method, so the
OpenAPI document never advertises an operation the server cannot perform.
"""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from convostore.errors import ValidationError
from convostore.formats import FormatName
from convostore.store.api import AsyncStore
from convostore.store.rules.window import DEFAULT_CONTEXT_TOKENS

from .deps import LimitsDep, TenantStore
from .schemas import ContextResponse
from .threads import ThreadId

__all__ = ["available", "router"]

router = APIRouter(prefix="/v1", tags=["context"])


def available() -> bool:
    """Whether the library in use can build context windows."""
    return callable(getattr(AsyncStore, "context", None))


@router.get(
    "/threads/{thread_id}/context",
    operation_id="getContext",
    response_model=ContextResponse | list[dict[str, Any]] | dict[str, Any],
)
async def get_context(
    store: TenantStore,
    thread_id: ThreadId,
    limits: LimitsDep,
    max_tokens: Annotated[
        int | None,
        Query(
            ge=1,
            le=2**63 - 1,
            description="Token budget of the window; at most the "
            "server's max_window_tokens (default 10,000,000).",
        ),
    ] = None,
    max_messages: Annotated[
        int | None,
        Query(
            ge=1,
            le=2**63 - 1,
            description="At most this many messages; at most the "
            "server's max_window_messages (default 10,000), which also bounds a window "
            "asked for by tokens alone.",
        ),
    ] = None,
    start_on_user: Annotated[
        bool, Query(description="Drop leading non-user messages (after the system prompt).")
    ] = False,
    format: Annotated[
        FormatName | None,
        Query(
            description="Answer with the window as this provider's payload, chosen under "
            "its rules (e.g. Anthropic's user-first turns), attachments inline."
        ),
    ] = None,
) -> Any:
    """The context window, oldest first. 422 if the mandatory part exceeds the budget.

    A window never holds more than the server's ``max_window_messages``, so the
    memory one request costs is bounded whatever the thread's length.
    """
    if max_tokens is not None and max_tokens > limits.max_window_tokens:
        raise ValidationError(
            f"must be at most {limits.max_window_tokens} (the server's max_window_tokens)",
            field="max_tokens",
        )
    if max_messages is not None and max_messages > limits.max_window_messages:
        raise ValidationError(
            f"must be at most {limits.max_window_messages} (the server's max_window_messages)",
            field="max_messages",
        )
    if max_tokens is None and max_messages is None:  # the library's default budget
        max_tokens = DEFAULT_CONTEXT_TOKENS
    most = limits.max_window_messages if max_messages is None else max_messages
    if format is not None:
        payload = await store.context(
            thread_id,
            max_tokens=max_tokens,
            max_messages=most,
            start_on_user=start_on_user,
            format=format,
        )
        return JSONResponse(payload)
    window = await cast(Any, store).context(
        thread_id, max_tokens=max_tokens, max_messages=most, start_on_user=start_on_user
    )
    return ContextResponse(
        messages=list(window.messages),
        tokens=int(window.tokens),
        estimated=bool(window.estimated),
        truncated=bool(getattr(window, "truncated", False)),
        omitted=list(getattr(window, "omitted", [])),
        counters=list(getattr(window, "counters", [])),
    )
