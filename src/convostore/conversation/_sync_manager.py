# Generated from src/convostore/conversation/_async_manager.py by scripts/gen_sync.py: do not edit.
# Change the async source and run `make generate`.
"""The sync twin of :mod:`convostore.conversation._async_manager`, generated from it.

The same classes, methods, arguments and documentation, called without
``await``; see the source module for how it is built.
"""

from __future__ import annotations

import builtins
import datetime as dt
import time
from collections.abc import Callable, Mapping
from typing import Any

from convostore.conversation._base import ManagerBase, thread_fields
from convostore.conversation._sync import Conversation
from convostore.conversation.config import (
    DELETED_HINT,
    REPLACE_STALE_AFTER,
    RESERVED_METADATA_KEY,
    SessionConfig,
    backoff,
    expired,
    reserved,
)
from convostore.errors import (
    ConvostoreError,
    NotFoundError,
    RevisionConflictError,
    ThreadDeletedError,
    ThreadExistsError,
    ThreadNotFoundError,
)
from convostore.model import Message, Thread, utcnow
from convostore.store import open_store
from convostore.store.api import Store

__all__ = ["ConversationManager"]

#: Rounds of get_or_create before it gives up (each is a read, and a create or claim).
_GET_OR_CREATE_ROUNDS = 200


