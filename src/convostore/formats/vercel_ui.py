"""The Vercel AI SDK 5 ``UIMessage`` format (``vercel-ui``).

A payload is a list of ``UIMessage`` objects (``{id, role, metadata?,
parts}``), what ``useChat`` keeps and sends. One assistant ``UIMessage``
holds a whole agent run: each ``step-start`` part opens a step (one model
call), and a tool part holds both the call and, once known, its result. In
convostore that run is a sequence of messages: per step an assistant message
with the step's parts, followed by one tool message per known result.

:func:`from_vercel_ui` splits ``UIMessage`` objects that way and
:func:`to_vercel_ui` merges an assistant message and the tool and assistant
messages after it (up to the next user or system message) back into one, so
``to_vercel_ui(from_vercel_ui(p)) == p`` for a payload in canonical shape.
What the mapping needs beyond the typed parts is kept in
``metadata.extra`` under the keys :data:`UI_METADATA`,
:data:`UI_NO_STEP_START` and :data:`UI_NEW_MESSAGE`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pydantic
from pydantic import JsonValue

from convostore._ids import new_id
from convostore.formats._common import (
    AttachmentResolver,
    DropReport,
    FormatError,
    compact_json,
    dump,
    expect_list,
    expect_mapping,
    own_report,
    part_bytes,
    warn_dropped,
)
from convostore.model import (
    ID_MAX_LENGTH,
    ID_RULE,
    AudioPart,
    CodePart,
    DataPart,
    FilePart,
    HostedToolPart,
    ImagePart,
    Message,
    MessageMetadata,
    ReasoningPart,
    RefusalPart,
    Role,
    SourcePart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    is_identifier,
)

FORMAT = "vercel-ui"
"""The format's name, and the ``provider`` of the hosted-tool parts it makes."""

UI_METADATA = "ui_metadata"
"""``metadata.extra`` key of a ``UIMessage``'s own ``metadata`` (any JSON), on
the first convostore message made of it."""
UI_NO_STEP_START = "ui_no_step_start"
"""``metadata.extra`` key set to ``true`` on the first message of an assistant
``UIMessage`` whose parts do not begin with ``step-start``."""
UI_NEW_MESSAGE = "ui_new_message"
"""``metadata.extra`` key set to ``true`` on the first message of an assistant
``UIMessage`` that follows another assistant ``UIMessage`` (which
:func:`to_vercel_ui` would otherwise merge into it)."""

TOOL_KIND_DYNAMIC = "dynamic"
"""``ToolCallPart.tool_kind`` of a ``dynamic-tool`` part."""
TOOL_KIND_DYNAMIC_NORMALIZED = "dynamic-normalized"
"""``ToolCallPart.tool_kind`` of a ``dynamic-tool`` part with ``dynamic: false``
(a static tool part the AI SDK turned into a dynamic one)."""

STATUS_INPUT_STREAMING = "input-streaming"
"""``ToolCallPart.status`` of a call whose input was still streaming."""
STATUS_PRELIMINARY = "preliminary"
"""``ToolResultPart.status`` of a preliminary tool output."""

_ROLES = {"system": Role.SYSTEM, "user": Role.USER, "assistant": Role.ASSISTANT}
_TEXT_STATES = ("streaming", "done")
_TOOL_STATES = ("input-streaming", "input-available", "output-available", "output-error")
_APPROVAL_STATES = ("approval-requested", "approval-responded", "output-denied")

# The keys of a tool part each state has, beyond those of every state; others
# are ignored, as the AI SDK's own validator ignores them.
_STATE_KEYS = {
    "input-streaming": ("input", "rawInput"),
    "input-available": ("input", "callProviderMetadata"),
    "output-available": ("input", "output", "callProviderMetadata", "preliminary"),
    "output-error": ("input", "rawInput", "errorText", "callProviderMetadata"),
}
_STATIC_KEYS = ("type", "toolCallId", "state", "providerExecuted")
_DYNAMIC_KEYS = ("type", "dynamic", "toolName", "toolCallId", "state", "providerExecuted")

_JSON: pydantic.TypeAdapter[JsonValue] = pydantic.TypeAdapter(JsonValue)

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"ID3", "audio/mpeg"),
    (b"OggS", "audio/ogg"),
)


# ---------------------------------------------------------------------------
# from_vercel_ui


