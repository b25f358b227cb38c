"""OpenAI Chat Completions (``openai-chat``): a list of message params in and
out, plus the ``ChatCompletion`` response in.

:func:`from_openai_chat` reads a list of messages, a request body with
``messages`` or a chat completion (a dict or the SDK's ``ChatCompletion``);
:func:`to_openai_chat` writes the list of messages a request sends. The
private helpers for data URLs, audio formats and per-part options are shared
with :mod:`convostore.formats.openai_responses`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import JsonValue

from convostore.formats._common import (
    AttachmentResolver,
    DropReport,
    FormatError,
    args_from_text,
    args_to_text,
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
    ProviderMetadata,
    ReasoningPart,
    RefusalPart,
    Role,
    SourcePart,
    TextPart,
    TokenUsage,
    ToolCallPart,
    ToolResultPart,
)

__all__ = ["from_openai_chat", "to_openai_chat"]

_FORMAT = "openai-chat"
#: ``MessageMetadata.provider`` of messages read from OpenAI responses, and the
#: key of OpenAI's options in ``provider_metadata`` (shared by both OpenAI formats).
_PROVIDER = "openai"
#: The legacy ``function_call`` of an assistant message and its ``function``
#: message, as a tool kind.
_LEGACY = "function_call"

#: Per-part options of a content part that Chat keeps as they are.
_PART_OPTIONS = ("prompt_cache_breakpoint",)

_FINISH = {
    "stop": FinishReason.STOP,
    "length": FinishReason.LENGTH,
    "tool_calls": FinishReason.TOOL_CALLS,
    "function_call": FinishReason.TOOL_CALLS,
    "content_filter": FinishReason.CONTENT_FILTER,
}

# ---------------------------------------------------------------------------
# helpers shared with openai_responses


def _at(where: str, key: str) -> str:
    """The path of ``key`` inside ``where``."""
    return f"{where}.{key}" if where else key


def _str(obj: Mapping[str, Any], key: str, where: str) -> str:
    """``obj[key]``, which must be a string."""
    value = obj.get(key)
    if not isinstance(value, str):
        problem = (
            "is required" if value is None else f"must be a string, not {type(value).__name__}"
        )
        raise FormatError(problem, field=_at(where, key))
    return value


def _opt_str(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    """``obj[key]`` when it is a string, ``None`` when absent or null."""
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise FormatError(f"must be a string, not {type(value).__name__}", field=_at(where, key))


def _id(obj: Mapping[str, Any], key: str, where: str) -> str:
    """``obj[key]``, a non-empty string (a call id)."""
    value = _str(obj, key, where)
    if not value:
        raise FormatError("must not be empty", field=_at(where, key))
    return value


def _count(obj: Mapping[str, Any], key: str, where: str) -> int | None:
    """``obj[key]``, a token count; ``None`` when absent."""
    value = obj.get(key)
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return value
    raise FormatError("must be a non-negative integer", field=_at(where, key))


def _kind(obj: Mapping[str, Any], where: str) -> str:
    """The ``type`` of a content part."""
    return _str(obj, "type", where)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, where: str) -> bytes:
    """The bytes of standard base64 ``text``."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise FormatError("must be standard base64 text", field=where) from None


_DATA_URL = re.compile(r"data:([^;,]+);base64,(.*)", re.S)


def _split_data_url(url: str) -> tuple[str, bytes] | None:
    """``(media type, bytes)`` of a base64 ``data:`` URL that :func:`_data_url`
    writes back exactly; ``None`` for any other URL (kept as a URL)."""
    match = _DATA_URL.fullmatch(url)
    if match is None:
        return None
    try:
        data = base64.b64decode(match.group(2), validate=True)
    except (binascii.Error, ValueError):
        return None
    media_type = match.group(1)
    return (media_type, data) if _data_url(media_type, data) == url else None


def _data_url(media_type: str, data: bytes) -> str:
    return f"data:{media_type};base64,{_b64(data)}"


_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
)


def _image_type(part: ImagePart, data: bytes) -> str | None:
    """The media type of an image's bytes: the part's own, else read from the
    first bytes (PNG, JPEG, GIF, WebP); ``None`` when neither says."""
    if part.media_type:
        return part.media_type
    for magic, media_type in _IMAGE_MAGIC:
        if data.startswith(magic):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


