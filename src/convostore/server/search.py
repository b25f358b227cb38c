"""The search route: ``GET /v1/search``, a tenant's messages by full-text query.

The tenant comes from the API key like every other route, so another tenant's
messages are never searched; a read-only key may search. Hits come in pages
like the other listings: pass ``next_cursor`` back as ``cursor``. Snippets are
plain text with highlight offsets, never HTML.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from convostore.model import Identifier, Page, Role, SearchHit

from .deps import TenantStore
from .threads import AgentName, IncludeDeleted, UserId

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["search"])

Text = Annotated[str | None, Query(max_length=255)]
Id = Annotated[Identifier | None, Query()]


@router.get("/search", operation_id="searchMessages", response_model=Page[SearchHit])
async def search(
    store: TenantStore,
    q: Annotated[
        str,
        Query(
            max_length=1000,
            description='Words that must all occur, "quoted phrases" and prefix* words.',
        ),
    ],
    user_id: UserId = None,
    thread_id: Id = None,
    agent_name: AgentName = None,
    role: Annotated[Role | None, Query()] = None,
    model: Text = None,
    tool_name: Text = None,
    execution_id: Id = None,
    since: Annotated[dt.datetime | None, Query(description="Created at or after.")] = None,
    until: Annotated[dt.datetime | None, Query(description="Created before.")] = None,
    include_deleted: IncludeDeleted = False,
    limit: Annotated[
        int | None, Query(ge=1, le=1000, description="Page size (default 20).")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> Page[SearchHit]:
    """Messages matching ``q``, best first, with highlighted snippets."""
    return await store.search(
        q,
        user_id=user_id,
        thread_id=thread_id,
        agent_name=agent_name,
        role=role,
        model=model,
        tool_name=tool_name,
        execution_id=execution_id,
        since=since,
        until=until,
        include_deleted=include_deleted,
        limit=limit,
        cursor=cursor,
    )
