"""The conversation layer: live session handles over a store.

A conversation is what an application holds while it talks to a model: it
adds messages and tracks turns, keeps session state, trims the active history
to a limit and hands back a model-ready context window. Unlike the seed's
``ConversationSession`` it is not a value that gets saved as a whole: every
change is written through to the store as it happens, so concurrent writers do
not overwrite each other and a crash loses nothing that was acknowledged.

The async faces (``_async.py``, ``_async_manager.py``) are written by hand; the
sync ones (:class:`Conversation`, :class:`SessionState`,
:class:`ConversationManager`) are generated from them, so both behave the
same. Configuration and turns are in :mod:`.config`.
"""

from convostore.conversation._async import AsyncConversation, AsyncSessionState
from convostore.conversation._async_manager import AsyncConversationManager
from convostore.conversation._sync import Conversation, SessionState
from convostore.conversation._sync_manager import ConversationManager
from convostore.conversation.config import RESERVED_METADATA_KEY, SessionConfig, Turn

__all__ = [
    "RESERVED_METADATA_KEY",
    "AsyncConversation",
    "AsyncConversationManager",
    "AsyncSessionState",
    "Conversation",
    "ConversationManager",
    "SessionConfig",
    "SessionState",
    "Turn",
]
