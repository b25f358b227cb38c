"""LlamaIndex ``ChatMessage`` JSON to convostore messages and back.

Works on ``ChatMessage.model_dump(mode="json")``, so the importer converts rows
of a LlamaIndex SQL chat store without LlamaIndex installed, exactly as the
adapter converts the messages it is given. The JSON is kept whole as the
message's ``native`` payload (format ``llama-index``); the parts are
convostore's own view of it (for windows, search, counters and the HTTP/CLI).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from pydantic import JsonValue

from convostore.model import (
    AudioPart,
    FilePart,
    ImagePart,
    Message,
    NativePayload,
    ReasoningPart,
    Role,
    SourcePart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from convostore.model.parts import Part

__all__ = ["FORMAT", "UNKNOWN_CALL", "chat_json_of", "to_message"]

FORMAT = "llama-index"
"""The ``native.format`` of a message stored through the adapter or importer."""

UNKNOWN_CALL = "llama-index-unknown-call"
"""The ``tool_call_id`` of a tool message that names no call (convostore needs
one; the ChatMessage itself is kept as it was given)."""

_ROLES: dict[str, tuple[Role, str | None]] = {
    "system": (Role.SYSTEM, None),
    "developer": (Role.SYSTEM, "developer"),
    "user": (Role.USER, None),
    "assistant": (Role.ASSISTANT, None),
    "tool": (Role.TOOL, None),
    "function": (Role.TOOL, "function"),
    "chatbot": (Role.ASSISTANT, "chatbot"),
    "model": (Role.ASSISTANT, "model"),
}


def _b64(value: object) -> bytes | None:
    """The bytes of a block's base64 field (LlamaIndex keeps inline data as
    base64), or ``None`` when there are none or they are not base64."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _path_meta(block: Mapping[str, Any]) -> dict[str, dict[str, JsonValue]]:
    path = _str(block.get("path"))
    return {"llama_index": {"path": path}} if path else {}


def _call_id(value: object, index: int) -> str:
    return value if isinstance(value, str) and value else f"llama-index-call-{index}"


def _tool_call(block: Mapping[str, Any], index: int) -> ToolCallPart:
    kwargs = block.get("tool_kwargs")
    name = block.get("tool_name")
    common: dict[str, Any] = {
        "tool_call_id": _call_id(block.get("tool_call_id"), index),
        "tool_name": name if isinstance(name, str) else "",
    }
    if isinstance(kwargs, str):
        try:
            args = json.loads(kwargs)
        except ValueError:
            return ToolCallPart(**common, args=None, args_text=kwargs)
        return ToolCallPart(**common, args=args, args_text=kwargs)
    return ToolCallPart(**common, args=kwargs)


def _legacy_tool_calls(kwargs: Mapping[str, Any], start: int) -> list[Part]:
    """OpenAI-style ``additional_kwargs["tool_calls"]``, where LlamaIndex's
    OpenAI LLM put an assistant's tool calls before tool call blocks."""
    calls = kwargs.get("tool_calls")
    parts: list[Part] = []
    if not isinstance(calls, list):
        return parts
    for i, call in enumerate(calls, start):
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict):
            continue
        parts.append(
            _tool_call(
                {
                    "tool_call_id": call.get("id"),
                    "tool_name": fn.get("name"),
                    "tool_kwargs": fn.get("arguments", {}),
                },
                i,
            )
        )
    return parts


