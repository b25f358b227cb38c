"""The data model: threads, messages, typed parts and metadata.

These are values with no I/O. Their JSON form is the wire and storage format of
every backend, so it is kept stable: parts are a tagged union keyed by ``type`` in
kebab-case (``tool-call``), every other field is snake_case, and unknown fields are
refused rather than silently dropped.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from enum import StrEnum
from typing import Annotated, Any, Generic, Literal, TypeGuard, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    JsonValue,
    field_validator,
    model_validator,
)
from pydantic_core import core_schema

from convostore._ids import new_id

__all__ = [
    "RESERVED_METADATA_PREFIX",
    "SNAPSHOT_VERSIONS",
    "CodePart",
    "ConversationSnapshot",
    "CostInfo",
    "ExecutionStats",
    "FilePart",
    "FinishReason",
    "HealthCheckResult",
    "HealthReport",
    "ImagePart",
    "Message",
    "MessageMetadata",
    "MessagePatch",
    "NativePayload",
    "Page",
    "ParentType",
    "Part",
    "ReasoningPart",
    "Role",
    "SourcePart",
    "TextPart",
    "Thread",
    "ThreadPatch",
    "ThreadState",
    "ThreadSummary",
    "TokenUsage",
    "ToolCallPart",
    "ToolResultPart",
    "utcnow",
]

T = TypeVar("T")

#: The longest id, in characters (Unicode code points; up to 1,020 bytes of UTF-8).
ID_MAX_LENGTH = 255
#: What an id is, as a regular expression both pydantic's engine and Python's
#: ``re`` read: one or more characters, none of them a control character
#: (category Cc: C0 U+0000-U+001F, DEL U+007F, C1 U+0080-U+009F) or a line or
#: paragraph separator (U+2028, U+2029). Lone surrogates are refused too, by the
#: string check itself; see :func:`is_identifier` for the whole rule in Python.
#: With Python's ``re`` use ``re.fullmatch``, never ``re.match``: there ``$``
#: also matches before a final newline (pydantic's engine and JSON Schema read
#: ``$`` as the end of the text).
ID_PATTERN = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]+$"
#: The rule as said in every error about an id.
ID_RULE = (
    f"must be a string of 1-{ID_MAX_LENGTH} characters with no control characters "
    "(U+0000-U+001F, U+007F-U+009F), line or paragraph separators (U+2028, "
    "U+2029) or lone surrogates"
)
_ID_TEXT = re.compile(r"[^\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]{1,255}")


def is_identifier(value: object) -> TypeGuard[str]:
    """Whether ``value`` is a valid id (the rule of :data:`Identifier`)."""
    return isinstance(value, str) and _ID_TEXT.fullmatch(value) is not None


class _IdentifierSchema:
    """The id rule as one pydantic-core string check with one error message.

    Checked in pydantic's core, without a call into Python, since every message
    read validates several ids.
    """

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.custom_error_schema(
            core_schema.str_schema(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN),
            custom_error_type="identifier",
            custom_error_message=ID_RULE,
        )


Identifier = Annotated[str, _IdentifierSchema()]
"""Ids of tenants, users, threads, messages and executions: any Unicode text of
1-255 characters without control characters, line or paragraph separators or lone
surrogates (``auth0|64b7f0c2e1``, ``José``, ``slack/C123``). Format characters such
as U+200F (right-to-left mark) or U+200D (the zero-width joiner of emoji sequences)
are allowed. Ids are compared exactly, code point for code point: no case folding
and no Unicode normalization."""

NonNegInt = Annotated[int, Field(ge=0, le=2**63 - 1)]


def utcnow() -> dt.datetime:
    """The current time as an aware UTC datetime, at microsecond precision."""
    return dt.datetime.now(dt.UTC)


def _to_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


class _NormalisedToUTC:
    """Validation for :data:`UTCDateTime`.

    JSON text is parsed into a fixed offset, so a time written at offset zero
    (every stored time, and the ``Z`` times of the wire format) is kept as parsed,
    without leaving pydantic's core; other offsets call Python to be converted.
    An after-validator would call Python for every time read (about a tenth of a
    page of threads' validation, and 3,000 instructions per decoded message).
    Python objects always go through the conversion: a zone such as
    ``Europe/London`` is at offset zero in winter only, and must not be kept. The
    time is parsed once, so a bad value gets one error.
    """

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        parsed = handler(source)
        convert = core_schema.no_info_after_validator_function(_to_utc, core_schema.any_schema())
        at_utc = core_schema.datetime_schema(tz_constraint=0, strict=True)
        from_text = core_schema.chain_schema(
            [parsed, core_schema.union_schema([at_utc, convert], mode="left_to_right")]
        )
        return core_schema.json_or_python_schema(
            json_schema=from_text,
            python_schema=core_schema.no_info_after_validator_function(_to_utc, parsed),
        )


UTCDateTime = Annotated[dt.datetime, _NormalisedToUTC]
"""A datetime normalised to aware UTC (offset zero); naive values are taken to be UTC.

Its ``tzinfo`` is an offset-zero zone equal to :data:`datetime.UTC`, not always
that very object: compare times, or their ``utcoffset()``, rather than ``tzinfo``
identity.
"""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, populate_by_name=True)


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


# --- parts ------------------------------------------------------------------


class TextPart(_Model):
    type: Literal["text"] = "text"
    text: str


class ReasoningPart(_Model):
    type: Literal["reasoning"] = "reasoning"
    text: str


class ToolCallPart(_Model):
    type: Literal["tool-call"] = "tool-call"
    tool_call_id: str = Field(min_length=1)
    tool_name: str
    args: JsonValue = None


class ToolResultPart(_Model):
    type: Literal["tool-result"] = "tool-result"
    tool_call_id: str = Field(min_length=1)
    tool_name: str = ""
    result: JsonValue = None
    is_error: bool = False


class SourcePart(_Model):
    type: Literal["source"] = "source"
    source_id: str
    url: str | None = None
    title: str | None = None


class FilePart(_Model):
    type: Literal["file"] = "file"
    file_id: str
    filename: str
    mime_type: str
    size_bytes: NonNegInt


class ImagePart(_Model):
    type: Literal["image"] = "image"
    image_id: str
    url: str | None = None
    alt_text: str | None = None


class CodePart(_Model):
    type: Literal["code"] = "code"
    language: str | None = None
    code: str


Part = Annotated[
    TextPart
    | ReasoningPart
    | ToolCallPart
    | ToolResultPart
    | SourcePart
    | FilePart
    | ImagePart
    | CodePart,
    Field(discriminator="type"),
]
"""One typed piece of a message, tagged by ``type``."""


# --- metadata ---------------------------------------------------------------


class TokenUsage(_Model):
    """Tokens a model run reported (a value: add and subtract them, never assign)."""

    model_config = ConfigDict(frozen=True)

    prompt_tokens: NonNegInt = 0
    completion_tokens: NonNegInt = 0
    total_tokens: NonNegInt = 0

    @classmethod
    def of(cls, prompt: int, completion: int) -> TokenUsage:
        """Usage with ``total_tokens`` computed as ``prompt + completion``."""
        return cls(
            prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
        )

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
        )

    def __sub__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            prompt_tokens=max(0, self.prompt_tokens - other.prompt_tokens),
            completion_tokens=max(0, self.completion_tokens - other.completion_tokens),
            total_tokens=max(0, self.total_tokens - other.total_tokens),
        )


class ExecutionStats(_Model):
    llm_calls: NonNegInt = 0
    tool_calls: NonNegInt = 0
    sub_agents: NonNegInt = 0
    steps: NonNegInt = 0
    decisions: NonNegInt = 0
    artifacts: NonNegInt = 0


class CostInfo(_Model):
    """What a model run cost (a value: build a new one, never assign)."""

    model_config = ConfigDict(frozen=True)

    input_cost: float = 0.0
    output_cost: float = 0.0
    total_cost: float = 0.0
    currency: str = "USD"


_NO_USAGE = TokenUsage()
_NO_COST = CostInfo()


class FinishReason(StrEnum):
    STOP = "stop"
    LENGTH = "length"
    TOOL_CALLS = "tool_calls"
    CONTENT_FILTER = "content_filter"
    ERROR = "error"


class MessageMetadata(_Model):
    """What the model run that produced a message reported about it.

    ``extra`` is a free map of string keys to string values for the caller's own
    annotations.

    Metadata is a value: its fields cannot be assigned. Change it with
    :meth:`Message.with_metadata` or ``model_copy(update=...)``. Every message
    built or read without metadata shares one empty instance, whose ``extra``
    refuses changes in place, so a message costs no metadata object of its own.
    """

    model_config = ConfigDict(frozen=True)

    completed_at: Annotated[int, Field(ge=-(2**63), le=2**63 - 1)] | None = None
    duration_ms: NonNegInt | None = None
    model: str | None = None
    provider: str | None = None
    token_usage: TokenUsage | None = None
    stats: ExecutionStats | None = None
    finish_reason: FinishReason | None = None
    cost: CostInfo | None = None
    extra: dict[str, str] = Field(default_factory=dict)

    def __hash__(self) -> int:
        # Consistent with ``==`` (equal metadata have equal scalar fields), and
        # defined at all so that pydantic shares the default instance below
        # instead of copying it into every message.
        return hash(
            (self.completed_at, self.duration_ms, self.model, self.provider, self.finish_reason)
        )


class _EmptyExtra(dict[str, str]):
    """The ``extra`` map of the shared empty metadata: refuses changes in place.

    A copy of it (``copy``, ``deepcopy``, pickling, ``dict(...)``) is an ordinary
    empty dict, so copies of the shared metadata can be changed as usual.
    """

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            "this message has no metadata of its own: add entries with "
            "Message.with_metadata(key=value)"
        )

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __copy__(self) -> dict[str, str]:
        return {}

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, str]:
        return {}

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, ())


_NO_METADATA = MessageMetadata.model_construct(set(), extra=_EmptyExtra())
"""The empty metadata every message without metadata of its own shares."""


class NativePayload(_Model):
    """A message exactly as a provider sent it, kept for lossless conversion back.

    ``format`` names the wire format, e.g. ``openai.chat``, ``openai.responses`` or
    ``anthropic.messages``; ``data`` is that format's JSON, untouched.
    """

    format: str = Field(min_length=1, max_length=100)
    data: JsonValue


# --- messages ---------------------------------------------------------------


def _text_of(parts: list[Any]) -> str:
    """The plain text of ``parts``: each text part's text and each string result
    of a tool-result part, one per line."""
    texts = []
    for part in parts:
        if isinstance(part, TextPart):
            texts.append(part.text)
        elif isinstance(part, ToolResultPart):
            if isinstance(part.result, str):
                texts.append(part.result)
        elif isinstance(part, dict):
            kind = part.get("type")
            if kind == "text":
                texts.append(str(part.get("text", "")))
            elif kind == "tool-result" and isinstance(part.get("result"), str):
                texts.append(part["result"])
    return "\n".join(texts)


class Message(_Model):
    """One message of a thread.

    ``seq``, ``thread_id`` and ``turn`` are assigned by the store on append; a
    message built by the caller leaves them unset. ``content`` is the plain-text
    projection of ``parts`` (the text parts, and the string results of
    tool-result parts): give either and the other is derived.
    """

    id: Identifier = Field(default_factory=lambda: new_id("msg"))
    thread_id: Identifier | None = None
    seq: NonNegInt | None = None
    role: Role
    name: str | None = None
    tool_call_id: str | None = None
    parts: list[Part] = Field(default_factory=list, fail_fast=True)
    content: str = ""
    execution_id: Identifier | None = None
    parent_id: Identifier | None = None
    parent_type: ParentType | None = None
    turn: NonNegInt | None = None
    pinned: bool = False
    metadata: MessageMetadata = _NO_METADATA
    native: NativePayload | None = None
    #: The idempotent write that stored the message: the HTTP server sets it, for
    #: a request sent with an ``Idempotency-Key``, to a digest of the key and the
    #: whole request. Part of the message's content, so the same key reused for
    #: another request collides with what the first one stored.
    #: Left out of the JSON while unset, so messages without one serialise as before.
    request_digest: str | None = Field(
        default=None, min_length=1, max_length=255, exclude_if=lambda v: v is None
    )
    token_count: NonNegInt | None = None
    token_counter: str | None = None
    created_at: UTCDateTime = Field(default_factory=utcnow)
    updated_at: UTCDateTime | None = None
    deleted_at: UTCDateTime | None = None
    archived_at: UTCDateTime | None = None

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
        value: str | None = None,
        /,
        **extra: str,
    ) -> Message:
        """A copy with new metadata.

        ``with_metadata(MessageMetadata(...))`` replaces the metadata;
        ``with_metadata("key", "value")`` or ``with_metadata(key="value")`` adds
        entries to the free string map ``metadata.extra``.
        """
        if isinstance(metadata, MessageMetadata):
            new = metadata.model_copy(deep=True)
        else:
            new = self.metadata.model_copy(deep=True)
            if isinstance(metadata, str):
                if value is None:
                    raise TypeError("with_metadata(key, value) needs a value")
                new.extra[metadata] = value
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


# --- threads ----------------------------------------------------------------


class ThreadState(_Model):
    """Session state kept with a thread: string variables and typed JSON data."""

    variables: dict[str, str] = Field(default_factory=dict)
    data: dict[str, JsonValue] = Field(default_factory=dict)


#: Thread metadata keys starting with this prefix belong to convostore's own
#: layers (the conversation layer keeps its system prompt and turn offset under
#: ``convostore.conversation``). A metadata update replaces the caller's keys and
#: keeps these unless it names them.
RESERVED_METADATA_PREFIX = "convostore."


class Thread(_Model):
    """A conversation: its owner, labels, state and the counters summaries read.

    ``metadata`` is the caller's, except for keys starting with
    :data:`RESERVED_METADATA_PREFIX`, which convostore's own layers keep there
    and which an update of ``metadata`` leaves in place unless it names them.
    """

    id: Identifier = Field(default_factory=lambda: new_id("th"))
    tenant_id: Identifier = "default"
    user_id: Identifier | None = None
    agent_name: str | None = Field(default=None, max_length=255)
    model: str | None = Field(default=None, max_length=255)
    title: str | None = None
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    state: ThreadState = Field(default_factory=ThreadState)
    created_at: UTCDateTime = Field(default_factory=utcnow)
    updated_at: UTCDateTime = Field(default_factory=utcnow)
    ended_at: UTCDateTime | None = None
    deleted_at: UTCDateTime | None = None
    revision: NonNegInt = 0
    #: Every message ever appended, soft-deleted ones included: the last seq.
    message_count: NonNegInt = 0
    #: The messages not soft-deleted (archived ones included), kept as a counter.
    live_message_count: NonNegInt = 0
    turn_count: NonNegInt = 0
    tool_call_count: NonNegInt = 0
    token_count: NonNegInt = 0
    # Shared zero values (frozen, so pydantic does not copy them): a thread read
    # without usage or cost builds no object for either.
    usage: TokenUsage = _NO_USAGE
    cost: CostInfo = _NO_COST

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class ThreadSummary(_Model):
    """Counts and times of one thread, read from its counters (no message loads)."""

    id: str
    user_id: str | None
    agent_name: str | None
    model: str | None
    title: str | None
    message_count: int
    live_message_count: int
    turn_count: int
    tool_call_count: int
    token_count: int
    usage: TokenUsage
    cost: CostInfo
    started_at: dt.datetime
    updated_at: dt.datetime
    ended_at: dt.datetime | None

    @classmethod
    def of(cls, thread: Thread) -> ThreadSummary:
        return cls(
            id=thread.id,
            user_id=thread.user_id,
            agent_name=thread.agent_name,
            model=thread.model,
            title=thread.title,
            message_count=thread.message_count,
            live_message_count=thread.live_message_count,
            turn_count=thread.turn_count,
            tool_call_count=thread.tool_call_count,
            token_count=thread.token_count,
            usage=thread.usage,
            cost=thread.cost,
            started_at=thread.created_at,
            updated_at=thread.updated_at,
            ended_at=thread.ended_at,
        )


class ThreadPatch(_Model):
    """Fields of a thread a caller may change; only the fields set are applied."""

    user_id: Identifier | None = None
    agent_name: str | None = Field(default=None, max_length=255)
    model: str | None = Field(default=None, max_length=255)
    title: str | None = None
    metadata: dict[str, JsonValue] | None = None
    state: ThreadState | None = None
    ended_at: UTCDateTime | None = None


class MessagePatch(_Model):
    """Fields of a stored message a caller may change; only the fields set apply."""

    name: str | None = None
    parts: Annotated[list[Part], Field(fail_fast=True)] | None = None
    content: str | None = None
    pinned: bool | None = None
    metadata: MessageMetadata | None = None
    native: NativePayload | None = None
    token_count: NonNegInt | None = None
    token_counter: str | None = None
    archived_at: UTCDateTime | None = None


# --- derived views ----------------------------------------------------------

SNAPSHOT_VERSIONS: tuple[int, ...] = (1,)


class ConversationSnapshot(_Model):
    """A whole thread as one versioned document, for export, import and backup.

    ``pinned`` holds one flag per message (same length as ``messages``); on import
    the flags are applied to the messages. A version this code does not know is
    refused instead of being read as something it is not.
    """

    version: int = SNAPSHOT_VERSIONS[-1]
    thread: Thread
    messages: list[Message] = Field(default_factory=list, fail_fast=True)
    pinned: list[bool] = Field(default_factory=list, fail_fast=True)
    exported_at: UTCDateTime = Field(default_factory=utcnow)

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


class Page(BaseModel, Generic[T]):
    """One page of a listing; pass ``next_cursor`` back to get the next one."""

    items: list[T]
    next_cursor: str | None = None
    prev_cursor: str | None = None

    def __iter__(self) -> Iterator[T]:  # type: ignore[override]
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


class HealthCheckResult(BaseModel):
    """One finding of a health check: what was checked, and what was found.

    The names are stable, for alerts to match on: ``open`` (the store
    answers), ``schema`` (its version is the one this code writes),
    ``writable`` (a write could be made now: files, directory, a write
    transaction, a server that is not read-only), ``disk-space`` (room left
    for writes) and ``integrity`` (the stored data is sound).
    """

    name: str
    ok: bool
    detail: str = ""


class HealthReport(BaseModel):
    """What a store's ``health_check`` found.

    ``ok`` is true when every check passed; ``checks`` lists them all and
    :attr:`problems` the failed ones. ``full`` tells whether the data was
    checked in full (``health_check(full=True)``) or only cheaply. When not
    ok, ``detail["error"]`` sums the problems up in one line.
    """

    ok: bool
    backend: str
    detail: dict[str, Any] = Field(default_factory=dict)
    checks: list[HealthCheckResult] = Field(default_factory=list)
    full: bool = False

    @property
    def problems(self) -> list[HealthCheckResult]:
        """The checks that failed."""
        return [c for c in self.checks if not c.ok]

    @classmethod
    def of(
        cls,
        backend: str,
        checks: list[HealthCheckResult],
        detail: dict[str, Any] | None = None,
        *,
        full: bool = False,
    ) -> HealthReport:
        """The report of ``checks``: ok when all passed, ``detail["error"]`` naming
        the failed ones otherwise."""
        detail = dict(detail or {})
        failed = [c for c in checks if not c.ok]
        if failed:
            detail.setdefault("error", "; ".join(f"{c.name}: {c.detail}" for c in failed))
        return cls(ok=not failed, backend=backend, detail=detail, checks=checks, full=full)
