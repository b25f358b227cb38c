"""Routes that rewrite a thread's messages: purge one, pop the newest, clear,
trim the oldest, replace, and restore a soft-deleted one.

Each is one atomic store call (see :meth:`~convostore.AsyncStore.purge_message`
and its neighbours), takes ``If-Match`` with the thread's revision like every
other write, and answers with the thread's new revision as ``ETag`` where the
answer carries the thread.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from convostore.model import Message, Thread

from .deps import ExpectedRevision, TenantStore, etag
from .messages import MessageId, _with_ids
from .schemas import MessageIn, _In
from .threads import ThreadId

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["messages"])


class PopResponse(BaseModel):
    message: Message | None = Field(description="The popped message; null for an empty thread.")


class ClearResponse(BaseModel):
    cleared: int = Field(description="How many messages left the active history.")
    thread: Thread = Field(description="The thread afterwards.")


class TrimResponse(BaseModel):
    messages: list[Message] = Field(
        description="The messages taken out of the active history, oldest first, as they were."
    )
    thread: Thread = Field(description="The thread afterwards.")


class ReplaceRequest(_In):
    messages: list[MessageIn] = Field(
        fail_fast=True, description="The thread's new history, in order (may be empty)."
    )


class ReplaceResponse(BaseModel):
    messages: list[Message] = Field(description="The stored messages, seq 1..n.")


@router.post(
    "/messages/{message_id}/restore", operation_id="restoreMessage", response_model=Message
)
async def restore_message(
    store: TenantStore, message_id: MessageId, expected: ExpectedRevision
) -> Message:
    """Undo a soft delete: the message is live again, at its seq."""
    return await store.restore_message(message_id, expected_revision=expected)


@router.post("/messages/{message_id}/purge", operation_id="purgeMessage", response_model=Message)
async def purge_message(
    store: TenantStore, message_id: MessageId, expected: ExpectedRevision
) -> Message:
    """Remove a message for good and answer with it as it was. The thread's
    later messages move down one seq, so a seq cursor past it shifts by one."""
    return await store.purge_message(message_id, expected_revision=expected)


@router.post(
    "/threads/{thread_id}/messages/pop", operation_id="popMessage", response_model=PopResponse
)
async def pop_message(
    store: TenantStore, thread_id: ThreadId, expected: ExpectedRevision
) -> PopResponse:
    """Remove the newest live message for good and answer with it (null when
    there is none); concurrent pops never get the same message."""
    return PopResponse(message=await store.pop_message(thread_id, expected_revision=expected))


@router.post(
    "/threads/{thread_id}/messages/clear",
    operation_id="clearMessages",
    response_model=ClearResponse,
)
async def clear_messages(
    store: TenantStore,
    thread_id: ThreadId,
    expected: ExpectedRevision,
    response: Response,
    mode: Annotated[
        Literal["archive", "delete", "purge"],
        Query(description="archive (default), delete (soft) or purge (for good)."),
    ] = "archive",
    keep: Annotated[
        Literal["mandatory", "system", "none"],
        Query(description="Left in place: system and pinned (default), system only, or none."),
    ] = "mandatory",
) -> ClearResponse:
    """Take every active message out of the active history in one write."""
    n = await store.clear_messages(thread_id, mode=mode, keep=keep, expected_revision=expected)
    thread = await store.get_thread(thread_id)
    response.headers["ETag"] = etag(thread.revision)
    return ClearResponse(cleared=n, thread=thread)


@router.post(
    "/threads/{thread_id}/messages/trim",
    operation_id="trimMessages",
    response_model=TrimResponse,
)
async def trim_messages(
    store: TenantStore,
    thread_id: ThreadId,
    expected: ExpectedRevision,
    response: Response,
    n: Annotated[int, Query(ge=0, le=10_000, description="How many of the oldest to take.")],
    mode: Annotated[
        Literal["archive", "delete", "purge"],
        Query(description="archive (default), delete (soft) or purge (for good)."),
    ] = "archive",
    keep: Annotated[
        Literal["mandatory", "system", "none"],
        Query(description="Skipped: system and pinned (default), system only, or none."),
    ] = "mandatory",
) -> TrimResponse:
    """Take the oldest ``n`` active messages out of the active history in one
    write and answer with them as they were."""
    taken = await store.trim_messages(
        thread_id, n, mode=mode, keep=keep, expected_revision=expected
    )
    thread = await store.get_thread(thread_id)
    response.headers["ETag"] = etag(thread.revision)
    return TrimResponse(messages=taken, thread=thread)


@router.put(
    "/threads/{thread_id}/messages", operation_id="replaceMessages", response_model=ReplaceResponse
)
async def replace_messages(
    store: TenantStore, thread_id: ThreadId, body: ReplaceRequest, expected: ExpectedRevision
) -> ReplaceResponse:
    """Make the body's messages the thread's whole history, atomically; ids may
    be those of the messages they replace."""
    batch = _with_ids(body.messages, store.tenant_id, thread_id, None)
    return ReplaceResponse(
        messages=await store.replace_messages(thread_id, batch, expected_revision=expected)
    )
