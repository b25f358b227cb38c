"""Anthropic Messages: ``{"system": ..., "messages": [...]}`` in and out.

:func:`from_anthropic` reads a request's history (or a bare ``messages``
list) and a ``Message`` response (a dict or ``anthropic.types.Message``);
:func:`to_anthropic` writes a history that follows Anthropic's rules: the
leading system messages form ``system``, consecutive messages of one role are
merged so that roles alternate, and tool results go to the user turn after the
call, ahead of any other block.

One Anthropic message is one convostore message; a user message of tool
results stays a user message holding tool-result parts. Blocks convostore has
no typed part for (server tools, their results, search results, container
uploads, blocks of later API versions) are kept whole as hosted-tool parts of
provider ``anthropic``. Keys of a block with no typed home (``cache_control``,
``caller``, ...) are kept in the part's ``provider_metadata["anthropic"]``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from convostore.formats._common import (
    AttachmentResolver,
    DropReport,
    FormatError,
    FormatName,
    compact_json,
    dump,
    expect_list,
    expect_mapping,
    own_report,
    part_bytes,
    warn_dropped,
)
from convostore.model import (
    AudioPart,
    Citation,
    CodePart,
    DataPart,
    FilePart,
    FinishReason,
    HostedToolPart,
    ImagePart,
    Message,
    MessageMetadata,
    Part,
    ReasoningPart,
    RefusalPart,
    Role,
    SourcePart,
    TextPart,
    TokenUsage,
    ToolCallPart,
    ToolResultPart,
)

__all__ = ["from_anthropic", "to_anthropic"]

FORMAT: FormatName = "anthropic"
"""The format's name, and the ``provider`` of the hosted-tool parts it makes."""

PROVIDER = "anthropic"
"""The key of ``provider_metadata`` and the ``metadata.provider`` of replies."""

_STOP_REASONS: dict[str, FinishReason] = {
    "end_turn": FinishReason.STOP,
    "max_tokens": FinishReason.LENGTH,
    "stop_sequence": FinishReason.STOP_SEQUENCE,
    "tool_use": FinishReason.TOOL_CALLS,
    "pause_turn": FinishReason.PAUSE_TURN,
    "refusal": FinishReason.REFUSAL,
    "model_context_window_exceeded": FinishReason.LENGTH,
}

#: The keys of each block type that a typed field holds; any other key of the
#: block goes to ``provider_metadata["anthropic"]``.
_TYPED_KEYS: dict[str, frozenset[str]] = {
    "text": frozenset({"type", "text", "citations"}),
    "image": frozenset({"type", "source"}),
    "document": frozenset({"type", "source", "title", "context", "citations"}),
    "thinking": frozenset({"type", "thinking", "signature"}),
    "redacted_thinking": frozenset({"type", "data"}),
    "tool_use": frozenset({"type", "id", "name", "input"}),
    "tool_result": frozenset({"type", "tool_use_id", "content", "is_error"}),
}

#: The options each block type takes from ``provider_metadata["anthropic"]``
#: (``source``, ``content`` and ``citations`` are the blocks kept whole there).
_OPTIONS: dict[str, frozenset[str]] = {
    "text": frozenset({"cache_control"}),
    "image": frozenset({"cache_control", "transformations", "source"}),
    "document": frozenset({"cache_control", "source", "citations"}),
    "thinking": frozenset(),
    "redacted_thinking": frozenset(),
    "tool_use": frozenset({"cache_control", "caller", "toolset_name"}),
    "tool_result": frozenset({"cache_control", "toolset_name", "content"}),
}

#: The keys each image or document source type has; a source of another type
#: or with other keys is kept whole.
_SOURCE_KEYS: dict[str, frozenset[str]] = {
    "base64": frozenset({"type", "media_type", "data"}),
    "url": frozenset({"type", "url"}),
    "file": frozenset({"type", "file_id"}),
    "text": frozenset({"type", "media_type", "data"}),
}

#: Citation kinds: each wire key with the :class:`Citation` field holding it,
#: and whether the key is written even when ``None`` (required but nullable).
_CITATIONS: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "char_location": (
        ("document_index", "document_index", False),
        ("document_title", "document_title", True),
        ("start_char_index", "start_index", False),
        ("end_char_index", "end_index", False),
    ),
    "page_location": (
        ("document_index", "document_index", False),
        ("document_title", "document_title", True),
        ("start_page_number", "start_index", False),
        ("end_page_number", "end_index", False),
    ),
    "content_block_location": (
        ("document_index", "document_index", False),
        ("document_title", "document_title", True),
        ("start_block_index", "start_index", False),
        ("end_block_index", "end_index", False),
    ),
    "web_search_result_location": (
        ("url", "url", False),
        ("title", "title", True),
        ("encrypted_index", "encrypted_index", False),
    ),
    "search_result_location": (
        ("search_result_index", "index", False),
        ("source", "url", False),
        ("title", "title", True),
        ("start_block_index", "start_index", False),
        ("end_block_index", "end_index", False),
    ),
}

