"""LangChain chat message history over a convostore store (``convostore[langchain]``).

:class:`ConvostoreChatMessageHistory` is a ``BaseChatMessageHistory``: a
session is a thread (its id is the session id), each LangChain message is one
stored message whose parts (roles, text, reasoning, images, tool calls and
results) convostore's windows, search and counters read, and whose ``native``
payload (format ``langchain``) is LangChain's own ``message_to_dict`` JSON, so
a message reads back equal to the one added. Every operation is one store
call: ``add_messages`` one atomic append, ``messages`` one read, ``clear`` one
``clear_messages``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from convostore.errors import ThreadExistsError, ThreadNotFoundError
from convostore.formats._common import args_from_text
from convostore.model import Message, NativePayload
from convostore.model.message import Role
from convostore.model.metadata import MessageMetadata, TokenUsage
from convostore.model.parts import (
    AudioPart,
    Citation,
    DataPart,
    FilePart,
    HostedToolPart,
    ImagePart,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from convostore.store import AsyncStore, Store, open_async_store, open_store

try:
    from langchain_core.chat_history import BaseChatMessageHistory
    from langchain_core.messages import (
        BaseMessage,
        RemoveMessage,
        message_to_dict,
        messages_from_dict,
    )
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "convostore.integrations.langchain needs LangChain: pip install 'convostore[langchain]'"
    ) from exc

__all__ = [
    "FORMAT",
    "ConvostoreChatMessageHistory",
    "from_langchain",
    "messages_from_dict",
    "to_langchain",
]

#: The ``native`` format name of a stored LangChain message.
FORMAT = "langchain"

ClearMode = Literal["archive", "delete", "purge"]

_ROLES: dict[str, Role] = {
    "human": Role.USER,
    "user": Role.USER,
    "ai": Role.ASSISTANT,
    "assistant": Role.ASSISTANT,
    "system": Role.SYSTEM,
    "developer": Role.SYSTEM,
}


def _role_of(msg: BaseMessage) -> tuple[Role, str | None]:
    kind = msg.type.removesuffix("MessageChunk").lower()
    if kind in ("tool", "function"):
        return Role.TOOL, None
    if kind == "chat":
        custom = str(getattr(msg, "role", ""))
        role = _ROLES.get(custom.lower(), Role.USER)
        return role, (None if custom == role.value else custom)
    return _ROLES.get(kind, Role.USER), None


def _bytes(text: Any) -> bytes | None:
    if not isinstance(text, str):
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _citations(block: Mapping[str, Any]) -> list[Citation]:
    out = []
    for note in block.get("annotations") or ():
        if isinstance(note, Mapping) and note.get("type") == "citation":
            out.append(
                Citation(
                    kind="citation",
                    url=note.get("url"),
                    title=note.get("title"),
                    start_index=note.get("start_index"),
                    end_index=note.get("end_index"),
                    cited_text=note.get("cited_text"),
                )
            )
    return out


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _part(block: Mapping[str, Any]) -> Any:
    """The convostore part of one LangChain v1 standard content block, or
    ``None`` for a block no part holds (it stays in ``native``)."""
    kind = block.get("type")
    if kind == "text":
        return TextPart(text=str(block.get("text", "")), citations=_citations(block))
    if kind == "reasoning":
        extras = block.get("extras") or {}
        return ReasoningPart(
            text=str(block.get("reasoning") or ""),
            signature=_str(extras.get("signature")) if isinstance(extras, Mapping) else None,
        )
    if kind == "image":
        return ImagePart(
            url=_str(block.get("url")),
            data=_bytes(block.get("base64")),
            media_type=_str(block.get("mime_type")),
            provider_file_id=_str(block.get("file_id")),
        )
    if kind == "audio":
        return AudioPart(
            url=_str(block.get("url")),
            data=_bytes(block.get("base64")),
            media_type=_str(block.get("mime_type")),
        )
    if kind in ("file", "video", "text-plain"):
        return FilePart(
            url=_str(block.get("url")),
            data=_bytes(block.get("base64")),
            mime_type=_str(block.get("mime_type")) or "",
            provider_file_id=_str(block.get("file_id")),
            text=_str(block.get("text")),
            title=_str(block.get("title")),
        )
    if kind in ("tool_call", "tool_call_chunk", "invalid_tool_call"):
        call_id = _str(block.get("id"))
        if not call_id:
            return None
        raw = block.get("args")
        args, args_text = args_from_text(raw) if isinstance(raw, str) else (raw, None)
        return ToolCallPart(
            tool_call_id=call_id,
            tool_name=str(block.get("name") or ""),
            args=args,
            args_text=args_text,
            status="invalid" if kind == "invalid_tool_call" else None,
        )
    if kind in ("server_tool_call", "server_tool_result", "server_tool_call_chunk"):
        return HostedToolPart(
            provider=FORMAT,
            item_type=str(kind),
            payload=dict(block),
            tool_name=_str(block.get("name")),
            tool_call_id=_str(block.get("id")) or _str(block.get("tool_call_id")),
            status=_str(block.get("status")),
        )
    if kind == "non_standard":
        return DataPart(name="langchain-non-standard", data=block.get("value"))
    return None


def _blocks(msg: BaseMessage) -> list[Mapping[str, Any]]:
    try:
        blocks: list[Any] = list(msg.content_blocks)
    except Exception:
        # Content LangChain cannot translate to standard blocks: its text only.
        blocks = [{"type": "text", "text": msg.text}] if msg.text else []
    return [b for b in blocks if isinstance(b, Mapping)]


def _add_missing_calls(msg: BaseMessage, parts: list[Any]) -> None:
    """Add the tool calls of ``msg`` that its content blocks do not show (a
    provider's own content, e.g. Anthropic's, leaves them out)."""
    seen = {p.tool_call_id for p in parts if isinstance(p, ToolCallPart)}
    calls: list[Mapping[str, Any]] = [
        *({**c, "type": "tool_call"} for c in getattr(msg, "tool_calls", None) or ()),
        *(
            {**c, "type": "invalid_tool_call"}
            for c in getattr(msg, "invalid_tool_calls", None) or ()
        ),
    ]
    for call in calls:
        part = _part(call)
        if part is not None and part.tool_call_id not in seen:
            seen.add(part.tool_call_id)
            parts.append(part)


def _metadata(msg: BaseMessage) -> MessageMetadata:
    fields: dict[str, Any] = {}
    meta = msg.response_metadata or {}
    model = meta.get("model_name") or meta.get("model")
    if isinstance(model, str):
        fields["model"] = model
    provider = meta.get("model_provider")
    if isinstance(provider, str):
        fields["provider"] = provider
    reason = meta.get("finish_reason") or meta.get("stop_reason")
    if isinstance(reason, str):
        fields["provider_finish_reason"] = reason
    usage = getattr(msg, "usage_metadata", None)
    if usage:
        details_in = usage.get("input_token_details") or {}
        details_out = usage.get("output_token_details") or {}
        fields["token_usage"] = TokenUsage(
            prompt_tokens=max(0, int(usage.get("input_tokens", 0))),
            completion_tokens=max(0, int(usage.get("output_tokens", 0))),
            total_tokens=max(0, int(usage.get("total_tokens", 0))),
            cached_input_tokens=details_in.get("cache_read"),
            cache_write_tokens=details_in.get("cache_creation"),
            reasoning_tokens=details_out.get("reasoning"),
        )
    return MessageMetadata(**fields)


def _native_data(msg: BaseMessage) -> Any:
    data = message_to_dict(msg)
    try:
        # The JSON form is what is stored; a value JSON cannot hold is refused
        # here, as LangChain's own SQL history refuses it.
        return json.loads(json.dumps(data, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"a LangChain message must be JSON to be stored: {exc}") from None


def from_langchain(msg: BaseMessage, *, id: str | None = None) -> Message:
    """The convostore message of a LangChain message: parts for convostore, and
    the exact ``message_to_dict`` JSON as its ``native`` payload.

    Raises:
        ValueError: a ``RemoveMessage`` (a chat history has no removal
            semantics), or a message that is not JSON.
    """
    if isinstance(msg, RemoveMessage):
        raise ValueError(
            "a chat message history does not apply RemoveMessage; remove messages "
            "with clear() or the store's delete_message"
        )
    role, provider_role = _role_of(msg)
    fields: dict[str, Any] = {
        "role": role,
        "name": msg.name,
        "native": NativePayload(format=FORMAT, data=_native_data(msg)),
        "metadata": _metadata(msg),
    }
    if id is not None:
        fields["id"] = id
    if provider_role is not None:
        fields["provider_role"] = provider_role
    parts = [p for p in map(_part, _blocks(msg)) if p is not None]
    _add_missing_calls(msg, parts)
    if role is Role.TOOL:
        call_id = str(getattr(msg, "tool_call_id", None) or msg.name or "function")
        texts = [p.text for p in parts if isinstance(p, TextPart)]
        pieces = [p for p in parts if isinstance(p, (TextPart, ImagePart, FilePart, AudioPart))]
        content = msg.content
        result = content if isinstance(content, str) else "\n".join(texts)
        parts = [
            ToolResultPart(
                tool_call_id=call_id,
                tool_name=msg.name or "",
                result=result,
                is_error=getattr(msg, "status", None) == "error",
                content=[] if isinstance(content, str) else pieces,
            )
        ]
        fields["tool_call_id"] = call_id
    fields["parts"] = parts
    return Message(**fields)


def to_langchain(message: Message) -> BaseMessage:
    """The LangChain message a stored message holds (its ``native`` payload);
    a message stored without one (written through convostore directly) is
    rebuilt from its role and text."""
    native = message.native
    if native is not None and native.format == FORMAT and isinstance(native.data, dict):
        return messages_from_dict([native.data])[0]
    kind = {Role.USER: "human", Role.ASSISTANT: "ai", Role.SYSTEM: "system"}.get(message.role)
    data: dict[str, Any] = {"content": message.content, "id": message.id}
    if message.name is not None:
        data["name"] = message.name
    if kind is None:
        kind = "tool"
        data["tool_call_id"] = message.tool_call_id or ""
    if kind == "ai" and message.tool_calls:
        data["tool_calls"] = [
            {"name": p.tool_name, "args": p.args or {}, "id": p.tool_call_id}
            for p in message.tool_calls
        ]
    return messages_from_dict([{"type": kind, "data": data}])[0]


def _history(stored: Iterable[Message]) -> list[BaseMessage]:
    return [to_langchain(m) for m in stored]


class ConvostoreChatMessageHistory(BaseChatMessageHistory):
    """A LangChain chat message history kept as the convostore thread
    ``session_id``.

    Give an open ``store`` (a sync :class:`~convostore.Store` or an
    :class:`~convostore.AsyncStore`) or a ``url`` to open one (sync, or async
    with ``async_mode=True``; the history then owns and closes it). The thread
    is created on the first add, with ``user_id`` and ``agent_name`` when
    given. ``clear_mode`` says what ``clear()`` does to the messages: ``purge``
    (default: gone, as LangChain's SQL history deletes its rows), ``delete``
    (soft delete) or ``archive`` (kept, readable through convostore, out of the
    history and of context windows).

    Over a sync store the async methods run the sync calls in a worker thread;
    over an async store the sync methods raise ``ValueError``, as LangChain's
    SQL history does in async mode.
    """

    def __init__(
        self,
        session_id: str,
        store: Store | AsyncStore | None = None,
        *,
        url: str | None = None,
        async_mode: bool = False,
        user_id: str | None = None,
        agent_name: str | None = None,
        clear_mode: ClearMode = "purge",
    ) -> None:
        if (store is None) == (url is None):
            raise ValueError("give exactly one of store= or url=")
        self._owned = store is None
        if store is None:
            store = open_async_store(url) if async_mode else open_store(url)
        self.store: Store | AsyncStore = store
        self.session_id = session_id
        self.user_id = user_id
        self.agent_name = agent_name
        self.clear_mode: ClearMode = clear_mode

    @classmethod
    def from_url(
        cls, session_id: str, url: str, *, async_mode: bool = False, **kwargs: Any
    ) -> ConvostoreChatMessageHistory:
        """A history over a store it opens at ``url`` and closes with :meth:`close`."""
        return cls(session_id, url=url, async_mode=async_mode, **kwargs)

    # plumbing -----------------------------------------------------------------

    def _sync(self) -> Store:
        if not isinstance(self.store, Store):
            raise ValueError(
                "this history is over an async store: use aget_messages, aadd_messages and aclear"
            )
        return self.store

    def close(self) -> None:
        """Close the store if this history opened it (sync store)."""
        if self._owned and isinstance(self.store, Store):
            self.store.close()

    async def aclose(self) -> None:
        """Close the store if this history opened it."""
        if not self._owned:
            return
        if isinstance(self.store, AsyncStore):
            await self.store.close()
        else:
            self.store.close()

    def _converted(self, messages: Sequence[BaseMessage]) -> list[Message]:
        return [from_langchain(m) for m in messages]

    # sync ---------------------------------------------------------------------

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        """The session's messages, oldest first (archived ones left out)."""
        try:
            return _history(self._sync().load_messages(self.session_id, active_only=True))
        except ThreadNotFoundError:
            return []

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Store ``messages`` in one atomic append (creating the thread on the first)."""
        store = self._sync()
        batch = self._converted(messages)
        if not batch:
            return
        try:
            store.append(self.session_id, batch)
        except ThreadNotFoundError:
            with contextlib.suppress(ThreadExistsError):
                store.create_thread(
                    id=self.session_id, user_id=self.user_id, agent_name=self.agent_name
                )
            store.append(self.session_id, batch)

    def clear(self) -> None:
        """Take every message out of the session in one ``clear_messages``."""
        with contextlib.suppress(ThreadNotFoundError):
            self._sync().clear_messages(self.session_id, mode=self.clear_mode, keep="none")

    # async --------------------------------------------------------------------

    async def aget_messages(self) -> list[BaseMessage]:
        store = self.store
        if isinstance(store, Store):
            return await asyncio.to_thread(lambda: self.messages)
        try:
            return _history(await store.load_messages(self.session_id, active_only=True))
        except ThreadNotFoundError:
            return []

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        store = self.store
        if isinstance(store, Store):
            await asyncio.to_thread(self.add_messages, messages)
            return
        batch = self._converted(messages)
        if not batch:
            return
        try:
            await store.append(self.session_id, batch)
        except ThreadNotFoundError:
            with contextlib.suppress(ThreadExistsError):
                await store.create_thread(
                    id=self.session_id, user_id=self.user_id, agent_name=self.agent_name
                )
            await store.append(self.session_id, batch)

    async def aclear(self) -> None:
        store = self.store
        if isinstance(store, Store):
            await asyncio.to_thread(self.clear)
            return
        with contextlib.suppress(ThreadNotFoundError):
            await store.clear_messages(self.session_id, mode=self.clear_mode, keep="none")
