"""What a model run reports about a message it produced: token usage, run
statistics, cost and finish reason, gathered in :class:`MessageMetadata`.

:class:`TokenUsage` and :class:`CostInfo` are values that a thread's counters
also use (see :class:`~convostore.model.Thread`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field, JsonValue

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
    cached_input_tokens: NonNegInt | None = Field(default=None, exclude_if=lambda v: v is None)
    """Of the input, the tokens read from the provider's prompt cache; ``None``
    when not reported. Per message: a thread's ``usage`` counts the three
    totals only."""
    cache_write_tokens: NonNegInt | None = Field(default=None, exclude_if=lambda v: v is None)
    """Input tokens written to the provider's prompt cache (Anthropic's
    ``cache_creation_input_tokens``); ``None`` when not reported."""
    reasoning_tokens: NonNegInt | None = Field(default=None, exclude_if=lambda v: v is None)
    """Of the output, the tokens spent reasoning; ``None`` when not reported."""

    @classmethod
    def of(cls, prompt: int, completion: int) -> TokenUsage:
        """Usage with ``total_tokens`` computed as ``prompt + completion``."""
        return cls(
            prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
        )

    def totals(self) -> TokenUsage:
        """The three totals alone, as a thread's ``usage`` counts them."""
        if (
            self.cached_input_tokens is None
            and self.cache_write_tokens is None
            and self.reasoning_tokens is None
        ):
            return self
        return TokenUsage(
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            total_tokens=self.total_tokens,
        )

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            **{
                f: _opt_sum(getattr(self, f), getattr(other, f), 1)
                for f in _DETAIL_FIELDS
                if getattr(self, f) is not None or getattr(other, f) is not None
            },
        )

    def __sub__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            prompt_tokens=max(0, self.prompt_tokens - other.prompt_tokens),
            completion_tokens=max(0, self.completion_tokens - other.completion_tokens),
            total_tokens=max(0, self.total_tokens - other.total_tokens),
            **{
                f: _opt_sum(getattr(self, f), getattr(other, f), -1)
                for f in _DETAIL_FIELDS
                if getattr(self, f) is not None
            },
        )


_DETAIL_FIELDS = ("cached_input_tokens", "cache_write_tokens", "reasoning_tokens")


def _opt_sum(a: int | None, b: int | None, sign: int) -> int:
    return max(0, (a or 0) + sign * (b or 0))


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
    """Why the model stopped, in one vocabulary for every provider (the
    provider's own word is kept in ``MessageMetadata.provider_finish_reason``)."""

    STOP = "stop"
    """It finished its answer (OpenAI ``stop``, Anthropic ``end_turn``, Gemini
    ``STOP``)."""
    LENGTH = "length"
    """It ran out of output tokens or context."""
    TOOL_CALLS = "tool_calls"
    """It called tools and waits for their results."""
    CONTENT_FILTER = "content_filter"
    """A safety or content filter stopped it."""
    ERROR = "error"
    """The run failed."""
    STOP_SEQUENCE = "stop_sequence"
    """It wrote one of the request's stop sequences."""
    PAUSE_TURN = "pause_turn"
    """The provider paused a long turn, to be continued (Anthropic)."""
    REFUSAL = "refusal"
    """It refused to answer."""
    OTHER = "other"
    """Any other reason the provider gave (see ``provider_finish_reason``)."""


class MessageMetadata(_Model):
    """What the model run that produced a message reported about it.

    ``extra`` is a free map of string keys to JSON values for the caller's own
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
    provider_finish_reason: str | None = Field(default=None, exclude_if=lambda v: v is None)
    """Why the model stopped in the provider's own words (``end_turn``,
    ``MAX_TOKENS``...); ``None`` when not reported."""
    response_id: str | None = Field(default=None, exclude_if=lambda v: v is None)
    """The provider's id of the response that produced the message
    (``chatcmpl-...``, ``resp_...``, ``msg_...``); ``None`` when not reported."""
    cost: CostInfo | None = None
    """What the run cost, added to the thread's ``cost``; ``None`` when not
    reported."""
    extra: dict[str, JsonValue] = Field(default_factory=dict)
    """The caller's own annotations, string keys to JSON values; empty when
    there are none."""


_NO_METADATA = MessageMetadata()
"""Empty metadata, to compare with (``metadata == _NO_METADATA``). Never a
message's own: every message has metadata of its own, whose ``extra`` it can
change."""
