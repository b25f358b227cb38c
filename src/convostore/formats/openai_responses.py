"""OpenAI Responses (``openai-responses``): a list of input items in and out,
plus the ``Response`` object in.

:func:`from_openai_responses` reads a list of input items, a request body
with ``input`` (and ``instructions``) or a response (a dict or the SDK's
``Response``); :func:`to_openai_responses` writes the list of input items a
request sends.

Consecutive items of the model's side (reasoning, assistant message items,
function and custom tool calls, hosted tool items) make one assistant message
whose parts keep their item ids; each tool output makes one tool message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from convostore.formats._common import (
    AttachmentResolver,
    DropReport,
    FormatError,
    args_from_text,
    args_to_text,
    dump,
    expect_list,
    expect_mapping,
    own_report,
    part_bytes,
    warn_dropped,
)
from convostore.formats.openai_chat import (
    _PROVIDER,
    _at,
    _audio_media_type,
    _b64,
    _data_url,
    _file_part,
    _id,
    _image_type,
    _keep_options,
    _kind,
    _opt_str,
    _options,
    _parts_of,
    _put_options,
    _report_extras,
    _report_options,
    _result_text,
    _split_data_url,
    _str,
    _unb64,
    _usage,
    _what,
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
    ToolCallPart,
    ToolResultItem,
    ToolResultPart,
)

__all__ = ["from_openai_responses", "to_openai_responses"]

_FORMAT = "openai-responses"

#: Options of an item or content part kept in ``provider_metadata["openai"]``
#: (fields the API takes back that no typed field of the part holds).
_INPUT_PART_OPTIONS = ("prompt_cache_breakpoint",)
_INPUT_FILE_OPTIONS = ("prompt_cache_breakpoint", "detail")
_MESSAGE_OPTIONS = ("phase",)
_OUTPUT_TEXT_OPTIONS = ("phase", "logprobs")
#: An output message item's status when its parts give none (the field is required).
_DEFAULT_STATUS = "completed"
_CALL_OPTIONS = ("caller", "namespace", "async")
_OUTPUT_OPTIONS = ("caller", "namespace")
_CUSTOM_OUTPUT_OPTIONS = ("caller",)

#: The typed fields of each citation kind of an ``output_text`` annotation.
_CITATION_FIELDS = {
    "url_citation": ("url", "title", "start_index", "end_index"),
    "file_citation": ("file_id", "filename", "index"),
    "container_file_citation": ("container_id", "file_id", "filename", "start_index", "end_index"),
    "file_path": ("file_id", "index"),
}
_CITATION_TYPES = {
    "url": str,
    "title": str,
    "file_id": str,
    "filename": str,
    "container_id": str,
    "start_index": int,
    "end_index": int,
    "index": int,
}

#: Items the client sends back for a call of the model's (their messages are
#: tool messages), with the field naming the call.
_CLIENT_OUTPUTS = {
    "computer_call_output": "call_id",
    "local_shell_call_output": "id",
    "shell_call_output": "call_id",
    "apply_patch_call_output": "call_id",
    "mcp_approval_response": "approval_request_id",
}

#: Calls the client answers: a response ending with one waits for tool results.
_CLIENT_CALLS = frozenset(
    {
        "function_call",
        "custom_tool_call",
        "computer_call",
        "local_shell_call",
        "shell_call",
        "apply_patch_call",
        "mcp_approval_request",
    }
)

_HOSTED_TOOL_NAMES = {
    "web_search_call": "web_search",
    "file_search_call": "file_search",
    "code_interpreter_call": "code_interpreter",
    "image_generation_call": "image_generation",
    "computer_call": "computer",
    "computer_call_output": "computer",
    "local_shell_call": "local_shell",
    "local_shell_call_output": "local_shell",
    "shell_call": "shell",
    "shell_call_output": "shell",
    "apply_patch_call": "apply_patch",
    "apply_patch_call_output": "apply_patch",
    "mcp_list_tools": "mcp",
    "tool_search_call": "tool_search",
    "tool_search_output": "tool_search",
}

_INCOMPLETE = {
    "max_output_tokens": FinishReason.LENGTH,
    "content_filter": FinishReason.CONTENT_FILTER,
}

# ---------------------------------------------------------------------------
# from_openai_responses


def from_openai_responses(payload: Any) -> list[Message]:
    """Messages from a Responses payload.

    ``payload`` is a list of input items, a request body with ``input`` (a
    string or items; ``instructions`` becomes a leading developer-role system
    message) or a response (dict or SDK ``Response``), whose output items
    become the assistant's message(s) with the response's metadata.

    Raises:
        FormatError: when the payload is not in the Responses shape; ``field``
            names where (``input[3].content[0].type``).
    """
    payload = dump(payload)
    if isinstance(payload, Mapping):
        if payload.get("object") == "response" or "output" in payload:
            return _from_response(payload)
        if "input" in payload:
            return _from_request(payload)
        raise FormatError(
            "expected a list of input items, a request body with input or a response",
            field="input",
        )
    return _Reader("input").read(expect_list(payload, "input"))


def _from_request(body: Mapping[str, Any]) -> list[Message]:
    messages: list[Message] = []
    instructions = _opt_str(body, "instructions", "")
    if instructions is not None:
        messages.append(Message(role=Role.SYSTEM, provider_role="developer", content=instructions))
    raw = body["input"]
    if isinstance(raw, str):
        messages.append(Message(role=Role.USER, parts=[TextPart(text=raw)]))
    else:
        messages.extend(_Reader("input").read(expect_list(raw, "input")))
    return messages


def _from_response(resp: Mapping[str, Any]) -> list[Message]:
    """The messages of a response's output items: every assistant message
    names the model and response; the last one also carries the usage and
    finish reason."""
    items = expect_list(resp.get("output", []), "output")
    messages = _Reader("output").read(items)
    base = {
        "model": _opt_str(resp, "model", ""),
        "provider": _PROVIDER,
        "response_id": _opt_str(resp, "id", ""),
    }
    finish, raw_finish = _finish(resp, items)
    full = {
        **base,
        "token_usage": _usage(resp.get("usage"), "input", "output"),
        "finish_reason": finish,
        "provider_finish_reason": raw_finish,
    }
    last = max((n for n, m in enumerate(messages) if m.role is Role.ASSISTANT), default=-1)
    out = []
    for n, msg in enumerate(messages):
        if msg.role is Role.ASSISTANT:
            meta = MessageMetadata(**(full if n == last else base))
            msg = msg.model_copy(update={"metadata": meta})
        out.append(msg)
    return out


def _finish(resp: Mapping[str, Any], items: Any) -> tuple[FinishReason | None, str | None]:
    """The normalised finish reason of a response and the provider's word
    for it (its ``status``, or the reason it is incomplete)."""
    status = _opt_str(resp, "status", "")
    if status == "incomplete":
        details = expect_mapping(resp.get("incomplete_details") or {}, "incomplete_details")
        reason = _opt_str(details, "reason", "incomplete_details")
        return _INCOMPLETE.get(reason or "", FinishReason.OTHER), reason or status
    if status == "completed":
        calls = any(isinstance(i, Mapping) and i.get("type") in _CLIENT_CALLS for i in items)
        return (FinishReason.TOOL_CALLS if calls else FinishReason.STOP), status
    if status == "failed":
        return FinishReason.ERROR, status
    if status == "cancelled":
        return FinishReason.OTHER, status
    return None, status


class _Reader:
    """Reads items in order, gathering the model's consecutive items into one
    assistant message."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.messages: list[Message] = []
        self.assistant: list[Part] = []

    def read(self, items: Iterable[Any]) -> list[Message]:
        for n, raw in enumerate(items):
            where = f"{self.root}[{n}]"
            self.item(expect_mapping(raw, where), where)
        self.flush()
        return self.messages

    def flush(self) -> None:
        if self.assistant:
            self.messages.append(Message(role=Role.ASSISTANT, parts=self.assistant))
            self.assistant = []

    def add(self, msg: Message) -> None:
        self.flush()
        self.messages.append(msg)

    def item(self, item: Mapping[str, Any], where: str) -> None:
        kind = item.get("type")
        if kind is None:
            if "role" in item:
                kind = "message"
            elif "id" in item:
                kind = "item_reference"
            else:
                raise FormatError("an item needs a type", field=_at(where, "type"))
        if not isinstance(kind, str) or not kind:
            raise FormatError("must be a non-empty string", field=_at(where, "type"))
        if kind == "message":
            self.message(item, where)
        elif kind == "reasoning":
            self.assistant.extend(_reasoning(item, where))
        elif kind in ("function_call", "custom_tool_call"):
            self.assistant.append(_call(item, where, custom=kind == "custom_tool_call"))
        elif kind in ("function_call_output", "custom_tool_call_output"):
            self.add(_output(item, where, custom=kind == "custom_tool_call_output"))
        else:
            self.hosted(item, kind)

    def message(self, item: Mapping[str, Any], where: str) -> None:
        role = _str(item, "role", where)
        if role == "assistant":
            self.assistant.extend(_assistant_message(item, where))
            return
        if role not in ("user", "system", "developer"):
            raise FormatError(f"unknown role {role!r}", field=_at(where, "role"))
        content = item.get("content")
        at = _at(where, "content")
        if isinstance(content, str):
            parts: list[Part] = [TextPart(text=content)]
        else:
            listed = expect_list(content, at)
            parts = [
                _input_part(expect_mapping(p, f"{at}[{n}]"), f"{at}[{n}]")
                for n, p in enumerate(listed)
            ]
        self.add(_role_message(role, parts))

    def hosted(self, item: Mapping[str, Any], kind: str) -> None:
        call_key = _CLIENT_OUTPUTS.get(kind)
        call_id = item.get(call_key) if call_key else None
        part = _hosted(item, kind)
        if isinstance(call_id, str) and call_id:
            self.add(Message(role=Role.TOOL, tool_call_id=call_id, parts=[part]))
        elif item.get("role") in ("user", "system", "developer"):
            self.add(_role_message(str(item["role"]), [part]))
        else:
            self.assistant.append(part)


