"""The data model: threads, messages, typed parts and metadata.

These are values with no I/O. Their JSON form is the wire and storage format of
every backend, so it is kept stable: parts are a tagged union keyed by ``type`` in
kebab-case (``tool-call``), every other field is snake_case, and unknown fields are
refused rather than silently dropped.

The package holds one module per concept; every name is imported from here:

* :mod:`~convostore.model._types`: ids, bounded integers, UTC times, :func:`utcnow`;
* :mod:`~convostore.model.parts`: the typed parts of a message and :data:`Part`;
* :mod:`~convostore.model.metadata`: usage, cost and :class:`MessageMetadata`;
* :mod:`~convostore.model.message`: :class:`Message` and :class:`MessagePatch`;
* :mod:`~convostore.model.thread`: :class:`Thread`, its summary and patch;
* :mod:`~convostore.model.attachment`: stored bytes, :class:`Attachment`;
* :mod:`~convostore.model.snapshot`: :class:`ConversationSnapshot`;
* :mod:`~convostore.model.state`: user and app state, state changes, prefixed views;
* :mod:`~convostore.model.page`: :class:`Page`;
* :mod:`~convostore.model.health`: :class:`HealthReport`.
"""

from __future__ import annotations

# The names imported "as" themselves are importable from here too, though not
# part of ``__all__``: the id rule and field types other modules build on, and
# the shared values and text projection of parts that the stores use.
from convostore.model._types import ID_MAX_LENGTH as ID_MAX_LENGTH
from convostore.model._types import ID_PATTERN as ID_PATTERN
from convostore.model._types import ID_RULE as ID_RULE
from convostore.model._types import Identifier as Identifier
from convostore.model._types import NonNegInt as NonNegInt
from convostore.model._types import UTCDateTime as UTCDateTime
from convostore.model._types import is_identifier as is_identifier
from convostore.model._types import utcnow
from convostore.model.attachment import Attachment, AttachmentInfo, attachment_ref
from convostore.model.health import HealthCheckResult, HealthReport
from convostore.model.message import Message, MessagePatch, NativePayload, ParentType, Role
from convostore.model.metadata import _NO_COST as _NO_COST
from convostore.model.metadata import _NO_METADATA as _NO_METADATA
from convostore.model.metadata import _NO_USAGE as _NO_USAGE
from convostore.model.metadata import (
    CostInfo,
    ExecutionStats,
    FinishReason,
    MessageMetadata,
    TokenUsage,
)
from convostore.model.page import Page
from convostore.model.parts import (
    BINARY_PARTS,
    AttachmentRef,
    AudioPart,
    Base64Data,
    Citation,
    CodePart,
    DataPart,
    FilePart,
    HostedToolPart,
    ImagePart,
    Part,
    ProviderMetadata,
    ReasoningPart,
    RefusalPart,
    SourcePart,
    TextPart,
    ToolCallPart,
    ToolResultItem,
    ToolResultPart,
)
from convostore.model.parts import _text_of as _text_of
from convostore.model.search import SearchHit, SearchSnippet
from convostore.model.snapshot import SNAPSHOT_VERSIONS, ConversationSnapshot
from convostore.model.state import (
    STATE_PREFIXES,
    ScopedState,
    StateChange,
    StateScope,
    StateUpdate,
    merged_view,
    prefixed_view,
    split_prefixed,
)
from convostore.model.thread import (
    RESERVED_METADATA_PREFIX,
    Branch,
    ForkPoint,
    Thread,
    ThreadPatch,
    ThreadState,
    ThreadSummary,
    no_branch_fields,
)

__all__ = [
    "BINARY_PARTS",
    "RESERVED_METADATA_PREFIX",
    "SNAPSHOT_VERSIONS",
    "STATE_PREFIXES",
    "Attachment",
    "AttachmentInfo",
    "AttachmentRef",
    "AudioPart",
    "Base64Data",
    "Branch",
    "Citation",
    "CodePart",
    "ConversationSnapshot",
    "CostInfo",
    "DataPart",
    "ExecutionStats",
    "FilePart",
    "FinishReason",
    "ForkPoint",
    "HealthCheckResult",
    "HealthReport",
    "HostedToolPart",
    "ImagePart",
    "Message",
    "MessageMetadata",
    "MessagePatch",
    "NativePayload",
    "Page",
    "ParentType",
    "Part",
    "ProviderMetadata",
    "ReasoningPart",
    "RefusalPart",
    "Role",
    "ScopedState",
    "SearchHit",
    "SearchSnippet",
    "SourcePart",
    "StateChange",
    "StateScope",
    "StateUpdate",
    "TextPart",
    "Thread",
    "ThreadPatch",
    "ThreadState",
    "ThreadSummary",
    "TokenUsage",
    "ToolCallPart",
    "ToolResultItem",
    "ToolResultPart",
    "attachment_ref",
    "merged_view",
    "no_branch_fields",
    "prefixed_view",
    "split_prefixed",
    "utcnow",
]
