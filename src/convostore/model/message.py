"""Messages: :class:`Message`, its roles and parent kinds, the provider payload
it may keep (:class:`NativePayload`), and :class:`MessagePatch`, the change a
caller may make to a stored one."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, JsonValue, model_validator

from convostore._ids import new_id
from convostore.model._types import Identifier, NonNegInt, UTCDateTime, _Model, utcnow
from convostore.model.metadata import MessageMetadata
from convostore.model.parts import Part, TextPart, ToolCallPart, ToolResultPart, _text_of

_MISSING = object()


class Role(StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


class ParentType(StrEnum):
    """What a message's ``parent_id`` points at."""

    USER_MESSAGE = "user_message"
    ASSISTANT_MESSAGE = "assistant_message"
    TOOL_MESSAGE = "tool_message"
    SYSTEM = "system"
    EXECUTION = "execution"


class NativePayload(_Model):
    """A message exactly as a provider sent it, kept for lossless conversion back.

    ``format`` names the wire format, one of the names of
    :mod:`convostore.formats` (``openai-chat``, ``openai-responses``,
    ``anthropic``, ``gemini``, ``vercel-ui``) or any other name of the
    caller's; ``data`` is that format's JSON, untouched.
    """

    format: str = Field(min_length=1, max_length=100)
    """The wire format, e.g. ``openai-chat`` (1-100 characters)."""
    data: JsonValue
    """The message in that format's JSON, untouched."""


