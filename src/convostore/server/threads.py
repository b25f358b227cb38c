"""Routes on threads: create, read, change, delete, restore, purge, list, summaries,
conversation state, export and import.

Each route is a thin translation of one store call; the store (bound to the
caller's tenant by :func:`convostore.server.deps.tenant_store`) does the
checking. Writes take ``If-Match: "<revision>"`` and pass it on as
``expected_revision``; responses carrying a thread send its revision as ETag.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Path, Query, Response, status
from fastapi.responses import StreamingResponse

from convostore.errors import RevisionConflictError
from convostore.model import (
    ConversationSnapshot,
    Identifier,
    Message,
    Page,
    Thread,
    ThreadPatch,
    ThreadState,
    ThreadSummary,
)
from convostore.snapshot_stream import JSON_TAIL, json_head, json_messages, past_cut
from convostore.store.rules.attachments import refs_of

from .deps import ExpectedRevision, PathId, TenantStore, etag, id_segment
from .schemas import StatePatch, ThreadCreate

__all__ = ["ThreadId", "router"]

router = APIRouter(prefix="/v1", tags=["threads"])

ThreadId = Annotated[
    PathId,
    Path(description="A thread id of the caller's tenant, percent-encoded as one path segment."),
]
Limit = Annotated[int | None, Query(ge=1, le=1000, description="Page size (default 50).")]
UserId = Annotated[Identifier | None, Query()]
AgentName = Annotated[str | None, Query(max_length=255)]
IncludeDeleted = Annotated[bool, Query(description="Include soft-deleted threads.")]

_STATE_RETRIES = 5


def _location(thread: Thread) -> str:
    return f"/v1/threads/{id_segment(thread.id)}"


def _attachment(thread_id: str) -> str:
    """A Content-Disposition naming the file after the thread, in ASCII (RFC 6266)."""
    fallback = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in thread_id)
    plain = f'attachment; filename="{fallback}.json"'
    if fallback == thread_id:
        return plain
    return f"{plain}; filename*=UTF-8''{quote(thread_id + '.json', safe='')}"


def _with_etag(response: Response, thread: Thread) -> Thread:
    response.headers["ETag"] = etag(thread.revision)
    return thread


@router.post(
    "/threads",
    operation_id="createThread",
    status_code=status.HTTP_201_CREATED,
    response_model=Thread,
)
async def create_thread(
    store: TenantStore, response: Response, body: Annotated[ThreadCreate | None, Body()] = None
) -> Thread:
    """Create a thread in the caller's tenant. 409 if the id is taken."""
    fields = body.model_dump(exclude_none=True) if body is not None else {}
    thread = await store.create_thread(**fields)
    response.headers["Location"] = _location(thread)
    return _with_etag(response, thread)


@router.get("/threads", operation_id="listThreads", response_model=Page[Thread])
async def list_threads(
    store: TenantStore,
    user_id: UserId = None,
    agent_name: AgentName = None,
    include_deleted: IncludeDeleted = False,
    limit: Limit = None,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> Page[Thread]:
    """Threads, newest activity first; pass ``next_cursor`` back as ``cursor``."""
    return await store.list_threads(
        user_id=user_id,
        agent_name=agent_name,
        include_deleted=include_deleted,
        limit=limit,
        cursor=cursor,
    )


@router.get("/summaries", operation_id="listSummaries", response_model=list[ThreadSummary])
async def list_summaries(
    store: TenantStore,
    user_id: UserId = None,
    agent_name: AgentName = None,
    include_deleted: IncludeDeleted = False,
    limit: Limit = None,
) -> list[ThreadSummary]:
    """Counts and times per thread, newest activity first, read from thread counters."""
    return await store.summaries(
        user_id=user_id, agent_name=agent_name, include_deleted=include_deleted, limit=limit
    )


@router.post(
    "/threads/import",
    operation_id="importThread",
    status_code=status.HTTP_201_CREATED,
    response_model=Thread,
)
async def import_thread(
    store: TenantStore,
    response: Response,
    snapshot: Annotated[ConversationSnapshot, Body()],
    thread_id: Annotated[
        Identifier | None, Query(description="Store under this id instead of the snapshot's.")
    ] = None,
    new_ids: Annotated[
        bool,
        Query(
            description="Give the messages fresh ids (parent links "
            "re-pointed) and the thread a fresh id unless "
            "thread_id is given: a copy that can sit beside "
            "the original in the same tenant."
        ),
    ] = False,
) -> Thread:
    """Create a thread from an exported snapshot. 409 if the id is taken.

    An exact copy keeps the snapshot's message ids, which are unique within a
    tenant: to copy a thread within its tenant, send ``new_ids=true``.
    """
    thread = await store.import_thread(snapshot, thread_id=thread_id, new_ids=new_ids)
    response.headers["Location"] = _location(thread)
    return _with_etag(response, thread)


@router.get("/threads/{thread_id}", operation_id="getThread", response_model=Thread)
async def get_thread(store: TenantStore, thread_id: ThreadId, response: Response) -> Thread:
    """The thread, soft-deleted or not; its revision is the ETag."""
    return _with_etag(response, await store.get_thread(thread_id))


@router.patch("/threads/{thread_id}", operation_id="updateThread", response_model=Thread)
async def update_thread(
    store: TenantStore,
    thread_id: ThreadId,
    patch: ThreadPatch,
    expected: ExpectedRevision,
    response: Response,
) -> Thread:
    """Change the fields sent; ``null`` clears one. 409 on a stale If-Match."""
    fields = {k: getattr(patch, k) for k in patch.model_fields_set}
    thread = await store.update_thread(thread_id, expected_revision=expected, **fields)
    return _with_etag(response, thread)


@router.delete("/threads/{thread_id}", operation_id="deleteThread", response_model=Thread)
async def delete_thread(
    store: TenantStore, thread_id: ThreadId, expected: ExpectedRevision, response: Response
) -> Thread:
    """Soft-delete: hidden from listings until restored or purged."""
    thread = await store.delete_thread(thread_id, expected_revision=expected)
    return _with_etag(response, thread)


@router.post("/threads/{thread_id}/restore", operation_id="restoreThread", response_model=Thread)
async def restore_thread(
    store: TenantStore, thread_id: ThreadId, expected: ExpectedRevision, response: Response
) -> Thread:
    """Undo a soft delete."""
    thread = await store.restore_thread(thread_id, expected_revision=expected)
    return _with_etag(response, thread)


@router.post(
    "/threads/{thread_id}/purge",
    operation_id="purgeThread",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
)
async def purge_thread(
    store: TenantStore, thread_id: ThreadId, expected: ExpectedRevision
) -> Response:
    """Remove the thread and all its messages for good."""
    await store.purge_thread(thread_id, expected_revision=expected)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/threads/{thread_id}/summary", operation_id="getThreadSummary", response_model=ThreadSummary
)
async def get_summary(store: TenantStore, thread_id: ThreadId) -> ThreadSummary:
    """Counts and times of one thread."""
    return ThreadSummary.of(await store.get_thread(thread_id))


