"""A pytest plugin that points LangChain's own chat history tests at
:class:`ConvostoreChatMessageHistory`.

Loaded (``-p``) into the pytest run of test files taken at test time from the
pinned ``langchain-core`` and ``langchain-community`` source distributions
(see ``test_langchain_upstream.py``). It replaces, before those files are
imported, LangChain's ``InMemoryChatMessageHistory`` with a history over a
fresh ``memory://`` store and ``SQLChatMessageHistory`` with one over the
convostore SQLite store at the test's own database file, so the tests run
unchanged against the adapter.
"""

from __future__ import annotations

import inspect
import uuid
import warnings
from collections.abc import Sequence
from typing import Any

import pytest
from langchain_core import chat_history
from langchain_core.messages import BaseMessage

from convostore.integrations.langchain import ConvostoreChatMessageHistory

with warnings.catch_warnings():
    # langchain-community warns on import that it is being sunset.
    warnings.simplefilter("ignore", DeprecationWarning)
    import langchain_community.chat_message_histories as community_histories


class InMemoryOverConvostore(ConvostoreChatMessageHistory):
    """``InMemoryChatMessageHistory(messages=[...])``: a session of its own in
    a new in-memory store."""

    def __init__(self, messages: Sequence[BaseMessage] | None = None) -> None:
        super().__init__(f"session-{uuid.uuid4().hex}", url="memory://")
        if messages:
            self.add_messages(messages)

    def __eq__(self, other: object) -> bool:
        # LangChain's in-memory history is a pydantic model, equal to another
        # holding the same messages; its tests compare histories that way.
        if not isinstance(other, InMemoryOverConvostore):
            return NotImplemented
        return self.messages == other.messages

    __hash__ = None  # type: ignore[assignment]


class SQLOverConvostore(ConvostoreChatMessageHistory):
    """``SQLChatMessageHistory(session_id, connection=URL, ...)``: the session
    in the convostore SQLite store at the same file."""

    def __init__(
        self,
        session_id: str,
        connection: str | None = None,
        table_name: str = "message_store",
        async_mode: bool | None = None,
        **_: Any,
    ) -> None:
        assert connection is not None and connection.startswith("sqlite")
        path = connection.split(":///", 1)[1]
        super().__init__(session_id, url=f"sqlite:///{path}", async_mode=bool(async_mode))


chat_history.InMemoryChatMessageHistory = InMemoryOverConvostore  # type: ignore[misc]
community_histories.SQLChatMessageHistory = SQLOverConvostore  # type: ignore[misc,assignment]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requires(*packages): the packages a test needs")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # LangChain runs its async tests with pytest-asyncio in auto mode; here
    # anyio's plugin runs them.
    for item in items:
        if isinstance(item, pytest.Function) and inspect.iscoroutinefunction(item.obj):
            item.add_marker(pytest.mark.anyio)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