#: OpenAI's audio formats and their media types.
_AUDIO_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg"}
_AUDIO_FORMATS = {
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
}


def _audio_media_type(fmt: str) -> str:
    return _AUDIO_TYPES.get(fmt, f"audio/{fmt}")


def _options(part: Any) -> dict[str, JsonValue]:
    """The OpenAI options of a part (``provider_metadata["openai"]``)."""
    meta: ProviderMetadata = part.provider_metadata
    return meta.get(_PROVIDER, {})


def _keep_options(raw: Mapping[str, Any], keys: Iterable[str]) -> ProviderMetadata:
    """``provider_metadata`` holding the keys of ``raw`` among ``keys``."""
    kept = {k: raw[k] for k in keys if k in raw and raw[k] is not None}
    return {_PROVIDER: kept} if kept else {}


def _put_options(out: dict[str, Any], part: Any, keys: Iterable[str]) -> None:
    """Writes the part's OpenAI options among ``keys`` into ``out``."""
    opts = _options(part)
    for key in keys:
        if key in opts:
            out[key] = opts[key]


def _report_options(
    rep: DropReport,
    i: int,
    msg: Message,
    j: int | None,
    part: Any,
    used: Sequence[str],
    target: str,
) -> None:
    """Reports the OpenAI options of ``part`` that ``target`` has no place for."""
    for key in _options(part):
        if key not in used and key != "tool_kind":
            rep.add(i, msg, j, f"provider_metadata.openai.{key}", f"{target} has no place for it")


def _report_extras(
    rep: DropReport, i: int, msg: Message, j: int | None, part: Any, target: str
) -> None:
    """Reports the fields of ``part`` other providers set that no OpenAI
    format holds (signatures, document options, alt text)."""
    signature = getattr(part, "signature", None)
    if signature is not None:
        kind = str(part.type)
        rep.add(i, msg, j, f"{kind}.signature", f"{target} takes no signatures of other providers")
    if isinstance(part, FilePart):
        for name in ("title", "context", "citations_enabled"):
            if getattr(part, name) is not None:
                rep.add(i, msg, j, f"file.{name}", f"{target} file inputs have no {name}")
    if isinstance(part, ImagePart) and part.alt_text is not None:
        rep.add(i, msg, j, "image.alt_text", f"{target} images have no alt text")


def _url_citation(raw: Mapping[str, Any], where: str) -> Citation:
    """A Chat ``url_citation`` annotation as a citation."""
    if raw.get("type") != "url_citation":
        raise FormatError(f"unknown annotation type {raw.get('type')!r}", field=f"{where}.type")
    at = f"{where}.url_citation"
    body = expect_mapping(raw.get("url_citation"), at)
    return Citation(
        kind="url_citation",
        url=_opt_str(body, "url", at),
        title=_opt_str(body, "title", at),
        start_index=_count(body, "start_index", at),
        end_index=_count(body, "end_index", at),
    )


def _what(part: Any) -> str:
    """A part's type, as a drop report names it."""
    return str(part.type)


# ---------------------------------------------------------------------------
# from_openai_chat


def from_openai_chat(payload: Any) -> list[Message]:
    """Messages from a Chat Completions payload.

    ``payload`` is a list of message params, a request body with
    ``messages``, or a chat completion (dict or SDK ``ChatCompletion``), of
    which the first choice becomes one assistant message with its metadata.

    Raises:
        FormatError: when the payload is not in the Chat Completions shape;
            ``field`` names where (``messages[2].content[0].type``).
    """
    payload = dump(payload)
    if isinstance(payload, Mapping):
        if "choices" in payload:
            return [_from_completion(payload)]
        if "messages" in payload:
            raw = expect_list(payload["messages"], "messages")
        else:
            raise FormatError(
                "expected a list of messages, a request body with messages or a chat completion",
                field="messages",
            )
    else:
        raw = expect_list(payload, "messages")
    return [_from_message(m, f"messages[{n}]") for n, m in enumerate(raw)]


