"""What a conversation is configured with, and the values it hands back.

:class:`SessionConfig` (limits, budget, expiry), :class:`Turn` (one exchange)
and the rules on the conversation layer's own thread metadata
(:data:`RESERVED_METADATA_KEY`): pure, shared by both faces.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict

from convostore.context import call_ids, is_reasoning_only
from convostore.errors import ValidationError
from convostore.model import Message, Role, Thread
from convostore.tokens import TokenCounter

__all__ = [
    "RESERVED_METADATA_KEY",
    "SessionConfig",
    "Turn",
    "backoff",
    "expired",
    "reserved",
]

#: Thread metadata key under which the conversation layer keeps its own
#: bookkeeping (system prompt, turn numbering after a clear). Other keys are the
#: caller's.
RESERVED_METADATA_KEY = "convostore.conversation"

#: Attempts of a revision-checked read-modify-write before the conflict is raised.
STATE_RETRIES = 16
DELETED_HINT = (
    "restore it (Store.restore_thread) to continue it, or purge it "
    "(delete(..., purge=True)) to start over under this id"
)
#: A claim to replace an expired session older than this is taken over.
REPLACE_STALE_AFTER = dt.timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """How a conversation limits itself. Defaults are the seed's.

    Attributes:
        max_messages: the active history keeps at most this many messages
            besides the system prompt and pinned messages; older ones leave it
            (the results of a tool call that leaves go with it, so a few more
            may leave). ``None`` for no limit.
        max_tokens: the default token budget of :meth:`Conversation.context`.
        idle_timeout: a session idle for longer is expired (``None``: never).
            Seconds or a ``timedelta``.
        persist_system_prompt: store the system prompt as the thread's first
            message (and keep it through :meth:`Conversation.clear_messages`).
        overflow: what happens to messages leaving the active history:
            ``"archive"`` (default; they stay in the store, exported and listed
            with ``archived_at`` set, but out of context windows) or
            ``"delete"`` (soft-deleted).
        counter: counts tokens of messages that arrive without a count
            (default: the store's ``token_counter``).
    """

    max_messages: int | None = 100
    max_tokens: int = 8192
    idle_timeout: dt.timedelta | float | None = dt.timedelta(seconds=3600)
    persist_system_prompt: bool = True
    overflow: Literal["archive", "delete"] = "archive"
    counter: TokenCounter | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.max_messages is not None and (
            isinstance(self.max_messages, bool)
            or not isinstance(self.max_messages, int)
            or self.max_messages < 1
        ):
            raise ValidationError("must be a positive integer or None", field="max_messages")
        if (
            isinstance(self.max_tokens, bool)
            or not isinstance(self.max_tokens, int)
            or (self.max_tokens < 1)
        ):
            raise ValidationError("must be a positive integer", field="max_tokens")
        if self.overflow not in ("archive", "delete"):
            raise ValidationError("must be 'archive' or 'delete'", field="overflow")
        timeout = self.idle_timeout
        if timeout is not None and not isinstance(timeout, dt.timedelta):
            if isinstance(timeout, bool) or not isinstance(timeout, int | float):
                raise ValidationError("must be seconds, a timedelta or None", field="idle_timeout")
            object.__setattr__(self, "idle_timeout", dt.timedelta(seconds=timeout))
        if isinstance(self.idle_timeout, dt.timedelta) and self.idle_timeout.total_seconds() <= 0:
            raise ValidationError("must be positive", field="idle_timeout")

    @property
    def timeout(self) -> dt.timedelta | None:
        """``idle_timeout`` as a ``timedelta``."""
        return cast("dt.timedelta | None", self.idle_timeout)


class Turn(BaseModel):
    """One exchange: a user message, the tool traffic it caused, and the reply.

    ``number`` counts from 1 within the conversation (restarting after
    :meth:`Conversation.clear_messages`). ``tool_calls`` holds the tool
    messages (results) of the turn, as in the seed; ``messages`` holds every
    message of the turn in order.

    A turn is opened by a user message with user content (a user-role
    message holding only tool results, as Anthropic returns them, is tool
    traffic of the current turn and is listed in ``tool_calls``). The turn is
    complete once an assistant message that is neither a tool call nor
    reasoning alone has answered, whatever its parts (text, an image, a file).
    """

    model_config = ConfigDict(frozen=True)

    number: int
    user_message: Message
    tool_calls: list[Message]
    assistant_messages: list[Message]
    assistant_response: Message | None
    messages: list[Message]
    started_at: dt.datetime
    completed_at: dt.datetime | None

    @property
    def is_complete(self) -> bool:
        return self.assistant_response is not None

    def all_messages(self) -> list[Message]:
        """Every message of the turn, in order."""
        return list(self.messages)

    @classmethod
    def of(cls, number: int, messages: list[Message]) -> Turn | None:
        """Assemble a turn from its messages (seq order); None without its user message."""
        if not messages or not messages[0].opens_turn:
            return None
        assistants = [m for m in messages if m.role is Role.ASSISTANT]
        answers = [m for m in assistants if not is_reasoning_only(m)]
        last = answers[-1] if answers else None
        reply = last if last is not None and not call_ids(last) else None
        return cls(
            number=number,
            user_message=messages[0],
            tool_calls=[
                m
                for m in messages[1:]
                if m.role is Role.TOOL or (m.role is Role.USER and not m.opens_turn)
            ],
            assistant_messages=assistants,
            assistant_response=reply,
            messages=messages,
            started_at=messages[0].created_at,
            completed_at=reply.created_at if reply is not None else None,
        )


def backoff(attempt: int) -> float:
    """Seconds to wait before retry ``attempt``: jittered, exponential, at most 0.2."""
    return min(0.2, 0.002 * 2.0 ** min(attempt, 7)) * (0.5 + random.random())


def reserved(thread: Thread) -> dict[str, Any]:
    """The conversation layer's own metadata of a thread (a copy)."""
    raw = thread.metadata.get(RESERVED_METADATA_KEY)
    return dict(raw) if isinstance(raw, dict) else {}


def expired(thread: Thread, config: SessionConfig, now: dt.datetime) -> bool:
    """Whether ``thread`` has been idle for longer than ``config`` allows, as of ``now``."""
    timeout = config.timeout
    if timeout is None:
        return False
    active = thread.updated_at
    renewed = reserved(thread).get("renewed_at")
    if isinstance(renewed, int | float):
        # Renewed by get_or_create, as of the manager's clock.
        active = max(active, dt.datetime.fromtimestamp(renewed, dt.UTC))
    return now - active > timeout
