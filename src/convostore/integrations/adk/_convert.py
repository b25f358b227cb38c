"""What an ADK session and its events are in convostore, without importing ADK.

The session service (:mod:`convostore.integrations.adk`) and the
``adk-database`` importer share these functions, so a session imported from
ADK's own database reads back through the service exactly as ADK stored it.

An event is kept whole as its JSON form, ``event.model_dump(mode="json",
exclude_none=True)`` (what ADK's ``DatabaseSessionService`` stores in its
``event_data`` column), in the message's ``native`` payload (format ``adk``);
its ``content`` is converted through the ``gemini`` format, so convostore sees
its roles, parts, tool calls, token usage and model.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from convostore.formats import FormatError
from convostore.formats.gemini import from_gemini
from convostore.model import Message, NativePayload, Role, Thread, ThreadState, is_identifier
from convostore.model._types import ID_MAX_LENGTH

__all__ = [
    "ADK_FORMAT",
    "LAST_UPDATE_KEY",
    "event_data",
    "event_timestamp",
    "last_update_time",
    "message_for",
    "message_id_for",
    "session_state",
    "split_delta",
    "thread_for",
    "thread_id_for",
    "utc",
]

#: The ``native.format`` of a message holding an ADK event.
ADK_FORMAT = "adk"
#: The thread-state key that keeps the session's ``last_update_time`` (the
#: timestamp of its last event, as ADK's database service keeps it), written in
#: the transaction of each append. The service leaves it out of
#: ``Session.state``.
LAST_UPDATE_KEY = "convostore.adk:last_update_time"
#: Characters of an ADK id kept as they are in a convostore id, beside
#: letters, digits and ``_.-~``; the others are percent-encoded (``:``, ``/``,
#: ``#`` and ``%`` among them), so an id names one user, session and event, and
#: goes into a URL path as it is.
_SAFE = "@+=,!$"
_PREFIXES = {"app:": "app", "user:": "user", "temp:": "temp"}


def _digest(*keys: str) -> str:
    return hashlib.sha256("\0".join(keys).encode("utf-8", "surrogatepass")).hexdigest()[:40]


def thread_id_for(user_id: str, session_id: str) -> str:
    """The thread of ADK session ``session_id`` of ``user_id``:
    ``<user id>:<session id>`` (each percent-encoded, see :data:`_SAFE`), or
    ``adk-`` and a digest of both when that is over the id length limit.

    ADK keys a session by (app, user, session id), so two users may each have a
    session ``s1``; the app is the tenant."""
    tid = f"{quote(user_id, safe=_SAFE)}:{quote(session_id, safe=_SAFE)}"
    if len(tid) <= ID_MAX_LENGTH and is_identifier(tid):
        return tid
    return "adk-" + _digest(user_id, session_id)


def message_id_for(thread_id: str, event_id: str) -> str:
    """The message of event ``event_id`` (ADK keys an event by its session and
    id): ``<thread id>:<event id, percent-encoded>``, or a digest when too long."""
    mid = f"{thread_id}:{quote(event_id, safe=_SAFE)}"
    if len(mid) <= ID_MAX_LENGTH and is_identifier(mid):
        return mid
    return "adk-" + _digest(thread_id, event_id)


def utc(timestamp: float) -> dt.datetime:
    """An ADK timestamp (seconds since the epoch) as a UTC datetime."""
    return dt.datetime.fromtimestamp(timestamp, dt.UTC)


def thread_for(
    app_name: str,
    user_id: str,
    session_id: str,
    state: Mapping[str, Any],
    create_time: float,
    update_time: float | None = None,
) -> Thread:
    """The thread of a session: its user, ``agent_name`` = the app, the ADK keys
    in ``metadata["adk"]``, its session-scoped state (and the hidden
    :data:`LAST_UPDATE_KEY`) as ``state.data``, created at ``create_time``."""
    data = dict(state)
    data[LAST_UPDATE_KEY] = create_time if update_time is None else update_time
    return Thread(
        id=thread_id_for(user_id, session_id),
        user_id=user_id,
        agent_name=app_name,
        metadata={"adk": {"app_name": app_name, "user_id": user_id, "session_id": session_id}},
        state=ThreadState(data=data),
        created_at=utc(create_time),
    )


def session_state(thread: Thread) -> dict[str, Any]:
    """The session-scoped state of a thread, as ADK reads it."""
    return {k: v for k, v in thread.state.data.items() if k != LAST_UPDATE_KEY}


def last_update_time(thread: Thread) -> float:
    """The session's ``last_update_time``: the last event's timestamp, or the
    time it was created."""
    value = thread.state.data.get(LAST_UPDATE_KEY)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return thread.created_at.timestamp()


def split_delta(delta: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """An ADK state delta by scope (``app``, ``user``, ``session``), prefixes
    stripped and ``temp:`` keys left out.

    Unlike :func:`convostore.model.split_prefixed`, a ``None`` value is kept as
    a value: ADK has no key removal, and its services store ``None`` (JSON
    ``null``) and read it back."""
    out: dict[str, dict[str, Any]] = {"app": {}, "user": {}, "session": {}}
    for key, value in delta.items():
        for prefix, scope in _PREFIXES.items():
            if key.startswith(prefix):
                if scope != "temp":
                    out[scope][key[len(prefix) :]] = value
                break
        else:
            out["session"][key] = value
    return out


def event_timestamp(data: Mapping[str, Any]) -> float:
    value = data.get("timestamp", 0.0)
    return float(value) if isinstance(value, int | float) else 0.0


def _converted(data: Mapping[str, Any]) -> Message | None:
    """The event's content as a convostore message through the gemini format:
    a model content as a ``GenerateContentResponse`` (so its usage, model,
    finish reason and grounding reach the message's metadata), any other as a
    content."""
    content = data.get("content")
    if not isinstance(content, Mapping):
        return None
    try:
        if content.get("role") == "model":
            candidate: dict[str, Any] = {"content": content}
            for key in ("finish_reason", "citation_metadata", "grounding_metadata"):
                if key in data:
                    candidate[key] = data[key]
            payload: dict[str, Any] = {"candidates": [candidate]}
            if "usage_metadata" in data:
                payload["usage_metadata"] = data["usage_metadata"]
            if "model_version" in data:
                payload["model_version"] = data["model_version"]
            msgs = from_gemini(payload)
        else:
            msgs = from_gemini([content])
    except (FormatError, ValueError, TypeError):
        # A content the converter cannot read is still kept whole in native.
        return None
    return msgs[0] if len(msgs) == 1 else None


def message_for(thread_id: str, data: Mapping[str, Any]) -> Message:
    """The message of one event, given as its JSON form (``data``): id derived
    from the thread and the event id, role and parts from its content,
    ``name`` = the author (but ``user``), ``execution_id`` = the invocation id,
    ``created_at`` = its timestamp, and the whole event as ``native``."""
    author = data.get("author") or ""
    converted = _converted(data)
    if converted is None:
        converted = Message(role=Role.USER if author == "user" else Role.ASSISTANT)
    event_id = str(data.get("id") or _digest(repr(sorted(data.items()))))
    invocation = data.get("invocation_id")
    return converted.model_copy(
        update={
            "id": message_id_for(thread_id, event_id),
            "name": author if author and author != "user" else None,
            "execution_id": invocation if is_identifier(invocation) else None,
            "created_at": utc(event_timestamp(data)),
            "native": NativePayload(format=ADK_FORMAT, data=dict(data)),
        }
    )


def event_data(message: Message) -> dict[str, Any] | None:
    """The event JSON a message keeps, or ``None`` for a message that is not
    an ADK event (written by other means)."""
    native = message.native
    if native is None or native.format != ADK_FORMAT or not isinstance(native.data, dict):
        return None
    return native.data
