"""Request and response bodies of the HTTP API that are not library models.

Threads, messages, pages, summaries and snapshots go over the wire exactly as
the library's models serialise them (:mod:`convostore.model`), so a client can
parse responses with those models. The classes here cover only what the HTTP
surface adds: bodies whose ids the server may fill in, wrappers, and the
merge patch of conversation state.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from convostore.model import Identifier, Message, StateChange, ThreadState

__all__ = [
    "AppendRequest",
    "AppendResponse",
    "ContextResponse",
    "KeyInfo",
    "MessageIn",
    "StatePatch",
    "StateReplace",
    "Status",
    "ThreadCreate",
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ThreadCreate(_In):
    """A new thread; every field is optional and ``id`` is made up when left out."""

    id: Identifier | None = None
    user_id: Identifier | None = None
    agent_name: str | None = Field(default=None, max_length=255)
    model: str | None = Field(default=None, max_length=255)
    title: str | None = None
    metadata: dict[str, JsonValue] | None = None
    state: ThreadState | None = None


class MessageIn(Message):
    """A message to append: a :class:`~convostore.model.Message` whose id may be left out.

    Without an id the server assigns one; with an ``Idempotency-Key`` header it
    derives the id from the key, so re-sending the same request adds nothing.
    """

    id: Identifier | None = None  # type: ignore[assignment]


class AppendRequest(_In):
    messages: list[MessageIn] = Field(
        min_length=1, fail_fast=True, description="Appended atomically, in order."
    )
    state: StateChange | None = Field(
        default=None,
        description="Thread, user and app state changes made in the append's transaction; "
        "a retry whose messages are all stored does not apply them again.",
    )


class StateReplace(_In):
    """All the new values of a user or app state."""

    data: dict[str, JsonValue]


class AppendResponse(BaseModel):
    messages: list[Message] = Field(description="The stored messages, in request order.")


class StatePatch(_In):
    """A JSON merge patch (RFC 7396) of the thread state: ``null`` removes a key."""

    variables: dict[str, str | None] = Field(default_factory=dict)
    data: dict[str, JsonValue] = Field(default_factory=dict)


class ContextResponse(BaseModel):
    """A model-ready context window: the newest messages that fit the budget, in order."""

    messages: list[Message]
    tokens: int = Field(description="Tokens the window holds.")
    estimated: bool = Field(description="True when some counts came from a heuristic.")
    truncated: bool = Field(default=False, description="Older messages did not fit.")
    omitted: list[str] = Field(
        default_factory=list,
        description=("Ids of messages left out because their tool exchange is incomplete."),
    )
    counters: list[str] = Field(
        default_factory=list, description=("Names of the token counters behind the counts.")
    )


class KeyInfo(BaseModel):
    """The API key a request was made with (never its secret)."""

    id: str
    tenant: str
    read_only: bool
    label: str | None = None
    created_at: dt.datetime


class Status(BaseModel):
    status: str