def _from_completion(resp: Mapping[str, Any]) -> Message:
    """The assistant message of a chat completion's first choice, with the
    response's model, id, usage and finish reason as metadata."""
    choices = expect_list(resp.get("choices"), "choices")
    if not choices:
        raise FormatError("a chat completion needs at least one choice", field="choices")
    choice = expect_mapping(choices[0], "choices[0]")
    msg = _from_message(choice.get("message"), "choices[0].message")
    if msg.role is not Role.ASSISTANT:
        raise FormatError("must be an assistant message", field="choices[0].message.role")
    raw_finish = _opt_str(choice, "finish_reason", "choices[0]")
    meta = MessageMetadata(
        model=_opt_str(resp, "model", ""),
        provider=_PROVIDER,
        response_id=_opt_str(resp, "id", ""),
        token_usage=_usage(resp.get("usage")),
        finish_reason=None if raw_finish is None else _FINISH.get(raw_finish, FinishReason.OTHER),
        provider_finish_reason=raw_finish,
    )
    return msg.model_copy(update={"metadata": meta})


def _usage(
    raw: Any, input_name: str = "prompt", output_name: str = "completion"
) -> TokenUsage | None:
    """OpenAI ``usage`` as token usage; ``None`` when not reported. Chat names
    its counts ``prompt``/``completion``, Responses ``input``/``output``."""
    if raw is None:
        return None
    usage = expect_mapping(raw, "usage")
    at_in, at_out = f"usage.{input_name}_tokens_details", f"usage.{output_name}_tokens_details"
    inputs = expect_mapping(usage.get(f"{input_name}_tokens_details") or {}, at_in)
    outputs = expect_mapping(usage.get(f"{output_name}_tokens_details") or {}, at_out)
    return TokenUsage(
        prompt_tokens=_count(usage, f"{input_name}_tokens", "usage") or 0,
        completion_tokens=_count(usage, f"{output_name}_tokens", "usage") or 0,
        total_tokens=_count(usage, "total_tokens", "usage") or 0,
        cached_input_tokens=_count(inputs, "cached_tokens", at_in),
        cache_write_tokens=_count(inputs, "cache_write_tokens", at_in),
        reasoning_tokens=_count(outputs, "reasoning_tokens", at_out),
    )


def _from_message(raw: Any, where: str) -> Message:
    m = expect_mapping(raw, where)
    role = _str(m, "role", where)
    name = _opt_str(m, "name", where)
    if role in ("system", "developer"):
        parts = _content(m.get("content"), f"{where}.content", _text_only)
        provider_role = "developer" if role == "developer" else None
        return Message(role=Role.SYSTEM, provider_role=provider_role, name=name, parts=parts)
    if role == "user":
        parts = _content(m.get("content"), f"{where}.content", _user_part)
        return Message(role=Role.USER, name=name, parts=parts)
    if role == "assistant":
        return Message(role=Role.ASSISTANT, name=name, parts=_assistant_parts(m, where))
    if role == "tool":
        call_id = _id(m, "tool_call_id", where)
        content = m.get("content")
        if isinstance(content, str):
            result = ToolResultPart(tool_call_id=call_id, result=content)
        else:
            texts = _texts(content, f"{where}.content")
            result = ToolResultPart(tool_call_id=call_id, content=list(texts))
        return Message(role=Role.TOOL, tool_call_id=call_id, parts=[result])
    if role == "function":
        fn = _id(m, "name", where)
        text = _opt_str(m, "content", where)
        result = ToolResultPart(tool_call_id=fn, tool_name=fn, result=text)
        return Message(
            role=Role.TOOL, provider_role="function", name=fn, tool_call_id=fn, parts=[result]
        )
    raise FormatError(f"unknown role {role!r}", field=f"{where}.role")


def _content(raw: Any, where: str, read: Callable[[Mapping[str, Any], str], Part]) -> list[Part]:
    """The parts of a ``content`` that is a string or a list of content parts,
    each read by ``read(part, where)``."""
    if isinstance(raw, str):
        return [TextPart(text=raw)]
    items = expect_list(raw, where)
    return [read(expect_mapping(p, f"{where}[{n}]"), f"{where}[{n}]") for n, p in enumerate(items)]


