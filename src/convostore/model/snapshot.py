"""Snapshots: a whole thread as one versioned document
(:class:`ConversationSnapshot`), for export, import and backup, and the
versions this code reads (:data:`SNAPSHOT_VERSIONS`)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from convostore.model._types import UTCDateTime, _Model, utcnow
from convostore.model.attachment import Attachment
from convostore.model.message import Message
from convostore.model.thread import Thread

SNAPSHOT_VERSIONS: tuple[int, ...] = (1,)


class ConversationSnapshot(_Model):
    """A whole thread as one versioned document, for export, import and backup.

    ``pinned`` holds one flag per message (same length as ``messages``); on import
    the flags are applied to the messages. A version this code does not know is
    refused instead of being read as something it is not.
    """

    version: int = SNAPSHOT_VERSIONS[-1]
    """The document's format version, one of :data:`SNAPSHOT_VERSIONS`."""
    thread: Thread
    """The thread, with its counters."""
    messages: list[Message] = Field(default_factory=list, fail_fast=True)
    """The thread's messages, soft-deleted ones included, in order."""
    pinned: list[bool] = Field(default_factory=list, fail_fast=True)
    """Whether each message is pinned, in the order of ``messages``; taken from
    the messages when not given."""
    exported_at: UTCDateTime = Field(default_factory=utcnow)
    """When the snapshot was made (UTC)."""
    attachments: list[Attachment] = Field(default_factory=list, exclude_if=lambda v: not v)
    """The bytes the messages reference, each once, so the snapshot is
    self-contained; left out of the JSON while empty (release 0.1, which
    stored no bytes, refuses a snapshot that holds some)."""

    @field_validator("version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value not in SNAPSHOT_VERSIONS:
            from convostore.errors import UnsupportedSnapshotVersionError

            raise UnsupportedSnapshotVersionError(value, SNAPSHOT_VERSIONS)
        return value

    @model_validator(mode="before")
    @classmethod
    def _default_pinned(cls, data: Any) -> Any:
        if isinstance(data, dict) and "pinned" not in data and "messages" in data:
            msgs = data["messages"] or []
            flags = [
                bool(m.pinned if isinstance(m, Message) else (m or {}).get("pinned", False))
                for m in msgs
            ]
            data = {**data, "pinned": flags}
        return data

    @model_validator(mode="after")
    def _lengths_match(self) -> ConversationSnapshot:
        if len(self.pinned) != len(self.messages):
            raise ValueError(
                f"pinned has {len(self.pinned)} flags for {len(self.messages)} messages"
            )
        return self
