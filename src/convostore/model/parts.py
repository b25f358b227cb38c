"""The typed parts of a message, and :data:`Part`, their union tagged by
``type`` (kebab-case, e.g. ``tool-call``).

The eight kinds of the first release (text, reasoning, tool call, tool result,
source, file, image, code) keep their JSON: a message stored by an older
release reads back unchanged. Each kind has since gained the fields that
current providers send and need back to replay a conversation (signatures and
encrypted reasoning, inline bytes, citations, provider item ids and status),
and four kinds were added: audio, refusal, hosted-tool activity and data.

Fields added later are optional and left out of the JSON while unset, so a
part that uses none of them is stored exactly as before.

Bytes (``data`` of images, audio and files) are standard base64 in JSON. A
store keeps them once per tenant as an attachment named by its SHA-256 and
leaves only the reference (``attachment``) in the stored part; see
:mod:`convostore.model.attachment`.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    JsonValue,
    PlainSerializer,
    WithJsonSchema,
)

from convostore.model._types import NonNegInt, _Model


def _b64_in(value: object) -> object:
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("must be standard base64 text") from None
    return value


Base64Data = Annotated[
    bytes,
    BeforeValidator(_b64_in),
    PlainSerializer(lambda b: base64.b64encode(b).decode("ascii"), return_type=str),
    WithJsonSchema({"type": "string", "contentEncoding": "base64"}),
]
"""Bytes, written as standard base64 text in JSON and ``model_dump``; base64
text or bytes are accepted."""

AttachmentRef = Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")]
"""A stored attachment, by its content hash: ``sha256:`` and 64 hex digits."""


def _unset(value: object) -> bool:
    return value is None


def _empty(value: object) -> bool:
    return not value


def _opt(**kw: Any) -> Any:
    """An optional field left out of the JSON while ``None``."""
    return Field(default=None, exclude_if=_unset, **kw)


def _many(**kw: Any) -> Any:
    """A list or map field left out of the JSON while empty."""
    return Field(default_factory=kw.pop("factory", list), exclude_if=_empty, **kw)


def _false() -> Any:
    return Field(default=False, exclude_if=_empty)


ProviderMetadata = dict[str, dict[str, JsonValue]]
"""Provider-specific options of a part that no other field holds, keyed by
provider (``{"anthropic": {"cache_control": {"type": "ephemeral"}}}``): what
the Vercel AI SDK calls ``providerMetadata``."""


class Citation(_Model):
    """Where a piece of text comes from: a URL, a file or a span of a document.

    ``kind`` is the provider's own name for the citation (``url_citation``,
    ``file_citation``, ``char_location``, ``page_location``,
    ``web_search_result_location``...); the other fields are those it gives.
    """

    kind: str = Field(min_length=1)
    """The provider's kind of citation, e.g. ``url_citation``."""
    url: str | None = _opt()
    """The cited URL."""
    title: str | None = _opt()
    """The cited page's or document's title."""
    start_index: int | None = _opt()
    """Where the cited span starts in the part's text (or the document, per
    ``kind``)."""
    end_index: int | None = _opt()
    """Where the cited span ends (exclusive)."""
    index: int | None = _opt()
    """A single position, for kinds that give one (OpenAI ``file_citation``)."""
    cited_text: str | None = _opt()
    """The cited text itself."""
    file_id: str | None = _opt()
    """The cited file's provider id."""
    filename: str | None = _opt()
    """The cited file's name."""
    container_id: str | None = _opt()
    """The container holding the cited file (OpenAI ``container_file_citation``)."""
    document_index: int | None = _opt()
    """The cited document's position in the request (Anthropic)."""
    document_title: str | None = _opt()
    """The cited document's title (Anthropic)."""
    encrypted_index: str | None = _opt()
    """The provider's opaque pointer to a search result (Anthropic)."""
    source_id: str | None = _opt()
    """The source part this citation names, if any."""
    details: dict[str, JsonValue] = _many(factory=dict)
    """Any other field the provider gave, unchanged."""


class TextPart(_Model):
    type: Literal["text"] = "text"
    """The kind of part: always ``text``."""
    text: str
    """The text."""
    citations: list[Citation] = _many()
    """Where the text comes from (annotations); empty when not given."""
    provider_id: str | None = _opt()
    """The provider's id of the item holding the text (an OpenAI Responses
    ``message`` item); parts sharing one belong to one item."""
    status: str | None = _opt()
    """The provider's status of that item, e.g. ``completed``."""
    signature: str | None = _opt()
    """An opaque signature the provider wants back with the text (Gemini's
    ``thought_signature``), as the provider's text."""
    provider_metadata: ProviderMetadata = _many(factory=dict)
    """Provider options of the part no other field holds."""