class ConversationManager(ManagerBase):
    """Creates, finds, expires and retires conversations in an :class:`~convostore.Store`.

    Args:
        store: where conversations live; may be ``None`` when disabled.
        config: the :class:`SessionConfig` given to every conversation.
        enabled: ``False`` switches history off (seed 003): conversations still
            work, in memory only, and listing, counting and retention calls are
            no-ops that return nothing.
        clock: the time source, for expiry.
    """

    def __init__(
        self,
        store: Store | None,
        config: SessionConfig | None = None,
        *,
        enabled: bool = True,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        super().__init__(store, config, enabled=enabled, clock=clock)
        self._store = store

    @property
    def store(self) -> Store | None:
        """The store conversations live in (``None`` when disabled without one)."""
        return self._store

    def _live(self) -> Store:
        assert self._store is not None, "an enabled manager has a store"
        return self._store

    def _wrap(self, store: Store, thread: Thread, created: bool = False) -> Conversation:
        return Conversation(store, thread, self._config, clock=self._clock, created=created)

    def _active(self, store: Store, thread: Thread) -> Thread:
        """The tree's active branch when ``thread`` is a root that has one
        (``set_active_branch``) and it is live; ``thread`` otherwise."""
        if thread.active_branch_id is None:
            return thread
        try:
            branch = store.get_thread(thread.active_branch_id)
        except ThreadNotFoundError:
            return thread
        return thread if branch.deleted_at is not None else branch

    def create(
        self,
        conversation_id: str | None = None,
        *,
        user_id: str | None = None,
        system_prompt: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        agent_name: str | None = None,
        model: str | None = None,
        title: str | None = None,
    ) -> Conversation:
        """Start a conversation (id generated when not given).

        Raises:
            ThreadExistsError: the id is taken.
        """
        fields = thread_fields(user_id, system_prompt, metadata, agent_name, model, title)
        if not self._enabled:
            return self._detached(conversation_id, fields)
        return self._create(self._live(), conversation_id, fields)

    def get(self, conversation_id: str) -> Conversation | None:
        """The conversation, or None if there is none (or it was deleted)."""
        if not self._enabled:
            return None
        store = self._live()
        try:
            thread = store.get_thread(conversation_id)
        except ThreadNotFoundError:
            return None
        if thread.deleted_at is not None:
            return None
        return self._wrap(store, self._active(store, thread))

    def get_or_create(
        self,
        conversation_id: str,
        *,
        user_id: str | None = None,
        system_prompt: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        agent_name: str | None = None,
        model: str | None = None,
        title: str | None = None,
    ) -> Conversation:
        """The conversation ``conversation_id``, created if missing.

        An expired session is replaced by a fresh one in place: its messages are
        archived (kept in the store, exported and listed with the archived
        ones, out of context windows), its state is emptied, turn numbering
        restarts and the system prompt given here is applied. Safe under
        concurrency: of many simultaneous calls for a new (or expired) id,
        across threads, tasks and processes, exactly one creates (or renews)
        it (``created`` is True on the handle it gets) and the others get that
        same conversation.

        Raises:
            ThreadDeletedError: the conversation was deleted (soft, restorable);
                it is never purged implicitly: restore it through the store, or
                purge it with ``delete(id, purge=True)`` first.
        """
        fields = thread_fields(user_id, system_prompt, metadata, agent_name, model, title)
        if not self._enabled:
            return self._detached(conversation_id, fields)
        store = self._live()
        for attempt in range(_GET_OR_CREATE_ROUNDS):
            try:
                thread = store.get_thread(conversation_id)
            except ThreadNotFoundError:
                try:
                    return self._create(store, conversation_id, dict(fields))
                except ThreadExistsError:
                    continue  # another caller created it first: use theirs
            if thread.deleted_at is not None:
                # Deleted is restorable: never purged, nor silently brought back.
                raise ThreadDeletedError(conversation_id, DELETED_HINT)
            now = self._clock()
            claim = reserved(thread).get("replacing")
            if isinstance(claim, int | float) and now.timestamp() - claim < (
                REPLACE_STALE_AFTER.total_seconds()
            ):
                time.sleep(backoff(attempt))  # someone is replacing it right now
                continue
            if claim is None and not expired(thread, self._config, now):
                return self._wrap(store, self._active(store, thread))
            # Expired: start a fresh session in its place. Claim it with a
            # revision-checked write so that exactly one caller does the replacing
            # (a claim left by a caller that died is taken over once stale).
            meta = dict(thread.metadata)
            meta[RESERVED_METADATA_KEY] = {**reserved(thread), "replacing": now.timestamp()}
            try:
                claimed = store.update_thread(
                    conversation_id, metadata=meta, expected_revision=thread.revision
                )
            except (RevisionConflictError, ThreadNotFoundError, ThreadDeletedError):
                continue
            conv = self._wrap(store, claimed, created=True)
            conv._renew(dict(fields))
            return conv
        raise ConvostoreError(f"could not get or create conversation {conversation_id!r}")

    def update(self, conversation: Conversation, **fields: Any) -> Conversation:
        """Change thread fields (``title``, ``metadata``, ``user_id``, ``agent_name``,
        ``model``, ``ended_at``) and refresh the handle.

        Messages and state are written as they change, so with no fields this
        only re-reads the thread.
        """
        if not self._enabled:
            return conversation
        if fields:
            if "metadata" in fields:
                user_meta = dict(fields.pop("metadata") or {})
                conversation._update_thread(
                    lambda t: {"metadata": {**user_meta, RESERVED_METADATA_KEY: reserved(t)}}
                )
            if fields:
                conversation._update_thread(lambda t: dict(fields))
        else:
            conversation.refresh()
        return conversation

    def delete(self, conversation_id: str, *, purge: bool = False) -> bool:
        """Delete a conversation (soft, restorable through the store; ``purge=True``
        removes it for good). Returns whether there was one to delete."""
        if not self._enabled:
            return False
        try:
            thread = self._live().get_thread(conversation_id)
        except ThreadNotFoundError:
            return False
        if thread.deleted_at is not None and not purge:
            return False
        return self._remove(thread, purge, check=False)

    def list(self) -> builtins.list[str]:
        """Ids of all conversations, most recently active first."""
        if not self._enabled:
            return []
        return [t.id for t in self._threads(None)]

    def list_for_user(self, user_id: str) -> builtins.list[str]:
        """Ids of a user's conversations, most recently active first."""
        if not self._enabled:
            return []
        return [t.id for t in self._threads(user_id)]

    def count(self) -> int:
        """How many conversations there are (deleted ones not counted)."""
        if not self._enabled:
            return 0
        return self._live().count_threads()

    def cleanup_expired(self, *, now: dt.datetime | None = None, purge: bool = False) -> int:
        """Delete conversations idle past ``config.idle_timeout``; returns how many.

        They are soft-deleted (restorable through the store); ``purge=True``
        removes them and their messages for good. A conversation written to
        while this runs is kept.
        """
        if not self._enabled or self._config.timeout is None:
            return 0
        now = now or self._clock()
        n = 0
        for t in self._threads(None):
            if expired(t, self._config, now) and self._remove(t, purge, True):
                n += 1
        return n

    def enforce_max_sessions(
        self, max_sessions: int, *, purge: bool = False, per_user: bool = False
    ) -> int:
        """Keep the ``max_sessions`` most recently active conversations, delete the
        rest (seed 003's retention); returns how many were deleted.

        They are soft-deleted (restorable through the store); ``purge=True``
        removes them for good.

        With ``per_user=True`` the limit applies to each user's conversations
        (those without a user count as one more user). A conversation written to
        since it was listed is kept.
        """
        if not self._enabled:
            return 0
        self._check_max_sessions(max_sessions)
        seen: dict[str | None, int] = {}
        n = 0
        for t in self._threads(None):  # newest activity first
            owner = t.user_id if per_user else None
            seen[owner] = seen.get(owner, 0) + 1
            if seen[owner] > max_sessions and self._remove(t, purge, True):
                n += 1
        return n

    # steps ------------------------------------------------------------------------

    def _detached(self, conversation_id: str | None, fields: dict[str, Any]) -> Conversation:
        """A conversation kept in memory only (history switched off)."""
        return self._create(open_store("memory://"), conversation_id, fields)

    def _create(
        self, store: Store, conversation_id: str | None, fields: dict[str, Any]
    ) -> Conversation:
        system_prompt = fields.pop("system_prompt", None)
        metadata = dict(fields.pop("metadata", None) or {})
        metadata[RESERVED_METADATA_KEY] = {"system_prompt": system_prompt, "turn_base": 0}
        thread = store.create_thread(id=conversation_id, metadata=metadata, **fields)
        conv = self._wrap(store, thread, created=True)
        if system_prompt and self._config.persist_system_prompt:
            conv._add_message(Message.system(system_prompt), replace_prompt=False)
        return conv

    def _threads(self, user_id: str | None) -> builtins.list[Thread]:
        out: builtins.list[Thread] = []
        cursor: str | None = None
        while True:
            page = self._live().list_threads(user_id=user_id, limit=200, cursor=cursor)
            out.extend(page.items)
            if page.next_cursor is None:
                return out
            cursor = page.next_cursor

    def _remove(self, thread: Thread, purge: bool, check: bool) -> bool:
        rev = thread.revision if check else None
        try:
            if purge:
                self._live().purge_thread(thread.id, expected_revision=rev)
            else:
                self._live().delete_thread(thread.id, expected_revision=rev)
        except (NotFoundError, RevisionConflictError):
            return False  # gone already, or written to since we looked: keep it
        return True