def _texts(raw: Any, where: str) -> list[TextPart]:
    """The text parts of a list of ``text`` content parts."""
    items = expect_list(raw, where)
    return [
        _text_only(expect_mapping(p, f"{where}[{n}]"), f"{where}[{n}]") for n, p in enumerate(items)
    ]


def _text_only(p: Mapping[str, Any], where: str) -> TextPart:
    kind = _kind(p, where)
    if kind != "text":
        raise FormatError(f"must be a text part, not {kind!r}", field=f"{where}.type")
    return _text_part(p, where)


def _text_part(p: Mapping[str, Any], where: str) -> TextPart:
    return TextPart(text=_str(p, "text", where), provider_metadata=_keep_options(p, _PART_OPTIONS))


def _user_part(p: Mapping[str, Any], where: str) -> Part:
    kind = _kind(p, where)
    options = _keep_options(p, _PART_OPTIONS)
    if kind == "text":
        return _text_part(p, where)
    if kind == "image_url":
        body = expect_mapping(p.get("image_url"), f"{where}.image_url")
        url = _str(body, "url", f"{where}.image_url")
        detail = _opt_str(body, "detail", f"{where}.image_url")
        inline = _split_data_url(url)
        if inline is not None:
            return ImagePart(
                data=inline[1], media_type=inline[0], detail=detail, provider_metadata=options
            )
        return ImagePart(url=url, detail=detail, provider_metadata=options)
    if kind == "input_audio":
        body = expect_mapping(p.get("input_audio"), f"{where}.input_audio")
        data = _unb64(_str(body, "data", f"{where}.input_audio"), f"{where}.input_audio.data")
        fmt = _str(body, "format", f"{where}.input_audio")
        return AudioPart(data=data, media_type=_audio_media_type(fmt), provider_metadata=options)
    if kind == "file":
        body = expect_mapping(p.get("file"), f"{where}.file")
        return _file_part(
            file_data=_opt_str(body, "file_data", f"{where}.file"),
            file_id=_opt_str(body, "file_id", f"{where}.file"),
            filename=_opt_str(body, "filename", f"{where}.file"),
            where=f"{where}.file.file_data",
            provider_metadata=options,
        )
    raise FormatError(f"unknown content part type {kind!r}", field=f"{where}.type")


def _file_part(
    *,
    file_data: str | None,
    file_id: str | None,
    filename: str | None,
    where: str,
    url: str | None = None,
    provider_metadata: ProviderMetadata | None = None,
) -> FilePart:
    """A file input: ``file_data`` as a data URL or bare base64 becomes the
    part's bytes (a data URL that would not read back the same stays a URL)."""
    fields: dict[str, Any] = {
        "filename": filename or "",
        "provider_file_id": file_id,
        "provider_metadata": provider_metadata or {},
    }
    if file_data is not None:
        inline = _split_data_url(file_data)
        if inline is not None:
            fields["mime_type"], fields["data"] = inline
        elif file_data.startswith("data:"):
            url = file_data
        else:
            fields["data"] = _unb64(file_data, where)
    return FilePart(url=url, **fields)


def _assistant_parts(m: Mapping[str, Any], where: str) -> list[Part]:
    parts: list[Part] = []
    content = m.get("content")
    if isinstance(content, str):
        parts.append(TextPart(text=content, citations=_annotations(m, where)))
    elif content is not None:
        parts.extend(_content(content, f"{where}.content", _assistant_part))
    refusal = _opt_str(m, "refusal", where)
    if refusal is not None:
        parts.append(RefusalPart(text=refusal))
    audio = m.get("audio")
    if audio is not None:
        parts.append(_assistant_audio(expect_mapping(audio, f"{where}.audio"), f"{where}.audio"))
    calls = m.get("tool_calls")
    if calls is not None:
        for n, call in enumerate(expect_list(calls, f"{where}.tool_calls")):
            at = f"{where}.tool_calls[{n}]"
            parts.append(_tool_call(expect_mapping(call, at), at))
    legacy = m.get("function_call")
    if legacy is not None:
        fn = expect_mapping(legacy, f"{where}.function_call")
        name = _id(fn, "name", f"{where}.function_call")
        args, args_text = args_from_text(_str(fn, "arguments", f"{where}.function_call"))
        parts.append(
            ToolCallPart(
                tool_call_id=name, tool_name=name, args=args, args_text=args_text, tool_kind=_LEGACY
            )
        )
    return parts


