"""Attachments: the bytes of images, audio and files, stored once per tenant
and named by their SHA-256 (:class:`AttachmentInfo`, :class:`Attachment`).

A part carries either its bytes inline (``data``) or the reference of a stored
attachment (``attachment``, ``sha256:`` and 64 hex digits). A store moves
inline bytes into an attachment on every write, so a stored message stays
small, and the same bytes in a thousand messages are kept once.
"""

from __future__ import annotations

import hashlib

from pydantic import Field, model_validator

from convostore.model._types import NonNegInt, UTCDateTime, _Model, utcnow
from convostore.model.parts import AttachmentRef, Base64Data


def attachment_ref(data: bytes) -> str:
    """The reference of ``data``: ``sha256:`` and the hex digest of its bytes."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


class AttachmentInfo(_Model):
    """What a store knows of an attachment, without its bytes."""

    ref: AttachmentRef
    """The attachment's reference, ``sha256:`` and the hex SHA-256 of its bytes."""
    media_type: str = Field(default="application/octet-stream", min_length=1, max_length=255)
    """The media type it was first stored with, e.g. ``image/png``."""
    size_bytes: NonNegInt
    """The size of its bytes."""
    created_at: UTCDateTime = Field(default_factory=utcnow)
    """When it was first stored (UTC)."""

    @property
    def sha256(self) -> str:
        """The hex SHA-256 of its bytes."""
        return self.ref.removeprefix("sha256:")


class Attachment(AttachmentInfo):
    """An attachment with its bytes (base64 in JSON), as snapshots carry it."""

    data: Base64Data
    """The bytes."""

    @model_validator(mode="after")
    def _matches_its_bytes(self) -> Attachment:
        if attachment_ref(self.data) != self.ref:
            raise ValueError(f"the bytes do not hash to {self.ref}")
        if len(self.data) != self.size_bytes:
            raise ValueError(f"size_bytes is {self.size_bytes}, the bytes are {len(self.data)}")
        return self

    @classmethod
    def of(cls, data: bytes, media_type: str = "application/octet-stream") -> Attachment:
        """The attachment of ``data``, its reference computed."""
        return cls(ref=attachment_ref(data), media_type=media_type, size_bytes=len(data), data=data)

    def info(self) -> AttachmentInfo:
        """The attachment without its bytes."""
        return AttachmentInfo(
            ref=self.ref,
            media_type=self.media_type,
            size_bytes=self.size_bytes,
            created_at=self.created_at,
        )
