"""Pydantic AI message history on a convostore thread (extra ``convostore[pydantic-ai]``).

Each :class:`~pydantic_ai.messages.ModelRequest` and
:class:`~pydantic_ai.messages.ModelResponse` is stored as one convostore
message: its exact JSON (as ``ModelMessagesTypeAdapter`` dumps it) is the
message's ``native`` payload (``format="pydantic-ai"``), and its parts are
converted to convostore parts so that windows, search, counters and tool pairing
see real roles, text and tool calls. Loading a thread gives back the very
messages that were stored::

    history = PydanticAIHistory(store, "chat")
    result = agent.run_sync("Hi", message_history=history.load())
    history.append(result.new_messages())

An append is one ``store.append`` (atomic on every backend); a load is one
``store.load_messages``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

try:
    from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "convostore.integrations.pydantic_ai needs Pydantic AI: "
        "pip install 'convostore[pydantic-ai]'"
    ) from exc

from convostore.errors import ValidationError
from convostore.model import Message
from convostore.model.message import NativePayload, Role
from convostore.model.metadata import MessageMetadata, TokenUsage
from convostore.model.parts import (
    DataPart,
    FilePart,
    HostedToolPart,
    ImagePart,
    Part,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from convostore.store.api import AsyncStore, Store

__all__ = [
    "FORMAT",
    "AsyncPydanticAIHistory",
    "ConvostoreConversationStore",
    "PydanticAIHistory",
    "from_message",
    "to_message",
]

#: The ``native.format`` of the messages this adapter stores.
FORMAT = "pydantic-ai"

_TOOL_RESULTS = {"tool-return", "native-tool-return", "builtin-tool-return", "retry-prompt"}


def _dump(message: ModelMessage) -> dict[str, Any]:
    dumped: dict[str, Any] = ModelMessagesTypeAdapter.dump_python([message], mode="json")[0]
    return dumped


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _content_parts(content: Any) -> list[Part]:
    """Convostore parts of a user prompt's content (a string or a list of items)."""
    items = content if isinstance(content, list) else [content]
    parts: list[Part] = []
    for item in items:
        if isinstance(item, str):
            if item:
                parts.append(TextPart(text=item))
        elif not isinstance(item, dict):
            continue
        elif item.get("kind") == "image-url":
            parts.append(ImagePart(url=item.get("url"), media_type=item.get("media_type")))
        elif "url" in item or item.get("kind") == "binary":
            # URLs of documents, audio and video, and inline bytes: named here
            # (the bytes stay in the native payload, not copied twice).
            parts.append(
                FilePart(
                    url=item.get("url"),
                    mime_type=item.get("media_type") or "",
                    filename=item.get("identifier") or "",
                )
            )
        elif isinstance(item.get("content"), str):
            parts.append(TextPart(text=item["content"]))
    return parts


def _result_parts(part: dict[str, Any]) -> ToolResultPart:
    kind = part["part_kind"]
    return ToolResultPart(
        tool_call_id=part.get("tool_call_id") or "-",
        tool_name=part.get("tool_name") or "",
        result=part.get("content"),
        is_error=kind == "retry-prompt" or part.get("outcome") not in (None, "success"),
    )


def _parts(dumped: dict[str, Any]) -> list[Part]:
    parts: list[Part] = []
    for part in dumped.get("parts", []):
        kind = part.get("part_kind")
        if kind in ("system-prompt", "text"):
            if part.get("content"):
                parts.append(TextPart(text=part["content"]))
        elif kind == "user-prompt":
            parts.extend(_content_parts(part.get("content")))
        elif kind in _TOOL_RESULTS and part.get("tool_name"):
            parts.append(_result_parts(part))
        elif kind == "thinking":
            parts.append(
                ReasoningPart(text=_text(part.get("content")), signature=part.get("signature"))
            )
        elif kind == "tool-call":
            args = part.get("args")
            parts.append(
                ToolCallPart(
                    tool_call_id=part.get("tool_call_id") or "-",
                    tool_name=part.get("tool_name") or "",
                    args=args if not isinstance(args, str) else None,
                    args_text=args if isinstance(args, str) else None,
                )
            )
        elif kind in ("native-tool-call", "builtin-tool-call"):
            parts.append(
                HostedToolPart(
                    provider=part.get("provider_name") or FORMAT,
                    item_type=kind,
                    payload={"args": part.get("args")},
                    tool_name=part.get("tool_name"),
                    tool_call_id=part.get("tool_call_id"),
                )
            )
        elif kind == "file":
            parts.extend(_content_parts([part.get("content")]))
        elif kind in _TOOL_RESULTS:
            if isinstance(part.get("content"), str):
                parts.append(TextPart(text=part["content"]))
        else:
            # A part convostore has no kind for: its name, so counts see it.
            parts.append(DataPart(name=f"pydantic-ai:{kind}", data=None))
    return parts


