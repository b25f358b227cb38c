"""What the two faces of a conversation handle and manager share, without I/O.

A handle caches the thread as it last read or wrote it; the facts read from
that cache (ids, times, metadata, the system prompt, expiry, state reads) are
here. The faces that do I/O are in ``_async.py`` (written by hand) and
``_sync.py`` (generated from it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, overload

from pydantic import JsonValue, TypeAdapter

from convostore.conversation._rules import Tail
from convostore.conversation.config import (
    RESERVED_METADATA_KEY,
    SessionConfig,
    expired,
    reserved,
)
from convostore.errors import ValidationError
from convostore.model import Message, Role, ScopedState, Thread, utcnow
from convostore.store.rules.validation import translate_validation

__all__ = ["ConversationBase", "ManagerBase", "StateView", "state_update_fields", "thread_fields"]

T = TypeVar("T")


class ConversationBase:
    """The cached facts of a conversation handle."""

    def __init__(
        self,
        thread: Thread,
        config: SessionConfig | None = None,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        created: bool = False,
    ) -> None:
        self._thread = thread
        self._config = config or SessionConfig()
        self._clock = clock
        self._stale = False
        #: What this handle knows of the active history (see Tail), or None.
        self._tail: Tail | None = None
        #: Whether the call that returned this handle created the thread.
        self.created = created
        #: Temp state: values that live in this handle only, never stored or
        #: exported (the ``temp:`` scope of the merged and prefixed views).
        self.temp: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r}, user_id={self.user_id!r})"

    @property
    def id(self) -> str:
        """The conversation's id: its thread's id."""
        return self._thread.id

    @property
    def thread(self) -> Thread:
        """The thread as last read or written by this handle."""
        return self._thread

    @property
    def config(self) -> SessionConfig:
        """The limits, budget and expiry this handle applies."""
        return self._config

    @property
    def user_id(self) -> str | None:
        """The user the conversation belongs to, if any."""
        return self._thread.user_id

    @property
    def created_at(self) -> dt.datetime:
        """When the conversation was created."""
        return self._thread.created_at

    @property
    def updated_at(self) -> dt.datetime:
        """When the conversation was last written to (as this handle knows)."""
        return self._thread.updated_at

    @property
    def metadata(self) -> dict[str, JsonValue]:
        """The caller's thread metadata (without the conversation layer's key)."""
        return {k: v for k, v in self._thread.metadata.items() if k != RESERVED_METADATA_KEY}

    @property
    def system_prompt(self) -> str | None:
        """The system prompt, or ``None``."""
        value = reserved(self._thread).get("system_prompt")
        return value if isinstance(value, str) else None

    def is_expired(self, now: dt.datetime | None = None) -> bool:
        """Idle for longer than ``config.idle_timeout`` (as of this handle's last
        read or write; ``refresh()`` first to see other writers)."""
        return expired(self._thread, self._config, now or self._clock())

    def age(self, now: dt.datetime | None = None) -> dt.timedelta:
        """Time since the conversation was created."""
        return (now or self._clock()) - self._thread.created_at

    def _user(self) -> str:
        """The conversation's user, which user state needs."""
        if self._thread.user_id is None:
            raise ValidationError(
                "the conversation has no user_id, so it has no user state", field="user_id"
            )
        return self._thread.user_id

    def _views(self, app: ScopedState, user: ScopedState | None) -> tuple[dict[str, Any], ...]:
        """The four scopes' values: app, user, thread (as this handle saw it), temp."""
        return (
            app.data,
            user.data if user is not None else {},
            self._thread.state.data,
            self.temp,
        )

    def _set_thread(self, thread: Thread) -> None:
        self._thread = thread
        self._stale = False

    def _touched(self) -> None:
        """A write of ours advanced the thread; its cached revision is now old."""
        now = self._clock()
        if now > self._thread.updated_at:
            self._thread = self._thread.model_copy(update={"updated_at": now})
        self._stale = True

    def _turn_base(self) -> int:
        base = reserved(self._thread).get("turn_base", 0)
        return base if isinstance(base, int) else 0

    @staticmethod
    def _protected(m: Message) -> bool:
        return m.pinned or m.role is Role.SYSTEM


class StateView:
    """Reads of session state, from the handle's cached thread."""

    def __init__(self, conv: ConversationBase) -> None:
        self._view = conv

    @property
    def variables(self) -> dict[str, str]:
        """A copy of the string variables."""
        return dict(self._view.thread.state.variables)

    @property
    def data(self) -> dict[str, JsonValue]:
        """A copy of the typed data, as JSON values."""
        return dict(self._view.thread.state.data)

    def get(self, key: str, default: str | None = None) -> str | None:
        """The string variable ``key``, or ``default``."""
        return self._view.thread.state.variables.get(key, default)

    @overload
    def get_data(self, key: str, type_: type[T]) -> T | None: ...
    @overload
    def get_data(self, key: str, type_: type[T], default: T) -> T: ...
    @overload
    def get_data(self, key: str) -> JsonValue: ...

    def get_data(self, key: str, type_: Any = None, default: Any = None) -> Any:
        """The data stored under ``key`` read back as ``type_`` (any type pydantic
        can validate: models, dataclasses, TypedDicts, builtins), or ``default``.

        Raises:
            ValidationError: the stored value does not fit ``type_``.
        """
        data = self._view.thread.state.data
        if key not in data:
            return default
        if type_ is None:
            return data[key]
        with translate_validation(f"state.data.{key}"):
            return TypeAdapter(type_).validate_python(data[key])

    def __contains__(self, key: object) -> bool:
        return key in self._view.thread.state.variables


class ManagerBase:
    """Configuration and switches of a conversation manager."""

    def __init__(
        self,
        store: object | None,
        config: SessionConfig | None = None,
        *,
        enabled: bool = True,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        if store is None and enabled:
            raise ValidationError("an enabled manager needs a store", field="store")
        self._config = config or SessionConfig()
        self._enabled = bool(enabled)
        self._clock = clock

    @property
    def config(self) -> SessionConfig:
        """The :class:`SessionConfig` given to every conversation."""
        return self._config

    @property
    def is_enabled(self) -> bool:
        """False in disabled mode, where nothing is stored and every call is a no-op."""
        return self._enabled

    @staticmethod
    def _check_max_sessions(max_sessions: Any) -> int:
        if isinstance(max_sessions, bool) or not isinstance(max_sessions, int) or max_sessions < 0:
            raise ValidationError("must be a non-negative integer", field="max_sessions")
        return max_sessions


def thread_fields(
    user_id: str | None,
    system_prompt: str | None,
    metadata: Mapping[str, Any] | None,
    agent_name: str | None,
    model: str | None,
    title: str | None,
) -> dict[str, Any]:
    """The fields of a new conversation's thread, as ``create`` takes them."""
    return {
        "user_id": user_id,
        "system_prompt": system_prompt,
        "metadata": dict(metadata) if metadata else None,
        "agent_name": agent_name,
        "model": model,
        "title": title,
    }


def state_update_fields(
    changes: Mapping[str, Any] | None,
    remove: Iterable[str] | None,
    replace: Mapping[str, Any] | None,
    expected_revision: int | None,
) -> dict[str, Any]:
    """The keywords of ``update_state`` for a conversation's scoped state writes."""
    return {
        "changes": changes,
        "remove": remove,
        "replace": replace,
        "expected_revision": expected_revision,
    }