def _role_message(role: str, parts: list[Part]) -> Message:
    if role == "user":
        return Message(role=Role.USER, parts=parts)
    provider_role = "developer" if role == "developer" else None
    return Message(role=Role.SYSTEM, provider_role=provider_role, parts=parts)


def _input_part(p: Mapping[str, Any], where: str) -> Part:
    """A content part of a user, system or developer message."""
    kind = _kind(p, where)
    if kind == "input_text":
        return TextPart(
            text=_str(p, "text", where), provider_metadata=_keep_options(p, _INPUT_PART_OPTIONS)
        )
    if kind == "input_image":
        return _input_image(p, where)
    if kind == "input_file":
        return _input_file(p, where)
    if kind == "input_audio":
        body = expect_mapping(p.get("input_audio"), _at(where, "input_audio"))
        at = _at(where, "input_audio")
        return AudioPart(
            data=_unb64(_str(body, "data", at), _at(at, "data")),
            media_type=_audio_media_type(_str(body, "format", at)),
        )
    if kind == "output_text":
        return TextPart(text=_str(p, "text", where))
    raise FormatError(f"unknown content type {kind!r}", field=_at(where, "type"))


def _input_image(p: Mapping[str, Any], where: str) -> ImagePart:
    url = _opt_str(p, "image_url", where)
    fields: dict[str, Any] = {
        "detail": _opt_str(p, "detail", where),
        "provider_file_id": _opt_str(p, "file_id", where),
        "provider_metadata": _keep_options(p, _INPUT_PART_OPTIONS),
    }
    inline = None if url is None else _split_data_url(url)
    if inline is not None:
        fields["media_type"], fields["data"] = inline
    else:
        fields["url"] = url
    return ImagePart(**fields)