_DOCUMENT_CITATIONS = frozenset({"char_location", "page_location", "content_block_location"})

_IMAGE_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


# reading ---------------------------------------------------------------------


def from_anthropic(payload: Any) -> list[Message]:
    """Messages from an Anthropic payload.

    ``payload`` is a request history (``{"system": ..., "messages": [...]}``;
    other request keys are ignored), a bare list of messages, or a ``Message``
    response (a dict or an ``anthropic.types.Message``), which gives one
    assistant message with its model, usage, stop reason and id in
    ``metadata``.

    Raises:
        FormatError: the payload is not in the shape of the format; ``field``
            names where.
    """
    data = dump(payload)
    if isinstance(data, list | tuple):
        return _Reader().history(None, data, "messages")
    body = expect_mapping(data, "payload")
    if "messages" in body:
        messages = expect_list(body["messages"], "messages")
        return _Reader().history(body.get("system"), messages, "messages")
    if body.get("type") == "message" or ("content" in body and "role" in body):
        return [_Reader().response(body)]
    raise FormatError(
        "must be a request history (with 'messages'), a list of messages or a Message response",
        field="payload",
    )


@dataclass
class _Reader:
    """Reads blocks into parts, remembering the tool names of the calls seen so
    far (a ``tool_result`` does not repeat the name of its tool)."""

    tool_names: dict[str, str] = field(default_factory=dict)

    def history(self, system: Any, messages: Sequence[Any], where: str) -> list[Message]:
        """The messages of a history: the system prompt first, when given."""
        out: list[Message] = []
        if system is not None:
            parts = self.content(system, "system")
            if parts:
                out.append(Message(role=Role.SYSTEM, parts=parts))
        for i, raw in enumerate(messages):
            out.append(self.message(raw, f"{where}[{i}]"))
        return out

    def message(self, raw: Any, where: str) -> Message:
        """One message of ``messages``."""
        m = expect_mapping(dump(raw), where)
        role = m.get("role")
        if role not in ("user", "assistant", "system"):
            raise FormatError(
                f"must be 'user', 'assistant' or 'system', not {role!r}", field=f"{where}.role"
            )
        if "content" not in m:
            raise FormatError("is missing", field=f"{where}.content")
        parts = self.content(m["content"], f"{where}.content")
        if role == "assistant":
            return Message(
                role=Role.ASSISTANT, parts=parts, metadata=MessageMetadata(provider=PROVIDER)
            )
        return Message(role=Role(role), parts=parts)

    def response(self, body: Mapping[str, Any]) -> Message:
        """The assistant message of a ``Message`` response."""
        parts = self.content(body.get("content", []), "content")
        stop = body.get("stop_reason")
        if stop is not None and not isinstance(stop, str):
            raise FormatError("must be a string", field="stop_reason")
        model = body.get("model")
        response_id = body.get("id")
        metadata = MessageMetadata(
            model=model if isinstance(model, str) else None,
            provider=PROVIDER,
            token_usage=_usage(body.get("usage")),
            finish_reason=None if stop is None else _STOP_REASONS.get(stop, FinishReason.OTHER),
            provider_finish_reason=stop,
            response_id=response_id if isinstance(response_id, str) else None,
        )
        return Message(role=Role.ASSISTANT, parts=parts, metadata=metadata)

    def content(self, content: Any, where: str) -> list[Part]:
        """The parts of a message's ``content`` (a string or a list of blocks)."""
        if isinstance(content, str):
            return [TextPart(text=content)] if content else []
        blocks = expect_list(content, where)
        return [self.block(b, f"{where}[{j}]") for j, b in enumerate(blocks)]

    def block(self, raw: Any, where: str) -> Part:
        """The part one content block becomes."""
        b = expect_mapping(dump(raw), where)
        kind = b.get("type")
        if not isinstance(kind, str) or not kind:
            raise FormatError("must be a block type (a string)", field=f"{where}.type")
        extra = _extra(b, _TYPED_KEYS.get(kind, frozenset()))
        if kind == "text":
            return _text(b, where, extra)
        if kind == "image":
            return _image(b, where, extra)
        if kind == "document":
            return _document(b, where, extra)
        if kind == "thinking":
            return ReasoningPart(
                text=_str(b, "thinking", where),
                signature=_str(b, "signature", where),
                provider_metadata=_metadata(extra),
            )
        if kind == "redacted_thinking":
            return ReasoningPart(
                text="",
                redacted=True,
                encrypted_content=_str(b, "data", where),
                provider_metadata=_metadata(extra),
            )
        if kind == "tool_use":
            call_id = _id(b, "id", where)
            name = _str(b, "name", where)
            self.tool_names[call_id] = name
            return ToolCallPart(
                tool_call_id=call_id,
                tool_name=name,
                args=b.get("input"),
                provider_metadata=_metadata(extra),
            )
        if kind == "tool_result":
            return self.tool_result(b, where, extra)
        return self.hosted(b, kind, where)

    def tool_result(self, b: Mapping[str, Any], where: str, extra: dict[str, Any]) -> Part:
        """A ``tool_result`` block: a string result, or typed content pieces.

        A content list holding a block that has no typed piece (a search
        result, a tool reference) is also kept whole, in
        ``provider_metadata["anthropic"]["content"]``.
        """
        call_id = _id(b, "tool_use_id", where)
        is_error = b.get("is_error", False)
        if not isinstance(is_error, bool):
            raise FormatError("must be a boolean", field=f"{where}.is_error")
        result: Any = None
        pieces: list[Any] = []
        content = b.get("content")
        if isinstance(content, str):
            result = content
        elif content is not None:
            items = expect_list(content, f"{where}.content")
            for k, item in enumerate(items):
                part = self.block(item, f"{where}.content[{k}]")
                if isinstance(part, TextPart | ImagePart | FilePart):
                    pieces.append(part)
                else:
                    extra["content"] = [dump(x) for x in items]
        return ToolResultPart(
            tool_call_id=call_id,
            tool_name=self.tool_names.get(call_id, ""),
            result=result,
            is_error=is_error,
            content=pieces,
            provider_metadata=_metadata(extra),
        )

    def hosted(self, b: Mapping[str, Any], kind: str, where: str) -> HostedToolPart:
        """A block without a typed part (a server tool's call or result, a search
        result...), kept whole."""
        call_id = b.get("id") if isinstance(b.get("id"), str) else b.get("tool_use_id")
        name = b.get("name")
        if not isinstance(call_id, str) or not call_id:
            call_id = None
        elif isinstance(name, str):
            self.tool_names[call_id] = name
        else:
            name = self.tool_names.get(call_id) or _tool_of_result(kind)
        content = b.get("content")
        is_error = b.get("is_error") is True or (
            isinstance(content, Mapping) and str(content.get("type", "")).endswith("_error")
        )
        return HostedToolPart(
            provider=FORMAT,
            item_type=kind,
            payload=dict(b),
            tool_name=name if isinstance(name, str) else None,
            tool_call_id=call_id,
            is_error=is_error,
        )