def from_vercel_ui(payload: Any) -> list[Message]:
    """The convostore messages of a ``UIMessage`` list.

    Also accepted: one ``UIMessage`` (the assistant message a chat route
    streams back) and a chat request body ``{"messages": [...], ...}``.

    Raises:
        FormatError: when the payload is not in the shape AI SDK 5 defines,
            with ``field`` naming the place (``[2].parts[0].state``).
    """
    items, root = _message_list(dump(payload))
    out: list[Message] = []
    previous: str | None = None
    for i, raw in enumerate(items):
        where = "" if root is None else f"{root}[{i}]"
        item = expect_mapping(dump(raw), where)
        out.extend(_from_message(item, where, after_assistant=previous == "assistant"))
        previous = item.get("role") if isinstance(item.get("role"), str) else None
    return out


def _message_list(payload: Any) -> tuple[Sequence[Any], str | None]:
    """The ``UIMessage`` objects of a payload, and the path of their list
    (``None`` for a single message)."""
    if isinstance(payload, Mapping):
        if "messages" in payload and "parts" not in payload:
            return expect_list(payload["messages"], "messages"), "messages"
        return [payload], None
    return expect_list(payload, "payload"), ""


def _at(where: str, key: str) -> str:
    """The path of ``key`` in the object at ``where``."""
    return f"{where}.{key}" if where else key


def _from_message(item: Mapping[str, Any], where: str, *, after_assistant: bool) -> list[Message]:
    """The messages of one ``UIMessage``: one for a user or system message;
    for an assistant message, one per step and one per known tool result."""
    base = _message_id(item.get("id"), _at(where, "id"))
    role_name = item.get("role")
    if role_name not in _ROLES:
        raise FormatError("must be 'system', 'user' or 'assistant'", field=_at(where, "role"))
    parts = expect_list(item.get("parts"), _at(where, "parts"))
    extra: dict[str, Any] = {}
    if "metadata" in item:
        try:
            extra[UI_METADATA] = _JSON.validate_python(item["metadata"])
        except pydantic.ValidationError as exc:
            raise FormatError(_first_error(exc), field=_at(where, "metadata")) from None
    where = _at(where, "parts")
    role = _ROLES[role_name]
    if role is not Role.ASSISTANT:
        converted = [_from_plain_part(p, f"{where}[{j}]", role_name) for j, p in enumerate(parts)]
        return [_message(base, role, converted, extra)]
    return _from_assistant(base, parts, where, extra, after_assistant=after_assistant)


def _message_id(value: Any, where: str) -> str:
    """A ``UIMessage``'s id as a convostore id; a fresh one when it has none."""
    if value is None or value == "":
        return new_id("msg")
    if not is_identifier(value):
        raise FormatError(ID_RULE, field=where)
    return value


def _derived_id(base: str, n: int) -> str:
    """The id of the ``n``-th extra message made of the ``UIMessage`` ``base``:
    ``base~n``, shortened with a hash of ``base`` when that is too long."""
    plain = f"{base}~{n}"
    if len(plain) <= ID_MAX_LENGTH:
        return plain
    suffix = f"~{hashlib.sha256(base.encode('utf-8', 'surrogatepass')).hexdigest()[:16]}~{n}"
    return base[: ID_MAX_LENGTH - len(suffix)] + suffix


def _message(id: str, role: Role, parts: list[Any], extra: dict[str, Any]) -> Message:
    """A convostore message with ``extra`` as its ``metadata.extra``."""
    metadata = MessageMetadata(extra=extra) if extra else MessageMetadata()
    return Message(id=id, role=role, parts=parts, metadata=metadata)


def _from_assistant(
    base: str,
    parts: Sequence[Any],
    where: str,
    extra: dict[str, Any],
    *,
    after_assistant: bool,
) -> list[Message]:
    """An assistant ``UIMessage`` (its parts at ``where``) as one assistant
    message per step, each followed by the tool messages of its known
    results."""
    steps: list[list[tuple[int, Any]]] = []
    if not (parts and _part_type(parts[0], f"{where}[0]") == "step-start"):
        steps.append([])
        extra[UI_NO_STEP_START] = True
    for j, raw in enumerate(parts):
        if _part_type(raw, f"{where}[{j}]") == "step-start":
            steps.append([])
        else:
            steps[-1].append((j, raw))
    if after_assistant:
        extra[UI_NEW_MESSAGE] = True

    out: list[Message] = []
    for step in steps:
        converted: list[Any] = []
        results: list[ToolResultPart] = []
        for j, raw in step:
            part, result = _from_assistant_part(raw, f"{where}[{j}]")
            converted.append(part)
            if result is not None:
                results.append(result)
        n = len(out)
        out.append(
            _message(
                base if n == 0 else _derived_id(base, n),
                Role.ASSISTANT,
                converted,
                extra if n == 0 else {},
            )
        )
        for result in results:
            out.append(
                Message(
                    id=_derived_id(base, len(out)),
                    role=Role.TOOL,
                    tool_call_id=result.tool_call_id,
                    name=result.tool_name or None,
                    parts=[result],
                )
            )
    return out