class Message(_Model):
    """One message of a thread.

    ``seq``, ``thread_id`` and ``turn`` are assigned by the store on append; a
    message built by the caller leaves them unset. ``content`` is the plain-text
    projection of ``parts`` (the text parts, and the string results of
    tool-result parts): give either and the other is derived.
    """

    id: Identifier = Field(default_factory=lambda: new_id("msg"))
    """The message's id; a new time-ordered ``msg_...`` id when not given."""
    thread_id: Identifier | None = None
    """The thread the message belongs to; set by the store on append, ``None``
    before."""
    seq: NonNegInt | None = None
    """The message's place in its thread, counted from 1 without gaps; set by the
    store on append, ``None`` before."""
    role: Role
    """Who the message is from."""
    name: str | None = None
    """The name of who wrote it, e.g. the tool of a tool message; ``None`` when
    not given."""
    provider_role: str | None = Field(default=None, exclude_if=lambda v: v is None)
    """The role as the provider named it, when that name is not ``role``'s
    (OpenAI's ``developer`` is a ``system`` message); ``None`` otherwise."""
    tool_call_id: str | None = None
    """For a tool message, the id of the call it answers; ``None`` otherwise."""
    parts: list[Part] = Field(default_factory=list, fail_fast=True)
    """The typed pieces of the message, in order."""
    content: str = ""
    """The plain text of ``parts``: the text parts and the string results of
    tool-result parts, one per line."""
    execution_id: Identifier | None = None
    """The agent run the message belongs to; ``None`` when not given."""
    parent_id: Identifier | None = None
    """What the message answers or comes from (see ``parent_type``); ``None``
    when not given."""
    parent_type: ParentType | None = None
    """What ``parent_id`` points at; ``None`` when not given."""
    turn: NonNegInt | None = None
    """The turn the message belongs to, counted from 1 by the user messages that
    open turns (0 before the first); set by the store on append, ``None``
    before."""
    pinned: bool = False
    """Whether the message is pinned: context windows always keep it, and it
    cannot be archived."""
    metadata: MessageMetadata = Field(
        default_factory=MessageMetadata,
        json_schema_extra={"default": MessageMetadata().model_dump(mode="json")},
    )
    """What the model run that produced the message reported; empty when nothing
    was."""
    native: NativePayload | None = None
    """The message as its provider sent it; ``None`` when not kept."""
    request_digest: str | None = Field(
        default=None, min_length=1, max_length=255, exclude_if=lambda v: v is None
    )
    """The idempotent write that stored the message: for a request sent to the
    HTTP server with an ``Idempotency-Key``, a digest of the key and the whole
    request, so the same key reused for another request collides with what the
    first one stored. Left out of the JSON while ``None``."""
    token_count: NonNegInt | None = None
    """The message's size in tokens, counted once (on append, when not given);
    ``None`` before."""
    token_counter: str | None = None
    """What counted ``token_count``, e.g. ``tiktoken:o200k_base``; ``None``
    without a count."""
    created_at: UTCDateTime = Field(default_factory=utcnow)
    """When the message was made (UTC); the time it was built when not given."""
    updated_at: UTCDateTime | None = None
    """When the stored message was last edited, deleted or restored (UTC);
    ``None`` if never."""
    deleted_at: UTCDateTime | None = None
    """When the message was soft-deleted (UTC); ``None`` while it is live."""
    archived_at: UTCDateTime | None = None
    """When the message was archived (UTC): kept, but left out of context
    windows; ``None`` when it is not."""

    @model_validator(mode="after")
    def _fill_content_or_parts(self) -> Message:
        # Only a field that was not given is derived: a stored message may carry
        # both, and an explicitly empty one must read back empty. (An "after"
        # validator keeps JSON input on pydantic's native path: a "before" one
        # would make it build the whole message as Python objects first.)
        given = self.__pydantic_fields_set__
        if "parts" not in given:
            if self.content:
                object.__setattr__(self, "parts", [TextPart(text=self.content)])
                given.add("parts")
        elif "content" not in given and self.parts:
            object.__setattr__(self, "content", _text_of(self.parts))
            given.add("content")
        return self

    # builders ---------------------------------------------------------------

    @classmethod
    def user(cls, text: str, **fields: Any) -> Message:
        return cls(role=Role.USER, content=text, **fields)

    @classmethod
    def system(cls, text: str, **fields: Any) -> Message:
        fields.setdefault("parent_type", ParentType.SYSTEM)
        return cls(role=Role.SYSTEM, content=text, **fields)

    @classmethod
    def assistant(
        cls,
        text: str | None = None,
        *,
        execution_id: str | None = None,
        parent_id: str | None = None,
        **fields: Any,
    ) -> Message:
        if parent_id is not None:
            fields.setdefault("parent_type", ParentType.USER_MESSAGE)
        if text is not None:
            fields["content"] = text
        return cls(
            role=Role.ASSISTANT,
            execution_id=execution_id,
            parent_id=parent_id,
            **fields,
        )

    @classmethod
    def tool(
        cls,
        text: str,
        tool_call_id: str,
        *,
        tool_name: str = "",
        is_error: bool = False,
        **fields: Any,
    ) -> Message:
        """A tool's result for the call ``tool_call_id``."""
        part = ToolResultPart(
            tool_call_id=tool_call_id, tool_name=tool_name, result=text, is_error=is_error
        )
        return cls(
            role=Role.TOOL,
            content=text,
            tool_call_id=tool_call_id,
            parts=[part],
            name=fields.pop("name", tool_name or None),
            **fields,
        )

    @property
    def opens_turn(self) -> bool:
        """Whether this message starts a new turn: a user message with user content.

        A user-role message that holds nothing but tool results (how Anthropic's
        Messages API returns them) is tool traffic of the current turn, not a
        new question.
        """
        return self.role is Role.USER and not (
            self.parts and all(isinstance(p, ToolResultPart) for p in self.parts)
        )

    def with_parts(self, *parts: Part | list[Part]) -> Message:
        """A copy whose parts are replaced; ``content`` is kept unless it was empty."""
        flat: list[Any] = []
        for p in parts:
            flat.extend(p if isinstance(p, list) else [p])
        update: dict[str, Any] = {"parts": flat}
        if not self.content:
            update["content"] = _text_of(flat)
        return self.model_copy(update=update)

    def with_metadata(
        self,
        metadata: MessageMetadata | str | None = None,
        value: JsonValue | object = _MISSING,
        /,
        **extra: JsonValue,
    ) -> Message:
        """A copy with new metadata.

        ``with_metadata(MessageMetadata(...))`` replaces the metadata;
        ``with_metadata("key", value)`` or ``with_metadata(key=value)`` adds
        entries to the free map of JSON values ``metadata.extra``.
        """
        if isinstance(metadata, MessageMetadata):
            new = metadata.model_copy(deep=True)
        else:
            new = self.metadata.model_copy(deep=True)
            if isinstance(metadata, str):
                if value is _MISSING:
                    raise TypeError("with_metadata(key, value) needs a value")
                new.extra[metadata] = value  # type: ignore[assignment]
        new.extra.update(extra)
        return self.model_copy(update={"metadata": new})

    def with_name(self, name: str) -> Message:
        return self.model_copy(update={"name": name})

    def with_parent(self, parent_id: str, parent_type: ParentType) -> Message:
        return self.model_copy(update={"parent_id": parent_id, "parent_type": parent_type})

    # views ------------------------------------------------------------------

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @property
    def tool_calls(self) -> list[ToolCallPart]:
        return [p for p in self.parts if isinstance(p, ToolCallPart)]

    @property
    def tool_results(self) -> list[ToolResultPart]:
        return [p for p in self.parts if isinstance(p, ToolResultPart)]


class MessagePatch(_Model):
    """Fields of a stored message a caller may change; only the fields set apply."""

    name: str | None = None
    """The new ``name``; ``None`` clears it."""
    parts: Annotated[list[Part], Field(fail_fast=True)] | None = None
    """The new parts, which ``content`` then follows unless also set; ``None``
    empties them."""
    content: str | None = None
    """The new text, written into the text part unless ``parts`` is also set;
    ``None`` empties it."""
    pinned: bool | None = None
    """Whether the message is pinned; pinning an archived message brings it
    back. ``None`` is refused."""
    metadata: MessageMetadata | None = None
    """The new metadata, replacing the old; ``None`` empties it."""
    native: NativePayload | None = None
    """The new provider payload; ``None`` removes it."""
    token_count: NonNegInt | None = None
    """The message's size in tokens; when not set, an edit of what the count
    depends on counts the message again."""
    token_counter: str | None = None
    """What counted ``token_count``."""
    archived_at: UTCDateTime | None = None
    """When the message was archived (UTC); ``None`` brings it back into
    context windows. A pinned message cannot be archived."""
