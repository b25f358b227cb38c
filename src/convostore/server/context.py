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

from convostore.store.facade import AsyncStore

from .deps import TenantStore
from .schemas import ContextResponse
from .threads import ThreadId

__all__ = ["available", "router"]

router = APIRouter(prefix="/v1", tags=["context"])


def available() -> bool:
    """Whether the library in use can build context windows."""
    return callable(getattr(AsyncStore, "context", None))


@router.get("/threads/{thread_id}/context", operation_id="getContext",
            response_model=ContextResponse)
async def get_context(
    store: TenantStore, thread_id: ThreadId,
    max_tokens: Annotated[int | None, Query(ge=1, le=2**31 - 1,
                                            description="Token budget of the window.")] = None,
    max_messages: Annotated[int | None, Query(ge=1, le=1_000_000,
                                              description="At most this many messages.")
                            ] = None,
    start_on_user: Annotated[bool, Query(
        description="Drop leading non-user messages (after the system prompt).")] = False,
) -> ContextResponse:
    """The context window, oldest first. 422 if the mandatory part exceeds the budget."""
    window = await cast(Any, store).context(
        thread_id, max_tokens=max_tokens, max_messages=max_messages, start_on_user=start_on_user)
    return ContextResponse(
        messages=list(window.messages), tokens=int(window.tokens),
        estimated=bool(window.estimated), truncated=bool(getattr(window, "truncated", False)),
        omitted=list(getattr(window, "omitted", [])),
        counters=list(getattr(window, "counters", [])))
