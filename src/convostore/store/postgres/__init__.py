"""PostgreSQL backend: the scale path of convostore (``postgres`` extra).

``open_store("postgresql://...")`` and ``open_async_store("postgresql://...")``
land here. Both faces run the sans-I/O handlers every SQL engine shares
(:mod:`convostore.store.sql.handlers`) over this engine's statements
(``_statements``); only the small drivers that execute them on a psycopg pool
differ. The schema is versioned by append-only ``migrations`` and
keyed by tenant throughout, so it can be distributed with Citus unchanged.
"""

from __future__ import annotations

try:
    import psycopg  # noqa: F401
    import psycopg_pool  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    from convostore.errors import MissingDependencyError

    raise MissingDependencyError("psycopg", "postgres") from exc

from convostore.store.postgres._backend import (
    AsyncPostgresBackend,
    PostgresBackend,
    drop_schema,
)
from convostore.store.postgres.migrations import LATEST as SCHEMA_VERSION
from convostore.store.postgres.migrations import render_ddl

__all__ = [
    "SCHEMA_VERSION",
    "AsyncPostgresBackend",
    "PostgresBackend",
    "drop_schema",
    "render_ddl",
]
