""":class:`ConvostoreSession`: an Agents SDK session kept in a convostore thread."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from convostore.errors import ThreadExistsError, ThreadNotFoundError
from convostore.integrations.openai_agents._items import item_to_message, message_items
from convostore.model import Message
from convostore.store import open_async_store
from convostore.store.api import AsyncStore, Store

try:
    from agents.items import TResponseInputItem
    from agents.memory.session import SessionABC, await_session_mutation
    from agents.memory.session_settings import (
        SessionSettings,
        coerce_session_settings,
        resolve_session_limit,
    )
except ImportError as exc:  # pragma: no cover - the extra is installed in the tests
    raise ImportError(
        "convostore.integrations.openai_agents needs the OpenAI Agents SDK: "
        "pip install 'convostore[openai-agents]'"
    ) from exc

__all__ = ["ConvostoreSession"]

T = TypeVar("T")


class _StoreLoop:
    """The event loop, on a thread of its own, that runs every call a session
    makes on one async store.

    An async store may hold resources bound to the event loop that first used
    them: the PostgreSQL backend opens an ``AsyncConnectionPool`` whose
    connections and workers belong to that loop, so once it closes (the end of
    an ``asyncio.run``) or from another thread's loop, calls fail with "Event
    loop is closed" or "attached to a different loop". Running them all on one
    loop that lives as long as the store makes a session usable from any
    event loop and thread. One per store, shared by its sessions; stopped when
    the store is garbage collected or a session that owns it closes it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=self._run, args=(loop,), name="convostore-openai-agents", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            loop.close()

    def stop(self) -> None:
        """Stop the loop (it closes once its thread returns); a later call starts
        a new one."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):  # already closed
            loop.call_soon_threadsafe(loop.stop)
        if thread is not threading.current_thread():
            thread.join()


_loops: weakref.WeakKeyDictionary[AsyncStore, _StoreLoop] = weakref.WeakKeyDictionary()
_loops_lock = threading.Lock()


def _store_loop(store: AsyncStore) -> _StoreLoop:
    with _loops_lock:
        found = _loops.get(store)
        if found is None:
            found = _loops[store] = _StoreLoop()
            weakref.finalize(store, found.stop)
        return found


async def _on_store_loop(
    store: AsyncStore, method: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any
) -> T:
    """``await method(*args, **kwargs)``, run on the loop of ``store``."""
    loop = _store_loop(store).loop()

    async def call() -> T:
        return await method(*args, **kwargs)

    with contextlib.suppress(RuntimeError):
        if asyncio.get_running_loop() is loop:
            return await call()
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(call(), loop))


class ConvostoreSession(SessionABC):
    """An Agents SDK ``Session`` whose items are the messages of one thread.

    The thread's id is ``session_id``; it is created on the first write (with
    ``user_id``, ``agent_name``, ``title`` and ``metadata``), and a session
    without one reads as empty. Each SDK operation is one store operation:
    ``add_items`` one append, ``get_items`` one read of the newest messages,
    ``pop_item`` one ``pop_message``, ``clear_session`` one ``clear_messages``
    that purges the history, as the SDK's own sessions delete it.

    ``store`` is an async store, or a sync one (its calls then run in a worker
    thread, as the SDK's ``SQLiteSession`` runs its own). Both may be used from
    any event loop and thread: an async store's calls all run on one event loop
    thread kept for that store (shared by its sessions), since a PostgreSQL
    async store's connections belong to the loop that opened them.
    ``session_settings`` gives the default ``limit`` of :meth:`get_items`, as in
    the SDK's sessions.
    """

    session_settings: SessionSettings | None = None

    def __init__(
        self,
        session_id: str,
        store: AsyncStore | Store,
        *,
        session_settings: SessionSettings | dict[str, Any] | None = None,
        user_id: str | None = None,
        agent_name: str | None = None,
        title: str | None = None,
        metadata: dict[str, Any] | None = None,
        owns_store: bool = False,
    ) -> None:
        """Keep the session ``session_id`` in ``store``.

        ``user_id``, ``agent_name``, ``title`` and ``metadata`` are those of the
        thread when the first write creates it. ``owns_store=True`` makes
        :meth:`close` close the store too.
        """
        if not isinstance(store, AsyncStore | Store):
            raise TypeError(f"store must be a convostore Store or AsyncStore, not {type(store)}")
        self.session_id = session_id
        self.session_settings = (
            coerce_session_settings(session_settings)
            if session_settings is not None
            else SessionSettings()
        )
        self._store = store
        self._owns_store = owns_store
        self._thread_fields: dict[str, Any] = {
            "user_id": user_id,
            "agent_name": agent_name,
            "title": title,
            "metadata": metadata,
        }

    @classmethod
    def from_url(
        cls,
        session_id: str,
        *,
        url: str,
        store_options: dict[str, Any] | None = None,
        session_settings: SessionSettings | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> ConvostoreSession:
        """A session on the store at ``url`` (``sqlite:///app.db``,
        ``postgresql://...``, ``memory://``, ``json:///dir``), opened as an
        async store that :meth:`close` closes.

        ``store_options`` go to :func:`convostore.open_async_store` (backend
        options, ``settings``, ``token_counter``...); ``kwargs`` to the
        constructor (``user_id``, ``agent_name``, ``title``, ``metadata``).
        """
        store = open_async_store(url, **(store_options or {}))
        return cls(session_id, store, session_settings=session_settings, owns_store=True, **kwargs)

    @property
    def store(self) -> AsyncStore | Store:
        """The store the session is kept in."""
        return self._store

    async def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if isinstance(self._store, Store):
            return await asyncio.to_thread(method, *args, **kwargs)
        return await _on_store_loop(self._store, method, *args, **kwargs)

    # the Session protocol -------------------------------------------------------

    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        """The newest ``limit`` items, oldest first (``session_settings.limit``
        when ``None``; every item when both are ``None``; none for ``limit <= 0``).

        Reads only the newest ``limit`` messages, never the whole thread.
        """
        session_limit = resolve_session_limit(limit, self.session_settings)
        if session_limit is not None and session_limit <= 0:
            return []
        try:
            if session_limit is None:
                messages = await self._call(self._store.load_messages, self.session_id)
            else:
                messages = await self._call(self._store.recent, self.session_id, session_limit)
        except ThreadNotFoundError:
            return []
        items = [item for m in messages for item in message_items(m)]
        if session_limit is not None:
            # A message written another way than by a session may stand for
            # several items; the limit counts items.
            items = items[-session_limit:]
        return cast(list[TResponseInputItem], items)

    async def add_items(self, items: list[TResponseInputItem]) -> None:
        """Append one message per item, in one atomic append (creating the
        thread first when the session has none yet)."""
        if not items:
            return
        messages = [item_to_message(item) for item in items]
        await await_session_mutation(self._append(messages))

    async def _append(self, messages: list[Message]) -> None:
        try:
            await self._call(self._store.append, self.session_id, messages)
        except ThreadNotFoundError:
            with contextlib.suppress(ThreadExistsError):  # a concurrent first write made it
                await self._call(
                    self._store.create_thread, id=self.session_id, **self._thread_fields
                )
            # The same message ids: if the first append did land after all,
            # this one adds nothing.
            await self._call(self._store.append, self.session_id, messages)

    async def pop_item(self) -> TResponseInputItem | None:
        """Remove the newest message for good and return its item, or ``None``
        when the session is empty (one atomic ``pop_message``)."""
        return await await_session_mutation(self._pop())

    async def _pop(self) -> TResponseInputItem | None:
        try:
            message = await self._call(self._store.pop_message, self.session_id)
        except ThreadNotFoundError:
            return None
        if message is None:
            return None
        items = message_items(message)
        return cast(TResponseInputItem, items[-1]) if items else None

    async def clear_session(self) -> None:
        """Purge every message of the session, in one ``clear_messages``
        (``mode="purge"``, ``keep="none"``): gone for good, as the SDK's own
        sessions delete their rows. The thread stays, empty."""
        await await_session_mutation(self._clear())

    async def _clear(self) -> None:
        with contextlib.suppress(ThreadNotFoundError):
            await self._call(self._store.clear_messages, self.session_id, mode="purge", keep="none")

    # lifetime ---------------------------------------------------------------------

    async def close(self) -> None:
        """Close the store if the session opened it (:meth:`from_url`)."""
        if self._owns_store:
            await self._call(self._store.close)
            if isinstance(self._store, AsyncStore):
                _store_loop(self._store).stop()

    async def __aenter__(self) -> ConvostoreSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