class ReasoningPart(_Model):
    type: Literal["reasoning"] = "reasoning"
    """The kind of part: always ``reasoning``."""
    text: str
    """The model's reasoning, as it reported it (empty when only a summary or
    encrypted content was given)."""
    summary: list[str] = _many()
    """A summary of the reasoning, in pieces (OpenAI Responses); empty when
    not given."""
    signature: str | None = _opt()
    """The provider's signature over the reasoning (Anthropic ``thinking``,
    Gemini ``thought_signature``), needed to send it back."""
    encrypted_content: str | None = _opt()
    """The reasoning as opaque encrypted text (OpenAI ``encrypted_content``,
    the ``data`` of Anthropic ``redacted_thinking``)."""
    redacted: bool = _false()
    """Whether the provider withheld the reasoning (only ``encrypted_content``
    is kept)."""
    provider_id: str | None = _opt()
    """The provider's id of the reasoning item, e.g. ``rs_...``."""
    status: str | None = _opt()
    """The provider's status of the item."""
    provider_metadata: ProviderMetadata = _many(factory=dict)
    """Provider options of the part no other field holds."""


class ToolCallPart(_Model):
    type: Literal["tool-call"] = "tool-call"
    """The kind of part: always ``tool-call``."""
    tool_call_id: str = Field(min_length=1)
    """The call's id, which the tool's result names (at least one character)."""
    tool_name: str
    """The tool called."""
    args: JsonValue = None
    """The call's arguments, as JSON; ``None`` when there are none."""
    args_text: str | None = _opt()
    """The arguments exactly as the model wrote them, when that text is not
    the compact JSON of ``args`` (other spacing, or text that is not JSON, in
    which case ``args`` is ``None``)."""
    tool_kind: str | None = _opt()
    """The provider's kind of call when it is not a plain function call, e.g.
    ``custom`` (a free-text OpenAI custom tool, ``args`` a string)."""
    provider_id: str | None = _opt()
    """The provider's id of the call item, when it differs from the call id
    (OpenAI Responses ``fc_...``)."""
    status: str | None = _opt()
    """The provider's status of the call item, e.g. ``completed``."""
    signature: str | None = _opt()
    """An opaque signature the provider wants back with the call (Gemini's
    ``thought_signature``)."""
    provider_metadata: ProviderMetadata = _many(factory=dict)
    """Provider options of the part no other field holds."""


class ImagePart(_Model):
    type: Literal["image"] = "image"
    """The kind of part: always ``image``."""
    image_id: str = ""
    """The image's id where the caller keeps it; empty when not given."""
    url: str | None = None
    """Where the image is (an ``https:`` or ``data:`` URL); ``None`` when not
    given."""
    alt_text: str | None = None
    """A text description of the image; ``None`` when not given."""
    media_type: str | None = _opt()
    """The image's media type, e.g. ``image/png``."""
    detail: str | None = _opt()
    """The detail the model should see it at (OpenAI ``low``, ``high``,
    ``auto``)."""
    provider_file_id: str | None = _opt()
    """The provider's id of the uploaded image (OpenAI or Anthropic file id,
    a Gemini file URI)."""
    data: Base64Data | None = _opt()
    """The image's bytes, inline. A store moves them into an attachment."""
    attachment: AttachmentRef | None = _opt()
    """The stored attachment holding the image's bytes."""
    size_bytes: NonNegInt | None = _opt()
    """The image's size in bytes, when known."""
    provider_metadata: ProviderMetadata = _many(factory=dict)
    """Provider options of the part no other field holds."""


class FilePart(_Model):
    type: Literal["file"] = "file"
    """The kind of part: always ``file``."""
    file_id: str = ""
    """The file's id where the caller keeps it; empty when not given."""
    filename: str = ""
    """The file's name; empty when not given."""
    mime_type: str = ""
    """The file's media type, e.g. ``application/pdf``; empty when not given."""
    size_bytes: NonNegInt = 0
    """The file's size, in bytes; 0 when not given."""
    url: str | None = _opt()
    """Where the file is (an ``https:`` or ``data:`` URL)."""
    title: str | None = _opt()
    """The document's title, as a provider shows it (Anthropic ``title``)."""
    context: str | None = _opt()
    """Text about the document for the model (Anthropic ``context``)."""
    text: str | None = _opt()
    """The document's plain text, when it was sent as text."""
    provider_file_id: str | None = _opt()
    """The provider's id of the uploaded file."""
    data: Base64Data | None = _opt()
    """The file's bytes, inline. A store moves them into an attachment."""
    attachment: AttachmentRef | None = _opt()
    """The stored attachment holding the file's bytes."""
    citations_enabled: bool | None = _opt()
    """Whether the model may cite the document (Anthropic ``citations``)."""
    provider_metadata: ProviderMetadata = _many(factory=dict)
    """Provider options of the part no other field holds."""


