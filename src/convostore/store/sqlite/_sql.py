"""SQL text and schema migrations of the SQLite backend.

Migrations are append-only: a released one is never edited, a change is a new
entry. Each runs in its own transaction and is recorded in
``convostore_migrations``; a database that records a version this code does not
know was written by a newer convostore and is refused.

A message row keeps a few columns for indexing and filtering; the full message
is the ``body`` column (the JSON written by ``encode_message``), so a read is an
index range scan and one decode. Messages are clustered by (tenant, thread, seq)
in a ``WITHOUT ROWID`` table: an append inserts into that tree and the id index,
and the newest messages of a thread sit together on disk. A thread row keeps its
counters as columns, so an append advances them with one ``UPDATE ... RETURNING``
and never rewrites the thread's JSON; ``body`` holds the rest of the thread.

A context window reads only the rows it may use: two partial indexes hold the
(tenant, thread, seq) of the live, unarchived messages and of the mandatory ones
among them (system and pinned), so archived and deleted history costs a window
nothing however long it grows.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MIGRATIONS", "Migration"]


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "threads and messages",
        (
            """
            CREATE TABLE threads (
                tenant_id   TEXT    NOT NULL,
                id          TEXT    NOT NULL,
                user_id     TEXT,
                agent_name  TEXT,
                updated_us  INTEGER NOT NULL,
                deleted_us  INTEGER,
                revision    INTEGER NOT NULL,
                message_count     INTEGER NOT NULL DEFAULT 0,
                turn_count        INTEGER NOT NULL DEFAULT 0,
                tool_call_count   INTEGER NOT NULL DEFAULT 0,
                token_count       INTEGER NOT NULL DEFAULT 0,
                prompt_tokens     INTEGER NOT NULL DEFAULT 0,
                completion_tokens INTEGER NOT NULL DEFAULT 0,
                total_tokens      INTEGER NOT NULL DEFAULT 0,
                input_cost        REAL    NOT NULL DEFAULT 0,
                output_cost       REAL    NOT NULL DEFAULT 0,
                total_cost        REAL    NOT NULL DEFAULT 0,
                currency          TEXT    NOT NULL DEFAULT 'USD',
                body        TEXT    NOT NULL,
                PRIMARY KEY (tenant_id, id)
            )
            """,
            # Every append moves updated_us, so each index on it costs every append:
            # two (per tenant, per user); an agent filter rides on the first.
            "CREATE INDEX threads_by_activity ON threads (tenant_id, updated_us DESC, id DESC)",
            """CREATE INDEX threads_by_user
               ON threads (tenant_id, user_id, updated_us DESC, id DESC)""",
            """
            CREATE TABLE messages (
                tenant_id    TEXT    NOT NULL,
                thread_id    TEXT    NOT NULL,
                seq          INTEGER NOT NULL,
                id           TEXT    NOT NULL,
                role         TEXT    NOT NULL,
                execution_id TEXT,
                pinned       INTEGER NOT NULL DEFAULT 0,
                deleted      INTEGER NOT NULL DEFAULT 0,
                archived     INTEGER NOT NULL DEFAULT 0,
                body         TEXT    NOT NULL,
                PRIMARY KEY (tenant_id, thread_id, seq)
            ) WITHOUT ROWID
            """,
            "CREATE UNIQUE INDEX messages_by_id ON messages (tenant_id, id)",
            """CREATE INDEX messages_by_execution ON messages (tenant_id, execution_id, thread_id)
               WHERE execution_id IS NOT NULL""",
            """CREATE INDEX messages_mandatory ON messages (tenant_id, thread_id, seq)
               WHERE pinned = 1 OR role = 'system'""",
        ),
    ),
    Migration(
        2,
        "live message count and live window indexes",
        (
            # Counted once here; from now on the counter moves with every write.
            """ALTER TABLE threads
               ADD COLUMN live_message_count INTEGER NOT NULL DEFAULT 0""",
            """UPDATE threads SET live_message_count = (
                   SELECT count(*) FROM messages AS m
                   WHERE m.tenant_id = threads.tenant_id AND m.thread_id = threads.id
                         AND m.deleted = 0)""",
            """CREATE INDEX messages_live ON messages (tenant_id, thread_id, seq)
               WHERE deleted = 0 AND archived = 0""",
            """CREATE INDEX messages_live_mandatory ON messages (tenant_id, thread_id, seq)
               WHERE deleted = 0 AND archived = 0 AND (pinned = 1 OR role = 'system')""",
            # Replaced by messages_live_mandatory, which leaves out deleted and
            # archived rows a window would only drop.
            "DROP INDEX messages_mandatory",
        ),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version

CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS convostore_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at TEXT    NOT NULL
)
"""

