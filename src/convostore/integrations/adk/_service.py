"""The session service itself; imported by :mod:`convostore.integrations.adk`."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from google.adk.errors._stale_session_error import StaleSessionError
from google.adk.errors.already_exists_error import AlreadyExistsError
from google.adk.errors.session_not_found_error import SessionNotFoundError
from google.adk.events.event import Event
from google.adk.platform import time as platform_time
from google.adk.platform import uuid as platform_uuid
from google.adk.sessions.base_session_service import (
    BaseSessionService,
    GetSessionConfig,
    ListSessionsResponse,
)
from google.adk.sessions.session import Session
from pydantic_core import to_jsonable_python

from convostore.errors import (
    RevisionConflictError,
    ThreadDeletedError,
    ThreadExistsError,
    ThreadNotFoundError,
)
from convostore.integrations.adk._convert import (
    LAST_UPDATE_KEY,
    event_data,
    event_timestamp,
    last_update_time,
    message_for,
    session_state,
    split_delta,
    thread_for,
    thread_id_for,
    utc,
)
from convostore.model import Message, StateChange, StateUpdate, Thread, prefixed_view
from convostore.store import AsyncStore, open_async_store

__all__ = ["ConvostoreSessionService"]

_STALE = (
    "The session has been modified in storage since it was loaded. "
    "Please reload the session before appending more events."
)


def _accepts(method: Any, name: str) -> bool:
    try:
        return name in inspect.signature(method).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins only
        return False


class ConvostoreSessionService(BaseSessionService):  # type: ignore[misc]
    """A Google ADK session service over a convostore store.

    ``ConvostoreSessionService("sqlite:///sessions.db")`` opens the store at a
    URL (``**options`` as :func:`convostore.open_async_store` takes them) and
    closes it with :meth:`close`; ``ConvostoreSessionService(store)`` works
    over an :class:`~convostore.AsyncStore` you opened and close.

    An app is a tenant (its ``app:`` state is the tenant's app state), a
    session a thread of the user (``user:`` state is the user's state, the
    other keys the thread's state), an event a message. Every call is one
    store operation: an event, its state delta in every scope and the
    session's revision check are one ``append``.
    """

    def __init__(self, store: str | AsyncStore | None = None, /, **options: Any) -> None:
        if isinstance(store, AsyncStore):
            if options:
                raise TypeError("options go with a store URL, not with an open store")
            self._store = store
            self._owned = False
            self._opened = True
        else:
            self._store = open_async_store(store, **options)
            self._owned = True
            self._opened = False
        self._opening: asyncio.Lock | None = None
        self._since = _accepts(self._store.recent, "since")

    @property
    def store(self) -> AsyncStore:
        """The store the sessions are kept in (its default tenant)."""
        return self._store

    async def _app(self, app_name: str) -> AsyncStore:
        if not self._opened:
            if self._opening is None:
                self._opening = asyncio.Lock()
            async with self._opening:
                if not self._opened:
                    await self._store.open()
                    self._opened = True
        return self._store.tenant(app_name)

    async def close(self) -> None:
        """Close the store, if the service opened it."""
        if self._owned and self._opened:
            await self._store.close()
            self._opened = False

    async def __aenter__(self) -> ConvostoreSessionService:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # sessions -----------------------------------------------------------------

    def _session(
        self,
        app_name: str,
        thread: Thread,
        app: dict[str, Any],
        user: dict[str, Any],
        events: list[Event],
    ) -> Session:
        keys = thread.metadata.get("adk")
        session_id = keys.get("session_id") if isinstance(keys, dict) else None
        assert thread.user_id is not None
        session = Session(
            id=session_id if isinstance(session_id, str) else thread.id,
            app_name=app_name,
            user_id=thread.user_id,
            state=prefixed_view(app, user, session_state(thread)),
            events=events,
            last_update_time=last_update_time(thread),
        )
        # ADK's own stale-session check compares this marker; here it is the
        # thread's revision, which the next append sends as expected_revision.
        session._storage_update_marker = str(thread.revision)
        return session

    async def create_session(
        self,
        *,
        app_name: str,
        user_id: str,
        state: dict[str, Any] | None = None,
        session_id: str | None = None,
    ) -> Session:
        session_id = (session_id.strip() if session_id else None) or platform_uuid.new_uuid()
        deltas = split_delta(to_jsonable_python(state or {}))
        now = platform_time.get_time()
        thread = thread_for(app_name, user_id, session_id, deltas["session"], now)
        store = await self._app(app_name)
        shared = StateChange(
            user=StateUpdate(changes=deltas["user"]) if deltas["user"] else None,
            app=StateUpdate(changes=deltas["app"]) if deltas["app"] else None,
        )
        try:  # the session and its app: and user: state in one transaction
            created = await store.create_thread(
                thread, state_change=None if shared.empty else shared
            )
        except ThreadExistsError:
            raise AlreadyExistsError(f"Session with id {session_id} already exists.") from None
        app = await store.get_state("app")
        user = await store.get_state("user", user_id=user_id)
        return self._session(app_name, created, app.data, user.data, [])

    async def get_session(
        self,
        *,
        app_name: str,
        user_id: str,
        session_id: str,
        config: GetSessionConfig | None = None,
    ) -> Session | None:
        store = await self._app(app_name)
        thread_id = thread_id_for(user_id, session_id.strip() if session_id else session_id)
        try:
            thread = await store.get_thread(thread_id)
        except ThreadNotFoundError:
            return None
        if thread.deleted_at is not None or thread.user_id != user_id:
            return None
        events = await self._events(store, thread_id, config)
        app = await store.get_state("app")
        user = await store.get_state("user", user_id=user_id)
        return self._session(app_name, thread, app.data, user.data, events)

    async def _events(
        self, store: AsyncStore, thread_id: str, config: GetSessionConfig | None
    ) -> list[Event]:
        n = config.num_recent_events if config else None
        after = config.after_timestamp if config else None
        if n == 0:
            return []
        messages: list[Message]
        if after is None:
            if n is None:
                messages = await store.load_messages(thread_id)
            else:
                messages = await store.recent(thread_id, n)
        elif self._since:
            recent: Any = store.recent
            messages = await recent(thread_id, n, since=utc(after))
        else:
            # One read of the whole thread, filtered here: the store's recent()
            # takes no time bound yet.
            messages = await store.load_messages(thread_id)
        found = [d for d in map(event_data, messages) if d is not None]
        if after is not None:
            # Exactly ADK's bound, on the event's own float timestamp.
            found = [d for d in found if event_timestamp(d) >= after]
            if n is not None:
                found = found[-n:]
        return [Event.model_validate(d) for d in found]

    async def list_sessions(
        self, *, app_name: str, user_id: str | None = None
    ) -> ListSessionsResponse:
        store = await self._app(app_name)
        threads: list[Thread] = []
        cursor = None
        while True:
            page = await store.list_threads(
                user_id=user_id,
                agent_name=app_name,
                limit=store.limits.max_list_limit,
                cursor=cursor,
            )
            threads.extend(t for t in page.items if "adk" in t.metadata and t.user_id)
            cursor = page.next_cursor
            if cursor is None:
                break
        app = (await store.get_state("app")).data
        users: dict[str, dict[str, Any]] = {}
        sessions = []
        for thread in threads:
            assert thread.user_id is not None
            if thread.user_id not in users:
                users[thread.user_id] = (await store.get_state("user", user_id=thread.user_id)).data
            sessions.append(self._session(app_name, thread, app, users[thread.user_id], []))
        sessions.sort(key=lambda s: (s.last_update_time, s.user_id, s.id))
        return ListSessionsResponse(sessions=sessions)

    async def delete_session(self, *, app_name: str, user_id: str, session_id: str) -> None:
        store = await self._app(app_name)
        try:
            await store.purge_thread(thread_id_for(user_id, session_id.strip()))
        except ThreadNotFoundError:
            return

    async def get_user_state(self, *, app_name: str, user_id: str) -> dict[str, Any]:
        store = await self._app(app_name)
        return dict((await store.get_state("user", user_id=user_id)).data)

    # events -----------------------------------------------------------------

    async def append_event(self, session: Session, event: Event) -> Event:
        return (await self.append_events(session, [event]))[0]

    async def append_events(self, session: Session, events: list[Event]) -> list[Event]:
        """Store the events (but partial ones, which ADK never stores) and their
        state deltas in one ``append``: all of them, or none."""
        out: list[Event] = []
        kept: list[Event] = []
        for event in events:
            if event.partial:
                out.append(event)
                continue
            self._apply_temp_state(session, event)
            event = self._trim_temp_delta_state(event)
            out.append(event)
            kept.append(event)
        if not kept:
            return out
        thread_id = thread_id_for(session.user_id, session.id)
        messages = []
        merged: dict[str, dict[str, Any]] = {"app": {}, "user": {}, "session": {}}
        for event in kept:
            data = event.model_dump(mode="json", exclude_none=True)
            messages.append(message_for(thread_id, data))
            delta = data.get("actions", {}).get("state_delta") or {}
            for scope, values in split_delta(delta).items():
                merged[scope].update(values)
        last = kept[-1].timestamp
        change = StateChange(
            thread=StateUpdate(changes={**merged["session"], LAST_UPDATE_KEY: last}),
            user=StateUpdate(changes=merged["user"]) if merged["user"] else None,
            app=StateUpdate(changes=merged["app"]) if merged["app"] else None,
        )
        marker = session._storage_update_marker
        expected = int(marker) if isinstance(marker, str) and marker.isdigit() else None
        store = await self._app(session.app_name)
        try:
            await store.append(thread_id, messages, expected_revision=expected, state=change)
        except (ThreadNotFoundError, ThreadDeletedError):
            raise SessionNotFoundError(f"Session {session.id} not found.") from None
        except RevisionConflictError:
            raise StaleSessionError(_STALE) from None
        session.last_update_time = last
        session._storage_update_marker = None if expected is None else str(expected + 1)
        for event in kept:
            self._commit_event_to_session(session, event)
        return out