def _input_file(p: Mapping[str, Any], where: str) -> FilePart:
    return _file_part(
        file_data=_opt_str(p, "file_data", where),
        file_id=_opt_str(p, "file_id", where),
        filename=_opt_str(p, "filename", where),
        url=_opt_str(p, "file_url", where),
        where=_at(where, "file_data"),
        provider_metadata=_keep_options(p, _INPUT_FILE_OPTIONS),
    )


def _assistant_message(item: Mapping[str, Any], where: str) -> list[Part]:
    """The parts of an assistant message item: an output message (with an id)
    or an easy input message (without)."""
    item_id = _opt_str(item, "id", where)
    status = _opt_str(item, "status", where) if item_id is not None else None
    phase = _keep_options(item, _MESSAGE_OPTIONS)
    content = item.get("content")
    at = _at(where, "content")
    if isinstance(content, str):
        return [TextPart(text=content, provider_id=item_id, status=status, provider_metadata=phase)]
    parts: list[Part] = []
    for n, raw in enumerate(expect_list(content, at)):
        here = f"{at}[{n}]"
        p = expect_mapping(raw, here)
        kind = _kind(p, here)
        if kind in ("output_text", "input_text"):
            options = dict(phase.get(_PROVIDER, {}))
            if p.get("logprobs"):  # (an empty list says nothing: not kept)
                options["logprobs"] = p["logprobs"]
            parts.append(
                TextPart(
                    text=_str(p, "text", here),
                    citations=_citations(p.get("annotations"), _at(here, "annotations")),
                    provider_id=item_id,
                    status=status,
                    provider_metadata={_PROVIDER: options} if options else {},
                )
            )
        elif kind == "refusal":
            parts.append(
                RefusalPart(
                    text=_str(p, "refusal", here), provider_id=item_id, provider_metadata=phase
                )
            )
        else:
            raise FormatError(f"unknown content type {kind!r}", field=_at(here, "type"))
    return parts


