"""The chat store: :class:`ConvostoreChatStore`, a LlamaIndex ``AsyncDBChatStore``."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any, Literal, TypeVar

from convostore import AsyncStore, open_async_store
from convostore.errors import RevisionConflictError, ThreadExistsError, ThreadNotFoundError
from convostore.integrations.llama_index._convert import chat_json_of, to_message
from convostore.model import Message

try:
    from llama_index.core.base.llms.types import ChatMessage
    from llama_index.core.bridge.pydantic import PrivateAttr, model_serializer
    from llama_index.core.storage.chat_store.base_db import AsyncDBChatStore, MessageStatus
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "convostore.integrations.llama_index needs LlamaIndex: "
        "pip install 'convostore[llama-index]'"
    ) from exc

__all__ = ["ConvostoreChatStore"]

R = TypeVar("R")
Rewrite = Callable[[list[Message]], tuple[list[Message] | None, R]]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _chat(message: Message) -> ChatMessage:
    return ChatMessage.model_validate(chat_json_of(message))


def _wanted(message: Message, status: MessageStatus | None) -> bool:
    if status is None:
        return True
    archived = message.archived_at is not None
    return archived == (MessageStatus(status) is MessageStatus.ARCHIVED)


class ConvostoreChatStore(AsyncDBChatStore):
    """A LlamaIndex chat store kept in a convostore store: a key is a thread.

    ``ConvostoreChatStore(url="sqlite:///chat.db")`` opens a store of its own
    (closed by :meth:`aclose`, or use it as ``async with``; a native async
    backend such as PostgreSQL's is bound to the event loop that opened it);
    ``ConvostoreChatStore(store)`` works over an
    async store the caller opened and closes (a tenant view works too).

    Each ``ChatMessage`` is a message whose ``native`` payload is
    ``ChatMessage.model_dump(mode="json")`` (format ``llama-index``), so it
    reads back exactly as the reference ``SQLAlchemyChatStore`` returns it;
    its blocks are also stored as convostore parts. An archived message is a
    message with ``archived_at`` set: kept and readable, left out of context
    windows. ``delete_message(key, idx)`` takes the message's ``seq``, its
    1-based position in ``get_messages(key, status=None)``; deletes remove
    messages for good, and the later ones move down one.
    """

    url: str | None = None
    """The store's URL when the chat store opened it; ``None`` over a given store."""

    _store: AsyncStore = PrivateAttr()
    _opened: bool = PrivateAttr(default=False)

    def __init__(self, store: AsyncStore | None = None, /, *, url: str | None = None) -> None:
        if (store is None) == (url is None):
            raise ValueError("give an open AsyncStore or a url, not both")
        super().__init__(url=url)
        self._store = store if store is not None else open_async_store(url)
        self._opened = store is not None

    @classmethod
    def class_name(cls) -> str:
        return "ConvostoreChatStore"

    @property
    def store(self) -> AsyncStore:
        """The convostore store the messages are kept in."""
        return self._store

    async def _ready(self) -> AsyncStore:
        if not self._opened:
            await self._store.open()
            self._opened = True
        return self._store

    async def aclose(self) -> None:
        """Close the store if this chat store opened it (from a url)."""
        if self.url is not None and self._opened:
            await self._store.close()
            self._opened = False

    async def __aenter__(self) -> ConvostoreChatStore:
        await self._ready()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @model_serializer()
    def dump_store(self) -> dict[str, Any]:
        """The chat store's configuration: its class and url (the messages stay
        in the store)."""
        return {"class_name": self.class_name(), "url": self.url}

    # reading ----------------------------------------------------------------------

    async def _messages(self, key: str, status: MessageStatus | None = None) -> list[Message]:
        """The messages of ``key`` with ``status``; the active ones are read
        through the store's index of exactly them, not the whole archive."""
        store = await self._ready()
        active = status is not None and MessageStatus(status) is MessageStatus.ACTIVE
        try:
            found = await store.load_messages(key, active_only=active)
        except ThreadNotFoundError:
            return []
        return [m for m in found if _wanted(m, status)]

    async def get_messages(
        self,
        key: str,
        status: MessageStatus | None = MessageStatus.ACTIVE,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[ChatMessage]:
        """The messages of ``key`` with ``status`` (``None``: all), oldest first,
        ``offset`` and ``limit`` applied after the status filter."""
        found = await self._messages(key, status)
        start = offset or 0
        end = None if limit is None else start + limit
        return [_chat(m) for m in found[start:end]]

    async def count_messages(
        self, key: str, status: MessageStatus | None = MessageStatus.ACTIVE
    ) -> int:
        if status is None:
            store = await self._ready()
            try:
                return (await store.get_thread(key)).live_message_count
            except ThreadNotFoundError:
                return 0
        return len(await self._messages(key, status))

    async def get_keys(self) -> list[str]:
        """The threads holding at least one message."""
        store = await self._ready()
        keys: list[str] = []
        cursor = None
        while True:
            page = await store.list_threads(cursor=cursor)
            keys.extend(t.id for t in page.items if t.live_message_count > 0)
            if page.next_cursor is None:
                return keys
            cursor = page.next_cursor

    # writing ----------------------------------------------------------------------

    def _converted(self, messages: Iterable[ChatMessage], status: MessageStatus) -> list[Message]:
        archived = _now() if MessageStatus(status) is MessageStatus.ARCHIVED else None
        return [to_message(m.model_dump(mode="json"), archived_at=archived) for m in messages]

    async def _create(self, key: str) -> None:
        store = await self._ready()
        with contextlib.suppress(ThreadExistsError):  # created by a concurrent writer
            await store.create_thread(id=key)

    async def add_message(
        self, key: str, message: ChatMessage, status: MessageStatus = MessageStatus.ACTIVE
    ) -> None:
        await self.add_messages(key, [message], status)

    async def add_messages(
        self,
        key: str,
        messages: list[ChatMessage],
        status: MessageStatus = MessageStatus.ACTIVE,
    ) -> None:
        """Append the messages in one atomic append (the thread is created
        first if it does not exist)."""
        batch = self._converted(messages, status)
        if not batch:
            return
        store = await self._ready()
        try:
            await store.append(key, batch)
        except ThreadNotFoundError:
            await self._create(key)
            await store.append(key, batch)

    async def set_messages(
        self,
        key: str,
        messages: list[ChatMessage],
        status: MessageStatus = MessageStatus.ACTIVE,
    ) -> None:
        """Make ``messages`` the whole history of ``key``, in one replace."""
        batch = self._converted(messages, status)
        store = await self._ready()
        try:
            await store.replace_messages(key, batch)
        except ThreadNotFoundError:
            if not batch:
                return
            await self._create(key)
            await store.replace_messages(key, batch)

    async def _rewrite(self, key: str, change: Rewrite[R], empty: R) -> R:
        """Apply ``change`` to the whole history of ``key`` as one replace,
        checked against the revision the history was read at (and retried
        when another writer moved the thread on)."""
        store = await self._ready()
        while True:
            try:
                revision = (await store.get_thread(key)).revision
                stored = await store.load_messages(key, include_deleted=True)
            except ThreadNotFoundError:
                return empty
            kept, result = change(stored)
            if kept is None:
                return result
            try:
                await store.replace_messages(key, kept, expected_revision=revision)
            except RevisionConflictError:
                continue
            return result

    async def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        """Remove the message whose seq is ``idx`` for good and return it
        (``None`` when there is none); the later messages move down one."""
        store = await self._ready()
        while True:
            try:
                revision = (await store.get_thread(key)).revision
                stored = await store.load_messages(key)
            except ThreadNotFoundError:
                return None
            target = next((m for m in stored if m.seq == idx), None)
            if target is None:
                return None
            try:
                gone = await store.purge_message(target.id, expected_revision=revision)
            except RevisionConflictError:
                continue
            return _chat(gone)

    async def delete_messages(self, key: str, status: MessageStatus | None = None) -> None:
        """Remove the messages of ``key`` with ``status`` (``None``: all) for good."""
        store = await self._ready()
        if status is None:
            with contextlib.suppress(ThreadNotFoundError):
                await store.replace_messages(key, [])
            return
        if MessageStatus(status) is MessageStatus.ACTIVE:
            with contextlib.suppress(ThreadNotFoundError):
                await store.clear_messages(key, mode="purge", keep="none")
            return

        def drop_archived(stored: list[Message]) -> tuple[list[Message] | None, None]:
            kept = [m for m in stored if m.archived_at is None or m.deleted_at is not None]
            return (None if len(kept) == len(stored) else kept), None

        await self._rewrite(key, drop_archived, None)

    async def _trim(self, key: str, n: int, mode: Literal["archive", "purge"]) -> list[ChatMessage]:
        if n <= 0:
            return []
        store = await self._ready()
        try:
            taken = await store.trim_messages(key, n, mode=mode, keep="none")
        except ThreadNotFoundError:
            return []
        return [_chat(m) for m in taken]

    async def delete_oldest_messages(self, key: str, n: int) -> list[ChatMessage]:
        """Remove the oldest ``n`` active messages for good and return them."""
        return await self._trim(key, n, "purge")

    async def archive_oldest_messages(self, key: str, n: int) -> list[ChatMessage]:
        """Archive the oldest ``n`` active messages and return them."""
        return await self._trim(key, n, "archive")