def _tool_of_result(kind: str) -> str | None:
    """The tool a result block type names: ``web_search`` for
    ``web_search_tool_result``."""
    suffix = "_tool_result"
    return kind[: -len(suffix)] if kind.endswith(suffix) else None


def _text(b: Mapping[str, Any], where: str, extra: dict[str, Any]) -> TextPart:
    citations: list[Citation] = []
    raw = b.get("citations")
    if raw is not None:
        for k, c in enumerate(expect_list(raw, f"{where}.citations")):
            citations.append(_citation(c, f"{where}.citations[{k}]"))
    return TextPart(
        text=_str(b, "text", where), citations=citations, provider_metadata=_metadata(extra)
    )


def _citation(raw: Any, where: str) -> Citation:
    c = dict(expect_mapping(raw, where))
    kind = c.pop("type", None)
    if not isinstance(kind, str) or not kind:
        raise FormatError("must be a citation type (a string)", field=f"{where}.type")
    fields: dict[str, Any] = {"kind": kind}
    if "cited_text" in c:
        fields["cited_text"] = c.pop("cited_text")
    for wire, attr, _ in _CITATIONS.get(kind, ()):
        if wire in c:
            fields[attr] = c.pop(wire)
    if kind in _DOCUMENT_CITATIONS and "file_id" in c:
        # Responses name the cited file; requests have no place for it.
        fields["file_id"] = c.pop("file_id")
    fields["details"] = c
    try:
        return Citation(**fields)
    except ValueError as e:
        raise FormatError(f"is not a valid citation: {e}", field=where) from None