def _citations(raw: Any, where: str) -> list[Citation]:
    if raw is None:
        return []
    return [
        _citation(expect_mapping(a, f"{where}[{n}]"), f"{where}[{n}]")
        for n, a in enumerate(expect_list(raw, where))
    ]


def _citation(a: Mapping[str, Any], where: str) -> Citation:
    """An annotation as a citation: its type is the kind, the fields the
    citation has are typed, and any other field is kept in ``details``."""
    kind = _str(a, "type", where)
    fields: dict[str, Any] = {}
    details: dict[str, Any] = {}
    for key, value in a.items():
        if key == "type":
            continue
        typ = _CITATION_TYPES.get(key)
        if typ is not None and isinstance(value, typ) and not isinstance(value, bool):
            fields[key] = value
        else:
            details[key] = value
    return Citation(kind=kind, details=details, **fields)


def _reasoning(item: Mapping[str, Any], where: str) -> list[ReasoningPart]:
    """A reasoning item as reasoning parts sharing its id: the first holds the
    summary, the encrypted content and the first piece of reasoning text; each
    further piece of text is one more part."""
    summary = []
    at = _at(where, "summary")
    for n, raw in enumerate(expect_list(item.get("summary", []), at)):
        summary.append(_str(expect_mapping(raw, f"{at}[{n}]"), "text", f"{at}[{n}]"))
    texts = []
    at = _at(where, "content")
    for n, raw in enumerate(expect_list(item.get("content") or [], at)):
        texts.append(_str(expect_mapping(raw, f"{at}[{n}]"), "text", f"{at}[{n}]"))
    item_id = _opt_str(item, "id", where)
    first = ReasoningPart(
        text=texts[0] if texts else "",
        summary=summary,
        encrypted_content=_opt_str(item, "encrypted_content", where),
        provider_id=item_id,
        status=_opt_str(item, "status", where),
    )
    return [first, *(ReasoningPart(text=t, provider_id=item_id) for t in texts[1:])]


def _call(item: Mapping[str, Any], where: str, *, custom: bool) -> ToolCallPart:
    options = _keep_options(item, _CALL_OPTIONS)
    common: dict[str, Any] = {
        "tool_call_id": _id(item, "call_id", where),
        "tool_name": _str(item, "name", where),
        "provider_id": _opt_str(item, "id", where),
        "provider_metadata": options,
    }
    if custom:
        return ToolCallPart(args=_str(item, "input", where), tool_kind="custom", **common)
    args, args_text = args_from_text(_str(item, "arguments", where))
    return ToolCallPart(
        args=args, args_text=args_text, status=_opt_str(item, "status", where), **common
    )


def _output(item: Mapping[str, Any], where: str, *, custom: bool) -> Message:
    """The tool message of a function or custom tool output item."""
    call_id = _id(item, "call_id", where)
    name = None if custom else _opt_str(item, "name", where)
    options = _keep_options(item, _CUSTOM_OUTPUT_OPTIONS if custom else _OUTPUT_OPTIONS)
    if custom:
        # No typed field says a result answers a custom tool; kept so the
        # output goes back as a custom one without its call at hand.
        options.setdefault(_PROVIDER, {})["tool_kind"] = "custom"
    output = item.get("output")
    at = _at(where, "output")
    fields: dict[str, Any] = {}
    if isinstance(output, str):
        fields["result"] = output
    else:
        fields["content"] = [
            _output_part(expect_mapping(p, f"{at}[{n}]"), f"{at}[{n}]")
            for n, p in enumerate(expect_list(output, at))
        ]
    result = ToolResultPart(
        tool_call_id=call_id,
        tool_name=name or "",
        provider_id=_opt_str(item, "id", where),
        status=None if custom else _opt_str(item, "status", where),
        provider_metadata=options,
        **fields,
    )
    return Message(role=Role.TOOL, tool_call_id=call_id, name=name, parts=[result])


