"""One Agents SDK item as one convostore message, and back.

Kept free of the SDK, so the importer (which reads the SDK's tables with
``sqlite3`` or SQLAlchemy) converts rows exactly as the session does.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from pydantic import JsonValue

from convostore.errors import ConvostoreError
from convostore.formats import DropReport
from convostore.formats.openai_responses import from_openai_responses, to_openai_responses
from convostore.model import Message, NativePayload, Role

__all__ = ["NATIVE_FORMAT", "item_to_message", "message_items"]

#: The ``native.format`` of a message that holds an Agents SDK item.
NATIVE_FORMAT = "openai-agents"

_ROLES = {"user": Role.USER, "system": Role.SYSTEM, "developer": Role.SYSTEM}


def as_json(item: Any) -> JsonValue:
    """The item as the SDK's own sessions keep it: what ``json.loads(json.dumps(item))``
    gives (tuples become lists, keys strings), so it reads back exactly as they would."""
    value: JsonValue = json.loads(json.dumps(item))
    return value


def item_to_message(
    item: Any,
    *,
    id: str | None = None,
    created_at: dt.datetime | None = None,
) -> Message:
    """One message for one item: its roles, parts and tool call ids as the
    ``openai-responses`` format reads them, and the item itself, untouched, as
    ``native`` (``format="openai-agents"``).

    An item the format keeps nothing of (an output message without content) or
    cannot read (no ``type`` nor ``role``) is a message without parts, of the
    item's role (assistant when it names none), still holding the item whole.
    """
    data = as_json(item)
    try:
        converted = from_openai_responses([data])
    except ConvostoreError:
        converted = []
    if len(converted) == 1:
        message = converted[0]
    else:
        role = data.get("role") if isinstance(data, dict) else None
        message = Message(
            role=_ROLES.get(role, Role.ASSISTANT) if isinstance(role, str) else Role.ASSISTANT,
            provider_role="developer" if role == "developer" else None,
            parts=[],
        )
    update: dict[str, Any] = {"native": NativePayload(format=NATIVE_FORMAT, data=data)}
    if id is not None:
        update["id"] = id
    if created_at is not None:
        update["created_at"] = created_at
    return message.model_copy(update=update)


def message_items(message: Message) -> list[JsonValue]:
    """The items a stored message stands for: the item it was written from, or,
    for a message written another way (through convostore's API, another format),
    its ``openai-responses`` input items."""
    native = message.native
    if native is not None and native.format == NATIVE_FORMAT:
        return [native.data]
    # What such a message cannot hold in Responses is left out, as
    # ``context(format="openai-responses")`` leaves it out, without a warning on
    # every read of the history.
    items: list[JsonValue] = list(to_openai_responses([message], report=DropReport()))
    return items