def _annotations(m: Mapping[str, Any], where: str) -> list[Citation]:
    raw = m.get("annotations")
    if raw is None:
        return []
    items = expect_list(raw, f"{where}.annotations")
    return [
        _url_citation(expect_mapping(a, f"{where}.annotations[{n}]"), f"{where}.annotations[{n}]")
        for n, a in enumerate(items)
    ]


def _assistant_part(p: Mapping[str, Any], where: str) -> Part:
    kind = _kind(p, where)
    if kind == "text":
        return _text_part(p, where)
    if kind == "refusal":
        return RefusalPart(text=_str(p, "refusal", where))
    raise FormatError(f"must be a text or refusal part, not {kind!r}", field=f"{where}.type")


def _assistant_audio(a: Mapping[str, Any], where: str) -> AudioPart:
    """The audio of an assistant message: its id (by which it is sent back),
    and in a response the bytes and transcript too."""
    data = _opt_str(a, "data", where)
    return AudioPart(
        provider_id=_id(a, "id", where),
        data=None if data is None else _unb64(data, f"{where}.data"),
        transcript=_opt_str(a, "transcript", where),
    )


def _tool_call(c: Mapping[str, Any], where: str) -> ToolCallPart:
    call_id = _id(c, "id", where)
    kind = c.get("type", "function")
    if kind == "function":
        fn = expect_mapping(c.get("function"), f"{where}.function")
        args, args_text = args_from_text(_str(fn, "arguments", f"{where}.function"))
        return ToolCallPart(
            tool_call_id=call_id,
            tool_name=_str(fn, "name", f"{where}.function"),
            args=args,
            args_text=args_text,
        )
    if kind == "custom":
        custom = expect_mapping(c.get("custom"), f"{where}.custom")
        return ToolCallPart(
            tool_call_id=call_id,
            tool_name=_str(custom, "name", f"{where}.custom"),
            args=_str(custom, "input", f"{where}.custom"),
            tool_kind="custom",
        )
    raise FormatError(f"unknown tool call type {kind!r}", field=f"{where}.type")


# ---------------------------------------------------------------------------
# to_openai_chat


@dataclass
class _Assistant:
    """An assistant message being written, from one or more messages."""

    name: str | None
    content: list[dict[str, Any]] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    function_call: dict[str, Any] | None = None
    audio: str | None = None


def to_openai_chat(
    messages: Iterable[Message],
    *,
    report: DropReport | None = None,
    attachments: AttachmentResolver | None = None,
) -> list[dict[str, Any]]:
    """``messages`` as the ``messages`` of a Chat Completions request.

    The parts of one assistant message make one assistant message (its
    parallel calls one ``tool_calls`` list); each tool result makes one tool
    message, including the tool results of user messages. What Chat cannot
    hold (reasoning, hosted tools, images in tool results...) is listed in
    ``report``, or warned about with a ``DroppedContentWarning`` without one.
    """
    rep, owned = own_report(report, _FORMAT)
    writer = _ChatWriter(rep, attachments)
    for i, msg in enumerate(messages):
        writer.message(i, msg)
    writer.close()
    warn_dropped(rep, owned)
    return writer.out


