"""Provider wire formats in and out: OpenAI Chat Completions, OpenAI
Responses, Anthropic Messages, Google Gemini and the Vercel AI SDK's
``UIMessage``.

Each format has a module with ``from_<format>(payload) -> list[Message]`` and
``to_<format>(messages) -> payload``; :func:`from_format`, :func:`to_format`
and :func:`convert` reach them by name (:data:`FORMATS`).

What a target format cannot hold is never lost silently: pass a
:class:`DropReport` to receive it, or read :attr:`Converted.dropped` from
:func:`convert`; without a report a lossy conversion warns with
:class:`DroppedContentWarning`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from convostore.formats._common import (
    ALIASES,
    FORMATS,
    AttachmentResolver,
    Dropped,
    DroppedContentWarning,
    DropReport,
    FormatError,
    FormatName,
    format_name,
)
from convostore.model import Message

__all__ = [
    "ALIASES",
    "FORMATS",
    "AttachmentResolver",
    "Converted",
    "DropReport",
    "Dropped",
    "DroppedContentWarning",
    "FormatError",
    "FormatName",
    "convert",
    "format_name",
    "from_format",
    "to_format",
]


def _codec(name: FormatName) -> tuple[Callable[..., list[Message]], Callable[..., Any]]:
    if name == "openai-chat":
        from convostore.formats import openai_chat as m

        return m.from_openai_chat, m.to_openai_chat
    if name == "openai-responses":
        from convostore.formats import openai_responses as r

        return r.from_openai_responses, r.to_openai_responses
    if name == "anthropic":
        from convostore.formats import anthropic as a

        return a.from_anthropic, a.to_anthropic
    if name == "gemini":
        from convostore.formats import gemini as g

        return g.from_gemini, g.to_gemini
    from convostore.formats import vercel_ui as v

    return v.from_vercel_ui, v.to_vercel_ui


def from_format(payload: Any, format: str) -> list[Message]:
    """Messages from a payload in ``format`` (a name of :data:`FORMATS`)."""
    return _codec(format_name(format))[0](payload)


def to_format(
    messages: Iterable[Message],
    format: str,
    *,
    report: DropReport | None = None,
    attachments: AttachmentResolver | None = None,
) -> Any:
    """``messages`` as a payload in ``format``.

    ``attachments`` resolves stored attachments to bytes for formats that
    carry them inline; ``report`` receives what the format cannot hold.
    """
    return _codec(format_name(format))[1](messages, report=report, attachments=attachments)


@dataclass
class Converted:
    """The result of :func:`convert`: the payload in the target format and
    what could not be carried over."""

    payload: Any
    dropped: list[Dropped] = field(default_factory=list)


def convert(payload: Any, *, source: str, target: str) -> Converted:
    """A payload of ``source`` format as one of ``target`` format, with what
    the target cannot hold listed in :attr:`Converted.dropped`."""
    messages = from_format(payload, source)
    report = DropReport(target=format_name(target, field="target"))
    out = to_format(messages, target, report=report)
    return Converted(payload=out, dropped=list(report))
