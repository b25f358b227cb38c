"""The SQL text of the SQLite backend under the names it has always had here.

The schema and its migrations are in :mod:`._schema`, the statements the
handlers run in :mod:`._statements`; this module names both for code (and
tests) that read them from here, so a query plan checked through these names is
the plan of the statement the backend runs.
"""

from __future__ import annotations

from convostore.store.sqlite._schema import (
    CREATE_MIGRATIONS_TABLE,
    LATEST_VERSION,
    MIGRATIONS,
    Migration,
)
from convostore.store.sqlite._statements import (
    ADVANCE_THREAD,
    ADVANCE_THREAD_COUNTS,
    CONTEXT_PAGE,
    CONTEXT_START,
    DELETE_THREAD,
    DELETE_THREAD_MESSAGES,
    GET_MESSAGE,
    GET_THREAD,
    INSERT_MESSAGE,
    MESSAGES_ALL,
    MESSAGES_ALL_LIVE,
    MESSAGES_BACKWARD,
    MESSAGES_BY_EXECUTION,
    MESSAGES_BY_IDS,
    MESSAGES_FORWARD,
    THREAD_EXISTS,
    THREAD_READ_COLUMNS,
    UPDATE_MESSAGE,
    UPDATE_THREAD,
)

__all__ = [
    "ADVANCE_THREAD",
    "ADVANCE_THREAD_COUNTS",
    "CONTEXT_PAGE",
    "CONTEXT_START",
    "CREATE_MIGRATIONS_TABLE",
    "DELETE_THREAD",
    "DELETE_THREAD_MESSAGES",
    "GET_MESSAGE",
    "GET_THREAD",
    "INSERT_MESSAGE",
    "LATEST_VERSION",
    "MESSAGES_ALL",
    "MESSAGES_ALL_LIVE",
    "MESSAGES_BACKWARD",
    "MESSAGES_BY_EXECUTION",
    "MESSAGES_BY_IDS",
    "MESSAGES_FORWARD",
    "MIGRATIONS",
    "THREAD_EXISTS",
    "THREAD_READ_COLUMNS",
    "UPDATE_MESSAGE",
    "UPDATE_THREAD",
    "Migration",
]