def _image(b: Mapping[str, Any], where: str, extra: dict[str, Any]) -> ImagePart:
    source = expect_mapping(b.get("source"), f"{where}.source")
    kind = source.get("type")
    fields: dict[str, Any] = {}
    if not _plain_source(source, ("base64", "url", "file")):
        extra["source"] = dict(source)
    elif kind == "base64":
        fields["media_type"] = _str(source, "media_type", f"{where}.source")
        fields["data"] = _b64(source.get("data"), f"{where}.source.data")
    elif kind == "url":
        fields["url"] = _str(source, "url", f"{where}.source")
    else:
        fields["provider_file_id"] = _str(source, "file_id", f"{where}.source")
    return ImagePart(provider_metadata=_metadata(extra), **fields)


def _document(b: Mapping[str, Any], where: str, extra: dict[str, Any]) -> FilePart:
    source = expect_mapping(b.get("source"), f"{where}.source")
    kind = source.get("type")
    at = f"{where}.source"
    fields: dict[str, Any] = {}
    if kind == "content":
        # A document made of content blocks has no typed home: it is kept whole,
        # with its text in ``text`` for other formats.
        extra["source"] = dict(source)
        inner = source.get("content")
        if isinstance(inner, str):
            fields["text"] = inner
        elif isinstance(inner, list):
            fields["text"] = "\n".join(
                str(x.get("text", ""))
                for x in inner
                if isinstance(x, Mapping) and x.get("type") == "text"
            )
    elif not _plain_source(source, ("base64", "text", "url", "file")):
        extra["source"] = dict(source)
    elif kind == "base64":
        fields["mime_type"] = _str(source, "media_type", at)
        fields["data"] = _b64(source.get("data"), f"{at}.data")
    elif kind == "text":
        fields["mime_type"] = _str(source, "media_type", at)
        fields["text"] = _str(source, "data", at)
    elif kind == "url":
        fields["url"] = _str(source, "url", at)
    else:
        fields["provider_file_id"] = _str(source, "file_id", at)
    for key in ("title", "context"):
        value = b.get(key)
        if isinstance(value, str):
            fields[key] = value
        elif value is not None:
            raise FormatError("must be a string", field=f"{where}.{key}")
    cites = b.get("citations")
    if (
        isinstance(cites, Mapping)
        and set(cites) == {"enabled"}
        and isinstance(cites["enabled"], bool)
    ):
        fields["citations_enabled"] = cites["enabled"]
    elif cites is not None:
        extra["citations"] = cites
    return FilePart(provider_metadata=_metadata(extra), **fields)


def _plain_source(source: Mapping[str, Any], kinds: tuple[str, ...]) -> bool:
    """Whether ``source`` is one of ``kinds`` with exactly its keys (then typed
    fields hold it)."""
    kind = source.get("type")
    return kind in kinds and set(source) == _SOURCE_KEYS[kind]


def _usage(raw: Any) -> TokenUsage | None:
    """Token usage: the prompt counts every input token (fresh, read from the
    cache and written to it), as Anthropic's total input does."""
    if raw is None:
        return None
    u = expect_mapping(raw, "usage")

    def count(key: str) -> int | None:
        value = u.get(key)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise FormatError("must be a non-negative integer", field=f"usage.{key}")
        return value

    read = count("cache_read_input_tokens")
    written = count("cache_creation_input_tokens")
    prompt = (count("input_tokens") or 0) + (read or 0) + (written or 0)
    completion = count("output_tokens") or 0
    details = u.get("output_tokens_details")
    thinking = details.get("thinking_tokens") if isinstance(details, Mapping) else None
    return TokenUsage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        cached_input_tokens=read,
        cache_write_tokens=written,
        reasoning_tokens=thinking if isinstance(thinking, int) else None,
    )


def _extra(b: Mapping[str, Any], typed: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in b.items() if k not in typed}


