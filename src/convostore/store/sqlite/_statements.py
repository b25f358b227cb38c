"""The statement text of the SQLite backend, for the shared handlers.

:class:`SqliteStatements` fills the :class:`~convostore.store.sql.statements.Statements`
contract: ``?`` placeholders where the handlers pass a tuple, ``:name`` where
they pass a dict. Times are parameters in microseconds since the epoch (the
``updated_us`` and ``deleted_us`` columns) and read back as ISO-8601 UTC text
formatted in SQL; a list of ids is one JSON array parameter, whose values
``json_each`` yields to an ``IN``.

Appends take the quick path of SQLite, where a statement costs no round trip
(:func:`~convostore.store.sql.handlers.append_advance`): the relative
:data:`ADVANCE_THREAD` (or :data:`ADVANCE_THREAD_COUNTS`), then the rows in one
``executemany``.

Several reads name the index they must use (``INDEXED BY``): without table
statistics the planner prefers the clustered key, which reads a whole thread
(or every message of a tenant) where the index reads only the rows asked for.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Sequence
from typing import Any

from convostore.store.rules.codec import to_us
from convostore.store.rules.search import Term, fts5_query
from convostore.store.sql.rows import THREAD_READ
from convostore.store.sql.statements import Fetch, MessageRow, Query, Statements

__all__ = ["SqliteStatements"]


def _iso(column: str) -> str:
    """A microsecond column as ISO-8601 UTC text (``...T12:00:00.000000Z``), NULL
    for NULL; exact for every time a ``datetime`` holds, before 1970 too (the
    floor of the seconds, and the microseconds above it)."""
    us = f"(({column} % 1000000) + 1000000) % 1000000"
    return (
        f"strftime('%Y-%m-%dT%H:%M:%S', ({column} - {us}) / 1000000, 'unixepoch') "
        f"|| printf('.%06dZ', {us})"
    )


_TIMES = {"updated_at": "updated_us", "deleted_at": "deleted_us"}
#: The counter columns an append writes (``rows.counter_values``) by parameter name.
_COUNTERS = {c: _TIMES.get(c, c) for c in THREAD_READ if c != "body"}

# --- threads ---------------------------------------------------------------

#: The columns of a thread read (``rows.THREAD_READ``), the times formatted.
THREAD_READ_COLUMNS = ", ".join(_iso(_TIMES[c]) if c in _TIMES else c for c in THREAD_READ)
GET_THREAD = f"SELECT {THREAD_READ_COLUMNS} FROM threads WHERE tenant_id = ? AND id = ?"
THREAD_EXISTS = "SELECT 1 FROM threads WHERE tenant_id = ? AND id = ?"
#: Every column of a thread row by the name of its parameter (``rows.thread_values``).
_THREAD_NAMES = {
    **{c: c for c in ("tenant_id", "id", "user_id", "agent_name", "root_id")},
    **_COUNTERS,
    "body": "body",
}
INSERT_THREAD = (
    f"INSERT INTO threads ({', '.join(_THREAD_NAMES.values())}) "
    f"VALUES ({', '.join(':' + p for p in _THREAD_NAMES)}) "
    "ON CONFLICT (tenant_id, id) DO NOTHING RETURNING 1"
)
_SET_COUNTERS = ", ".join(f"{c} = :{p}" for p, c in _COUNTERS.items())
#: An append's thread write on the locked path: the counters only.
SET_COUNTERS = f"UPDATE threads SET {_SET_COUNTERS} WHERE tenant_id = :tenant_id AND id = :id"
UPDATE_THREAD = (
    f"UPDATE threads SET user_id = :user_id, agent_name = :agent_name, root_id = :root_id, "
    f"{_SET_COUNTERS}, body = :body "
    "WHERE tenant_id = :tenant_id AND id = :id"
)
# The append fast path: advance the counters of a live thread (at the expected
# revision, when one is given) and learn the new counts in the same statement.
# An import in progress is a deleted thread that its importer may fill.
ADVANCE_THREAD = """
UPDATE threads SET
    message_count = message_count + :n,
    live_message_count = live_message_count + :n,
    turn_count = turn_count + :turns,
    tool_call_count = tool_call_count + :tools,
    token_count = token_count + :tokens,
    prompt_tokens = prompt_tokens + :prompt,
    completion_tokens = completion_tokens + :completion,
    total_tokens = total_tokens + :total,
    currency = CASE
        WHEN :currency IS NULL THEN currency
        WHEN input_cost = 0 AND output_cost = 0 AND total_cost = 0 THEN :currency
        WHEN currency = :currency THEN currency
        ELSE 'mixed' END,
    input_cost = input_cost + :input_cost,
    output_cost = output_cost + :output_cost,
    total_cost = total_cost + :total_cost,
    revision = revision + 1,
    updated_us = max(updated_us, :now)
