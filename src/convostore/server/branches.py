"""Routes on branches: fork a thread, edit a message or regenerate a reply as a
new branch, list a thread's branch tree, and choose the tree's active branch.

A branch is a thread: every thread route reads, windows, exports and deletes
it. The messages of a request here may leave their ids out, as for an append.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response, status
from pydantic import Field

from convostore.model import Branch, Identifier, MessagePatch, Thread

from .deps import ExpectedRevision, TenantStore
from .messages import MessageId, _with_ids
from .schemas import MessageIn, ThreadCreate, _In
from .threads import ThreadId, _location, _with_etag

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["branches"])


class ForkRequest(ThreadCreate):
    """Where to fork, and the branch's fields (the source's where left out);
    every field is optional."""

    at: Identifier | None = Field(
        default=None, description="The last shared message (default: the newest)."
    )
    at_seq: int | None = Field(
        default=None, ge=0, description="The last shared seq, instead of ``at``."
    )
    messages: list[MessageIn] = Field(
        default_factory=list, description="Appended to the branch in the same transaction."
    )


class RegenerateRequest(_In):
    id: Identifier | None = Field(
        default=None, description="The branch's id (made up if left out)."
    )
    messages: list[MessageIn] = Field(
        default_factory=list, description="The new reply, appended to the branch."
    )


def _created(response: Response, thread: Thread) -> Thread:
    response.headers["Location"] = _location(thread)
    return _with_etag(response, thread)


@router.post(
    "/threads/{thread_id}/fork",
    operation_id="forkThread",
    status_code=status.HTTP_201_CREATED,
    response_model=Thread,
)
async def fork_thread(
    store: TenantStore,
    thread_id: ThreadId,
    expected: ExpectedRevision,
    response: Response,
    body: Annotated[ForkRequest | None, Body()] = None,
) -> Thread:
    """Make a branch sharing the thread's history up to ``at`` without copying
    it. If-Match names the source thread's revision."""
    req = body or ForkRequest()
    fields = req.model_dump(exclude_none=True, exclude={"messages", "at", "at_seq", "id"})
    branch_id = req.id
    messages = _with_ids(req.messages, store.tenant_id, branch_id or "", None)
    thread = await store.fork_thread(
        thread_id,
        at=req.at,
        at_seq=req.at_seq,
        id=branch_id,
        messages=messages,
        expected_revision=expected,
        **fields,
    )
    return _created(response, thread)


@router.post(
    "/messages/{message_id}/edit",
    operation_id="editInBranch",
    status_code=status.HTTP_201_CREATED,
    response_model=Thread,
)
async def edit_in_branch(
    store: TenantStore,
    message_id: MessageId,
    patch: MessagePatch,
    expected: ExpectedRevision,
    response: Response,
) -> Thread:
    """Edit a message as a new branch ending with the edited copy; the original
    stays. If-Match names the revision of the message's thread."""
    fields = {k: getattr(patch, k) for k in patch.model_fields_set}
    thread = await store.edit_in_branch(message_id, expected_revision=expected, **fields)
    return _created(response, thread)


@router.post(
    "/messages/{message_id}/regenerate",
    operation_id="regenerate",
    status_code=status.HTTP_201_CREATED,
    response_model=Thread,
)
async def regenerate(
    store: TenantStore,
    message_id: MessageId,
    expected: ExpectedRevision,
    response: Response,
    body: Annotated[RegenerateRequest | None, Body()] = None,
) -> Thread:
    """Start a new branch in place of a reply, sharing the history before it."""
    req = body or RegenerateRequest()
    messages = _with_ids(req.messages, store.tenant_id, req.id or "", None)
    thread = await store.regenerate(
        message_id, messages=messages, id=req.id, expected_revision=expected
    )
    return _created(response, thread)


@router.get(
    "/threads/{thread_id}/branches", operation_id="listBranches", response_model=list[Branch]
)
async def list_branches(store: TenantStore, thread_id: ThreadId) -> list[Branch]:
    """Every thread of the thread's branch tree, oldest first, with the last seq
    each shares with it and which one is active."""
    return await store.branches(thread_id)


@router.post("/threads/{thread_id}/activate", operation_id="setActiveBranch", response_model=Thread)
async def set_active_branch(
    store: TenantStore, thread_id: ThreadId, expected: ExpectedRevision, response: Response
) -> Thread:
    """Make the thread the active branch of its tree; returns the tree's root.
    If-Match names the root's revision."""
    return _with_etag(
        response, await store.set_active_branch(thread_id, expected_revision=expected)
    )