def _metadata(extra: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {PROVIDER: extra} if extra else {}


def _str(b: Mapping[str, Any], key: str, where: str) -> str:
    value = b.get(key)
    if not isinstance(value, str):
        problem = "is missing" if value is None else "must be a string"
        raise FormatError(problem, field=f"{where}.{key}")
    return value


def _id(b: Mapping[str, Any], key: str, where: str) -> str:
    value = _str(b, key, where)
    if not value:
        raise FormatError("must not be empty", field=f"{where}.{key}")
    return value


def _b64(value: Any, where: str) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if not isinstance(value, str):
        raise FormatError("must be base64 text", field=where)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise FormatError("must be standard base64 text", field=where) from None


# writing ---------------------------------------------------------------------


@dataclass
class _Run:
    """Consecutive blocks of one role: one Anthropic message once merged."""

    role: str
    blocks: list[dict[str, Any]]
    #: Whether the run stays even when empty (a message with no content).
    keep_empty: bool = False


def to_anthropic(
    messages: Iterable[Message],
    *,
    report: DropReport | None = None,
    attachments: AttachmentResolver | None = None,
) -> dict[str, Any]:
    """``messages`` as an Anthropic request history: ``{"system": [...],
    "messages": [...]}``, ``system`` left out when there is none.

    The system messages before the first other message form ``system``; a
    later one stays in place as a ``system``-role message. Consecutive
    messages of one role are merged, tool results (of tool-role or user
    messages) go to the user turn right after their call, ahead of its other
    blocks, and content is always a list of blocks. What Anthropic cannot hold
    goes to ``report`` (or a :class:`DroppedContentWarning` without one).
    """
    rep, owned = own_report(report, FORMAT)
    out = _Writer(rep, attachments).write(list(messages))
    warn_dropped(rep, owned)
    return out


@dataclass
class _Writer:
    report: DropReport
    attachments: AttachmentResolver | None
    runs: list[_Run] = field(default_factory=list)
    #: The ids of the calls the conversation makes, which results must answer.
    calls: set[str] = field(default_factory=set)

    def write(self, messages: list[Message]) -> dict[str, Any]:
        self.calls = {p.tool_call_id for m in messages for p in m.tool_calls}
        system: list[dict[str, Any]] = []
        leading = True
        for i, m in enumerate(messages):
            if m.name is not None and m.role is not Role.TOOL:
                self.drop(i, m, None, "name", "Anthropic messages have no author name")
            if m.role is Role.SYSTEM:
                blocks = self.system_blocks(i, m)
                if leading:
                    system.extend(blocks)
                elif blocks:
                    self.add("system", blocks, keep_empty=False)
                continue
            leading = False
            self.message(i, m)
        runs = _merge(_group_results(self.runs))
        payload: dict[str, Any] = {}
        if system:
            payload["system"] = system
        payload["messages"] = [{"role": r.role, "content": r.blocks} for r in runs]
        return payload

    def add(self, role: str, blocks: list[dict[str, Any]], *, keep_empty: bool) -> None:
        if self.runs and self.runs[-1].role == role:
            self.runs[-1].blocks.extend(blocks)
            self.runs[-1].keep_empty = self.runs[-1].keep_empty or keep_empty
        else:
            self.runs.append(_Run(role, blocks, keep_empty))

    def drop(self, i: int, m: Message, j: int | None, what: str, reason: str) -> None:
        self.report.add(i, m, j, what, reason)

    def unheld(self, i: int, m: Message, j: int, p: Any, kind: str, names: Iterable[str]) -> None:
        """Report each field of ``names`` that ``p`` sets: Anthropic has no place
        for it."""
        for name in names:
            if getattr(p, name) not in (None, "", [], False):
                self.drop(i, m, j, f"{kind}.{name}", "Anthropic has no place for it")

    def options(self, i: int, m: Message, j: int, p: Any, block: str) -> dict[str, Any]:
        """The Anthropic options of ``p`` that a ``block`` takes (keys in
        snake_case); any other is reported."""
        out: dict[str, Any] = {}
        for key, value in p.provider_metadata.get(PROVIDER, {}).items():
            name = _snake(key)
            if name in _OPTIONS[block]:
                out[name] = value
            else:
                self.drop(
                    i, m, j, f"{p.type}.provider_metadata", f"{key!r} is not an option of {block}"
                )
        return out

    def system_blocks(self, i: int, m: Message) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        for j, p in enumerate(_parts(m)):
            if isinstance(p, TextPart):
                blocks.append(self.text(i, m, j, p))
            else:
                self.drop(i, m, j, p.type, "an Anthropic system prompt holds text only")
        return blocks

    def message(self, i: int, m: Message) -> None:
        parts = _parts(m)
        role = "assistant" if m.role is Role.ASSISTANT else "user"
        if not parts:
            self.add(role, [], keep_empty=True)
            return
        indexed = list(enumerate(parts))
        if m.role is Role.TOOL and not any(isinstance(p, ToolResultPart) for p in parts):
            pieces = [(j, p) for j, p in indexed if isinstance(p, _PIECES)]
            if pieces:
                self.tool_message(i, m, pieces)
            indexed = [(j, p) for j, p in indexed if not isinstance(p, _PIECES)]
        for j, p in indexed:
            block = self.block(i, m, j, p)
            if block is not None:
                self.add(
                    "user" if isinstance(p, ToolResultPart) else role, [block], keep_empty=False
                )

    def tool_message(self, i: int, m: Message, pieces: list[tuple[int, Any]]) -> None:
        """A tool message without tool-result parts: its text, images and files
        are the result of the call ``tool_call_id``."""
        if not m.tool_call_id:
            self.drop(i, m, None, "tool-message", "a tool result needs the id of its call")
            return
        if m.tool_call_id not in self.calls:
            self.drop(i, m, None, "tool-message", "the call it answers is not in the conversation")
            return
        block: dict[str, Any] = {"type": "tool_result", "tool_use_id": m.tool_call_id}
        if all(isinstance(p, TextPart) for _, p in pieces):
            block["content"] = m.content or "\n".join(p.text for _, p in pieces)
        else:
            block["content"] = self.result_items(i, m, pieces)
        self.add("user", [block], keep_empty=False)

    def block(self, i: int, m: Message, j: int, p: Any) -> dict[str, Any] | None:
        """The block a part becomes, or ``None`` when Anthropic cannot hold it
        (then it is reported)."""
        if isinstance(p, TextPart):
            return self.text(i, m, j, p)
        if isinstance(p, ReasoningPart):
            return self.reasoning(i, m, j, p)
        if isinstance(p, ToolCallPart):
            return self.tool_call(i, m, j, p)
        if isinstance(p, ToolResultPart):
            if p.tool_call_id not in self.calls:
                self.drop(i, m, j, "tool-result", "the call it answers is not in the conversation")
                return None
            return self.tool_result(i, m, j, p)
        if isinstance(p, ImagePart):
            return self.image(i, m, j, p)
        if isinstance(p, FilePart):
            return self.document(i, m, j, p)
        if isinstance(p, RefusalPart):
            # A refusal is text the model wrote; Anthropic has no refusal block.
            return {"type": "text", "text": p.text, **self.options(i, m, j, p, "text")}
        if isinstance(p, HostedToolPart):
            if p.provider != FORMAT:
                self.drop(
                    i, m, j, "hosted-tool", f"a tool hosted by {p.provider} cannot be replayed"
                )
                return None
            return dict(p.payload)
        if isinstance(p, DataPart):
            self.drop(i, m, j, "data", "application data is not sent to models")
        elif isinstance(p, AudioPart):
            self.drop(i, m, j, "audio", "Anthropic messages take no audio")
        elif isinstance(p, SourcePart):
            self.drop(i, m, j, "source", "Anthropic has no source block (citations live on text)")
        elif isinstance(p, CodePart):
            self.drop(i, m, j, "code", "Anthropic has no code block outside its hosted tools")
        return None

    def text(self, i: int, m: Message, j: int, p: TextPart) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "text", "text": p.text}
        citations = [_write_citation(c) for c in p.citations if c.kind in _CITATIONS]
        if len(citations) < len(p.citations):
            self.drop(
                i, m, j, "text.citations", "Anthropic citations are document and search locations"
            )
        if any(c.file_id is not None for c in p.citations if c.kind in _CITATIONS):
            self.drop(i, m, j, "citation.file_id", "Anthropic requests do not name cited files")
        if citations:
            out["citations"] = citations
        out.update(self.options(i, m, j, p, "text"))
        self.unheld(i, m, j, p, "text", ("provider_id", "status", "signature"))
        return out

    def reasoning(self, i: int, m: Message, j: int, p: ReasoningPart) -> dict[str, Any] | None:
        if _foreign(m):
            self.drop(
                i,
                m,
                j,
                "reasoning",
                f"reasoning of {m.metadata.provider} cannot be sent to Anthropic",
            )
            return None
        options = self.options(i, m, j, p, "redacted_thinking" if p.redacted else "thinking")
        if p.redacted:
            if p.encrypted_content is None:
                self.drop(
                    i, m, j, "reasoning", "redacted reasoning without its data cannot be sent"
                )
                return None
            self.unheld(
                i, m, j, p, "reasoning", ("text", "summary", "signature", "provider_id", "status")
            )
            return {"type": "redacted_thinking", "data": p.encrypted_content, **options}
        if p.signature is None:
            self.drop(i, m, j, "reasoning", "Anthropic takes back thinking only with its signature")
            return None
        self.unheld(
            i, m, j, p, "reasoning", ("summary", "encrypted_content", "provider_id", "status")
        )
        return {"type": "thinking", "thinking": p.text, "signature": p.signature, **options}

    def tool_call(self, i: int, m: Message, j: int, p: ToolCallPart) -> dict[str, Any]:
        args = p.args
        if not isinstance(args, dict):
            if args is not None or p.args_text:
                self.drop(i, m, j, "tool-call.args", "Anthropic tool input must be a JSON object")
            args = {}
        self.unheld(i, m, j, p, "tool-call", ("tool_kind", "provider_id", "status", "signature"))
        return {
            "type": "tool_use",
            "id": p.tool_call_id,
            "name": p.tool_name,
            "input": args,
            **self.options(i, m, j, p, "tool_use"),
        }

    def tool_result(self, i: int, m: Message, j: int, p: ToolResultPart) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "tool_result", "tool_use_id": p.tool_call_id}
        options = self.options(i, m, j, p, "tool_result")
        kept = options.pop("content", None)
        if kept is not None:
            out["content"] = kept
        elif p.content:
            items: list[dict[str, Any]] = []
            if p.result is not None:
                text = p.result if isinstance(p.result, str) else compact_json(p.result)
                items.append({"type": "text", "text": text})
            items.extend(self.result_items(i, m, [(j, x) for x in p.content]))
            out["content"] = items
        elif isinstance(p.result, str):
            out["content"] = p.result
        elif p.result is not None:
            out["content"] = compact_json(p.result)
        if p.is_error:
            out["is_error"] = True
        out.update(options)
        self.unheld(i, m, j, p, "tool-result", ("provider_id", "status"))
        return out

    def result_items(
        self, i: int, m: Message, parts: list[tuple[int, Any]]
    ) -> list[dict[str, Any]]:
        """The content blocks of a tool result: text, images and documents."""
        items: list[dict[str, Any]] = []
        for j, x in parts:
            if isinstance(x, TextPart):
                items.append(self.text(i, m, j, x))
                continue
            block = None
            if isinstance(x, ImagePart):
                block = self.image(i, m, j, x)
            elif isinstance(x, FilePart):
                block = self.document(i, m, j, x)
            else:
                self.drop(
                    i,
                    m,
                    j,
                    f"tool-result.content.{x.type}",
                    "Anthropic tool results take text, images and documents",
                )
            if block is not None:
                items.append(block)
        return items

    def image(self, i: int, m: Message, j: int, p: ImagePart) -> dict[str, Any] | None:
        options = self.options(i, m, j, p, "image")
        source = options.pop("source", None) or self.image_source(p)
        if source is None:
            self.drop(
                i, m, j, "image", "neither its bytes, a URL nor an Anthropic file id is available"
            )
            return None
        self.unheld(i, m, j, p, "image", ("alt_text", "detail"))
        return {"type": "image", "source": source, **options}

    def image_source(self, p: ImagePart) -> dict[str, Any] | None:
        data = part_bytes(p, self.attachments)
        media_type = p.media_type
        if data is None and p.url is not None and p.url.startswith("data:"):
            media_type, data = _data_url(p.url, media_type)
        if data is not None:
            media_type = media_type or _sniff_image(data)
            if media_type is None:
                return None
            return {"type": "base64", "media_type": media_type, "data": _b64text(data)}
        if p.url is not None:
            return {"type": "url", "url": p.url}
        if p.provider_file_id is not None and "://" not in p.provider_file_id:
            # A URI is a Gemini file, which Anthropic cannot read.
            return {"type": "file", "file_id": p.provider_file_id}
        return None

    def document(self, i: int, m: Message, j: int, p: FilePart) -> dict[str, Any] | None:
        options = self.options(i, m, j, p, "document")
        source = options.pop("source", None) or self.document_source(p)
        if source is None:
            self.drop(
                i,
                m,
                j,
                "file",
                "Anthropic documents are PDF or plain text, by bytes, URL or file id",
            )
            return None
        out: dict[str, Any] = {"type": "document", "source": source}
        title = p.title if p.title is not None else (p.filename or None)
        if title is not None:
            out["title"] = title
        if p.context is not None:
            out["context"] = p.context
        if p.citations_enabled is not None:
            out["citations"] = {"enabled": p.citations_enabled}
        out.update(options)
        if p.title is not None:
            self.unheld(i, m, j, p, "file", ("filename",))
        return out

    def document_source(self, p: FilePart) -> dict[str, Any] | None:
        if p.text is not None:
            return {"type": "text", "media_type": "text/plain", "data": p.text}
        data = part_bytes(p, self.attachments)
        mime = p.mime_type
        if data is None and p.url is not None and p.url.startswith("data:"):
            found, data = _data_url(p.url, mime or None)
            mime = found or ""
        if data is not None:
            if mime == "application/pdf" or (not mime and data.startswith(b"%PDF")):
                return {"type": "base64", "media_type": "application/pdf", "data": _b64text(data)}
            if mime.startswith("text/"):
                try:
                    return {
                        "type": "text",
                        "media_type": "text/plain",
                        "data": data.decode("utf-8"),
                    }
                except UnicodeDecodeError:
                    return None
            return None
        if p.url is not None:
            return {"type": "url", "url": p.url}
        if p.provider_file_id is not None and "://" not in p.provider_file_id:
            # A URI is a Gemini file, which Anthropic cannot read.
            return {"type": "file", "file_id": p.provider_file_id}
        return None