WHERE tenant_id = :tenant AND id = :id AND (deleted_us IS NULL OR :importing)
      AND (:rev IS NULL OR revision = :rev)
RETURNING message_count, turn_count
"""
# The same for the common batch that reports no usage or cost.
ADVANCE_THREAD_COUNTS = """
UPDATE threads SET
    message_count = message_count + ?1, live_message_count = live_message_count + ?1,
    turn_count = turn_count + ?2,
    tool_call_count = tool_call_count + ?3, token_count = token_count + ?4,
    revision = revision + 1, updated_us = max(updated_us, ?5)
WHERE tenant_id = ?6 AND id = ?7 AND (deleted_us IS NULL OR ?9) AND (?8 IS NULL OR revision = ?8)
RETURNING message_count, turn_count
"""
DELETE_THREAD = "DELETE FROM threads WHERE tenant_id = ? AND id = ?"
DELETE_THREAD_MESSAGES = "DELETE FROM messages WHERE tenant_id = ? AND thread_id = ?"
DELETE_MESSAGES_FROM = "DELETE FROM messages WHERE tenant_id = ? AND thread_id = ? AND seq >= ?"

# --- messages --------------------------------------------------------------

INSERT_MESSAGE = """
INSERT INTO messages (tenant_id, thread_id, seq, id, role, execution_id, pinned, deleted,
                      archived, body)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