def _output_part(p: Mapping[str, Any], where: str) -> ToolResultItem:
    kind = _kind(p, where)
    if kind == "input_text":
        return TextPart(
            text=_str(p, "text", where), provider_metadata=_keep_options(p, _INPUT_PART_OPTIONS)
        )
    if kind == "input_image":
        return _input_image(p, where)
    if kind == "input_file":
        return _input_file(p, where)
    raise FormatError(f"unknown output content type {kind!r}", field=_at(where, "type"))


def _hosted(item: Mapping[str, Any], kind: str) -> HostedToolPart:
    """An item convostore does not model, kept whole, with what can be read
    of it for display."""
    status = item.get("status")
    call_key = _CLIENT_OUTPUTS.get(kind, "call_id")
    call_id = item.get(call_key) or item.get("call_id") or item.get("id")
    name = item.get("name") if kind.startswith("mcp_") and kind != "mcp_list_tools" else None
    failed = status == "failed" or bool(item.get("error"))
    return HostedToolPart(
        provider=_FORMAT,
        item_type=kind,
        payload=dict(item),
        tool_name=name if isinstance(name, str) else _HOSTED_TOOL_NAMES.get(kind),
        tool_call_id=call_id if isinstance(call_id, str) and call_id else None,
        status=status if isinstance(status, str) else None,
        is_error=failed,
    )


# ---------------------------------------------------------------------------
# to_openai_responses


def to_openai_responses(
    messages: Iterable[Message],
    *,
    report: DropReport | None = None,
    attachments: AttachmentResolver | None = None,
) -> list[dict[str, Any]]:
    """``messages`` as the ``input`` items of a Responses request.

    Parts sharing an item id come back as one item (text parts of one
    output message, reasoning parts of one reasoning item); each tool result
    is one output item, including the tool results of user messages. What the
    format cannot hold (reasoning of other providers, their hosted tools,
    audio...) is listed in ``report``, or warned about with a
    ``DroppedContentWarning`` without one.
    """
    rep, owned = own_report(report, _FORMAT)
    messages = list(messages)
    custom = {
        p.tool_call_id
        for m in messages
        for p in m.parts
        if isinstance(p, ToolCallPart) and p.tool_kind == "custom"
    }
    writer = _Writer(rep, attachments, custom)
    for i, msg in enumerate(messages):
        writer.message(i, msg)
    warn_dropped(rep, owned)
    return writer.out