class AudioPart(_Model):
    type: Literal["audio"] = "audio"
    """The kind of part: always ``audio``."""
    media_type: str | None = _opt()
    """The audio's media type, e.g. ``audio/wav``."""
    data: Base64Data | None = _opt()
    """The audio's bytes, inline. A store moves them into an attachment."""
    attachment: AttachmentRef | None = _opt()
    """The stored attachment holding the audio's bytes."""
    url: str | None = _opt()
    """Where the audio is."""
    transcript: str | None = _opt()
    """What is said, as text, when known."""
    provider_id: str | None = _opt()
    """The provider's id of generated audio (OpenAI Chat ``audio.id``), by
    which it is sent back."""
    size_bytes: NonNegInt | None = _opt()
    """The audio's size in bytes, when known."""
    provider_metadata: ProviderMetadata = _many(factory=dict)
    """Provider options of the part no other field holds."""


ToolResultItem = Annotated[
    TextPart | ImagePart | FilePart | AudioPart,
    Field(discriminator="type"),
]
"""A piece of a tool's result that is more than JSON: text, an image, a file
or audio."""


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
    content: list[ToolResultItem] = _many()
    """What the tool returned as typed pieces (text, images, files), when it
    returned more than JSON; empty otherwise."""
    provider_id: str | None = _opt()
    """The provider's id of the result item (OpenAI Responses)."""
    status: str | None = _opt()
    """The provider's status of the result item."""
    provider_metadata: ProviderMetadata = _many(factory=dict)
    """Provider options of the part no other field holds."""


class SourcePart(_Model):
    type: Literal["source"] = "source"
    """The kind of part: always ``source``."""
    source_id: str
    """The source's id, e.g. of a document or a search result."""
    url: str | None = None
    """Where the source is; ``None`` when not given."""
    title: str | None = None
    """The source's title; ``None`` when not given."""
    media_type: str | None = _opt()
    """The source document's media type, for a document source."""
    filename: str | None = _opt()
    """The source document's file name, for a document source."""
    provider_metadata: ProviderMetadata = _many(factory=dict)
    """Provider options of the part no other field holds."""


class CodePart(_Model):
    type: Literal["code"] = "code"
    """The kind of part: always ``code``."""
    language: str | None = None
    """The code's language, e.g. ``python``; ``None`` when not given."""
    code: str
    """The code."""
    provider_id: str | None = _opt()
    """The provider's id of the code item, when it has one."""
    signature: str | None = _opt()
    """An opaque signature the provider wants back with the part (Gemini)."""
    provider_metadata: ProviderMetadata = _many(factory=dict)
    """Provider options of the part no other field holds."""


class RefusalPart(_Model):
    type: Literal["refusal"] = "refusal"
    """The kind of part: always ``refusal``."""
    text: str
    """Why the model refused, in its words."""
    provider_id: str | None = _opt()
    """The provider's id of the item holding the refusal."""
    provider_metadata: ProviderMetadata = _many(factory=dict)
    """Provider options of the part no other field holds."""


class HostedToolPart(_Model):
    """A tool the provider ran itself (web search, code interpreter, file
    search, MCP, computer use, image generation...), kept whole.

    ``payload`` is the provider's item or block exactly as sent, which is what
    goes back to that provider; the other fields are what convostore reads of
    it, for display and for other formats.
    """

    type: Literal["hosted-tool"] = "hosted-tool"
    """The kind of part: always ``hosted-tool``."""
    provider: str = Field(min_length=1)
    """The format the payload is in, e.g. ``openai-responses`` or ``anthropic``."""
    item_type: str = Field(min_length=1)
    """The provider's type of the item, e.g. ``web_search_call`` or
    ``server_tool_use``."""
    payload: dict[str, JsonValue]
    """The item as the provider sent it, unchanged."""
    tool_name: str | None = _opt()
    """The tool, e.g. ``web_search``."""
    tool_call_id: str | None = _opt()
    """The id of the call, which a later result item of the same call names."""
    status: str | None = _opt()
    """The provider's status of the item, e.g. ``completed``."""
    is_error: bool = _false()
    """Whether the tool failed."""
    provider_metadata: ProviderMetadata = _many(factory=dict)
    """Provider options of the part no other field holds."""


class DataPart(_Model):
    """Application data carried with a message (the Vercel AI SDK's
    ``data-*`` parts): never sent to a model."""

    type: Literal["data"] = "data"
    """The kind of part: always ``data``."""
    name: str = Field(min_length=1)
    """What kind of data it is, e.g. ``weather``."""
    data: JsonValue = None
    """The data, as JSON."""
    data_id: str | None = _opt()
    """The data's id, when it has one."""


Part = Annotated[
    TextPart
    | ReasoningPart
    | ToolCallPart
    | ToolResultPart
    | SourcePart
    | FilePart
    | ImagePart
    | CodePart
    | AudioPart
    | RefusalPart
    | HostedToolPart
    | DataPart,
    Field(discriminator="type"),
]
"""One typed piece of a message, tagged by ``type``."""

#: The parts whose bytes a store keeps as attachments.
BINARY_PARTS = (ImagePart, FilePart, AudioPart)


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
