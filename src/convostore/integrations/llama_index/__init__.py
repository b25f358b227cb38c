"""LlamaIndex chat store over convostore (extra ``convostore[llama-index]``).

:class:`ConvostoreChatStore` is an ``AsyncDBChatStore``: give it to
``Memory.from_defaults(chat_store=...)`` (or ``Memory(sql_store=...)``) and a
memory's session is a convostore thread, its messages convostore messages that
keep the ``ChatMessage`` whole. Needs LlamaIndex
(``pip install 'convostore[llama-index]'``); the conversion in ``_convert``,
which the ``llama-index-sql`` importer shares, does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from convostore.integrations.llama_index._store import ConvostoreChatStore

__all__ = ["ConvostoreChatStore"]


def __getattr__(name: str) -> Any:
    if name == "ConvostoreChatStore":
        from convostore.integrations.llama_index._store import ConvostoreChatStore

        return ConvostoreChatStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
