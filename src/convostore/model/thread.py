"""Threads: :class:`Thread` with its state and counters, the
:class:`ThreadSummary` read from those counters, and :class:`ThreadPatch`,
the change a caller may make to a stored thread."""

from __future__ import annotations

import datetime as dt

from pydantic import Field, JsonValue

from convostore._ids import new_id
from convostore.model._types import Identifier, NonNegInt, UTCDateTime, _Model, utcnow
from convostore.model.metadata import _NO_COST, _NO_USAGE, CostInfo, TokenUsage


class ThreadState(_Model):
    """Session state kept with a thread: string variables and typed JSON data."""

    variables: dict[str, str] = Field(default_factory=dict)
    """String variables, by name."""
    data: dict[str, JsonValue] = Field(default_factory=dict)
    """JSON values, by key."""


#: Thread metadata keys starting with this prefix belong to convostore's own
#: layers (the conversation layer keeps its system prompt and turn offset under
#: ``convostore.conversation``). A metadata update replaces the caller's keys and
#: keeps these unless it names them.
RESERVED_METADATA_PREFIX = "convostore."


def _unset(value: object) -> bool:
    return value is None


def _empty(value: object) -> bool:
    return not value


class ForkPoint(_Model):
    """Where a branch reads another thread's history: that thread's messages up
    to and including ``seq``."""

    thread_id: Identifier
    """The thread whose messages are shared."""
    seq: NonNegInt
    """The last shared seq."""


class Thread(_Model):
    """A conversation: its owner, labels, state and the counters summaries read.

    A *branch* is a thread that shares the history of another thread up to a
    fork point without copying it (``parent_thread_id``, ``fork_seq``): its
    messages are the parent's up to ``fork_seq`` followed by its own. Its
    counters count the whole history it reads, shared part included.

    ``metadata`` is the caller's, except for keys starting with
    :data:`RESERVED_METADATA_PREFIX`, which convostore's own layers keep there
    and which an update of ``metadata`` leaves in place unless it names them.
    """

    id: Identifier = Field(default_factory=lambda: new_id("th"))
    """The thread's id; a new time-ordered ``th_...`` id when not given."""
    tenant_id: Identifier = "default"
    """The tenant the thread belongs to."""
    user_id: Identifier | None = None
    """The user the thread belongs to; ``None`` when not given."""
    agent_name: str | None = Field(default=None, max_length=255)
    """The agent the conversation is with (up to 255 characters); ``None`` when
    not given."""
    model: str | None = Field(default=None, max_length=255)
    """The model the conversation uses (up to 255 characters); ``None`` when not
    given."""
    title: str | None = None
    """The thread's title; ``None`` when not given."""
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    """The caller's JSON annotations, and convostore's own under
    :data:`RESERVED_METADATA_PREFIX`."""
    state: ThreadState = Field(default_factory=ThreadState)
    """Session state kept with the thread."""
    created_at: UTCDateTime = Field(default_factory=utcnow)
    """When the thread was made (UTC)."""
    updated_at: UTCDateTime = Field(default_factory=utcnow)
    """When the thread or its messages last changed (UTC)."""
    ended_at: UTCDateTime | None = None
    """When the conversation was marked ended (UTC); ``None`` while it is open."""
    deleted_at: UTCDateTime | None = None
    """When the thread was soft-deleted (UTC); ``None`` while it is live."""
    revision: NonNegInt = 0
    """Up by one on every change to the thread or its messages; what writes with
    ``expected_revision`` check."""
    message_count: NonNegInt = 0
    """Every message ever appended, soft-deleted ones included: the last seq."""
    live_message_count: NonNegInt = 0
    """The messages not soft-deleted (archived ones included), kept as a counter."""
    turn_count: NonNegInt = 0
    """The turns: the appended user messages that open one, soft-deleted ones
    included."""
    tool_call_count: NonNegInt = 0
    """The tool-call parts of the appended messages, soft-deleted ones included."""
    token_count: NonNegInt = 0
    """The sum of the appended messages' ``token_count``, soft-deleted ones
    included."""
    # Shared zero values (frozen, so pydantic does not copy them): a thread read
    # without usage or cost builds no object for either.
    usage: TokenUsage = _NO_USAGE
    """The sum of the appended messages' ``metadata.token_usage``."""
    cost: CostInfo = _NO_COST
    """The sum of the appended messages' ``metadata.cost``; its currency is
    ``mixed`` when theirs differ."""
    parent_thread_id: Identifier | None = Field(default=None, exclude_if=_unset)
    """For a branch: the thread that holds the message it was forked at;
    ``None`` for a thread that is not a branch."""
    fork_seq: NonNegInt | None = Field(default=None, exclude_if=_unset)
    """For a branch: the last seq it shares with its parent (its own messages
    start at ``fork_seq + 1``)."""
    lineage: list[ForkPoint] = Field(default_factory=list, exclude_if=_empty)
    """For a branch: every thread whose messages it reads, oldest first, each
    with the last seq read from it; the last one is the parent and
    ``fork_seq``. Set by the store."""
    root_thread_id: Identifier | None = Field(default=None, exclude_if=_unset)
    """The first thread of the branch tree this thread belongs to (the root's
    own id once it has branches); ``None`` for a thread never forked."""
    shared_seq: NonNegInt = Field(default=0, exclude_if=_empty)
    """The highest seq of this thread's own messages that a branch reads; those
    messages are frozen (no edit, deletion or removal) while that branch
    exists. Set by the store."""
    active_branch_id: Identifier | None = Field(default=None, exclude_if=_unset)
    """On the root of a branch tree: the branch a conversation resumes
    (``None``: the root itself)."""

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def is_branch(self) -> bool:
        """Whether the thread shares another thread's history."""
        return bool(self.lineage)


