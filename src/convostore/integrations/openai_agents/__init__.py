"""The OpenAI Agents SDK adapter (extra ``convostore[openai-agents]``).

:class:`ConvostoreSession` is an Agents SDK ``Session`` kept in a convostore
thread: one message per item, each holding the item whole as its ``native``
payload (``format="openai-agents"``) beside the roles, parts and tool calls the
``openai-responses`` format reads from it. See ``docs/integrations/openai-agents.md``.

:func:`item_to_message` and :func:`message_items` are the conversion itself;
they do not need the SDK (the ``openai-agents-*`` importers use them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from convostore.integrations.openai_agents._items import (
    NATIVE_FORMAT,
    item_to_message,
    message_items,
)

if TYPE_CHECKING:
    from convostore.integrations.openai_agents._session import ConvostoreSession

__all__ = ["NATIVE_FORMAT", "ConvostoreSession", "item_to_message", "message_items"]


def __getattr__(name: str) -> Any:
    if name == "ConvostoreSession":
        from convostore.integrations.openai_agents._session import ConvostoreSession

        return ConvostoreSession
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