def _part_type(raw: Any, where: str) -> str:
    """A part's ``type``."""
    kind = expect_mapping(raw, where).get("type")
    if not isinstance(kind, str):
        raise FormatError("must be a string", field=f"{where}.type")
    return kind


def _from_assistant_part(raw: Any, where: str) -> tuple[Any, ToolResultPart | None]:
    """An assistant ``UIMessage`` part as a convostore part, and the result
    of a tool part when it has one."""
    kind = _part_type(raw, where)
    if kind == "dynamic-tool" or kind.startswith("tool-"):
        return _from_tool(expect_mapping(raw, where), where, kind)
    return _from_plain_part(raw, where, "assistant"), None


def _from_plain_part(raw: Any, where: str, role: str) -> Any:
    """A part that is not a tool or step part as a convostore part."""
    kind = _part_type(raw, where)
    p = expect_mapping(raw, where)
    if kind == "text":
        return _build(
            TextPart,
            where,
            text=_str(p, "text", where),
            status=_state(p, where),
            provider_metadata=_provider_metadata(p, "providerMetadata", where),
        )
    if kind == "reasoning":
        return _build(
            ReasoningPart,
            where,
            text=_str(p, "text", where),
            provider_id=_opt_str(p, "id", where),
            status=_state(p, where),
            provider_metadata=_provider_metadata(p, "providerMetadata", where),
        )
    if kind == "source-url":
        return _build(
            SourcePart,
            where,
            source_id=_str(p, "sourceId", where),
            url=_str(p, "url", where),
            title=_opt_str(p, "title", where),
            provider_metadata=_provider_metadata(p, "providerMetadata", where),
        )
    if kind == "source-document":
        return _build(
            SourcePart,
            where,
            source_id=_str(p, "sourceId", where),
            media_type=_str(p, "mediaType", where),
            title=_str(p, "title", where),
            filename=_opt_str(p, "filename", where),
            provider_metadata=_provider_metadata(p, "providerMetadata", where),
        )
    if kind == "file":
        return _from_file(p, where)
    if kind.startswith("data-") and len(kind) > len("data-"):
        return _build(
            DataPart,
            where,
            name=kind[len("data-") :],
            data=p.get("data"),
            data_id=_opt_str(p, "id", where),
        )
    if kind == "step-start" or kind == "dynamic-tool" or kind.startswith("tool-"):
        raise FormatError(f"a {role} message cannot hold a {kind!r} part", field=f"{where}.type")
    raise FormatError(f"unknown part type {kind!r}", field=f"{where}.type")


def _from_file(p: Mapping[str, Any], where: str) -> Any:
    """A ``file`` part: an image or audio part for an unnamed image or audio
    file, a file part otherwise; a canonical base64 ``data:`` URL becomes
    inline bytes."""
    media_type = _str(p, "mediaType", where)
    filename = _opt_str(p, "filename", where)
    url = _str(p, "url", where)
    data = _data_url_bytes(url, media_type)
    fields: dict[str, Any] = {
        "provider_metadata": _provider_metadata(p, "providerMetadata", where),
        **({"data": data} if data is not None else {"url": url}),
    }
    if not filename and media_type.startswith("image/"):
        return _build(ImagePart, where, media_type=media_type, **fields)
    if not filename and media_type.startswith("audio/"):
        return _build(AudioPart, where, media_type=media_type, **fields)
    return _build(FilePart, where, mime_type=media_type, filename=filename or "", **fields)


def _data_url_bytes(url: str, media_type: str) -> bytes | None:
    """The bytes of ``url`` when it is exactly the base64 ``data:`` URL that
    :func:`_data_url` makes of them for ``media_type``; ``None`` otherwise
    (the URL is then kept as it is)."""
    prefix = f"data:{media_type};base64,"
    if not url.startswith(prefix):
        return None
    try:
        data = base64.b64decode(url[len(prefix) :], validate=True)
    except (binascii.Error, ValueError):
        return None
    return data if _data_url(data, media_type) == url else None