@router.get(
    "/threads/{thread_id}/export", operation_id="exportThread", response_model=ConversationSnapshot
)
async def export_thread(store: TenantStore, thread_id: ThreadId) -> StreamingResponse:
    """The whole thread, deleted messages included, as a versioned snapshot.

    The document is streamed as the messages are read, a page at a time, so
    its memory does not depend on the thread's length. It holds the thread as
    first read: messages appended while it streams are left out.
    """
    thread = await store.get_thread(thread_id)  # a missing thread is a 404, not a stream
    # The attachments go before the messages: a first read collects what they reference.
    refs: dict[str, None] = {}
    async for m in store.iter_messages(
        thread_id, include_deleted=True, batch=store.limits.max_list_limit
    ):
        if past_cut(m, thread):
            break
        refs.update(dict.fromkeys(refs_of(m)))
    blobs = [await store.get_attachment(ref) for ref in refs]

    async def document() -> AsyncIterator[bytes]:
        yield json_head(thread, attachments=blobs)
        page: list[Message] = []
        first = True
        async for m in store.iter_messages(
            thread_id, include_deleted=True, batch=store.limits.max_list_limit
        ):
            if past_cut(m, thread):
                break
            page.append(m)
            if len(page) == store.limits.max_list_limit:
                yield json_messages(page, first=first)
                page, first = [], False
        yield json_messages(page, first=first) + JSON_TAIL

    return StreamingResponse(
        document(),
        media_type="application/json",
        headers={"Content-Disposition": _attachment(thread_id)},
    )


# --- conversation state -------------------------------------------------------


@router.get(
    "/threads/{thread_id}/state",
    operation_id="getThreadState",
    response_model=ThreadState,
    tags=["state"],
)
async def get_state(store: TenantStore, thread_id: ThreadId, response: Response) -> ThreadState:
    """The thread's state: string ``variables`` and JSON ``data``; ETag is the revision."""
    thread = await store.get_thread(thread_id)
    response.headers["ETag"] = etag(thread.revision)
    return thread.state


@router.put(
    "/threads/{thread_id}/state",
    operation_id="replaceThreadState",
    response_model=ThreadState,
    tags=["state"],
)
async def put_state(
    store: TenantStore,
    thread_id: ThreadId,
    state: ThreadState,
    expected: ExpectedRevision,
    response: Response,
) -> ThreadState:
    """Replace the whole state."""
    thread = await store.update_thread(thread_id, expected_revision=expected, state=state)
    response.headers["ETag"] = etag(thread.revision)
    return thread.state


def _merge(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = dict(current)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


@router.patch(
    "/threads/{thread_id}/state",
    operation_id="patchThreadState",
    response_model=ThreadState,
    tags=["state"],
)
async def patch_state(
    store: TenantStore,
    thread_id: ThreadId,
    patch: StatePatch,
    expected: ExpectedRevision,
    response: Response,
) -> ThreadState:
    """Merge keys into the state (RFC 7396): a ``null`` value removes the key.

    Without If-Match the merge is still safe against concurrent writers: it is
    applied to the revision read and retried if that revision moved on.
    """
    attempt = 0
    while True:
        attempt += 1
        thread = await store.get_thread(thread_id)
        state = ThreadState(
            variables=_merge(thread.state.variables, patch.variables),
            data=_merge(thread.state.data, patch.data),
        )
        try:
            thread = await store.update_thread(
                thread_id,
                state=state,
                expected_revision=thread.revision if expected is None else expected,
            )
        except RevisionConflictError:
            if expected is not None or attempt >= _STATE_RETRIES:
                raise
            continue
        response.headers["ETag"] = etag(thread.revision)
        return thread.state