def _role(dumped: dict[str, Any]) -> Role:
    """The convostore role of a request or a response.

    A response is the assistant's. A request holds what is sent to the model:
    only tool results (a tool turn), only system prompts (the system), or a user
    prompt, possibly with system prompts or tool results beside it (the user's,
    tool results carried in a user message as Anthropic's format does).
    """
    if dumped.get("kind") == "response":
        return Role.ASSISTANT
    kinds = {p.get("part_kind") for p in dumped.get("parts", [])}
    if kinds and kinds <= _TOOL_RESULTS:
        return Role.TOOL
    if kinds == {"system-prompt"}:
        return Role.SYSTEM
    return Role.USER


def _metadata(dumped: dict[str, Any]) -> MessageMetadata:
    if dumped.get("kind") != "response":
        return MessageMetadata()
    usage = dumped.get("usage") or {}
    prompt = int(usage.get("input_tokens") or 0)
    completion = int(usage.get("output_tokens") or 0)
    return MessageMetadata(
        model=dumped.get("model_name"),
        provider=dumped.get("provider_name"),
        token_usage=TokenUsage(
            prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
        )
        if prompt or completion
        else None,
    )


def to_message(message: ModelMessage, **fields: Any) -> Message:
    """The convostore message for a Pydantic AI request or response, its exact
    JSON kept as ``native`` (``fields`` are passed on, e.g. ``id=``)."""
    dumped = _dump(message)
    role = _role(dumped)
    parts = _parts(dumped)
    if role is Role.TOOL and len(parts) == 1 and isinstance(parts[0], ToolResultPart):
        fields.setdefault("tool_call_id", parts[0].tool_call_id)
    return Message(
        role=role,
        parts=parts,
        metadata=_metadata(dumped),
        native=NativePayload(format=FORMAT, data=dumped),
        **fields,
    )


def from_message(message: Message) -> ModelMessage:
    """The Pydantic AI message a convostore message stores.

    Raises:
        ValidationError: the message was not stored by this adapter.
    """
    if message.native is None or message.native.format != FORMAT:
        raise ValidationError(f"message {message.id} holds no Pydantic AI message", field="native")
    loaded: ModelMessage = ModelMessagesTypeAdapter.validate_python([message.native.data])[0]
    return loaded


def _stored(messages: Iterable[Message]) -> list[ModelMessage]:
    return [from_message(m) for m in messages]


class PydanticAIHistory:
    """One thread as a Pydantic AI ``message_history``, on a sync store."""

    def __init__(self, store: Store, thread_id: str) -> None:
        self.store = store
        self.thread_id = thread_id

    def append(self, messages: Sequence[ModelMessage]) -> list[Message]:
        """Append a run's ``new_messages()`` in one transaction; returns the stored messages."""
        return self.store.append(self.thread_id, [to_message(m) for m in messages])

    def load(self, *, last: int | None = None) -> list[ModelMessage]:
        """The thread's messages as ``list[ModelMessage]``, or only the ``last`` ones."""
        if last is not None:
            return _stored(self.store.recent(self.thread_id, last))
        return _stored(self.store.load_messages(self.thread_id))


class AsyncPydanticAIHistory:
    """One thread as a Pydantic AI ``message_history``, on an async store."""

    def __init__(self, store: AsyncStore, thread_id: str) -> None:
        self.store = store
        self.thread_id = thread_id

    async def append(self, messages: Sequence[ModelMessage]) -> list[Message]:
        """Append a run's ``new_messages()`` in one transaction; returns the stored messages."""
        return await self.store.append(self.thread_id, [to_message(m) for m in messages])

    async def load(self, *, last: int | None = None) -> list[ModelMessage]:
        """The thread's messages as ``list[ModelMessage]``, or only the ``last`` ones."""
        if last is not None:
            return _stored(await self.store.recent(self.thread_id, last))
        return _stored(await self.store.load_messages(self.thread_id))


# The ConversationStore half: it imports the converters above, so it comes last.
from convostore.integrations.pydantic_ai_store import ConvostoreConversationStore  # noqa: E402