class _ChatWriter:
    """Writes messages one at a time; an assistant message stays open while
    the next message may still join it (see :meth:`assistant`)."""

    def __init__(self, rep: DropReport, attachments: AttachmentResolver | None) -> None:
        self.rep = rep
        self.attachments = attachments
        self.out: list[dict[str, Any]] = []
        self.open: _Assistant | None = None

    def close(self) -> None:
        """Writes the open assistant message, if any."""
        if self.open is not None:
            self.out.append(_render_assistant(self.open))
            self.open = None

    def message(self, i: int, msg: Message) -> None:
        parts = _parts_of(msg)
        if msg.role is Role.ASSISTANT:
            self.assistant(i, msg, parts)
            return
        self.close()
        if msg.role is Role.TOOL:
            self.tool(i, msg, parts)
        else:
            self.user_or_system(i, msg, parts)

    # -- assistant ----------------------------------------------------------

    def assistant(self, i: int, msg: Message, parts: list[Part]) -> None:
        # An assistant message whose calls have no results yet takes the next
        # assistant message in: Chat wants a call's results right after it.
        merge = self.open is not None and bool(self.open.tool_calls or self.open.function_call)
        if merge:
            assert self.open is not None
            target = self.open
        else:
            self.close()
            target = _Assistant(name=msg.name)
        results: list[tuple[int, ToolResultPart]] = []
        for j, part in enumerate(parts):
            if isinstance(part, ToolResultPart):
                results.append((j, part))
            else:
                self.assistant_part(i, msg, j, part, target)
        if not merge and not (parts and _is_blank(target)):
            # (a message whose every part was dropped writes nothing)
            self.open = target
        if results:
            self.close()
            for j, result in results:
                self.out.append(self.tool_message(i, msg, j, result))

    def assistant_part(self, i: int, msg: Message, j: int, part: Part, into: _Assistant) -> None:
        """Adds ``part`` to the assistant message ``into``, or reports it."""
        rep = self.rep
        if isinstance(part, TextPart):
            if part.citations:
                rep.add(i, msg, j, "text.citations", "Chat requests take no annotations")
            _report_extras(rep, i, msg, j, part, "Chat")
            _report_options(rep, i, msg, j, part, _PART_OPTIONS, "Chat")
            into.content.append(_text_item(part))
            return
        if isinstance(part, RefusalPart):
            _report_options(rep, i, msg, j, part, (), "Chat")
            into.content.append({"type": "refusal", "refusal": part.text})
            return
        if isinstance(part, ToolCallPart):
            _report_extras(rep, i, msg, j, part, "Chat")
            _report_options(rep, i, msg, j, part, (), "Chat")
            if part.tool_kind == _LEGACY and into.function_call is None and not into.tool_calls:
                into.function_call = {"name": part.tool_name, "arguments": args_to_text(part)}
            else:
                into.tool_calls.append(_tool_call_param(part))
            return
        if isinstance(part, AudioPart):
            if part.provider_id is None:
                rep.add(i, msg, j, "audio", "Chat sends assistant audio back by its id only")
                return
            if into.audio is not None:
                rep.add(i, msg, j, "audio", "a Chat assistant message holds one audio")
                return
            into.audio = part.provider_id
            return
        rep.add(i, msg, j, _what(part), _why_not(part, "assistant"))

    # -- tool ---------------------------------------------------------------

    def tool(self, i: int, msg: Message, parts: list[Part]) -> None:
        results = [(j, p) for j, p in enumerate(parts) if isinstance(p, ToolResultPart)]
        if not results:
            self.tool_from_content(i, msg, parts)
            return
        for j, part in enumerate(parts):
            if not isinstance(part, ToolResultPart):
                self.rep.add(i, msg, j, _what(part), "a Chat tool message holds one result")
        for j, result in results:
            self.out.append(self.tool_message(i, msg, j, result))

    def tool_from_content(self, i: int, msg: Message, parts: list[Part]) -> None:
        """A tool message given as text and ``tool_call_id``, without results."""
        if not msg.tool_call_id:
            self.rep.add(i, msg, None, "message", "a tool message without a tool_call_id")
            return
        texts: list[dict[str, Any]] = []
        for j, part in enumerate(parts):
            if isinstance(part, TextPart):
                texts.append(_text_item(part))
            else:
                self.rep.add(i, msg, j, _what(part), "Chat tool messages take only text")
        if parts and not texts:
            return  # e.g. the output of a hosted call, which was dropped too
        self.out.append(
            {"role": "tool", "tool_call_id": msg.tool_call_id, "content": _text_content(texts)}
        )

    def tool_message(self, i: int, msg: Message, j: int, part: ToolResultPart) -> dict[str, Any]:
        """The tool message of one tool result."""
        if part.is_error:
            self.rep.add(i, msg, j, "tool-result.is_error", "Chat tool messages have no error flag")
        result = _result_text(part)
        if msg.provider_role == "function" and not part.content:
            name = part.tool_name or msg.name or part.tool_call_id
            return {"role": "function", "name": name, "content": result}
        if not part.content:
            return {"role": "tool", "tool_call_id": part.tool_call_id, "content": result or ""}
        texts = [] if result is None else [{"type": "text", "text": result}]
        for item in part.content:
            if isinstance(item, TextPart):
                texts.append(_text_item(item))
            else:
                self.rep.add(
                    i, msg, j, f"tool-result.{item.type}", "Chat tool messages take only text"
                )
        content: Any = texts if texts else ""
        return {"role": "tool", "tool_call_id": part.tool_call_id, "content": content}

    # -- user and system ----------------------------------------------------

    def user_or_system(self, i: int, msg: Message, parts: list[Part]) -> None:
        system = msg.role is Role.SYSTEM
        items: list[dict[str, Any]] = []
        for j, part in enumerate(parts):
            if isinstance(part, ToolResultPart):
                self.out.append(self.tool_message(i, msg, j, part))
                continue
            item = self.system_item(i, msg, j, part) if system else self.user_item(i, msg, j, part)
            if item is not None:
                items.append(item)
        if parts and not items:
            return  # only tool results, or nothing Chat holds
        role = msg.provider_role if msg.provider_role == "developer" and system else msg.role.value
        out: dict[str, Any] = {"role": role, "content": _text_content(items)}
        if msg.name is not None:
            out["name"] = msg.name
        self.out.append(out)

    def system_item(self, i: int, msg: Message, j: int, part: Part) -> dict[str, Any] | None:
        if isinstance(part, TextPart):
            self.text_extras(i, msg, j, part)
            return _text_item(part)
        if isinstance(part, FilePart) and part.text is not None and _no_source(part):
            return {"type": "text", "text": part.text}
        self.rep.add(i, msg, j, _what(part), "Chat system messages take only text")
        return None

    def user_item(self, i: int, msg: Message, j: int, part: Part) -> dict[str, Any] | None:
        if isinstance(part, TextPart):
            self.text_extras(i, msg, j, part)
            return _text_item(part)
        if isinstance(part, ImagePart):
            return self.image_item(i, msg, j, part)
        if isinstance(part, AudioPart):
            return self.audio_item(i, msg, j, part)
        if isinstance(part, FilePart):
            return self.file_item(i, msg, j, part)
        self.rep.add(i, msg, j, _what(part), _why_not(part, "user"))
        return None

    def text_extras(self, i: int, msg: Message, j: int, part: TextPart) -> None:
        if part.citations:
            self.rep.add(i, msg, j, "text.citations", "Chat requests take no annotations")
        _report_extras(self.rep, i, msg, j, part, "Chat")
        _report_options(self.rep, i, msg, j, part, _PART_OPTIONS, "Chat")

    def image_item(self, i: int, msg: Message, j: int, part: ImagePart) -> dict[str, Any] | None:
        url = part.url
        if url is None:
            data = part_bytes(part, self.attachments)
            media_type = None if data is None else _image_type(part, data)
            if data is None or media_type is None:
                why = (
                    "Chat images need a URL or bytes"
                    if data is None
                    else "the image's media type is unknown"
                )
                self.rep.add(i, msg, j, "image", why)
                return None
            url = _data_url(media_type, data)
        body: dict[str, Any] = {"url": url}
        if part.detail is not None:
            body["detail"] = part.detail
        _report_extras(self.rep, i, msg, j, part, "Chat")
        _report_options(self.rep, i, msg, j, part, _PART_OPTIONS, "Chat")
        out = {"type": "image_url", "image_url": body}
        _put_options(out, part, _PART_OPTIONS)
        return out

    def audio_item(self, i: int, msg: Message, j: int, part: AudioPart) -> dict[str, Any] | None:
        fmt = _AUDIO_FORMATS.get(part.media_type or "")
        data = part_bytes(part, self.attachments)
        if data is None or fmt is None:
            why = "Chat audio input needs the bytes" if data is None else "Chat audio is wav or mp3"
            self.rep.add(i, msg, j, "audio", why)
            return None
        if part.transcript is not None:
            self.rep.add(i, msg, j, "audio.transcript", "Chat audio input has no transcript")
        _report_options(self.rep, i, msg, j, part, _PART_OPTIONS, "Chat")
        out = {"type": "input_audio", "input_audio": {"data": _b64(data), "format": fmt}}
        _put_options(out, part, _PART_OPTIONS)
        return out

    def file_item(self, i: int, msg: Message, j: int, part: FilePart) -> dict[str, Any] | None:
        body: dict[str, Any] = {}
        data = part_bytes(part, self.attachments)
        if data is not None:
            body["file_data"] = _data_url(part.mime_type, data) if part.mime_type else _b64(data)
        elif part.url is not None and part.url.startswith("data:"):
            body["file_data"] = part.url
        if part.provider_file_id is not None:
            body["file_id"] = part.provider_file_id
        if not body:
            if part.text is not None:
                return {"type": "text", "text": part.text}
            self.rep.add(i, msg, j, "file", "Chat file inputs need the bytes or a file id")
            return None
        if part.filename:
            body["filename"] = part.filename
        _report_extras(self.rep, i, msg, j, part, "Chat")
        _report_options(self.rep, i, msg, j, part, _PART_OPTIONS, "Chat")
        out = {"type": "file", "file": body}
        _put_options(out, part, _PART_OPTIONS)
        return out