class _Writer:
    def __init__(
        self, rep: DropReport, attachments: AttachmentResolver | None, custom: set[str]
    ) -> None:
        self.rep = rep
        self.attachments = attachments
        self.custom = custom
        self.out: list[dict[str, Any]] = []
        # The item the next part may join: ("message" | "reasoning", id), and
        # whether a part of that item gave its status.
        self.open: tuple[str, str] | None = None
        self.has_status = False

    def emit(self, item: dict[str, Any], key: tuple[str, str] | None = None) -> None:
        self.out.append(item)
        self.open = key
        self.has_status = False

    def message(self, i: int, msg: Message) -> None:
        self.open = None
        parts = _parts_of(msg)
        if msg.role is Role.ASSISTANT:
            if not parts:
                self.emit({"role": "assistant", "content": ""})
            for j, part in enumerate(parts):
                self.assistant_part(i, msg, j, part)
        elif msg.role is Role.TOOL:
            self.tool(i, msg, parts)
        else:
            self.input_message(i, msg, parts)
        if msg.name is not None and msg.role is not Role.TOOL:
            self.rep.add(i, msg, None, "name", "Responses messages have no name")

    # -- user, system, developer -------------------------------------------

    def input_message(self, i: int, msg: Message, parts: list[Part]) -> None:
        if msg.role is Role.USER:
            role = "user"
        else:
            role = "developer" if msg.provider_role == "developer" else "system"
        content: list[dict[str, Any]] = []

        def flush() -> None:
            if content:
                self.emit({"role": role, "content": _input_content(content[:])})
                content.clear()

        if not parts:
            self.emit({"role": role, "content": ""})
        for j, part in enumerate(parts):
            if isinstance(part, ToolResultPart):
                flush()
                self.emit(self.output_item(i, msg, j, part))
            elif isinstance(part, HostedToolPart) and part.provider == _FORMAT:
                flush()
                self.emit(dict(part.payload))
            else:
                item = self.content_item(i, msg, j, part, detail_required=True)
                if item is not None:
                    content.append(item)
        flush()

    def content_item(
        self, i: int, msg: Message, j: int | None, part: Part, *, detail_required: bool
    ) -> dict[str, Any] | None:
        """``part`` as an input content part (of a message or a tool output),
        or ``None`` after reporting it."""
        rep = self.rep
        if isinstance(part, TextPart):
            if part.citations:
                rep.add(i, msg, j, "text.citations", "Responses input text takes no annotations")
            _report_extras(rep, i, msg, j, part, "Responses")
            _report_options(rep, i, msg, j, part, _INPUT_PART_OPTIONS, "Responses input text")
            out: dict[str, Any] = {"type": "input_text", "text": part.text}
            _put_options(out, part, _INPUT_PART_OPTIONS)
            return out
        if isinstance(part, ImagePart):
            return self.image_item(i, msg, j, part, detail_required)
        if isinstance(part, FilePart):
            return self.file_item(i, msg, j, part)
        rep.add(i, msg, j, _what(part), _why_not(part))
        return None

    def image_item(
        self, i: int, msg: Message, j: int | None, part: ImagePart, detail_required: bool
    ) -> dict[str, Any] | None:
        out: dict[str, Any] = {"type": "input_image"}
        if part.detail is not None or detail_required:
            out["detail"] = part.detail or "auto"
        if part.provider_file_id is not None:
            out["file_id"] = part.provider_file_id
        if part.url is not None:
            out["image_url"] = part.url
        else:
            data = part_bytes(part, self.attachments)
            media_type = None if data is None else _image_type(part, data)
            if data is not None and media_type is not None:
                out["image_url"] = _data_url(media_type, data)
            elif part.provider_file_id is None:
                why = "an image needs a URL, bytes or a file id"
                if data is not None:
                    why = "the image's media type is unknown"
                self.rep.add(i, msg, j, "image", why)
                return None
        _report_extras(self.rep, i, msg, j, part, "Responses")
        _report_options(self.rep, i, msg, j, part, _INPUT_PART_OPTIONS, "Responses images")
        _put_options(out, part, _INPUT_PART_OPTIONS)
        return out

    def file_item(
        self, i: int, msg: Message, j: int | None, part: FilePart
    ) -> dict[str, Any] | None:
        out: dict[str, Any] = {"type": "input_file"}
        if part.provider_file_id is not None:
            out["file_id"] = part.provider_file_id
        data = part_bytes(part, self.attachments)
        if data is not None:
            out["file_data"] = _data_url(part.mime_type, data) if part.mime_type else _b64(data)
        if part.url is not None and not part.url.startswith("data:"):
            out["file_url"] = part.url
        elif part.url is not None and "file_data" not in out:
            out["file_data"] = part.url
        if len(out) == 1:
            if part.text is not None:
                return {"type": "input_text", "text": part.text}
            self.rep.add(i, msg, j, "file", "a file needs bytes, a URL or a file id")
            return None
        if part.filename:
            out["filename"] = part.filename
        _report_extras(self.rep, i, msg, j, part, "Responses")
        _report_options(self.rep, i, msg, j, part, _INPUT_FILE_OPTIONS, "Responses files")
        _put_options(out, part, _INPUT_FILE_OPTIONS)
        return out

    # -- assistant ----------------------------------------------------------

    def assistant_part(self, i: int, msg: Message, j: int, part: Part) -> None:
        rep = self.rep
        if isinstance(part, TextPart | RefusalPart):
            self.output_content(i, msg, j, part)
        elif isinstance(part, ReasoningPart):
            self.reasoning(i, msg, j, part)
        elif isinstance(part, ToolCallPart):
            _report_extras(rep, i, msg, j, part, "Responses")
            _report_options(rep, i, msg, j, part, _CALL_OPTIONS, "Responses calls")
            self.emit(_call_item(part))
        elif isinstance(part, HostedToolPart) and part.provider == _FORMAT:
            self.emit(dict(part.payload))
        elif isinstance(part, ToolResultPart):
            self.emit(self.output_item(i, msg, j, part))
        else:
            rep.add(i, msg, j, _what(part), _why_not(part))

    def output_content(self, i: int, msg: Message, j: int, part: TextPart | RefusalPart) -> None:
        """A text or refusal part of the model: in the output message item of
        its id (the open one when the id is the same), or an easy message."""
        rep = self.rep
        if isinstance(part, TextPart):
            _report_extras(rep, i, msg, j, part, "Responses")
        if part.provider_id is None:
            # Without an output message id, a refusal goes back as what the
            # assistant said (the easy message has no refusal content).
            if isinstance(part, TextPart) and part.citations:
                rep.add(i, msg, j, "text.citations", "annotations go back only with a message id")
            _report_options(rep, i, msg, j, part, _MESSAGE_OPTIONS, "Responses messages")
            easy: dict[str, Any] = {"role": "assistant", "content": part.text}
            _put_options(easy, part, _MESSAGE_OPTIONS)
            self.emit(easy)
            return
        _report_options(rep, i, msg, j, part, _OUTPUT_TEXT_OPTIONS, "Responses output text")
        if isinstance(part, RefusalPart):
            content: dict[str, Any] = {"type": "refusal", "refusal": part.text}
        else:
            content = {
                "type": "output_text",
                "text": part.text,
                "annotations": [self.annotation(i, msg, j, c) for c in part.citations],
            }
            content["annotations"] = [a for a in content["annotations"] if a is not None]
            _put_options(content, part, ("logprobs",))
        status = part.status if isinstance(part, TextPart) else None
        key = ("message", part.provider_id)
        if self.open == key:
            item = self.out[-1]
            if item["status"] == _DEFAULT_STATUS and status is not None and not self.has_status:
                item["status"] = status
        else:
            item = {
                "type": "message",
                "id": part.provider_id,
                "role": "assistant",
                "status": status or _DEFAULT_STATUS,
                "content": [],
            }
            _put_options(item, part, _MESSAGE_OPTIONS)
            self.emit(item, key)
        # (a refusal part has no status: the item's is the first text part's)
        self.has_status = self.has_status or status is not None
        item["content"].append(content)

    def annotation(self, i: int, msg: Message, j: int, c: Citation) -> dict[str, Any] | None:
        fields = _CITATION_FIELDS.get(c.kind)
        if fields is None:
            self.rep.add(i, msg, j, "citation", f"Responses has no {c.kind!r} annotations")
            return None
        out: dict[str, Any] = {"type": c.kind}
        for name in _CITATION_TYPES:
            value = getattr(c, name)
            if value is not None:
                out[name] = value
        out.update(c.details)
        for name in ("cited_text", "document_index", "document_title", "encrypted_index"):
            if getattr(c, name) is not None:
                self.rep.add(
                    i, msg, j, f"citation.{name}", "Responses annotations have no such field"
                )
        return out

    def reasoning(self, i: int, msg: Message, j: int, part: ReasoningPart) -> None:
        if part.provider_id is None:
            why = "Responses replays reasoning only as its own items, by id"
            self.rep.add(i, msg, j, "reasoning", why)
            return
        if part.signature is not None:
            self.rep.add(
                i, msg, j, "reasoning.signature", "Responses takes no reasoning signatures"
            )
        _report_options(self.rep, i, msg, j, part, (), "Responses reasoning")
        key = ("reasoning", part.provider_id)
        if self.open == key:
            item = self.out[-1]
            item["summary"].extend({"type": "summary_text", "text": s} for s in part.summary)
            if "content" not in item:  # the first part's text was empty
                item["content"] = [{"type": "reasoning_text", "text": ""}]
            item["content"].append({"type": "reasoning_text", "text": part.text})
            if part.encrypted_content is not None and "encrypted_content" not in item:
                item["encrypted_content"] = part.encrypted_content
            if part.status is not None and "status" not in item:
                item["status"] = part.status
            return
        item = {
            "type": "reasoning",
            "id": part.provider_id,
            "summary": [{"type": "summary_text", "text": s} for s in part.summary],
        }
        if part.text:
            item["content"] = [{"type": "reasoning_text", "text": part.text}]
        if part.encrypted_content is not None:
            item["encrypted_content"] = part.encrypted_content
        if part.status is not None:
            item["status"] = part.status
        self.emit(item, key)

    # -- tool results -------------------------------------------------------

    def tool(self, i: int, msg: Message, parts: list[Part]) -> None:
        answers = any(isinstance(p, ToolResultPart | HostedToolPart) for p in parts)
        if not answers:
            self.tool_from_content(i, msg, parts)
            return
        for j, part in enumerate(parts):
            if isinstance(part, ToolResultPart):
                self.emit(self.output_item(i, msg, j, part))
            elif isinstance(part, HostedToolPart) and part.provider == _FORMAT:
                self.emit(dict(part.payload))
            else:
                self.rep.add(i, msg, j, _what(part), _why_not(part))

    def tool_from_content(self, i: int, msg: Message, parts: list[Part]) -> None:
        """A tool message given as text and ``tool_call_id``, without results."""
        if not msg.tool_call_id:
            self.rep.add(i, msg, None, "message", "a tool message without a tool_call_id")
            return
        texts = []
        for j, part in enumerate(parts):
            if isinstance(part, TextPart):
                texts.append(part.text)
            else:
                self.rep.add(i, msg, j, _what(part), "only text goes with a bare tool_call_id")
        if parts and not texts:
            return  # e.g. the output of another provider's hosted call
        result = ToolResultPart(
            tool_call_id=msg.tool_call_id, tool_name=msg.name or "", result="\n".join(texts)
        )
        self.emit(self.output_item(i, msg, None, result))

    def output_item(
        self, i: int, msg: Message, j: int | None, part: ToolResultPart
    ) -> dict[str, Any]:
        """The output item of one tool result."""
        rep = self.rep
        custom = part.tool_call_id in self.custom or _options(part).get("tool_kind") == "custom"
        if part.is_error:
            rep.add(i, msg, j, "tool-result.is_error", "Responses tool outputs have no error flag")
        kind = "custom_tool_call_output" if custom else "function_call_output"
        item: dict[str, Any] = {"type": kind, "call_id": part.tool_call_id}
        text = _result_text(part)
        if part.content:
            listed = [] if text is None else [{"type": "input_text", "text": text}]
            for piece in part.content:
                converted = self.content_item(i, msg, j, piece, detail_required=custom)
                if converted is not None:
                    listed.append(converted)
            item["output"] = listed if listed else ""
        else:
            item["output"] = text or ""
        if part.provider_id is not None:
            item["id"] = part.provider_id
        used = _CUSTOM_OUTPUT_OPTIONS if custom else _OUTPUT_OPTIONS
        if not custom:
            if part.status is not None:
                item["status"] = part.status
            if part.tool_name:
                item["name"] = part.tool_name
        _report_options(rep, i, msg, j, part, used, "Responses tool outputs")
        _put_options(item, part, used)
        return item