INSERT_MESSAGE_OR_SKIP = f"{INSERT_MESSAGE.rstrip()} ON CONFLICT DO NOTHING"
#: A batch of rows in one statement: ``?3`` is a JSON array of
#: [seq, id, role, execution_id, pinned, deleted, archived, body] arrays. One
#: statement rather than one per row (``executemany``) lets FTS5 keep the
#: batch's index entries in memory until the statement ends: a statement per
#: row makes the search trigger flush them at every row.
INSERT_MESSAGES = """
INSERT INTO messages (tenant_id, thread_id, seq, id, role, execution_id, pinned, deleted,
                      archived, body)
SELECT ?1, ?2, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5,
       value ->> 6, value ->> 7
FROM json_each(?3) WHERE true
"""
INSERT_MESSAGES_OR_SKIP = f"{INSERT_MESSAGES.rstrip()} ON CONFLICT DO NOTHING"
#: Bodies longer than this in all go row by row, so the one parameter stays
#: far below SQLite's limit on a value's length.
_MAX_BATCH_CHARS = 64 * 1024 * 1024
UPDATE_MESSAGE = """
UPDATE messages SET pinned = ?, deleted = ?, archived = ?, body = ?
WHERE tenant_id = ? AND thread_id = ? AND seq = ?
"""
GET_MESSAGE = "SELECT body FROM messages WHERE tenant_id = ? AND id = ?"
MESSAGE_THREAD = "SELECT thread_id FROM messages WHERE tenant_id = ? AND id = ?"
MESSAGE_IN_THREAD = "SELECT body FROM messages WHERE tenant_id = ? AND thread_id = ? AND id = ?"
#: Where the ids of a batch come from: the values of one JSON array parameter.
IDS = "SELECT value FROM json_each(?)"
#: Stored messages among a batch of ids (``{marks}``: :data:`IDS`, or one ``?``
#: per id). With more than a few ids and no table statistics the planner
#: prefers the clustered key and reads every message of the tenant, so an
#: import or a re-sent batch would slow down as the store grows; the id index
#: reads only the ids asked for.
MESSAGES_BY_IDS = """
SELECT body FROM messages INDEXED BY messages_by_id WHERE tenant_id = ? AND id IN ({marks})
"""
MESSAGE_IDS_TAKEN = (
    f"SELECT id FROM messages INDEXED BY messages_by_id WHERE tenant_id = ? AND id IN ({IDS})"
)
#: The stored bodies among a batch's ids as one JSON array (each body is stored
#: JSON, so joining them makes one) and the thread row. It runs in the append's
#: write transaction, whose ``BEGIN IMMEDIATE`` holds the database's write lock.
THREAD_LOOKUP = (
    "SELECT (SELECT '[' || coalesce(group_concat(body, ','), '') || ']' FROM ("
    + MESSAGES_BY_IDS.strip().format(marks=IDS)
    + f")), {THREAD_READ_COLUMNS} FROM threads WHERE tenant_id = ? AND id = ?"
)
MESSAGES_FORWARD = """
SELECT body FROM messages
WHERE tenant_id = ? AND thread_id = ? AND seq > ? {deleted}
ORDER BY seq LIMIT ?
"""
MESSAGES_BACKWARD = """
SELECT body FROM messages
WHERE tenant_id = ? AND thread_id = ? AND seq < ? {deleted}
ORDER BY seq DESC LIMIT ?
"""
# A context window's pages: live, unarchived messages below a seq, newest first,
# through the partial index that holds exactly those (the clustered key would
# step over every archived or deleted row on the way).
_NEWEST_LIVE = """FROM messages INDEXED BY messages_live
WHERE tenant_id = :tenant AND thread_id = :thread AND seq < :before AND deleted = 0
      AND archived = 0
ORDER BY seq DESC LIMIT :limit"""
_MANDATORY = """FROM messages INDEXED BY messages_live_mandatory
WHERE tenant_id = {tenant} AND thread_id = {thread} AND deleted = 0 AND archived = 0
      AND (pinned = 1 OR role = 'system')"""
#: A context window's first read: the mandatory messages (``0``) and the newest
#: live page (``1``), from one snapshot. The partial index reads only the live,
#: unarchived system and pinned messages.
CONTEXT_START = f"""
SELECT 0, seq, body {_MANDATORY.format(tenant=":tenant", thread=":thread")}
UNION ALL
SELECT * FROM (SELECT 1, seq, body {_NEWEST_LIVE})
"""
CONTEXT_PAGE = f"SELECT seq, body {_NEWEST_LIVE}"
MESSAGES_MANDATORY = f"SELECT body {_MANDATORY.format(tenant='?', thread='?')} ORDER BY seq"
#: The mandatory messages of several threads (a branch's lineage), in one read.
MESSAGES_MANDATORY_IN = f"""
SELECT thread_id, seq, body FROM messages INDEXED BY messages_live_mandatory
WHERE tenant_id = ? AND thread_id IN ({IDS}) AND deleted = 0 AND archived = 0
      AND (pinned = 1 OR role = 'system')
"""
MESSAGES_ALL = "SELECT body FROM messages WHERE tenant_id = ? AND thread_id = ? ORDER BY seq"
MESSAGES_ALL_LIVE = """
SELECT body FROM messages WHERE tenant_id = ? AND thread_id = ? AND deleted = 0 ORDER BY seq
"""
MESSAGES_ALL_ACTIVE = """
SELECT body FROM messages INDEXED BY messages_live
WHERE tenant_id = ? AND thread_id = ? AND deleted = 0 AND archived = 0 ORDER BY seq
"""
MESSAGES_BY_EXECUTION = """
SELECT body FROM messages INDEXED BY messages_by_execution
WHERE tenant_id = ? AND execution_id = ? AND deleted = 0 {thread}
ORDER BY thread_id, seq LIMIT ?
"""