class ThreadSummary(_Model):
    """Counts and times of one thread, read from its counters (no message loads)."""

    id: str
    """The thread's id."""
    user_id: str | None
    """The user the thread belongs to, or ``None``."""
    agent_name: str | None
    """The agent the conversation is with, or ``None``."""
    model: str | None
    """The model the conversation uses, or ``None``."""
    title: str | None
    """The thread's title, or ``None``."""
    message_count: int
    """Every message ever appended, soft-deleted ones included: the last seq."""
    live_message_count: int
    """The messages not soft-deleted (archived ones included)."""
    turn_count: int
    """The turns, soft-deleted messages included."""
    tool_call_count: int
    """The tool calls, soft-deleted messages included."""
    token_count: int
    """The messages' tokens, soft-deleted ones included."""
    usage: TokenUsage
    """The token usage the messages reported."""
    cost: CostInfo
    """What the messages' runs cost."""
    started_at: dt.datetime
    """When the thread was made (its ``created_at``)."""
    updated_at: dt.datetime
    """When the thread or its messages last changed."""
    ended_at: dt.datetime | None
    """When the conversation was marked ended; ``None`` while it is open."""

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


def no_branch_fields() -> dict[str, object]:
    """The fields that make a thread a branch or the root of a tree, unset:
    only the store sets them (a created or imported thread starts with none)."""
    return {
        "parent_thread_id": None,
        "fork_seq": None,
        "lineage": [],
        "root_thread_id": None,
        "active_branch_id": None,
    }


class Branch(_Model):
    """One thread of a branch tree, as :meth:`~convostore.Store.branches` lists
    it: the thread (its lineage included) and where it parts from the thread
    the listing was asked for."""

    thread: Thread
    """The branch (or the root, or the thread asked about itself)."""
    shared_seq: NonNegInt
    """The last seq whose message this thread and the one asked about share
    (both read the same stored message up to it); 0 when they share none."""
    is_active: bool = False
    """Whether it is the tree's active branch (see
    :attr:`Thread.active_branch_id`; the root when none is set)."""


class ThreadPatch(_Model):
    """Fields of a thread a caller may change; only the fields set are applied."""

    user_id: Identifier | None = None
    """The new owner; ``None`` clears it."""
    agent_name: str | None = Field(default=None, max_length=255)
    """The new agent name (up to 255 characters); ``None`` clears it."""
    model: str | None = Field(default=None, max_length=255)
    """The new model (up to 255 characters); ``None`` clears it."""
    title: str | None = None
    """The new title; ``None`` clears it."""
    metadata: dict[str, JsonValue] | None = None
    """The caller's new metadata, replacing theirs (reserved keys it does not
    name are kept); ``None`` empties it."""
    state: ThreadState | None = None
    """The new state, replacing the old; ``None`` empties it."""
    ended_at: UTCDateTime | None = None
    """When the conversation ended (UTC); ``None`` reopens it."""
