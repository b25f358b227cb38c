"""What every format converter shares: the format names, the drop report,
the error for payloads of the wrong shape, and small helpers."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from convostore.errors import ValidationError
from convostore.model import Message

FormatName = Literal["openai-chat", "openai-responses", "anthropic", "gemini", "vercel-ui"]
"""The wire formats convostore reads and writes."""

FORMATS: tuple[FormatName, ...] = (
    "openai-chat",
    "openai-responses",
    "anthropic",
    "gemini",
    "vercel-ui",
)

#: Other names accepted for the formats: the names of earlier releases
#: (``NativePayload`` and ``validate_context`` used different spellings).
ALIASES: dict[str, FormatName] = {
    "openai.chat": "openai-chat",
    "openai.responses": "openai-responses",
    "anthropic.messages": "anthropic",
    "anthropic-messages": "anthropic",
    "google-gemini": "gemini",
    "google.gemini": "gemini",
    "ai-sdk": "vercel-ui",
    "ui-message": "vercel-ui",
}


def format_name(name: str, *, field: str = "format") -> FormatName:
    """The format ``name`` stands for (a name of :data:`FORMATS` or an alias).

    Raises:
        ValidationError: for any other name, listing the known ones.
    """
    if name in FORMATS:
        return name
    if name in ALIASES:
        return ALIASES[name]
    raise ValidationError(f"unknown format {name!r}; use one of {list(FORMATS)}", field=field)


class FormatError(ValidationError):
    """A payload is not in the shape its format defines.

    ``field`` says where, as a path into the payload (``messages[2].content[0].type``).
    """


class Dropped(BaseModel):
    """One thing a conversion could not carry over to the target format.

    Attributes:
        message_index: the position of the message in the converted list.
        message_id: its id.
        part_index: the position of the part in the message, or ``None`` when
            a message-level field was dropped.
        what: what was dropped: a part type (``hosted-tool``), or a field
            (``reasoning.signature``, ``metadata``).
        reason: why, in a sentence.
    """

    model_config = ConfigDict(frozen=True)

    message_index: int
    message_id: str
    part_index: int | None = None
    what: str
    reason: str


class DroppedContentWarning(UserWarning):
    """A conversion dropped content and no drop report was given to receive it."""


@dataclass
class DropReport:
    """The things a conversion dropped, in order; false when nothing was.

    Pass one to a ``to_<format>`` function to receive them; without one, a
    conversion that drops anything warns with :class:`DroppedContentWarning`.
    """

    target: str = ""
    items: list[Dropped] = field(default_factory=list)

    def add(
        self,
        message_index: int,
        message: Message,
        part_index: int | None,
        what: str,
        reason: str,
    ) -> None:
        self.items.append(
            Dropped(
                message_index=message_index,
                message_id=message.id,
                part_index=part_index,
                what=what,
                reason=reason,
            )
        )

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Dropped]:
        return iter(self.items)

    def summary(self) -> str:
        kinds: dict[str, int] = {}
        for d in self.items:
            kinds[d.what] = kinds.get(d.what, 0) + 1
        listed = ", ".join(f"{n} x {k}" for k, n in sorted(kinds.items()))
        return f"{len(self.items)} item(s) could not be carried over to {self.target}: {listed}"


def own_report(report: DropReport | None, target: str) -> tuple[DropReport, bool]:
    """The report a converter writes to, and whether it is its own (then the
    converter calls :func:`warn_dropped` at the end)."""
    if report is None:
        return DropReport(target=target), True
    if not report.target:
        report.target = target
    return report, False


def warn_dropped(report: DropReport, owned: bool) -> None:
    """Warn about what was dropped, when the caller gave no report to receive it."""
    if owned and report:
        warnings.warn(report.summary(), DroppedContentWarning, stacklevel=3)


AttachmentResolver = Callable[[str], bytes]
"""Returns the bytes of a stored attachment given its reference
(``sha256:...``); a store's ``context(format=...)`` passes its own."""


def part_bytes(part: Any, resolve: AttachmentResolver | None) -> bytes | None:
    """A binary part's bytes: inline ``data``, else its attachment resolved,
    else ``None``."""
    if part.data is not None:
        return bytes(part.data)
    if part.attachment is not None and resolve is not None:
        return resolve(part.attachment)
    return None


def compact_json(value: Any) -> str:
    """JSON text the way providers write tool arguments: compact, keys in order."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def args_from_text(text: str) -> tuple[Any, str | None]:
    """A tool call's ``(args, args_text)`` from the arguments text a model wrote:
    ``args_text`` is kept only when the text is not the compact JSON of ``args``
    (so ``to_`` gives back the same text)."""
    if not text:
        return None, None
    try:
        args = json.loads(text)
    except ValueError:
        return None, text
    if args is None or compact_json(args) != text:
        # ``None`` args write back as no text: keep "null" (or " null ") as sent.
        return args, text
    return args, None


def args_to_text(part: Any) -> str:
    """The arguments text of a :class:`~convostore.model.ToolCallPart`."""
    if part.args_text is not None:
        return str(part.args_text)
    return "" if part.args is None else compact_json(part.args)


def expect_mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise FormatError(f"must be an object, not {type(value).__name__}", field=where)
    return value


def expect_list(value: Any, where: str) -> Sequence[Any]:
    if not isinstance(value, list | tuple):
        raise FormatError(f"must be an array, not {type(value).__name__}", field=where)
    return value


def dump(model: BaseModel | Mapping[str, Any] | Any) -> Any:
    """A provider SDK object (pydantic model) as plain JSON data; other values
    unchanged. Lets every ``from_`` accept the SDKs' own response objects."""
    if isinstance(model, BaseModel):
        return model.model_dump(mode="json", exclude_none=True, by_alias=False)
    return model
