"""What every token counter is: the :class:`TokenCounter` protocol, the
:class:`TokenCount` a message is given, and the per-message accounting (framing
overhead plus the text of every part) the built-in counters share."""

from __future__ import annotations

import json
from typing import Any, NamedTuple, Protocol, runtime_checkable

from convostore.model import (
    AudioPart,
    CodePart,
    FilePart,
    HostedToolPart,
    ImagePart,
    Message,
    ReasoningPart,
    RefusalPart,
    SourcePart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)

__all__ = ["TokenCount", "TokenCounter", "is_estimate"]


@runtime_checkable
class TokenCounter(Protocol):
    """Anything that can count the tokens of text and of a whole message.

    ``name`` is stored with every count it produces (e.g. ``tiktoken:o200k_base``);
    ``estimate`` says whether its counts are approximations.
    """

    @property
    def name(self) -> str: ...

    @property
    def estimate(self) -> bool: ...

    def count_text(self, text: str) -> int: ...

    def count_message(self, message: Message) -> int: ...


class TokenCount(NamedTuple):
    """A message's token count and the method that produced it."""

    tokens: int
    counter: str
    estimated: bool


def is_estimate(counter_name: str | None) -> bool:
    """Whether counts labelled ``counter_name`` are heuristic estimates."""
    return counter_name is None or counter_name.startswith("heuristic")


# What ``json.dumps(value, separators=(",", ":"), ensure_ascii=False,
# sort_keys=True)`` makes, without a new encoder per call (``json.dumps`` keeps
# one for its default options the same way). Never changed after this line.
_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode


_TEXT_PARTS = (TextPart, ReasoningPart)


def _json(value: Any) -> str:
    if isinstance(value, str):
        return value
    return _ENCODE(value)


class _PartCounter:
    """Shared message accounting: framing overhead plus the text of every part."""

    per_message: int = 3
    per_name: int = 1
    per_tool_item: int = 3
    per_image: int = 85

    def count_text(self, text: str) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    def count_message(self, message: Message) -> int:
        """Tokens the message costs when sent back to a model as input."""
        total = self.per_message
        if message.name:
            total += self.per_name + self.count_text(message.name)
        if not message.parts:
            return total + self.count_text(message.content)
        for part in message.parts:
            if isinstance(part, _TEXT_PARTS):
                total += self.count_text(part.text)
            elif isinstance(part, ToolCallPart):
                total += self.per_tool_item + self.count_text(part.tool_name)
                total += self.count_text(part.tool_call_id) + self.count_text(_json(part.args))
            elif isinstance(part, ToolResultPart):
                total += self.per_tool_item + self.count_text(part.tool_call_id)
                total += self.count_text(_json(part.result))
                for item in part.content:
                    if isinstance(item, TextPart):
                        total += self.count_text(item.text)
                    elif isinstance(item, ImagePart):
                        total += self.per_image
                    else:
                        total += self.per_tool_item
            elif isinstance(part, CodePart):
                total += self.count_text(part.code) + 2
            elif isinstance(part, ImagePart):
                total += self.per_image + self.count_text(part.alt_text or "")
            elif isinstance(part, FilePart):
                total += self.per_tool_item + self.count_text(part.filename)
                if part.text:
                    total += self.count_text(part.text)
            elif isinstance(part, SourcePart):
                total += self.count_text(" ".join(x for x in (part.title, part.url) if x))
            elif isinstance(part, RefusalPart):
                total += self.count_text(part.text)
            elif isinstance(part, AudioPart):
                total += self.per_tool_item + self.count_text(part.transcript or "")
            elif isinstance(part, HostedToolPart):
                total += self.per_tool_item + self.count_text(_json(part.payload))
            # DataPart: application data, never sent to a model.
        return total
