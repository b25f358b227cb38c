"""Routes on attachments: upload bytes once, download them by hash.

A message may carry its bytes inline (base64 ``data`` of an image, audio or
file part): the store keeps them as an attachment either way. Uploading
first and referencing the returned ``ref`` keeps large bytes out of JSON
bodies. Attachments belong to the key's tenant like every other object: a
hash of another tenant's bytes is not found.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Request, Response, status

from convostore.model import AttachmentInfo

from .deps import TenantStore
from .errors import ApiError

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["attachments"])

AttachmentRef = Annotated[
    str,
    Path(
        description="``sha256:`` and the 64 hex digits of the SHA-256 of the bytes, or the "
        "digits alone.",
        max_length=71,
    ),
]


@router.post(
    "/attachments",
    operation_id="uploadAttachment",
    status_code=status.HTTP_201_CREATED,
    response_model=AttachmentInfo,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def upload_attachment(
    store: TenantStore,
    request: Request,
    content_type: Annotated[str | None, Header(alias="Content-Type")] = None,
) -> AttachmentInfo:
    """Store the request body once for the tenant; its ``Content-Type`` is the
    attachment's media type. Sending the same bytes again answers with what
    is stored. Reference the returned ``ref`` from a part's ``attachment``."""
    data = await request.body()
    if not data:
        raise ApiError(422, "validation", "the request body holds the bytes to store; it is empty")
    media_type = (content_type or "application/octet-stream").split(";")[0].strip()
    return await store.put_attachment(data, media_type or "application/octet-stream")


@router.get(
    "/attachments/{ref}",
    operation_id="downloadAttachment",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The bytes."}},
)
async def download_attachment(store: TenantStore, ref: AttachmentRef) -> Response:
    """The bytes, with the media type they were stored with. They never change,
    so the response may be cached for good."""
    found = await store.get_attachment(ref)
    return Response(
        content=found.data,
        media_type=found.media_type,
        headers={
            "ETag": f'"{found.sha256}"',
            "Cache-Control": "private, max-age=31536000, immutable",
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": "attachment",
        },
    )


@router.get(
    "/attachments/{ref}/info", operation_id="getAttachmentInfo", response_model=AttachmentInfo
)
async def attachment_info(store: TenantStore, ref: AttachmentRef) -> AttachmentInfo:
    """What is stored of the attachment, without its bytes."""
    return await store.attachment_info(ref)