def _from_tool(
    p: Mapping[str, Any], where: str, kind: str
) -> tuple[ToolCallPart | HostedToolPart, ToolResultPart | None]:
    """A tool part as a call and, when its output is known, a result; a tool
    the provider ran itself (``providerExecuted``) as one hosted-tool part."""
    state = p.get("state")
    if state in _APPROVAL_STATES or "approval" in p:
        raise FormatError(
            "tool approval is not part of AI SDK 5's UIMessage types", field=f"{where}.state"
        )
    if state not in _TOOL_STATES:
        raise FormatError(f"must be one of {list(_TOOL_STATES)}", field=f"{where}.state")
    call_id = _str(p, "toolCallId", where)
    if not call_id:
        raise FormatError("must not be empty", field=f"{where}.toolCallId")
    dynamic = kind == "dynamic-tool"
    name = _str(p, "toolName", where) if dynamic else kind[len("tool-") :]
    if dynamic and p.get("dynamic") not in (None, False):
        raise FormatError("must be false when given", field=f"{where}.dynamic")
    executed = _opt_bool(p, "providerExecuted", where)
    keys = _STATE_KEYS[state]
    preliminary = _opt_bool(p, "preliminary", where) if "preliminary" in keys else None
    error_text = _str(p, "errorText", where) if state == "output-error" else None
    metadata = (
        _provider_metadata(p, "callProviderMetadata", where)
        if "callProviderMetadata" in keys
        else {}
    )
    if executed:
        known = (*(_DYNAMIC_KEYS if dynamic else _STATIC_KEYS), *keys)
        hosted = _build(
            HostedToolPart,
            where,
            provider=FORMAT,
            item_type=kind,
            payload={k: p[k] for k in known if k in p},
            tool_name=name,
            tool_call_id=call_id,
            status=state,
            is_error=state == "output-error",
        )
        return hosted, None

    raw_input = p.get("rawInput") if "rawInput" in keys else None
    if raw_input is not None and not isinstance(raw_input, str):
        raw_input = compact_json(raw_input)
    tool_kind = None
    if dynamic:
        normalized = p.get("dynamic") is False
        tool_kind = TOOL_KIND_DYNAMIC_NORMALIZED if normalized else TOOL_KIND_DYNAMIC
    call = _build(
        ToolCallPart,
        where,
        tool_call_id=call_id,
        tool_name=name,
        args=p.get("input"),
        args_text=raw_input,
        tool_kind=tool_kind,
        status=STATUS_INPUT_STREAMING if state == "input-streaming" else None,
        provider_metadata=metadata,
    )
    result: ToolResultPart | None = None
    if state == "output-available":
        result = _build(
            ToolResultPart,
            where,
            tool_call_id=call_id,
            tool_name=name,
            result=p.get("output"),
            status=STATUS_PRELIMINARY if preliminary else None,
        )
    elif state == "output-error":
        result = ToolResultPart(
            tool_call_id=call_id, tool_name=name, result=error_text, is_error=True
        )
    return call, result


def _build(cls: type[Any], where: str, **fields: Any) -> Any:
    """``cls(**fields)``, a value the model refuses being a :class:`FormatError`."""
    try:
        return cls(**fields)
    except pydantic.ValidationError as exc:
        raise FormatError(_first_error(exc), field=where) from None


def _first_error(exc: pydantic.ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(x) for x in err["loc"])
    return f"{loc}: {err['msg']}" if loc else str(err["msg"])


def _str(p: Mapping[str, Any], key: str, where: str) -> str:
    value = p.get(key)
    if not isinstance(value, str):
        raise FormatError("must be a string", field=f"{where}.{key}")
    return value


def _opt_str(p: Mapping[str, Any], key: str, where: str) -> str | None:
    value = p.get(key)
    if value is not None and not isinstance(value, str):
        raise FormatError("must be a string", field=f"{where}.{key}")
    return value


def _opt_bool(p: Mapping[str, Any], key: str, where: str) -> bool | None:
    value = p.get(key)
    if value is not None and not isinstance(value, bool):
        raise FormatError("must be a boolean", field=f"{where}.{key}")
    return value


