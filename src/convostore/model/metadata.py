"""What a model run reports about a message it produced: token usage, run
statistics, cost and finish reason, gathered in :class:`MessageMetadata`.

:class:`TokenUsage` and :class:`CostInfo` are values that a thread's counters
also use (see :class:`~convostore.model.Thread`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field

from convostore.model._types import NonNegInt, _Model


class TokenUsage(_Model):
    """Tokens a model run reported (a value: add and subtract them, never assign)."""

    model_config = ConfigDict(frozen=True)

    prompt_tokens: NonNegInt = 0
    """Tokens of the model's input."""
    completion_tokens: NonNegInt = 0
    """Tokens the model generated."""
    total_tokens: NonNegInt = 0
    """All the tokens of the run, as reported (usually prompt plus completion)."""

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
    """Model calls the run made."""
    tool_calls: NonNegInt = 0
    """Tool calls the run made."""
    sub_agents: NonNegInt = 0
    """Sub-agents the run started."""
    steps: NonNegInt = 0
    """Steps the run took."""
    decisions: NonNegInt = 0
    """Decisions the run recorded."""
    artifacts: NonNegInt = 0
    """Artifacts the run produced."""


class CostInfo(_Model):
    """What a model run cost (a value: build a new one, never assign)."""

    model_config = ConfigDict(frozen=True)

    input_cost: float = 0.0
    """The cost of the input, in ``currency``."""
    output_cost: float = 0.0
    """The cost of the output, in ``currency``."""
    total_cost: float = 0.0
    """The whole cost, in ``currency``."""
    currency: str = "USD"
    """The currency, e.g. ``USD``. A thread's total says ``mixed`` when its
    messages' currencies differ."""


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
    :meth:`Message.with_metadata` or ``model_copy(update=...)``.
    """

    model_config = ConfigDict(frozen=True)

    completed_at: Annotated[int, Field(ge=-(2**63), le=2**63 - 1)] | None = None
    """When the run completed, as a 64-bit integer timestamp the caller chose
    (stored as given); ``None`` when not reported."""
    duration_ms: NonNegInt | None = None
    """How long the run took, in milliseconds; ``None`` when not reported."""
    model: str | None = None
    """The model that produced the message, e.g. ``gpt-4o``; ``None`` when not
    reported."""
    provider: str | None = None
    """Who served the model, e.g. ``openai``; ``None`` when not reported."""
    token_usage: TokenUsage | None = None
    """The tokens the run used, added to the thread's ``usage``; ``None`` when not
    reported."""
    stats: ExecutionStats | None = None
    """What the run did (calls, steps, ...); ``None`` when not reported."""
    finish_reason: FinishReason | None = None
    """Why the model stopped; ``None`` when not reported."""
    cost: CostInfo | None = None
    """What the run cost, added to the thread's ``cost``; ``None`` when not
    reported."""
    extra: dict[str, str] = Field(default_factory=dict)
    """The caller's own annotations, string keys to string values; empty when
    there are none."""


_NO_METADATA = MessageMetadata()
"""Empty metadata, to compare with (``metadata == _NO_METADATA``). Never a
message's own: every message has metadata of its own, whose ``extra`` it can
change."""
