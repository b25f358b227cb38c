"""The SQL text of the PostgreSQL backend, and the query records that carry it.

Every statement either face runs is here, rendered once per schema into bytes
(which psycopg accepts as a query as is). Handlers never write SQL inline: they
yield :class:`Query` records naming a statement of :class:`Statements`, which
is what lets the sync and async faces share them unchanged.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from typing import Any

from convostore.store.postgres.migrations import MIGRATIONS_TABLE, quote_ident, render

__all__ = ["SMALL_BATCH", "Fetch", "Query", "Statements"]


class Fetch(enum.Enum):
    """What the driver hands back to a handler after running a query."""

    NONE = "none"  # nothing
    ONE = "one"  # the first row, or None
    ALL = "all"  # every row, as a list
    ROWCOUNT = "rowcount"  # the number of rows affected


@dataclass(frozen=True, slots=True)
class Query:
    """One statement to run: its text, parameters and what to fetch."""

    sql: bytes
    params: tuple[Any, ...] | dict[str, Any] | None = None
    fetch: Fetch = Fetch.ALL


SMALL_BATCH = 4
"""Batches up to this many rows are inserted from plain parameters, larger ones
from one array per column. Timed on one statement, plain parameters were the
quicker at 1 and 4 rows and arrays at 6, 8 and 16."""

_THREAD_COLS = (
    "tenant_id, id, user_id, agent_name, created_at, updated_at, deleted_at, revision, body"
)
_THREAD_VALS = (
    "%(tenant_id)s, %(id)s, %(user_id)s, %(agent_name)s, %(created_at)s, %(updated_at)s, "
    "%(deleted_at)s, %(revision)s, %(body)s::json"
)


class Statements:
    """Every statement of the backend, rendered for one schema."""

    def __init__(self, schema: str) -> None:
        self.schema = schema
        self.quoted_schema = quote_ident(schema)
        t = f"{self.quoted_schema}.convostore_threads"
        m = f"{self.quoted_schema}.convostore_messages"
        self.threads_table = t
        self.messages_table = m
        mig = f"{self.quoted_schema}.{MIGRATIONS_TABLE}"

        def b(text: str) -> bytes:
            return text.encode()

        # schema management
        self.schema_exists = b("SELECT 1 FROM pg_namespace WHERE nspname = %s")
        self.create_schema = b(f"CREATE SCHEMA {self.quoted_schema}")
        self.migrations_table_exists = b("SELECT to_regclass(%s) IS NOT NULL")
        self.migrations_table_name = mig
        self.schema_version = b(f"SELECT coalesce(max(version), 0) FROM {mig}")
        self.record_migration = b(f"INSERT INTO {mig} (version, name) VALUES (%s, %s)")
        self.advisory_lock = b("SELECT pg_advisory_xact_lock(hashtext(%s))")
        self.snapshot = b("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        # health: can this session write (not a standby, not read-only, granted)?
        self.write_state = b(
            "SELECT pg_is_in_recovery(), current_setting('transaction_read_only'), "
            f"has_table_privilege('{t}', 'INSERT, UPDATE, DELETE') "
            f"AND has_table_privilege('{m}', 'INSERT, UPDATE, DELETE')"
        )

        # threads
        save_thread = (
            f"UPDATE {t} SET user_id = %(user_id)s, agent_name = %(agent_name)s, "
            "updated_at = %(updated_at)s, deleted_at = %(deleted_at)s, "
            "revision = %(revision)s, body = %(body)s::json "
            "WHERE tenant_id = %(tenant_id)s AND id = %(id)s"
        )
        self.thread_get = b(f"SELECT body::text FROM {t} WHERE tenant_id = %s AND id = %s")
        self.thread_lock = b(
            f"SELECT body::text FROM {t} WHERE tenant_id = %s AND id = %s FOR UPDATE"
        )
        # Lock the thread and look up the batch's ids already stored, in one trip.
        self.thread_lock_lookup = b(
            f"SELECT t.body::text, (SELECT coalesce(json_agg(m.body), '[]')::text "
            f"FROM {m} m WHERE m.tenant_id = %s AND m.id = ANY(%s::text[])) "
            f"FROM {t} t WHERE t.tenant_id = %s AND t.id = %s FOR UPDATE OF t"
        )
        self.thread_exists = b(f"SELECT 1 FROM {t} WHERE tenant_id = %s AND id = %s")
        self.thread_insert = b(
            f"INSERT INTO {t} ({_THREAD_COLS}) VALUES ({_THREAD_VALS}) "
            "ON CONFLICT (tenant_id, id) DO NOTHING RETURNING 1"
        )
        self.thread_update = b(save_thread)
        self._save_thread = save_thread  # also the core of the append statements
        self.thread_delete = b(f"DELETE FROM {t} WHERE tenant_id = %s AND id = %s")

        # messages
        self.message_ids_taken = b(
            f"SELECT id FROM {m} WHERE tenant_id = %s AND id = ANY(%b::text[])"
        )
        self.message_get = b(f"SELECT body::text FROM {m} WHERE tenant_id = %s AND id = %s")
        self.message_thread = b(f"SELECT thread_id FROM {m} WHERE tenant_id = %s AND id = %s")
        self.message_in_thread = b(
            f"SELECT body::text FROM {m} WHERE tenant_id = %s AND thread_id = %s AND id = %s"
        )
        self.message_update = b(
            f"UPDATE {m} SET deleted_at = %s, body = %s::json "
            "WHERE tenant_id = %s AND thread_id = %s AND seq = %s"
        )
        self.messages_delete = b(f"DELETE FROM {m} WHERE tenant_id = %s AND thread_id = %s")
        self.messages_all = b(
            f"SELECT body::text FROM {m} WHERE tenant_id = %s AND thread_id = %s ORDER BY seq"
        )
        # A context window's pages: live, unarchived messages below a seq, newest
        # first. The conditions are those of the partial index holding exactly
        # these rows (convostore_messages_live), so the read never steps over
        # archived or deleted history.
        window_rows = "deleted_at IS NULL AND (body->>'archived_at') IS NULL"
        newest_live = (
            f"seq, body::text FROM {m} WHERE tenant_id = %(tenant)s "
            f"AND thread_id = %(thread)s AND seq < %(before)s AND {window_rows} "
            "ORDER BY seq DESC LIMIT %(limit)s"
        )
        # Its first read: mandatory messages (0) and the newest live page (1) in
        # one statement, so from one snapshot (convostore_messages_live_mandatory).
        self.context_start = b(
            f"(SELECT 0, seq, body::text FROM {m} WHERE tenant_id = %(tenant)s "
            f"AND thread_id = %(thread)s AND {window_rows} "
            "AND (role = 'system' OR (body->>'pinned')::boolean)) "
            f"UNION ALL (SELECT 1, {newest_live})"
        )
        self.context_page = b(f"SELECT {newest_live}")
        self.messages_all_live = b(
            f"SELECT body::text FROM {m} WHERE tenant_id = %s AND thread_id = %s "
            "AND deleted_at IS NULL ORDER BY seq"
        )
        self.messages_by_execution = b(
            f"SELECT body::text FROM {m} WHERE tenant_id = %s AND execution_id = %s "
            "AND deleted_at IS NULL ORDER BY thread_id, seq LIMIT %s"
        )
        self.messages_by_execution_in_thread = b(
            f"SELECT body::text FROM {m} WHERE tenant_id = %s AND execution_id = %s "
            "AND thread_id = %s AND deleted_at IS NULL ORDER BY thread_id, seq LIMIT %s"
        )

    def _insert_batch(self, n: int) -> tuple[str, str]:
        """Inserting ``n`` rows, and the condition "one of their ids is stored".

        Parameters: ``tenant_id``, ``id`` (the thread) and the rows' columns,
        ``m_<column>`` with the row's index appended for each of up to
        :data:`SMALL_BATCH` rows, or one array per column for a larger batch,
        sent in binary (in text form psycopg escapes every JSON body).
        """
        head = (
            f"INSERT INTO {self.messages_table} (tenant_id, thread_id, seq, id, role, "
            "execution_id, created_at, deleted_at, body) "
            "SELECT %(tenant_id)s, %(id)s, u.seq, u.id, u.role, u.execution_id, "
            "u.created_at, u.deleted_at, u.body::json FROM "
        )
        names = "AS u(seq, id, role, execution_id, created_at, deleted_at, body)"
        if n > SMALL_BATCH:
            rows = (
                "unnest(%(m_seq)b::bigint[], %(m_id)b::text[], %(m_role)b::text[], "
                "%(m_execution_id)b::text[], %(m_created_at)b::timestamptz[], "
                "%(m_deleted_at)b::timestamptz[], %(m_body)b::text[]) "
            )
            taken = "id = ANY(%(m_id)b::text[])"
        else:
            values = ", ".join(
                f"(%(m_seq{k})s::bigint, %(m_id{k})s::text, %(m_role{k})s::text, "
                f"%(m_execution_id{k})s::text, %(m_created_at{k})s::timestamptz, "
                f"%(m_deleted_at{k})s::timestamptz, %(m_body{k})s::text)"
                for k in range(n)
            )
            rows = f"(VALUES {values}) "
            ids = ", ".join(f"%(m_id{k})s" for k in range(n))
            taken = f"id IN ({ids})"
        return head + rows + names, taken

    @functools.lru_cache(maxsize=32)  # noqa: B019 - one Statements per backend, kept for life
    def _batch_statement(self, kind: str, n: int) -> bytes:
        insert, taken = self._insert_batch(n)
        if kind == "insert":
            return insert.encode()
        if kind == "write":
            return f"WITH added AS ({insert}) {self._save_thread}".encode()
        return (
            f"WITH moved AS ({self._save_thread} AND body::text = %(known)s "
            f"AND NOT EXISTS (SELECT FROM {self.messages_table} "
            f"WHERE tenant_id = %(tenant_id)s AND {taken}) RETURNING 1) "
            f"{insert} WHERE EXISTS (SELECT FROM moved)"
        ).encode()

    def messages_insert(self, n: int) -> bytes:
        """Insert ``n`` rows (an import's)."""
        return self._batch_statement("insert", min(n, SMALL_BATCH + 1))

    def append_write(self, n: int) -> bytes:
        """An append's writes after the lock query: ``n`` rows and the thread's
        new state, in one statement, so the row lock is held for a single round
        trip plus the commit."""
        return self._batch_statement("write", min(n, SMALL_BATCH + 1))

    def append_if_unchanged(self, n: int) -> bytes:
        """An append's writes without a lock query, on the thread row as this
        process last created, read or wrote it.

        They happen only if the row still holds exactly that text (parameter
        ``known``) and none of the batch's ids is stored. Run on its own
        (autocommit), it is a whole append in one round trip; the row count
        says whether it happened.
        """
        return self._batch_statement("if_unchanged", min(n, SMALL_BATCH + 1))

    @functools.lru_cache(maxsize=16)  # noqa: B019 - one Statements per backend, kept for life
    def messages_page(self, *, backward: bool, include_deleted: bool) -> bytes:
        """Up to ``limit`` messages after (or, backward, before) a seq.

        Parameters: tenant, thread, seq bound, limit. Backward pages come newest
        first; the caller reverses them.
        """
        live = "" if include_deleted else " AND deleted_at IS NULL"
        op, order = ("<", "DESC") if backward else (">", "")
        return (
            f"SELECT body::text FROM {self.messages_table} "
            f"WHERE tenant_id = %s AND thread_id = %s AND seq {op} %s{live} "
            f"ORDER BY seq {order} LIMIT %s"
        ).encode()

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one Statements per backend, kept for life
    def thread_listing(
        self, *, what: str, user: bool, agent: bool, include_deleted: bool, after: bool
    ) -> bytes:
        """Threads of a tenant, newest activity first, filtered as asked.

        ``what`` is ``rows`` (bodies, with a ``%(limit)s``) or ``count``. Named
        parameters: tenant, user_id, agent_name, after_at, after_id, limit.
        """
        where = ["tenant_id = %(tenant)s"]
        if user:
            where.append("user_id = %(user_id)s")
        if agent:
            where.append("agent_name = %(agent_name)s")
        if not include_deleted:
            where.append("deleted_at IS NULL")
        if after:
            where.append("(updated_at, id) < (%(after_at)s, %(after_id)s)")
        cond = " AND ".join(where)
        if what == "count":
            return f"SELECT count(*) FROM {self.threads_table} WHERE {cond}".encode()
        return (
            f"SELECT body::text FROM {self.threads_table} WHERE {cond} "
            "ORDER BY updated_at DESC, id DESC LIMIT %(limit)s"
        ).encode()

    def render(self, template: str) -> bytes:
        """A migration statement template rendered for this schema."""
        return render(template, self.schema).encode()