def _state(p: Mapping[str, Any], where: str) -> str | None:
    value = p.get("state")
    if value is not None and value not in _TEXT_STATES:
        raise FormatError("must be 'streaming' or 'done'", field=f"{where}.state")
    return value


def _provider_metadata(p: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    """A ``providerMetadata`` object (provider name to an object of options)."""
    value = p.get(key)
    if value is None:
        return {}
    outer = expect_mapping(value, f"{where}.{key}")
    return {
        str(name): dict(expect_mapping(options, f"{where}.{key}.{name}"))
        for name, options in outer.items()
    }


# ---------------------------------------------------------------------------
# to_vercel_ui


def to_vercel_ui(
    messages: Iterable[Message],
    *,
    report: DropReport | None = None,
    attachments: AttachmentResolver | None = None,
) -> list[dict[str, Any]]:
    """``messages`` as a list of AI SDK 5 ``UIMessage`` objects.

    An assistant message and the tool and assistant messages after it (up to
    the next user or system message, not counting user messages that hold
    only tool results) become one ``UIMessage``: each assistant message opens
    a step (``step-start``), and each tool call takes its result from the
    messages of the group. Stored attachments are read with ``attachments``
    and sent inline as ``data:`` URLs. What the format cannot hold goes into
    ``report`` (or a :class:`~convostore.formats.DroppedContentWarning`).
    """
    rep, owned = own_report(report, FORMAT)
    out = _Writer(rep, attachments).write(list(messages))
    warn_dropped(rep, owned)
    return out


@dataclass
class _Result:
    """A tool result waiting for its call, with where it came from."""

    index: int
    message: Message
    part_index: int | None
    part: ToolResultPart


@dataclass
class _Group:
    """Convostore messages that make one ``UIMessage``."""

    role: str
    steps: list[tuple[int, Message, list[Any]]] = field(default_factory=list)
    results: list[_Result] = field(default_factory=list)
    matched: dict[tuple[int, int], _Result] = field(default_factory=dict)

    def match(self) -> list[_Result]:
        """Pair each result with its call; returns the results left unpaired.

        A result answers the call with its id in the latest message before it
        (or in its own), the first of them there that is not yet answered:
        steps may reuse an id, a step may not.
        """
        calls: dict[str, list[tuple[int, int]]] = {}
        for i, _, parts in self.steps:
            for j, p in enumerate(parts):
                if isinstance(p, ToolCallPart):
                    calls.setdefault(p.tool_call_id, []).append((i, j))
        left = []
        for r in self.results:
            free = [
                c
                for c in calls.get(r.part.tool_call_id, [])
                if c[0] <= r.index and c not in self.matched
            ]
            if not free:
                left.append(r)
                continue
            latest = max(i for i, _ in free)
            self.matched[min(c for c in free if c[0] == latest)] = r
        return left


_EMPTY: tuple[object, ...] = ("", 0, False, [], {})


class _Writer:
    """Turns convostore messages into ``UIMessage`` objects, reporting what
    it drops."""

    def __init__(self, report: DropReport, attachments: AttachmentResolver | None) -> None:
        self.report = report
        self.attachments = attachments

    # grouping ----------------------------------------------------------------

    def write(self, messages: list[Message]) -> list[dict[str, Any]]:
        """The ``UIMessage`` objects of ``messages``."""
        groups: list[_Group] = []
        open_group: _Group | None = None
        for i, m in enumerate(messages):
            parts = _parts_of(m)
            results = [
                _Result(i, m, j, p) for j, p in enumerate(parts) if isinstance(p, ToolResultPart)
            ]
            rest = [p for p in parts if not isinstance(p, ToolResultPart)]
            if m.role is Role.TOOL:
                self._tool_message(i, m, parts, results, open_group)
                continue
            self._report_message_fields(i, m)
            if m.role is Role.ASSISTANT:
                if open_group is None or m.metadata.extra.get(UI_NEW_MESSAGE) is True:
                    open_group = _Group("assistant")
                    groups.append(open_group)
                elif UI_METADATA in m.metadata.extra:
                    self._drop(
                        i, m, None, "metadata.ui_metadata", "it is not the UIMessage's first"
                    )
                open_group.steps.append((i, m, parts))
                self._collect(open_group, results)
                continue
            self._collect(open_group, results)
            if rest:
                groups.append(_Group(m.role.value, [(i, m, parts)]))
                open_group = None
            elif not results:
                self._drop(i, m, None, "message", "a user or system UIMessage needs a part")
        return [self._render(g) for g in groups]

    def _tool_message(
        self,
        i: int,
        m: Message,
        parts: list[Any],
        results: list[_Result],
        group: _Group | None,
    ) -> None:
        """Collect a tool message's results; one without result parts has its
        text (``content``) as the result of the call ``tool_call_id``."""
        text_result = not results and m.tool_call_id is not None
        if text_result:
            part = ToolResultPart(
                tool_call_id=m.tool_call_id or "", tool_name=m.name or "", result=m.content
            )
            results = [_Result(i, m, None, part)]
        self._collect(group, results)
        for j, p in enumerate(parts):
            if isinstance(p, ToolResultPart) or (text_result and isinstance(p, TextPart)):
                continue
            self._drop(i, m, j, _what(p), "a tool message holds only tool results")

    def _collect(self, group: _Group | None, results: list[_Result]) -> None:
        for r in results:
            if group is None:
                self._drop(
                    r.index, r.message, r.part_index, "tool-result", "no tool call precedes it"
                )
            else:
                group.results.append(r)

    def _report_message_fields(self, i: int, m: Message) -> None:
        if m.name:
            self._drop(i, m, None, "name", "a UIMessage has no author name")

    def _drop(self, i: int, m: Message, j: int | None, what: str, reason: str) -> None:
        self.report.add(i, m, j, what, reason)

    # rendering -----------------------------------------------------------------

    def _render(self, group: _Group) -> dict[str, Any]:
        _, first, _ = group.steps[0]
        ui: dict[str, Any] = {"id": first.id, "role": group.role}
        if UI_METADATA in first.metadata.extra:
            ui["metadata"] = first.metadata.extra[UI_METADATA]
        parts: list[dict[str, Any]] = []
        assistant = group.role == "assistant"
        for r in group.match():
            self._drop(
                r.index, r.message, r.part_index, "tool-result", "no tool call before it has its id"
            )
        for k, (i, m, step_parts) in enumerate(group.steps):
            if assistant and not (k == 0 and m.metadata.extra.get(UI_NO_STEP_START) is True):
                parts.append({"type": "step-start"})
            for j, p in enumerate(step_parts):
                if isinstance(p, ToolResultPart):
                    continue
                out = self._part(i, m, j, p, group, assistant=assistant)
                if out is not None:
                    parts.append(out)
        ui["parts"] = parts
        return ui

    def _part(
        self, i: int, m: Message, j: int, p: Any, group: _Group, *, assistant: bool
    ) -> dict[str, Any] | None:
        """One part in the format, or ``None`` when it is dropped."""
        if isinstance(p, TextPart):
            return self._text(i, m, j, p)
        if isinstance(p, ReasoningPart):
            return self._reasoning(i, m, j, p)
        if isinstance(p, ToolCallPart):
            if not assistant:
                self._drop(i, m, j, "tool-call", "only an assistant UIMessage holds tool calls")
                return None
            return self._tool(i, m, j, p, group)
        if isinstance(p, HostedToolPart):
            return self._hosted(i, m, j, p, assistant=assistant)
        if isinstance(p, SourcePart):
            return self._source(i, m, j, p)
        if isinstance(p, ImagePart | AudioPart | FilePart):
            return self._file(i, m, j, p)
        if isinstance(p, DataPart):
            out: dict[str, Any] = {"type": f"data-{p.name}"}
            if p.data_id is not None:
                out["id"] = p.data_id
            out["data"] = p.data
            return out
        if isinstance(p, CodePart):
            reason = "the format has no code part"
        elif isinstance(p, RefusalPart):
            reason = "the format has no refusal part"
        else:
            reason = "the format has no such part"
        self._drop(i, m, j, _what(p), reason)
        return None

    def _unheld(self, i: int, m: Message, j: int | None, p: Any, fields: Iterable[str]) -> None:
        """Report each field of ``fields`` that ``p`` sets (the format has no place for it)."""
        for name in fields:
            value = getattr(p, name)
            if value is not None and value not in _EMPTY:
                self._drop(i, m, j, f"{_what(p)}.{name}", "the format has no place for it")

    def _text(self, i: int, m: Message, j: int, p: TextPart) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "text", "text": p.text}
        self._add_state(out, i, m, j, p)
        _add_metadata(out, "providerMetadata", p.provider_metadata)
        self._unheld(i, m, j, p, ("citations", "provider_id", "signature"))
        return out

    def _reasoning(self, i: int, m: Message, j: int, p: ReasoningPart) -> dict[str, Any] | None:
        text = p.text
        dropped = ["signature", "encrypted_content", "redacted"]
        if not text and p.summary:
            # What the AI SDK itself shows of summarised (OpenAI) reasoning.
            text = "\n\n".join(p.summary)
        else:
            dropped.append("summary")
        if not text and (p.encrypted_content or p.redacted or p.signature):
            self._drop(i, m, j, "reasoning", "encrypted or redacted reasoning has no place")
            return None
        out: dict[str, Any] = {"type": "reasoning"}
        if p.provider_id is not None:
            out["id"] = p.provider_id
        out["text"] = text
        self._add_state(out, i, m, j, p)
        _add_metadata(out, "providerMetadata", p.provider_metadata)
        self._unheld(i, m, j, p, dropped)
        return out

    def _add_state(self, out: dict[str, Any], i: int, m: Message, j: int, p: Any) -> None:
        if p.status in _TEXT_STATES:
            out["state"] = p.status
        elif p.status is not None:
            self._drop(i, m, j, f"{_what(p)}.status", "the format's state is streaming or done")

    def _tool(
        self, i: int, m: Message, j: int, call: ToolCallPart, group: _Group
    ) -> dict[str, Any]:
        result = group.matched.get((i, j))
        out: dict[str, Any]
        if call.tool_kind in (TOOL_KIND_DYNAMIC, TOOL_KIND_DYNAMIC_NORMALIZED):
            out = {"type": "dynamic-tool"}
            if call.tool_kind == TOOL_KIND_DYNAMIC_NORMALIZED:
                out["dynamic"] = False
            out["toolName"] = call.tool_name
        else:
            if call.tool_kind is not None:
                self._drop(i, m, j, "tool-call.tool_kind", "the format has only function tools")
            out = {"type": f"tool-{call.tool_name}"}
        out["toolCallId"] = call.tool_call_id
        if result is not None:
            state = "output-error" if result.part.is_error else "output-available"
        elif call.status == STATUS_INPUT_STREAMING:
            state = STATUS_INPUT_STREAMING
        else:
            state = "input-available"
        out["state"] = state
        if state in ("input-streaming", "output-error"):
            if call.args is not None:
                out["input"] = call.args
        else:
            out["input"] = call.args
        if result is not None:
            self._add_result(out, result, state)
        if call.args_text is not None:
            if "rawInput" in _STATE_KEYS[state]:
                out["rawInput"] = call.args_text
            else:
                self._drop(i, m, j, "tool-call.args_text", "the format keeps the parsed input")
        if call.provider_metadata:
            if "callProviderMetadata" in _STATE_KEYS[state]:
                out["callProviderMetadata"] = call.provider_metadata
            else:
                self._drop(
                    i, m, j, "tool-call.provider_metadata", "a streaming tool input has none"
                )
        if state == "output-available" and result and result.part.status == STATUS_PRELIMINARY:
            out["preliminary"] = True
        self._unheld(i, m, j, call, ("provider_id", "signature"))
        if call.status not in (None, STATUS_INPUT_STREAMING):
            self._drop(i, m, j, "tool-call.status", "the format's tool state replaces it")
        return out

    def _add_result(self, out: dict[str, Any], r: _Result, state: str) -> None:
        """Write a tool result into its tool part, reporting what has no place."""
        p = r.part
        value = p.result
        if value is None and p.content and all(isinstance(c, TextPart) for c in p.content):
            value = "\n".join(c.text for c in p.content if isinstance(c, TextPart))
        elif p.content:
            for c in p.content:
                self._drop(
                    r.index, r.message, r.part_index, f"tool-result.{_what(c)}", "output is JSON"
                )
        if state == "output-error":
            out["errorText"] = (
                value if isinstance(value, str) else "" if value is None else compact_json(value)
            )
        else:
            out["output"] = value
        reported = ("provider_id", "provider_metadata")
        self._unheld(r.index, r.message, r.part_index, p, reported)
        if p.status not in (None, STATUS_PRELIMINARY):
            self._drop(r.index, r.message, r.part_index, "tool-result.status", "no place for it")

    def _hosted(
        self, i: int, m: Message, j: int, p: HostedToolPart, *, assistant: bool
    ) -> dict[str, Any] | None:
        if p.provider != FORMAT:
            self._drop(i, m, j, "hosted-tool", f"a tool hosted by {p.provider} cannot be replayed")
            return None
        if not assistant:
            self._drop(i, m, j, "hosted-tool", "only an assistant UIMessage holds tool parts")
            return None
        self._unheld(i, m, j, p, ("provider_metadata",))
        return dict(p.payload)

    def _source(self, i: int, m: Message, j: int, p: SourcePart) -> dict[str, Any]:
        out: dict[str, Any]
        if p.url is not None:
            out = {"type": "source-url", "sourceId": p.source_id, "url": p.url}
            if p.title is not None:
                out["title"] = p.title
            self._unheld(i, m, j, p, ("media_type", "filename"))
        else:
            out = {
                "type": "source-document",
                "sourceId": p.source_id,
                "mediaType": p.media_type or "",
                "title": p.title or "",
            }
            if p.filename is not None:
                out["filename"] = p.filename
        _add_metadata(out, "providerMetadata", p.provider_metadata)
        return out

    def _file(
        self, i: int, m: Message, j: int, p: ImagePart | AudioPart | FilePart
    ) -> dict[str, Any] | None:
        """A binary part as a ``file`` part: its URL, else its bytes as a
        ``data:`` URL; ``None`` (reported) when it has neither."""
        if isinstance(p, FilePart):
            media_type = p.mime_type
            filename = p.filename
            # size_bytes is not reported: it is what the bytes or URL say.
            unheld = ["file_id", "title", "context", "provider_file_id"]
            unheld.append("citations_enabled")
        else:
            media_type = p.media_type or ""
            filename = ""
            unheld = []
            if isinstance(p, ImagePart):
                unheld += ["image_id", "alt_text", "detail", "provider_file_id"]
            else:
                unheld += ["transcript", "provider_id"]
        url = p.url
        if url is None:
            data = part_bytes(p, self.attachments)
            if data is None and isinstance(p, FilePart) and p.text is not None:
                data = p.text.encode("utf-8")
                media_type = media_type or "text/plain"
            if data is None:
                why = "it has no URL, and its bytes are neither inline nor resolvable"
                self._drop(i, m, j, _what(p), why)
                return None
            if not isinstance(p, FilePart):
                # A file's media type is kept as it is, even empty: a
                # UIMessage file part may have an empty one.
                media_type = media_type or _sniff(data, isinstance(p, ImagePart))
            url = _data_url(data, media_type)
        elif isinstance(p, FilePart) and p.text is not None:
            unheld.append("text")
        if not media_type and not isinstance(p, FilePart):
            media_type = _media_of_url(url) or (
                "image/*" if isinstance(p, ImagePart) else "audio/*"
            )
        out: dict[str, Any] = {"type": "file", "mediaType": media_type}
        if filename:
            out["filename"] = filename
        out["url"] = url
        _add_metadata(out, "providerMetadata", p.provider_metadata)
        self._unheld(i, m, j, p, unheld)
        return out