def _snake(key: str) -> str:
    """``cacheControl`` as ``cache_control`` (other formats spell options in
    camelCase)."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key).lower()


#: The parts that make up a tool's result.
_PIECES = (TextPart, ImagePart, FilePart, AudioPart)


def _parts(m: Message) -> list[Any]:
    """A message's parts; its ``content`` as one text part when it has none."""
    if m.parts:
        return list(m.parts)
    return [TextPart(text=m.content)] if m.content else []


def _foreign(m: Message) -> bool:
    """Whether the message came from another provider's model (its reasoning and
    signatures are not Anthropic's)."""
    return m.metadata.provider is not None and m.metadata.provider != PROVIDER


def _write_citation(c: Citation) -> dict[str, Any]:
    out: dict[str, Any] = {"type": c.kind}
    if c.cited_text is not None:
        out["cited_text"] = c.cited_text
    for wire, attr, always in _CITATIONS[c.kind]:
        value = getattr(c, attr)
        if value is not None or always:
            out[wire] = value
    out.update(c.details)
    return out


def _is_result(block: Mapping[str, Any]) -> bool:
    return block.get("type") == "tool_result"


def _group_results(runs: list[_Run]) -> list[_Run]:
    """``runs`` with every tool result in the user run right after the
    assistant run of its call (when it sits later), and first in its run."""
    merged = _merge(runs)
    calls: dict[str, int] = {}
    for k, run in enumerate(merged):
        if run.role == "assistant":
            for b in run.blocks:
                if b.get("type") == "tool_use" and isinstance(b.get("id"), str):
                    calls[b["id"]] = k
    moved: dict[int, list[dict[str, Any]]] = {}
    for k, run in enumerate(merged):
        if run.role != "user":
            continue
        kept: list[dict[str, Any]] = []
        for b in run.blocks:
            home = calls.get(b.get("tool_use_id", "")) if _is_result(b) else None
            if home is not None and home + 1 < k and merged[home + 1].role == "user":
                moved.setdefault(home + 1, []).append(b)
            else:
                kept.append(b)
        if len(kept) < len(run.blocks) and not kept:
            run.keep_empty = False
        run.blocks = kept
    for k, blocks in moved.items():
        merged[k].blocks.extend(blocks)
    for run in merged:
        if run.role == "user":
            run.blocks = [b for b in run.blocks if _is_result(b)] + [
                b for b in run.blocks if not _is_result(b)
            ]
    return [r for r in merged if r.blocks or r.keep_empty]


def _merge(runs: list[_Run]) -> list[_Run]:
    """``runs`` with consecutive runs of one role joined."""
    out: list[_Run] = []
    for run in runs:
        if out and out[-1].role == run.role:
            out[-1].blocks.extend(run.blocks)
            out[-1].keep_empty = out[-1].keep_empty or run.keep_empty
        else:
            out.append(_Run(run.role, list(run.blocks), run.keep_empty))
    return out


def _b64text(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _data_url(url: str, media_type: str | None) -> tuple[str | None, bytes | None]:
    """The media type and bytes of a base64 ``data:`` URL (``None`` bytes when
    it is not one)."""
    head, sep, body = url[5:].partition(",")
    if not sep or not head.endswith(";base64"):
        return media_type, None
    try:
        data = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return media_type, None
    return media_type or head[: -len(";base64")] or None, data


def _sniff_image(data: bytes) -> str | None:
    """The media type of image bytes, from their first bytes."""
    for magic, media_type in _IMAGE_MAGIC:
        if data.startswith(magic):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None