# --- threads ---------------------------------------------------------------

THREAD_COLUMNS = (
    "user_id, agent_name, updated_us, deleted_us, revision, message_count, turn_count, "
    "tool_call_count, token_count, prompt_tokens, completion_tokens, total_tokens, "
    "input_cost, output_cost, total_cost, currency, body, live_message_count"
)


def _iso(column: str) -> str:
    # An exact ISO-8601 UTC time for a non-negative microsecond count, else NULL
    # (then the caller formats it).
    return (
        f"CASE WHEN {column} >= 0 THEN strftime('%Y-%m-%dT%H:%M:%S', {column} / 1000000, "
        f"'unixepoch') || printf('.%06dZ', {column} % 1000000) END"
    )


#: THREAD_COLUMNS plus the two times already formatted, for reads.
THREAD_READ_COLUMNS = f"{THREAD_COLUMNS}, {_iso('updated_us')}, {_iso('deleted_us')}"
GET_THREAD = f"SELECT {THREAD_READ_COLUMNS} FROM threads WHERE tenant_id = ? AND id = ?"
THREAD_EXISTS = "SELECT 1 FROM threads WHERE tenant_id = ? AND id = ?"
INSERT_THREAD = f"""
INSERT INTO threads (tenant_id, id, {THREAD_COLUMNS})
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
UPDATE_THREAD = """
UPDATE threads SET user_id = ?, agent_name = ?, updated_us = ?, deleted_us = ?, revision = ?,
    message_count = ?, turn_count = ?, tool_call_count = ?, token_count = ?,
    prompt_tokens = ?, completion_tokens = ?, total_tokens = ?,
    input_cost = ?, output_cost = ?, total_cost = ?, currency = ?, body = ?,
    live_message_count = ?
WHERE tenant_id = ? AND id = ?
"""
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

# --- messages --------------------------------------------------------------

INSERT_MESSAGE = """
INSERT INTO messages (tenant_id, thread_id, seq, id, role, execution_id, pinned, deleted,
                      archived, body)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
UPDATE_MESSAGE = """
UPDATE messages SET pinned = ?, deleted = ?, archived = ?, body = ?
WHERE tenant_id = ? AND id = ?
"""
GET_MESSAGE = "SELECT body FROM messages WHERE tenant_id = ? AND id = ?"
#: Stored messages among a batch of ids (``{marks}``: one ``?`` per id). With more
#: than a few ids and no table statistics the planner prefers the clustered key
#: and reads every message of the tenant, so an import or a re-sent batch would
#: slow down as the store grows; the id index reads only the ids asked for.
MESSAGES_BY_IDS = """
SELECT body FROM messages INDEXED BY messages_by_id WHERE tenant_id = ? AND id IN ({marks})
"""
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
# step over every archived or deleted row on the way). Parameters are numbered
# so the first read can name them twice.
_NEWEST_LIVE = """FROM messages INDEXED BY messages_live
WHERE tenant_id = ?1 AND thread_id = ?2 AND seq < ?3 AND deleted = 0 AND archived = 0
ORDER BY seq DESC LIMIT ?4"""
#: A context window's first read: the mandatory messages (``0``) and the newest
#: live page (``1``), from one snapshot. Without table statistics the planner
#: prefers the clustered key, which scans the whole thread; the partial index
#: reads only the live, unarchived system and pinned messages.
CONTEXT_START = f"""
SELECT 0, seq, body FROM messages INDEXED BY messages_live_mandatory
WHERE tenant_id = ?1 AND thread_id = ?2 AND deleted = 0 AND archived = 0
      AND (pinned = 1 OR role = 'system')
UNION ALL
SELECT * FROM (SELECT 1, seq, body {_NEWEST_LIVE})
"""
CONTEXT_PAGE = f"SELECT seq, body {_NEWEST_LIVE}"
MESSAGES_ALL = "SELECT body FROM messages WHERE tenant_id = ? AND thread_id = ? ORDER BY seq"
MESSAGES_ALL_LIVE = """
SELECT body FROM messages WHERE tenant_id = ? AND thread_id = ? AND deleted = 0 ORDER BY seq
"""
MESSAGES_BY_EXECUTION = """
SELECT body FROM messages INDEXED BY messages_by_execution
WHERE tenant_id = ? AND execution_id = ? AND deleted = 0 {thread}
ORDER BY thread_id, seq LIMIT ?
"""