def _parts_of(m: Message) -> list[Any]:
    """A message's parts; its ``content`` as one text part when it has none."""
    if m.parts:
        return list(m.parts)
    return [TextPart(text=m.content)] if m.content else []


def _what(p: Any) -> str:
    """A part's kind as the report names it (``image``, ``hosted-tool``)."""
    return str(getattr(p, "type", type(p).__name__))


def _add_metadata(out: dict[str, Any], key: str, metadata: Mapping[str, Any]) -> None:
    if metadata:
        out[key] = {name: dict(options) for name, options in metadata.items()}


def _data_url(data: bytes, media_type: str) -> str:
    """``data`` as a base64 ``data:`` URL of ``media_type``."""
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


def _media_of_url(url: str) -> str:
    """The media type a ``data:`` URL names; empty for other URLs."""
    if not url.startswith("data:"):
        return ""
    return url[len("data:") :].split(",", 1)[0].split(";", 1)[0]


def _sniff(data: bytes, image: bool) -> str:
    """A media type for the bytes of an image (``image``) or audio part that
    came without one: from their first bytes, else ``image/*`` or ``audio/*``."""
    for magic, media_type in _MAGIC:
        if data.startswith(magic):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] in (b"WEBP", b"WAVE"):
        return "image/webp" if data[8:12] == b"WEBP" else "audio/wav"
    return "image/*" if image else "audio/*"
