"""The typed parts of a message: text, reasoning, tool calls and results,
sources, files, images and code, and :data:`Part`, their union tagged by
``type`` (kebab-case, e.g. ``tool-call``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, JsonValue

from convostore.model._types import NonNegInt, _Model


class TextPart(_Model):
    type: Literal["text"] = "text"
    """The kind of part: always ``text``."""
    text: str
    """The text."""


class ReasoningPart(_Model):
    type: Literal["reasoning"] = "reasoning"
    """The kind of part: always ``reasoning``."""
    text: str
    """The model's reasoning, as it reported it."""


class ToolCallPart(_Model):
    type: Literal["tool-call"] = "tool-call"
    """The kind of part: always ``tool-call``."""
    tool_call_id: str = Field(min_length=1)
    """The call's id, which the tool's result names (at least one character)."""
    tool_name: str
    """The tool called."""
    args: JsonValue = None
    """The call's arguments, as JSON; ``None`` when there are none."""


class ToolResultPart(_Model):
    type: Literal["tool-result"] = "tool-result"
    """The kind of part: always ``tool-result``."""
    tool_call_id: str = Field(min_length=1)
    """The id of the call this result answers (at least one character)."""
    tool_name: str = ""
    """The tool that ran; empty when not given."""
    result: JsonValue = None
    """What the tool returned, as JSON. A string result is part of the message's
    ``content``."""
    is_error: bool = False
    """Whether the tool failed (``result`` then says how)."""


class SourcePart(_Model):
    type: Literal["source"] = "source"
    """The kind of part: always ``source``."""
    source_id: str
    """The source's id, e.g. of a document or a search result."""
    url: str | None = None
    """Where the source is; ``None`` when not given."""
    title: str | None = None
    """The source's title; ``None`` when not given."""


class FilePart(_Model):
    type: Literal["file"] = "file"
    """The kind of part: always ``file``."""
    file_id: str
    """The file's id where the caller keeps it."""
    filename: str
    """The file's name."""
    mime_type: str
    """The file's media type, e.g. ``application/pdf``."""
    size_bytes: NonNegInt
    """The file's size, in bytes."""


class ImagePart(_Model):
    type: Literal["image"] = "image"
    """The kind of part: always ``image``."""
    image_id: str
    """The image's id where the caller keeps it."""
    url: str | None = None
    """Where the image is; ``None`` when not given."""
    alt_text: str | None = None
    """A text description of the image; ``None`` when not given."""


class CodePart(_Model):
    type: Literal["code"] = "code"
    """The kind of part: always ``code``."""
    language: str | None = None
    """The code's language, e.g. ``python``; ``None`` when not given."""
    code: str
    """The code."""


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
