"""Every library the suite runs, by key, with the raw baseline it is compared to."""

from __future__ import annotations

import importlib
from typing import Any

# key -> (module:Class, baseline key)
LIBRARIES: dict[str, tuple[str, str]] = {
    # convostore
    "convostore-sqlite": ("adapters.convostore_store:ConvostoreSQLite", "raw-sqlite"),
    "convostore-sqlite-dicts": ("adapters.convostore_store:ConvostoreSQLiteDicts", "raw-sqlite"),
    "convostore-sqlite-full": ("adapters.convostore_store:ConvostoreSQLiteFull", "raw-sqlite-full"),
    "convostore-postgres": ("adapters.convostore_store:ConvostorePostgres", "raw-psycopg"),
    "convostore-memory": ("adapters.convostore_store:ConvostoreMemory", "raw-sqlite"),
    # the limit
    "raw-sqlite": ("adapters.raw:RawSQLite", "raw-sqlite"),
    "raw-sqlite-full": ("adapters.raw:RawSQLiteFull", "raw-sqlite-full"),
    "raw-psycopg": ("adapters.raw:RawPsycopg", "raw-psycopg"),
    # peers
    "agents-sqlite": ("adapters.openai_agents:AgentsSQLiteSession", "raw-sqlite-full"),
    "agents-sa-sqlite": ("adapters.openai_agents:AgentsSQLAlchemySQLite", "raw-sqlite-full"),
    "agents-sa-postgres": ("adapters.openai_agents:AgentsSQLAlchemyPostgres", "raw-psycopg"),
    "lc-sql": ("adapters.langchain:LCSQLChatMessageHistory", "raw-sqlite-full"),
    "lc-postgres": ("adapters.langchain:LCPostgresChatMessageHistory", "raw-psycopg"),
    "langgraph-sqlite": ("adapters.langchain:LangGraphSqliteSaver", "raw-sqlite-full"),
    "llama-simple": ("adapters.llama_index:LlamaSimpleChatStore", "raw-sqlite"),
    "llama-sqlite": ("adapters.llama_index:LlamaSQLiteChatStore", "raw-sqlite-full"),
    "llama-postgres": ("adapters.llama_index:LlamaPostgresChatStore", "raw-psycopg"),
    "adk-sqlite": ("adapters.google_adk:ADKDatabaseSessionSQLite", "raw-sqlite-full"),
    "adk-postgres": ("adapters.google_adk:ADKDatabaseSessionPostgres", "raw-psycopg"),
}

#: Who takes part in the concurrent-writers run on PostgreSQL.
CONCURRENCY = ["convostore-postgres", "lc-postgres", "agents-sa-postgres", "raw-psycopg"]


def base_key(key: str) -> str:
    """``convostore-sqlite@80d0864`` -> ``convostore-sqlite``: a library run from an
    older revision of convostore (``bench/run.py --old REV``) uses the same adapter."""
    return key.split("@", 1)[0]


def revision(key: str) -> str | None:
    """The revision a library key names after ``@``, if any."""
    return key.split("@", 1)[1] if "@" in key else None


def adapter_class(key: str) -> Any:
    path, _ = LIBRARIES[base_key(key)]
    module, cls = path.split(":")
    return getattr(importlib.import_module(module), cls)


def baseline(key: str) -> str:
    return LIBRARIES[base_key(key)][1]