def _input_content(items: list[dict[str, Any]]) -> Any:
    """Message content as a string when it is one plain text part, else the list."""
    if len(items) == 1 and items[0].keys() == {"type", "text"}:
        return items[0]["text"]
    return items


def _call_item(part: ToolCallPart) -> dict[str, Any]:
    if part.tool_kind == "custom":
        text = part.args if isinstance(part.args, str) and part.args_text is None else None
        item: dict[str, Any] = {
            "type": "custom_tool_call",
            "call_id": part.tool_call_id,
            "name": part.tool_name,
            "input": text if text is not None else args_to_text(part),
        }
    else:
        item = {
            "type": "function_call",
            "call_id": part.tool_call_id,
            "name": part.tool_name,
            "arguments": args_to_text(part),
        }
        if part.status is not None:
            item["status"] = part.status
    if part.provider_id is not None:
        item["id"] = part.provider_id
    _put_options(item, part, _CALL_OPTIONS)
    return item


def _why_not(part: Any) -> str:
    """Why a part cannot go into Responses input."""
    if isinstance(part, HostedToolPart):
        return f"Responses cannot replay hosted-tool items of {part.provider}"
    if isinstance(part, DataPart):
        return "application data is not sent to models"
    if isinstance(part, AudioPart):
        return "Responses input takes no audio"
    if isinstance(part, ReasoningPart | ToolCallPart):
        return f"Responses input cannot hold {part.type} parts there"
    if isinstance(part, SourcePart | CodePart):
        return f"Responses has no {part.type} content"
    return f"Responses cannot hold {part.type} parts there"