def _parts_of(msg: Message) -> list[Part]:
    """A message's parts; its ``content`` as one text part when it has none."""
    if msg.parts or not msg.content:
        return list(msg.parts)
    return [TextPart(text=msg.content)]


def _is_blank(a: _Assistant) -> bool:
    return not (a.content or a.tool_calls or a.function_call or a.audio)


def _no_source(part: FilePart) -> bool:
    return part.data is None and part.attachment is None and part.provider_file_id is None


def _why_not(part: Any, role: str) -> str:
    """Why a part cannot go into a Chat message of ``role``."""
    if isinstance(part, ReasoningPart):
        return "Chat requests cannot carry reasoning"
    if isinstance(part, HostedToolPart):
        return "Chat has no hosted-tool items"
    if isinstance(part, DataPart):
        return "application data is not sent to models"
    if isinstance(part, SourcePart | CodePart):
        return f"Chat has no {part.type} content"
    return f"Chat {role} messages cannot hold {part.type} parts"


def _text_item(part: TextPart) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "text", "text": part.text}
    _put_options(out, part, _PART_OPTIONS)
    return out


def _text_content(items: list[dict[str, Any]]) -> Any:
    """Content as a string when it is one plain text part, else the list."""
    if not items:
        return ""
    if len(items) == 1 and items[0].keys() == {"type", "text"}:
        return items[0]["text"]
    return items