def _block_parts(block: Mapping[str, Any], index: int) -> list[Part]:
    kind = block.get("block_type")
    if kind == "text":
        return [TextPart(text=str(block.get("text", "")))]
    if kind == "image":
        return [
            ImagePart(
                url=_str(block.get("url")),
                media_type=_str(block.get("image_mimetype")),
                detail=_str(block.get("detail")),
                data=_b64(block.get("image")),
                provider_metadata=_path_meta(block),
            )
        ]
    if kind == "audio":
        fmt = _str(block.get("format"))
        return [
            AudioPart(
                media_type=f"audio/{fmt}" if fmt else None,
                url=_str(block.get("url")),
                data=_b64(block.get("audio")),
                provider_metadata=_path_meta(block),
            )
        ]
    if kind in ("document", "video"):
        path = _str(block.get("path"))
        mime = block.get("document_mimetype" if kind == "document" else "video_mimetype")
        return [
            FilePart(
                filename=path.rsplit("/", 1)[-1] if path else "",
                mime_type=_str(mime) or "",
                url=_str(block.get("url")),
                title=_str(block.get("title")),
                data=_b64(block.get("data" if kind == "document" else "video")),
                provider_metadata=_path_meta(block),
            )
        ]
    if kind == "thinking":
        return [ReasoningPart(text=_str(block.get("content")) or "")]
    if kind == "tool_call":
        return [_tool_call(block, index)]
    if kind in ("citable", "citation"):
        inner = block.get("content") if kind == "citable" else [block.get("cited_content")]
        parts: list[Part] = [
            SourcePart(
                source_id=str(block.get("source", "")),
                title=_str(block.get("title")),
            )
        ]
        for sub in inner if isinstance(inner, list) else []:
            if isinstance(sub, dict) and sub.get("block_type") == "text":
                parts.append(TextPart(text=str(sub.get("text", ""))))
        return parts
    return []  # a cache point, or a block type of a later release: kept in native only


def to_message(
    data: Mapping[str, Any],
    *,
    id: str | None = None,
    created_at: dt.datetime | None = None,
    archived_at: dt.datetime | None = None,
) -> Message:
    """The convostore message of ``ChatMessage.model_dump(mode="json")``.

    ``data`` is kept whole as ``native``; the parts are its blocks as
    convostore parts (text, image, audio, file, reasoning, tool call, source),
    a tool message's text becomes a tool result for
    ``additional_kwargs["tool_call_id"]``.
    """
    role_name = str(data.get("role", "user"))
    role, provider_role = _ROLES.get(role_name, (Role.USER, role_name))
    raw_kwargs = data.get("additional_kwargs")
    kwargs: Mapping[str, Any] = raw_kwargs if isinstance(raw_kwargs, dict) else {}
    blocks = data.get("blocks")
    parts: list[Part] = []
    for i, block in enumerate(blocks if isinstance(blocks, list) else []):
        if isinstance(block, dict):
            parts.extend(_block_parts(block, i))
    if role is Role.ASSISTANT:
        parts.extend(_legacy_tool_calls(kwargs, len(parts)))
    fields: dict[str, Any] = {
        "role": role,
        "provider_role": provider_role,
        "native": NativePayload(format=FORMAT, data=dict(data)),
        "archived_at": archived_at,
    }
    name = kwargs.get("name")
    if isinstance(name, str) and name:
        fields["name"] = name
    if role is Role.TOOL:
        call = _str(kwargs.get("tool_call_id")) or UNKNOWN_CALL
        text = [p.text for p in parts if isinstance(p, TextPart)]
        others = [p for p in parts if not isinstance(p, TextPart)]
        tool_name = name if isinstance(name, str) else ""
        result = ToolResultPart(tool_call_id=call, tool_name=tool_name, result="\n".join(text))
        fields["tool_call_id"] = call
        parts = [result, *others]
    fields["parts"] = parts
    if id is not None:
        fields["id"] = id
    if created_at is not None:
        fields["created_at"] = created_at
    return Message(**fields)


def chat_json_of(message: Message) -> dict[str, Any]:
    """The ``ChatMessage`` JSON of a stored message: its native payload when it
    came from LlamaIndex, else a ChatMessage of its role and text."""
    native = message.native
    if native is not None and native.format == FORMAT and isinstance(native.data, dict):
        return dict(native.data)
    role = message.provider_role or message.role.value
    if role not in _ROLES:
        role = message.role.value
    kwargs: dict[str, Any] = {}
    if message.tool_call_id:
        kwargs["tool_call_id"] = message.tool_call_id
    if message.name:
        kwargs["name"] = message.name
    return {
        "role": role,
        "additional_kwargs": kwargs,
        "blocks": [{"block_type": "text", "text": message.content}],
    }