_ATTACHMENT_COLS = "media_type, size_bytes, created_us"
_UNREFERENCED = (
    "NOT EXISTS (SELECT 1 FROM attachment_refs AS r WHERE r.tenant_id = attachments.tenant_id "
    "AND r.sha256 = attachments.sha256)"
)


class SqliteStatements(Statements):
    """Every statement the shared handlers run on SQLite."""

    engine = "sqlite"
    no_limit = -1  # LIMIT -1

    thread_get = GET_THREAD
    thread_lock = GET_THREAD  # inside BEGIN IMMEDIATE, which locks the database
    thread_lock_lookup = THREAD_LOOKUP
    thread_exists = THREAD_EXISTS
    thread_insert = INSERT_THREAD
    thread_update = UPDATE_THREAD
    thread_delete = DELETE_THREAD
    thread_lineage = (
        "SELECT json_extract(body, '$.lineage') FROM threads WHERE tenant_id = ? AND id = ?"
    )
    thread_tree = (
        f"SELECT {THREAD_READ_COLUMNS} FROM threads "
        "WHERE tenant_id = ? AND id = ? UNION ALL "
        f"SELECT {THREAD_READ_COLUMNS} FROM threads INDEXED BY threads_by_root "
        "WHERE tenant_id = ? AND root_id = ?"
    )
    thread_advance = ADVANCE_THREAD
    thread_advance_counts = ADVANCE_THREAD_COUNTS

    message_get = GET_MESSAGE
    message_thread = MESSAGE_THREAD
    message_in_thread = MESSAGE_IN_THREAD
    message_update = UPDATE_MESSAGE
    messages_delete = DELETE_THREAD_MESSAGES
    messages_delete_from = DELETE_MESSAGES_FROM
    message_ids_taken = MESSAGE_IDS_TAKEN
    messages_all = MESSAGES_ALL
    messages_all_live = MESSAGES_ALL_LIVE
    messages_all_active = MESSAGES_ALL_ACTIVE
    messages_mandatory = MESSAGES_MANDATORY
    messages_mandatory_in = MESSAGES_MANDATORY_IN
    context_start = CONTEXT_START
    context_page = CONTEXT_PAGE
    messages_by_execution = MESSAGES_BY_EXECUTION.format(thread="")
    messages_by_execution_in_thread = MESSAGES_BY_EXECUTION.format(thread="AND thread_id = ?")

    attachment_insert = (
        f"INSERT INTO attachments (tenant_id, sha256, {_ATTACHMENT_COLS}, data) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, sha256) DO NOTHING"
    )
    attachment_infos = (
        f"SELECT sha256, {_ATTACHMENT_COLS} FROM attachments "
        f"WHERE tenant_id = ? AND sha256 IN ({IDS})"
    )
    # One writer at a time: a purge cannot interleave with a write here.
    attachments_lock = f"SELECT sha256 FROM attachments WHERE tenant_id = ? AND sha256 IN ({IDS})"
    attachments_gc_candidates = (
        f"SELECT sha256 FROM attachments WHERE tenant_id = ? AND created_us < ? AND {_UNREFERENCED}"
    )
    attachment_get = (
        f"SELECT {_ATTACHMENT_COLS}, data FROM attachments WHERE tenant_id = ? AND sha256 = ?"
    )
    attachment_ref_insert = (
        "INSERT INTO attachment_refs (tenant_id, sha256, thread_id, message_id, created_us) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
    )
    attachment_refs_release = (
        "DELETE FROM attachment_refs WHERE tenant_id = ? AND thread_id = ? RETURNING sha256"
    )
    attachment_ref_delete = (
        "DELETE FROM attachment_refs WHERE tenant_id = ? AND sha256 = ? AND thread_id = ? "
        "AND message_id = ? RETURNING sha256"
    )
    attachments_unreferenced_delete = (
        f"DELETE FROM attachments WHERE tenant_id = ? AND sha256 IN ({IDS}) AND {_UNREFERENCED} "
        "RETURNING 1"
    )
    state_get = (
        "SELECT revision, updated_us, body FROM scoped_state "
        "WHERE tenant_id = ? AND scope = ? AND user_id = ?"
    )
    state_claim = (
        "INSERT INTO scoped_state (tenant_id, scope, user_id, revision, updated_us, body) "
        "VALUES (?, ?, ?, 0, ?, '{}') ON CONFLICT DO NOTHING"
    )
    # One writer at a time (BEGIN IMMEDIATE): the read is the lock.
    state_lock = state_get
    state_write = (
        "UPDATE scoped_state SET revision = ?, updated_us = ?, body = ? "
        "WHERE tenant_id = ? AND scope = ? AND user_id = ?"
    )
    attachment_refs_gc = (
        "DELETE FROM attachment_refs WHERE tenant_id = ? AND created_us < ? AND NOT EXISTS "
        "(SELECT 1 FROM messages AS m INDEXED BY messages_by_id "
        "WHERE m.tenant_id = attachment_refs.tenant_id AND m.id = attachment_refs.message_id)"
    )

    def __init__(self) -> None:
        self._pages = {
            (backward, include_deleted): (
                MESSAGES_BACKWARD if backward else MESSAGES_FORWARD
            ).format(deleted="" if include_deleted else "AND deleted = 0")
            for backward in (False, True)
            for include_deleted in (False, True)
        }
        self._listings: dict[tuple[str, bool, bool, bool, bool], str] = {}

    # parameter forms -------------------------------------------------------------

    def time(self, value: dt.datetime) -> int:
        return to_us(value)

    def id_list(self, ids: Sequence[str]) -> str:
        return json.dumps(list(ids))

    def search_query(self, terms: Sequence[Term]) -> str:
        return fts5_query(terms)

    def search_time(self, value: dt.datetime) -> str:
        utc = value.astimezone(dt.UTC).replace(tzinfo=None)
        return utc.isoformat(timespec="microseconds") + "Z"

    # statements built per shape ----------------------------------------------------

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one statements object per backend
    def search(self, *, filters: frozenset[str], after: bool) -> str:
        return _search(filters, after)

    def messages_page(self, *, backward: bool, include_deleted: bool) -> str:
        return self._pages[backward, include_deleted]

    def thread_listing(
        self, *, what: str, user: bool, agent: bool, include_deleted: bool, after: bool
    ) -> str:
        key = (what, user, agent, include_deleted, after)
        text = self._listings.get(key)
        if text is None:
            text = self._listings[key] = _listing(*key)
        return text

    def insert_messages(
        self, tenant: str, thread_id: str, rows: Sequence[MessageRow], *, skip_taken: bool = False
    ) -> Query:
        """One ``execute`` for one row, one statement over a JSON array for
        more (an ``executemany`` when their bodies are very long); skipped rows
        (``ON CONFLICT DO NOTHING``) are missing from the row count."""
        sql = INSERT_MESSAGE_OR_SKIP if skip_taken else INSERT_MESSAGE
        fetch = Fetch.ROWCOUNT if skip_taken else Fetch.NONE
        if len(rows) == 1:
            seq, mid, role, execution_id, _, pinned, deleted, archived, body = rows[0]
            one = (tenant, thread_id, seq, mid, role, execution_id, pinned, deleted, archived, body)
            return Query(sql, one, fetch)
        if sum(len(row[8]) for row in rows) > _MAX_BATCH_CHARS:  # far below SQLite's 1 GB
            params = [
                (tenant, thread_id, seq, mid, role, execution_id, pinned, deleted, archived, body)
                for (seq, mid, role, execution_id, _, pinned, deleted, archived, body) in rows
            ]
            return Query(sql, params, fetch, many=True)
        batch = json.dumps(
            [
                (seq, mid, role, execution_id, pinned, deleted, archived, body)
                for (seq, mid, role, execution_id, _, pinned, deleted, archived, body) in rows
            ],
            ensure_ascii=False,
            check_circular=False,
        )
        sql = INSERT_MESSAGES_OR_SKIP if skip_taken else INSERT_MESSAGES
        return Query(sql, (tenant, thread_id, batch), fetch)

    def append_write(
        self,
        tenant: str,
        thread_id: str,
        counters: dict[str, Any],
        rows: Sequence[MessageRow],
    ) -> tuple[Query, ...]:
        params = {**counters, "tenant_id": tenant, "id": thread_id}
        return (
            Query(SET_COUNTERS, params, Fetch.NONE),
            self.insert_messages(tenant, thread_id, rows),
        )


