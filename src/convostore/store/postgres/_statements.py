"""The statement text of the PostgreSQL backend, rendered once per schema.

Every statement either face runs is here, as bytes (which psycopg accepts as a
query as is); the handlers of :mod:`convostore.store.sql.handlers` name them.
Besides the statements every SQL engine supplies, this holds PostgreSQL's own:
schema management and the health check's questions, and the one-statement
append :meth:`PgStatements.append_if_unchanged`.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Sequence
from typing import Any

from convostore.store.postgres.migrations import MIGRATIONS_TABLE, quote_ident, render
from convostore.store.rules.search import Term, tsquery
from convostore.store.sql.rows import THREAD_READ
from convostore.store.sql.statements import Fetch, MessageRow, Query, Statements

__all__ = ["CACHED_LENGTH", "CACHED_PARAMS", "SMALL_BATCH", "PgStatements"]


SMALL_BATCH = 4
"""Batches up to this many rows are inserted from plain parameters, larger ones
from one array per column. Timed on one statement, plain parameters were the
quicker at 1 and 4 rows and arrays at 6, 8 and 16 (when psycopg's cache of
converted queries holds the statement: see :data:`CACHED_PARAMS`)."""

CACHED_PARAMS = 50
"""The most parameters a statement may take and still be converted once.

psycopg turns a query's ``%(name)s`` placeholders into PostgreSQL's ``$n``
ones on every ``execute``, from a cache that holds only statements of at most
50 parameters and :data:`CACHED_LENGTH` bytes; past that it parses the text
again on every call, which cost a four-row append more than the plain
parameters saved. So a batch takes plain parameters only while the whole
statement stays within both; otherwise arrays, a fixed dozen parameters
whatever the batch's size."""

CACHED_LENGTH = 4096
"""The longest statement psycopg's cache of converted queries holds."""

_PLACEHOLDER = re.compile(rb"%\((\w+)\)[sb]")

#: The columns an append writes (``rows.counter_values``), in SET order.
_COUNTERS = tuple(c for c in THREAD_READ if c != "body")
_THREAD_COLS = (
    "tenant_id",
    "id",
    "user_id",
    "agent_name",
    "created_at",
    "root_id",
    *_COUNTERS,
    "body",
)


_PARTS = (
    "json_array_elements(CASE WHEN json_typeof(m.body->'parts') = 'array' THEN m.body->'parts' END)"
)
_SEARCH_FILTERS = {
    "user_id": "t.user_id = %(user_id)s",
    "thread_id": "m.thread_id = %(thread_id)s",
    "agent_name": "t.agent_name = %(agent_name)s",
    "role": "m.role = %(role)s",
    "model": "m.body->'metadata'->>'model' = %(model)s",
    "tool_name": (
        f"(EXISTS (SELECT 1 FROM {_PARTS} AS p WHERE p->>'tool_name' = %(tool_name)s) "
        "OR (m.role = 'tool' AND m.body->>'name' = %(tool_name)s))"
    ),
    "execution_id": "m.execution_id = %(execution_id)s",
    "since": "m.created_at >= %(since)s",
    "until": "m.created_at < %(until)s",
}


_THREAD_F = frozenset({"user_id", "agent_name"})


def _iso(column: str) -> str:
    """A timestamptz column as ISO-8601 UTC text, as ``rows.THREAD_READ`` reads it."""
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


def _thread_read(alias: str = "") -> str:
    p = f"{alias}." if alias else ""
    exprs = {
        "updated_at": _iso(f"{p}updated_at"),
        "deleted_at": _iso(f"{p}deleted_at"),
        "body": f"{p}body::text",
    }
    return ", ".join(exprs.get(c, f"{p}{c}") for c in THREAD_READ)


def _set(prefix: str = "") -> str:
    return ", ".join(f"{c} = %({prefix}{c})s" for c in _COUNTERS)