def _render_assistant(a: _Assistant) -> dict[str, Any]:
    out: dict[str, Any] = {"role": "assistant"}
    items = a.content
    if len(items) == 1 and items[0]["type"] == "refusal":
        out["refusal"] = items[0]["refusal"]
    elif items:
        out["content"] = _text_content(items)
    elif not (a.tool_calls or a.function_call or a.audio):
        out["content"] = ""
    if a.tool_calls:
        out["tool_calls"] = a.tool_calls
    if a.function_call is not None:
        out["function_call"] = a.function_call
    if a.audio is not None:
        out["audio"] = {"id": a.audio}
    if a.name is not None:
        out["name"] = a.name
    return out


def _tool_call_param(part: ToolCallPart) -> dict[str, Any]:
    if part.tool_kind == "custom":
        text = part.args if isinstance(part.args, str) and part.args_text is None else None
        return {
            "id": part.tool_call_id,
            "type": "custom",
            "custom": {
                "name": part.tool_name,
                "input": text if text is not None else args_to_text(part),
            },
        }
    return {
        "id": part.tool_call_id,
        "type": "function",
        "function": {"name": part.tool_name, "arguments": args_to_text(part)},
    }


def _result_text(part: ToolResultPart) -> str | None:
    """A tool result's ``result`` as text (JSON other than a string as
    compact JSON); ``None`` when there is none."""
    if part.result is None:
        return None
    return part.result if isinstance(part.result, str) else compact_json(part.result)