def _listing(what: str, user: bool, agent: bool, include_deleted: bool, after: bool) -> str:
    where = ["tenant_id = :tenant"]
    if user:
        where.append("user_id = :user_id")
    if agent:
        where.append("agent_name = :agent_name")
    if not include_deleted:
        where.append("deleted_us IS NULL")
    if after:
        where.append("(updated_us, id) < (:after_at, :after_id)")
    cond = " AND ".join(where)
    if what == "count":
        return f"SELECT count(*) FROM threads WHERE {cond}"
    return (
        f"SELECT {THREAD_READ_COLUMNS} FROM threads WHERE {cond} "
        "ORDER BY updated_us DESC, id DESC LIMIT :limit"
    )


# A message's created_at in its body is ISO-8601 UTC text with a fraction of
# six digits, or none at a whole second: given one, the text sorts as the time.
_CREATED = "json_extract(m.body, '$.created_at')"
_CREATED_SORTABLE = (
    f"CASE WHEN length({_CREATED}) = 20 THEN substr({_CREATED}, 1, 19) || '.000000Z' "
    f"ELSE {_CREATED} END"
)
_SEARCH_FILTERS = {
    "user_id": "t.user_id = :user_id",
    "thread_id": "m.thread_id = :thread_id",
    "agent_name": "t.agent_name = :agent_name",
    "role": "m.role = :role",
    "model": "json_extract(m.body, '$.metadata.model') = :model",
    "tool_name": (
        "(EXISTS (SELECT 1 FROM json_each(m.body, '$.parts') AS p "
        "WHERE json_extract(p.value, '$.tool_name') = :tool_name) "
        "OR (m.role = 'tool' AND json_extract(m.body, '$.name') = :tool_name))"
    ),
    "execution_id": "m.execution_id = :execution_id",
    "since": f"{_CREATED_SORTABLE} >= :since",
    "until": f"{_CREATED_SORTABLE} < :until",
}


def _search(filters: frozenset[str], after: bool) -> str:
    where = ["k.tenant_id = :tenant"]
    where += [cond for name, cond in _SEARCH_FILTERS.items() if name in filters]
    if "deleted" not in filters:
        where += ["m.deleted = 0", "t.deleted_us IS NULL"]
    if after:
        where.append("(f.score < :after_score OR (f.score = :after_score AND m.id < :after_id))")
    # The index finds the matching rows of every tenant; the tenant's are kept.
    return (
        "SELECT f.score, m.body FROM "
        "(SELECT rowid AS rid, -bm25(messages_fts) AS score FROM messages_fts "
        "WHERE messages_fts MATCH :query) AS f "
        "JOIN message_search_keys AS k ON k.id = f.rid "
        "JOIN messages AS m ON m.tenant_id = k.tenant_id AND m.thread_id = k.thread_id "
        "AND m.seq = k.seq "
        "JOIN threads AS t ON t.tenant_id = m.tenant_id AND t.id = m.thread_id "
        f"WHERE {' AND '.join(where)} ORDER BY f.score DESC, m.id DESC LIMIT :limit"
    )