class PgStatements(Statements):
    """Every statement of the backend, rendered for one schema."""

    engine = "postgres"
    no_limit = None  # LIMIT NULL

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
        # health: can this session write (not a standby, not read-only, granted)?
        self.write_state = b(
            "SELECT pg_is_in_recovery(), current_setting('transaction_read_only'), "
            f"has_table_privilege('{t}', 'INSERT, UPDATE, DELETE') "
            f"AND has_table_privilege('{m}', 'INSERT, UPDATE, DELETE')"
        )

        # threads
        read = _thread_read()
        self.thread_get = b(f"SELECT {read} FROM {t} WHERE tenant_id = %s AND id = %s")
        self.thread_lock = b(f"SELECT {read} FROM {t} WHERE tenant_id = %s AND id = %s FOR UPDATE")
        # Lock the thread and look up the batch's ids already stored, in one trip;
        # one probe of the (tenant, id) index per id, as in _insert_batch.
        self.thread_lock_lookup = b(
            f"SELECT (SELECT coalesce(json_agg(y.body), '[]')::text "
            "FROM (SELECT %s::text AS tenant, unnest(%s::text[]) AS id) AS x, LATERAL "
            f"(SELECT m.body FROM {m} m WHERE m.tenant_id = x.tenant AND m.id = x.id LIMIT 1) "
            "AS y), "
            f"{_thread_read('t')} FROM {t} t WHERE t.tenant_id = %s AND t.id = %s FOR UPDATE OF t"
        )
        self.thread_exists = b(f"SELECT 1 FROM {t} WHERE tenant_id = %s AND id = %s")
        names = ", ".join(_THREAD_COLS)
        values = ", ".join(f"%({c})s::json" if c == "body" else f"%({c})s" for c in _THREAD_COLS)
        self.thread_insert = b(
            f"INSERT INTO {t} ({names}) VALUES ({values}) "
            "ON CONFLICT (tenant_id, id) DO NOTHING RETURNING 1"
        )
        self.thread_update = b(
            f"UPDATE {t} SET user_id = %(user_id)s, agent_name = %(agent_name)s, "
            f"root_id = %(root_id)s, {_set()}, "
            "body = %(body)s::json WHERE tenant_id = %(tenant_id)s AND id = %(id)s"
        )
        # An append's thread write: the counters only, the body stays as it is.
        self._advance = f"UPDATE {t} SET {_set()} WHERE tenant_id = %(tenant_id)s AND id = %(id)s"
        self.thread_delete = b(f"DELETE FROM {t} WHERE tenant_id = %s AND id = %s")
        self.thread_lineage = b(
            f"SELECT (body->'lineage')::text FROM {t} WHERE tenant_id = %s AND id = %s"
        )
        self.thread_tree = b(
            f"SELECT {read} FROM {t} WHERE tenant_id = %s AND id = %s UNION ALL "
            f"SELECT {read} FROM {t} WHERE tenant_id = %s AND root_id = %s"
        )

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
            f"UPDATE {m} SET pinned = %s, deleted = %s, archived = %s, body = %s::json "
            "WHERE tenant_id = %s AND thread_id = %s AND seq = %s"
        )
        self.messages_delete = b(f"DELETE FROM {m} WHERE tenant_id = %s AND thread_id = %s")
        self.messages_delete_from = b(
            f"DELETE FROM {m} WHERE tenant_id = %s AND thread_id = %s AND seq >= %s"
        )
        self.messages_all = b(
            f"SELECT body::text FROM {m} WHERE tenant_id = %s AND thread_id = %s ORDER BY seq"
        )
        self.messages_all_live = b(
            f"SELECT body::text FROM {m} WHERE tenant_id = %s AND thread_id = %s "
            "AND NOT deleted ORDER BY seq"
        )
        self.messages_all_active = b(
            f"SELECT body::text FROM {m} WHERE tenant_id = %s AND thread_id = %s "
            "AND NOT deleted AND NOT archived ORDER BY seq"
        )
        # A context window's pages: live, unarchived messages below a seq, newest
        # first. The conditions are those of the partial index holding exactly
        # these rows (convostore_messages_live), so the read never steps over
        # archived or deleted history.
        window_rows = "NOT deleted AND NOT archived"
        mandatory = f"{window_rows} AND (pinned OR role = 'system')"
        newest_live = (
            f"seq, body::text FROM {m} WHERE tenant_id = %(tenant)s "
            f"AND thread_id = %(thread)s AND seq < %(before)s AND {window_rows} "
            "ORDER BY seq DESC LIMIT %(limit)s"
        )
        # Its first read: mandatory messages (0) and the newest live page (1) in
        # one statement, so from one snapshot (convostore_messages_live_mandatory).
        self.context_start = b(
            f"(SELECT 0, seq, body::text FROM {m} WHERE tenant_id = %(tenant)s "
            f"AND thread_id = %(thread)s AND {mandatory}) "
            f"UNION ALL (SELECT 1, {newest_live})"
        )
        self.context_page = b(f"SELECT {newest_live}")
        self.messages_mandatory = b(
            f"SELECT body::text FROM {m} WHERE tenant_id = %s AND thread_id = %s "
            f"AND {mandatory} ORDER BY seq"
        )
        self.messages_mandatory_in = b(
            f"SELECT thread_id, seq, body::text FROM {m} WHERE tenant_id = %s "
            f"AND thread_id = ANY(%s::text[]) AND {mandatory}"
        )
        self.messages_by_execution = b(
            f"SELECT body::text FROM {m} WHERE tenant_id = %s AND execution_id = %s "
            "AND NOT deleted ORDER BY thread_id, seq LIMIT %s"
        )
        self.messages_by_execution_in_thread = b(
            f"SELECT body::text FROM {m} WHERE tenant_id = %s AND execution_id = %s "
            "AND thread_id = %s AND NOT deleted ORDER BY thread_id, seq LIMIT %s"
        )

        # user and app state
        st = f"{self.quoted_schema}.convostore_state"
        key = "WHERE tenant_id = %s AND scope = %s AND user_id = %s"
        self.state_get = b(f"SELECT revision, updated_at, body::text FROM {st} {key}")
        self.state_claim = b(
            f"INSERT INTO {st} (tenant_id, scope, user_id, revision, updated_at, body) "
            "VALUES (%s, %s, %s, 0, %s, '{}') ON CONFLICT DO NOTHING"
        )
        self.state_lock = b(f"SELECT revision, updated_at, body::text FROM {st} {key} FOR UPDATE")
        self.state_write = b(
            f"UPDATE {st} SET revision = %s, updated_at = %s, body = %s::json {key}"
        )

        # attachments
        a = f"{self.quoted_schema}.convostore_attachments"
        ar = f"{self.quoted_schema}.convostore_attachment_refs"
        cols = "media_type, size_bytes, created_at"
        unreferenced = (
            f"NOT EXISTS (SELECT 1 FROM {ar} r WHERE r.tenant_id = a.tenant_id "
            "AND r.sha256 = a.sha256)"
        )
        self.attachment_insert = b(
            f"INSERT INTO {a} (tenant_id, sha256, {cols}, data) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (tenant_id, sha256) DO NOTHING"
        )
        # FOR SHARE: a purge deciding that these bytes are unreferenced waits
        # for the write that is adding a reference to them (and then sees it).
        self.attachment_infos = b(
            f"SELECT sha256, {cols} FROM {a} WHERE tenant_id = %s AND sha256 = ANY(%s::text[]) "
            "FOR SHARE"
        )
        self.attachments_lock = b(
            f"SELECT sha256 FROM {a} WHERE tenant_id = %s AND sha256 = ANY(%s::text[]) FOR UPDATE"
        )
        self.attachments_gc_candidates = b(
            f"SELECT sha256 FROM {a} a WHERE tenant_id = %s AND created_at < %s AND {unreferenced}"
        )
        self.attachment_get = b(
            f"SELECT {cols}, data FROM {a} WHERE tenant_id = %s AND sha256 = %s"
        )
        self.attachment_ref_insert = b(
            f"INSERT INTO {ar} (tenant_id, sha256, thread_id, message_id, created_at) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
        )
        self.attachment_refs_release = b(
            f"DELETE FROM {ar} WHERE tenant_id = %s AND thread_id = %s RETURNING sha256"
        )
        self.attachment_ref_delete = b(
            f"DELETE FROM {ar} WHERE tenant_id = %s AND sha256 = %s AND thread_id = %s "
            "AND message_id = %s RETURNING sha256"
        )
        self.attachments_unreferenced_delete = b(
            f"DELETE FROM {a} a WHERE tenant_id = %s AND sha256 = ANY(%s::text[]) "
            f"AND {unreferenced} RETURNING 1"
        )
        self.attachment_refs_gc = b(
            f"DELETE FROM {ar} r WHERE tenant_id = %s AND created_at < %s AND NOT EXISTS "
            f"(SELECT 1 FROM {m} m WHERE m.tenant_id = r.tenant_id AND m.id = r.message_id)"
        )

    # parameter forms -------------------------------------------------------------

    def time(self, value: dt.datetime) -> dt.datetime:
        return value

    def id_list(self, ids: Sequence[str]) -> list[str]:
        return list(ids)

    # statements built per shape ----------------------------------------------------

    @functools.lru_cache(maxsize=32)  # noqa: B019 - one PgStatements per backend, kept for life
    def _plain_rows(self, kind: str, n: int) -> int:
        """How many rows a ``kind`` statement for ``n`` rows takes as plain
        parameters: ``n``, or 0 for one array per column (more than
        :data:`SMALL_BATCH` rows, or a plain statement past psycopg's cache
        bounds, counted on its text)."""
        if n > SMALL_BATCH:
            return 0
        sql = self._batch_statement(kind, n)
        names = set(_PLACEHOLDER.findall(sql))
        return n if len(names) <= CACHED_PARAMS and len(sql) <= CACHED_LENGTH else 0

    def _insert_batch(self, n: int) -> tuple[str, str]:
        """Inserting ``n`` rows (0: any number, from arrays), and the condition
        "one of their ids is stored".

        The condition probes the (tenant, id) index once per id, whatever plan
        the server caches: a prepared statement keeps the generic plan it made
        while the table was small and had no statistics, and for
        ``id = ANY(array)`` that plan read the index on the tenant alone, every
        message of the tenant on every append, until the next ``ANALYZE``
        (with ``synchronous_commit=off``, a turn of four into a tenant holding
        50,000 messages took 21 ms, against 1.6 ms with the probes).

        Parameters: ``tenant_id``, ``id`` (the thread) and the rows' columns,
        ``m_<column>`` with the row's index appended for each of ``n`` rows, or
        for ``n`` 0 one array per column, sent in binary (in text form psycopg
        escapes every JSON body).
        """
        head = (
            f"INSERT INTO {self.messages_table} (tenant_id, thread_id, seq, id, role, "
            "execution_id, created_at, pinned, deleted, archived, body) "
            "SELECT %(tenant_id)s, %(id)s, u.seq, u.id, u.role, u.execution_id, "
            "u.created_at, u.pinned, u.deleted, u.archived, u.body::json FROM "
        )
        names = "AS u(seq, id, role, execution_id, created_at, pinned, deleted, archived, body)"
        if not n:
            rows = (
                "unnest(%(m_seq)b::bigint[], %(m_id)b::text[], %(m_role)b::text[], "
                "%(m_execution_id)b::text[], %(m_created_at)b::timestamptz[], "
                "%(m_pinned)b::boolean[], %(m_deleted)b::boolean[], %(m_archived)b::boolean[], "
                "%(m_body)b::text[]) "
            )
            # LATERAL ... LIMIT 1 is never flattened into a join: a nested
            # loop over the ids, each an equality probe of the unique index.
            taken = (
                "EXISTS (SELECT FROM unnest(%(m_id)b::text[]) AS x(id), LATERAL "
                f"(SELECT FROM {self.messages_table} WHERE tenant_id = %(tenant_id)s "
                "AND id = x.id LIMIT 1) AS y)"
            )
        else:
            values = ", ".join(
                f"(%(m_seq{k})s::bigint, %(m_id{k})s::text, %(m_role{k})s::text, "
                f"%(m_execution_id{k})s::text, %(m_created_at{k})s::timestamptz, "
                f"%(m_pinned{k})s::boolean, %(m_deleted{k})s::boolean, "
                f"%(m_archived{k})s::boolean, %(m_body{k})s::text)"
                for k in range(n)
            )
            rows = f"(VALUES {values}) "
            taken = " OR ".join(
                f"EXISTS (SELECT FROM {self.messages_table} "
                f"WHERE tenant_id = %(tenant_id)s AND id = %(m_id{k})s)"
                for k in range(n)
            )
        return head + rows + names, taken

    @functools.lru_cache(maxsize=32)  # noqa: B019 - one PgStatements per backend, kept for life
    def _batch_statement(self, kind: str, n: int) -> bytes:
        insert, taken = self._insert_batch(n)
        if kind == "insert":
            return insert.encode()
        if kind == "insert_or_skip":
            return f"{insert} ON CONFLICT DO NOTHING".encode()
        if kind == "write":
            return f"WITH added AS ({insert}) {self._advance}".encode()
        # The thread row must hold exactly what this process last saw of it:
        # every column an append writes, and the body.
        same = " AND ".join(
            f"deleted_at IS NOT DISTINCT FROM %(k_{c})s::timestamptz"
            if c == "deleted_at"
            else f"{c} = %(k_{c})s"
            for c in _COUNTERS
        )
        return (
            f"WITH moved AS ({self._advance} AND {same} AND body::text = %(known)s "
            f"AND NOT ({taken}) RETURNING 1) "
            f"{insert} WHERE EXISTS (SELECT FROM moved)"
        ).encode()

    def _batch(
        self,
        kind: str,
        tenant: str,
        thread_id: str,
        rows: Sequence[MessageRow],
        params: dict[str, Any],
    ) -> tuple[bytes, dict[str, Any]]:
        """The ``kind`` statement for ``rows``, and ``params`` with the
        thread's key and the rows: one parameter per value for a small batch,
        else one array per column."""
        plain = self._plain_rows(kind, len(rows))
        params["tenant_id"], params["id"] = tenant, thread_id
        sql = self._batch_statement(kind, plain)
        if not plain:
            (seq, ids, role, exe, created, pinned, deleted, archived, body) = zip(
                *rows, strict=True
            )
            params.update(
                m_seq=list(seq),
                m_id=list(ids),
                m_role=list(role),
                m_execution_id=list(exe),
                m_created_at=list(created),
                m_pinned=list(pinned),
                m_deleted=list(deleted),
                m_archived=list(archived),
                m_body=list(body),
            )
            return sql, params
        for k, row in enumerate(rows):
            (
                params[f"m_seq{k}"],
                params[f"m_id{k}"],
                params[f"m_role{k}"],
                params[f"m_execution_id{k}"],
                params[f"m_created_at{k}"],
                params[f"m_pinned{k}"],
                params[f"m_deleted{k}"],
                params[f"m_archived{k}"],
                params[f"m_body{k}"],
            ) = row
        return sql, params

    def insert_messages(
        self, tenant: str, thread_id: str, rows: Sequence[MessageRow], *, skip_taken: bool = False
    ) -> Query:
        kind = "insert_or_skip" if skip_taken else "insert"
        sql, params = self._batch(kind, tenant, thread_id, rows, {})
        return Query(sql, params, Fetch.ROWCOUNT if skip_taken else Fetch.NONE)

    def append_write(
        self,
        tenant: str,
        thread_id: str,
        counters: dict[str, Any],
        rows: Sequence[MessageRow],
    ) -> tuple[Query, ...]:
        """``rows`` and the thread's new counters in one statement, so the row
        lock is held for a single round trip plus the commit."""
        sql, params = self._batch("write", tenant, thread_id, rows, dict(counters))
        return (Query(sql, params, Fetch.NONE),)

    def append_if_unchanged(
        self,
        tenant: str,
        thread_id: str,
        counters: dict[str, Any],
        known_counters: dict[str, Any],
        known_body: str,
        rows: Sequence[MessageRow],
    ) -> Query:
        """An append's writes without a lock query, on the thread row as this
        process last created, read or wrote it.

        They happen only if the row still holds exactly that (every column an
        append writes, and the body text) and none of the batch's ids is
        stored. Run on its own (autocommit), it is a whole append in one round
        trip; the row count says whether it happened.
        """
        params = dict(counters)
        for c in _COUNTERS:
            params[f"k_{c}"] = known_counters[c]
        params["known"] = known_body
        sql, params = self._batch("if_unchanged", tenant, thread_id, rows, params)
        return Query(sql, params, Fetch.ROWCOUNT)

    @functools.lru_cache(maxsize=16)  # noqa: B019 - one PgStatements per backend, kept for life
    def lineage_page(self, segments: int, with_mandatory: bool) -> bytes:
        """One statement for a branch's window page: the planner merges the
        ordered reads of its threads lazily (Merge Append), so a thread whose
        rows the page does not reach costs one index probe; the mandatory
        messages come from the same read, as in ``context_start``."""
        m = self.messages_table
        parts = [
            f"(SELECT thread_id, seq, body::text AS body FROM {m} "
            f"WHERE tenant_id = %(tenant)s AND thread_id = %(thread{i})s "
            f"AND seq < %(before{i})s AND NOT deleted AND NOT archived "
            "ORDER BY seq DESC LIMIT %(limit)s)"
            for i in range(segments)
        ]
        page = (
            f"SELECT 1, thread_id, seq, body FROM ({' UNION ALL '.join(parts)}) AS lineage "
            "ORDER BY seq DESC LIMIT %(limit)s"
        )
        if not with_mandatory:
            return page.encode()
        return (
            f"(SELECT 0, thread_id, seq, body::text FROM {m} WHERE tenant_id = %(tenant)s "
            "AND thread_id = ANY(%(threads)s::text[]) AND NOT deleted AND NOT archived "
            f"AND (pinned OR role = 'system')) UNION ALL ({page})"
        ).encode()

    @functools.lru_cache(maxsize=16)  # noqa: B019 - one PgStatements per backend, kept for life
    def messages_page(self, *, backward: bool, include_deleted: bool) -> bytes:
        live = "" if include_deleted else " AND NOT deleted"
        op, order = ("<", "DESC") if backward else (">", "")
        return (
            f"SELECT body::text FROM {self.messages_table} "
            f"WHERE tenant_id = %s AND thread_id = %s AND seq {op} %s{live} "
            f"ORDER BY seq {order} LIMIT %s"
        ).encode()

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one PgStatements per backend, kept for life
    def thread_listing(
        self, *, what: str, user: bool, agent: bool, include_deleted: bool, after: bool
    ) -> bytes:
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
            f"SELECT {_thread_read()} FROM {self.threads_table} WHERE {cond} "
            "ORDER BY updated_at DESC, id DESC LIMIT %(limit)s"
        ).encode()

    def search_query(self, terms: Sequence[Term]) -> str:
        return tsquery(terms)

    def search_time(self, value: dt.datetime) -> dt.datetime:
        return value

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one PgStatements per backend, kept for life
    def search(self, *, filters: frozenset[str], after: bool) -> bytes:
        query = "to_tsquery('simple', %(query)s)"
        inner = ["m.tenant_id = %(tenant)s", f"m.search @@ {query}"]
        inner += [c for n, c in _SEARCH_FILTERS.items() if n in filters and n not in _THREAD_F]
        outer = [c for n, c in _SEARCH_FILTERS.items() if n in filters and n in _THREAD_F]
        if "deleted" not in filters:
            inner.append("NOT m.deleted")
            outer.append("t.deleted_at IS NULL")
        if after:
            outer.append(
                "(f.score < %(after_score)s::float8 "
                "OR (f.score = %(after_score)s::float8 AND f.id < %(after_id)s))"
            )
        # The matches first (the GIN index, or the tenant's rows when the words
        # are in most of them), whatever the statistics say of the threads.
        # Rank normalisation 1: divided by 1 + log(length), as the scan ranks.
        return (
            "WITH f AS MATERIALIZED (SELECT m.thread_id, m.id, m.body, "
            f"ts_rank(m.search, {query}, 1)::float8 AS score FROM {self.messages_table} AS m "
            f"WHERE {' AND '.join(inner)}) "
            f"SELECT f.score, f.body::text FROM f JOIN {self.threads_table} AS t "
            "ON t.tenant_id = %(tenant)s AND t.id = f.thread_id "
            f"{'WHERE ' + ' AND '.join(outer) + ' ' if outer else ''}"
            "ORDER BY f.score DESC, f.id DESC LIMIT %(limit)s"
        ).encode()

    def render(self, template: str) -> bytes:
        """A migration statement template rendered for this schema."""
        return render(template, self.schema).encode()
