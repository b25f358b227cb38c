"""Routes on messages: append in bulk, list both ways, get, change, delete.

Appends are idempotent. The store already treats a re-sent message id as the
same message, so a client that sends ids can retry freely. For messages sent
without an id, an ``Idempotency-Key`` header makes the server derive each id
from (tenant, thread, key, position in the batch): a retried request carries
the same ids and adds nothing, across restarts and across server processes,
without a table of remembered responses.

The key is bound to the whole request, not to positions: every message of a
keyed request carries ``request_digest``, a digest of the key and of the
request's messages as sent, and that digest is part of what makes two
messages the same. The same key sent with any other body (another message, or
a batch one longer or one shorter that shares a prefix) collides at the first
position with a message of another request and gets 409 ``idempotency-key-reused``;
nothing of it is stored.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

import pydantic
from fastapi import APIRouter, Body, Header, Path, Query, status
from fastapi.exceptions import RequestValidationError

from convostore._ids import new_id
from convostore.errors import DuplicateMessageError, NotFoundError
from convostore.formats import FormatName, from_format
from convostore.model import Identifier, Message, MessagePatch, Page
from convostore.store.api import AsyncStore

from .deps import ApiKeyDep, ExpectedRevision, PathId, TenantStore
from .errors import ApiError
from .schemas import AppendRequest, AppendResponse, MessageIn
from .threads import ThreadId

__all__ = ["derived_message_id", "request_digest", "router"]

router = APIRouter(prefix="/v1", tags=["messages"])

_EXECUTION_LIMIT = 1000

MessageId = Annotated[
    PathId,
    Path(description="A message id of the caller's tenant, percent-encoded as one path segment."),
]


def derived_message_id(tenant: str, thread_id: str, idempotency_key: str, index: int) -> str:
    """The id given to message ``index`` of a request sent with ``idempotency_key``."""
    digest = hashlib.sha256(
        "\x1f".join((tenant, thread_id, idempotency_key, str(index))).encode()
    ).hexdigest()
    return f"msg_idem_{digest[:40]}"


def request_digest(
    tenant: str, thread_id: str, idempotency_key: str, messages: list[MessageIn]
) -> str:
    """The ``request_digest`` of the messages of a request sent with ``idempotency_key``.

    It covers the key and every message as the client sent it (the fields it
    set, in a canonical JSON form), so it is the same for a retry of the
    request and differs for any other request.
    """
    sent = [m.model_dump(mode="json", exclude_unset=True) for m in messages]
    return _digest((tenant, thread_id, idempotency_key), sent)


def _digest(pieces: tuple[str, ...], sent: Any) -> str:
    """``req_`` and a digest of ``pieces`` and of ``sent`` in a canonical JSON form."""
    body = json.dumps(sent, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256()
    for piece in pieces:
        digest.update(piece.encode("utf-8", "surrogatepass") + b"\x1f")
    digest.update(body.encode("utf-8", "surrogatepass"))
    return f"req_{digest.hexdigest()[:40]}"


def _with_ids(
    messages: list[MessageIn], tenant: str, thread_id: str, key: str | None
) -> list[Message]:
    digest = None if key is None else request_digest(tenant, thread_id, key, messages)
    out = []
    for i, m in enumerate(messages):
        if m.id is not None:
            mid = m.id
        elif key is not None:
            mid = derived_message_id(tenant, thread_id, key, i)
        else:
            mid = new_id("msg")
        fields = {**dict(m), "id": mid}
        names = m.model_fields_set | {"id"}
        if digest is not None:
            fields["request_digest"] = digest
            names = names | {"request_digest"}
        # Already validated as MessageIn, which differs from Message only in ``id``.
        out.append(Message.model_construct(_fields_set=names, **fields))
    return out


@router.post(
    "/threads/{thread_id}/messages",
    operation_id="appendMessages",
    status_code=status.HTTP_201_CREATED,
    response_model=AppendResponse,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "anyOf": [
                            {"$ref": "#/components/schemas/AppendRequest"},
                            {"type": "array", "items": {"type": "object"}},
                            {"type": "object"},
                        ],
                        "description": "convostore's {messages: [...]}, or with ?format= "
                        "that format's payload.",
                    }
                }
            },
        }
    },
)
async def append_messages(
    store: TenantStore,
    key: ApiKeyDep,
    thread_id: ThreadId,
    body: Annotated[Any, Body()],
    expected: ExpectedRevision,
    format: Annotated[
        FormatName | None,
        Query(
            description="The wire format of the body: a provider payload (OpenAI Chat "
            "messages, Responses input items, an Anthropic request, Gemini contents or "
            "AI SDK UIMessages) instead of convostore's ``{messages: [...]}``."
        ),
    ] = None,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            description="Makes a retried request add nothing; ids are derived from it.",
        ),
    ] = None,
) -> AppendResponse:
    """Append a batch atomically; all messages are stored or none.

    With an ``Idempotency-Key``, a retry of the same request adds nothing and
    answers as the first did; the key sent with another body gets 409.
    With ``format``, the body is that format's payload, converted first
    (``convostore.formats``); a retry is recognised the same way.
    ``state`` (convostore's body only) changes thread, user and app state in
    the same transaction; a retry does not apply it again.
    """
    state = None
    if format is None:
        try:
            request = AppendRequest.model_validate(body)
        except pydantic.ValidationError as exc:
            raise RequestValidationError(
                [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
            ) from None
        batch = _with_ids(request.messages, key.tenant, thread_id, idempotency_key)
        state = request.state
    else:
        batch = _converted(body, format, key.tenant, thread_id, idempotency_key)
    try:
        stored = await store.append(thread_id, batch, expected_revision=expected, state=state)
    except DuplicateMessageError as exc:
        if idempotency_key is not None and await _key_reused(store, exc.message_id, batch):
            raise ApiError(
                409,
                "idempotency-key-reused",
                "this Idempotency-Key was sent before with a different request; "
                "send a new key for a new request",
            ) from None
        raise
    return AppendResponse(messages=stored)


def _converted(
    payload: Any, format: FormatName, tenant: str, thread_id: str, key: str | None
) -> list[Message]:
    """The messages of a provider payload; with an Idempotency-Key, their ids
    derived from it (except for formats whose messages carry ids of their own)
    and the digest taken over the payload as sent."""
    messages = from_format(payload, format)
    if not messages:
        raise ApiError(422, "validation", "the payload holds no message")
    if key is None:
        return messages
    marked = _digest((tenant, thread_id, key, format), payload)
    own_ids = format == "vercel-ui"
    return [
        m.model_copy(
            update={
                "request_digest": marked,
                **({} if own_ids else {"id": derived_message_id(tenant, thread_id, key, i)}),
            }
        )
        for i, m in enumerate(messages)
    ]


async def _key_reused(store: AsyncStore, message_id: str, batch: list[Message]) -> bool:
    """Whether the collision on ``message_id`` is with a message another keyed
    request stored, rather than with a message id the client chose."""
    ours = next((m.request_digest for m in batch if m.id == message_id), None)
    try:
        stored = await store.get_message(message_id)
    except NotFoundError:
        return False
    return stored.request_digest is not None and stored.request_digest != ours


@router.get(
    "/threads/{thread_id}/messages", operation_id="listMessages", response_model=Page[Message]
)
async def list_messages(
    store: TenantStore,
    thread_id: ThreadId,
    limit: Annotated[
        int | None, Query(ge=1, le=1000, description="Page size (default 100).")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
    from_end: Annotated[bool, Query(description="Start at the newest page.")] = False,
    include_deleted: Annotated[bool, Query()] = False,
) -> Page[Message]:
    """Messages in seq order; ``next_cursor`` pages to newer, ``prev_cursor`` to older."""
    return await store.list_messages(
        thread_id, limit=limit, cursor=cursor, from_end=from_end, include_deleted=include_deleted
    )


@router.get("/messages/{message_id}", operation_id="getMessage", response_model=Message)
async def get_message(store: TenantStore, message_id: MessageId) -> Message:
    """One message, soft-deleted or not."""
    return await store.get_message(message_id)


@router.patch("/messages/{message_id}", operation_id="updateMessage", response_model=Message)
async def update_message(
    store: TenantStore, message_id: MessageId, patch: MessagePatch, expected: ExpectedRevision
) -> Message:
    """Change the fields sent. If-Match names the revision of the message's thread."""
    fields = {k: getattr(patch, k) for k in patch.model_fields_set}
    return await store.update_message(message_id, expected_revision=expected, **fields)


@router.delete("/messages/{message_id}", operation_id="deleteMessage", response_model=Message)
async def delete_message(
    store: TenantStore, message_id: MessageId, expected: ExpectedRevision
) -> Message:
    """Soft-delete a message: it keeps its seq and is listed only with include_deleted."""
    return await store.delete_message(message_id, expected_revision=expected)


@router.get(
    "/executions/{execution_id}/messages",
    operation_id="listExecutionMessages",
    response_model=list[Message],
)
async def execution_messages(
    store: TenantStore,
    execution_id: Annotated[PathId, Path(description="An execution id, percent-encoded.")],
    thread_id: Annotated[Identifier | None, Query()] = None,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            le=1000,
            description=(
                "At most this many messages, the first in order (default and maximum 1000)."
            ),
        ),
    ] = None,
) -> list[Message]:
    """The live messages of one agent execution, in (thread, seq) order: the first
    ``limit`` of them, so one request costs bounded memory."""
    return await store.messages_by_execution(
        execution_id, thread_id=thread_id, limit=limit or _EXECUTION_LIMIT
    )
