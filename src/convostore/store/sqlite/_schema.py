"""The SQLite schema: its migrations, and the steps that apply them.

Migrations are append-only: a released one is never edited, a change is a new
entry. Each runs in its own write transaction and is recorded in
``convostore_migrations``; a database that records a version this code does not
know was written by a newer convostore and is refused.

A message row keeps a few columns for indexing and filtering; the full message
is the ``body`` column (the JSON written by ``encode_message``), so a read is an
index range scan and one decode. Messages are clustered by (tenant, thread, seq)
in a ``WITHOUT ROWID`` table: an append inserts into that tree and the id index,
and the newest messages of a thread sit together on disk. A thread row keeps its
counters and times as columns (the times as microseconds since the epoch,
``updated_us`` and ``deleted_us``), so an append advances them with one
``UPDATE ... RETURNING`` and never rewrites the thread's JSON; ``body`` holds
the rest of the thread.

A context window reads only the rows it may use: two partial indexes hold the
(tenant, thread, seq) of the live, unarchived messages and of the mandatory ones
among them (system and pinned), so archived and deleted history costs a window
nothing however long it grows.

The steps are sans-I/O like the operations (:mod:`convostore.store.sql.handlers`)
and run by the same driver.
"""

from __future__ import annotations

from dataclasses import dataclass

from convostore.errors import SchemaTooNewError
from convostore.store.rules.search import MAX_INDEXED_CHARS
from convostore.store.sql.handlers import Steps
from convostore.store.sql.statements import Fetch, Query

__all__ = [
    "CREATE_MIGRATIONS_TABLE",
    "LATEST_VERSION",
    "MIGRATIONS",
    "Migration",
    "apply",
    "ddl",
    "schema_version",
]


def search_text_sql(body: str) -> str:
    """The SQL expression of a message's searchable text, from its ``body``:
    the very text :func:`convostore.store.rules.search.search_text` makes."""
    parts = f"json_each({body}, '$.parts')"
    tool = (
        "char(10) || coalesce(json_extract(p.value, '$.tool_name'), '') || char(10) || "
        "CASE WHEN json_extract(p.value, '$.type') = 'tool-call' "
        "THEN coalesce(json_extract(p.value, '$.args'), '') "
        "WHEN json_type(p.value, '$.result') = 'text' THEN '' "
        "ELSE coalesce(json_extract(p.value, '$.result'), '') END"
    )
    # A stored body leaves ``content`` out when its parts make it: the text
    # parts and the string tool results, one per line.
    derived = (
        "(SELECT group_concat(CASE json_extract(p.value, '$.type') "
        "WHEN 'text' THEN json_extract(p.value, '$.text') "
        "ELSE json_extract(p.value, '$.result') END, char(10)) "
        f"FROM {parts} AS p WHERE json_extract(p.value, '$.type') = 'text' "
        "OR (json_extract(p.value, '$.type') = 'tool-result' "
        "AND json_type(p.value, '$.result') = 'text'))"
    )
    return (
        f"substr(coalesce(json_extract({body}, '$.content'), {derived}, '') || char(10) || "
        f"coalesce(json_extract({body}, '$.name'), '') || "
        f"coalesce((SELECT group_concat({tool}, '') FROM {parts} AS p "
        "WHERE json_extract(p.value, '$.type') IN ('tool-call', 'tool-result')), ''), "
        f"1, {MAX_INDEXED_CHARS})"
    )


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
    Migration(
        3,
        "attachments",
        (
            # Bytes of images, audio and files, once per tenant and hash. A
            # rowid table: SQLite keeps large rows out of the index b-tree.
            """
            CREATE TABLE attachments (
                tenant_id   TEXT    NOT NULL,
                sha256      TEXT    NOT NULL,
                media_type  TEXT    NOT NULL,
                size_bytes  INTEGER NOT NULL,
                created_us  INTEGER NOT NULL,
                data        BLOB    NOT NULL,
                UNIQUE (tenant_id, sha256)
            )
            """,
            # Which message of which thread references which bytes.
            """
            CREATE TABLE attachment_refs (
                tenant_id   TEXT    NOT NULL,
                sha256      TEXT    NOT NULL,
                thread_id   TEXT    NOT NULL,
                message_id  TEXT    NOT NULL,
                created_us  INTEGER NOT NULL,
                PRIMARY KEY (tenant_id, sha256, thread_id, message_id)
            ) WITHOUT ROWID
            """,
            "CREATE INDEX attachment_refs_by_thread ON attachment_refs (tenant_id, thread_id)",
        ),
    ),
    Migration(
        4,
        "branches",
        (
            # The root of a branch's tree (set on branches), which lists a tree;
            # the lineage itself is in body.
            "ALTER TABLE threads ADD COLUMN root_id TEXT",
            """CREATE INDEX threads_by_root ON threads (tenant_id, root_id)
               WHERE root_id IS NOT NULL""",
        ),
    ),
    Migration(
        5,
        "user and app state",
        (
            # One row per user (scope 'user') and one per tenant (scope 'app',
            # user_id ''), each with its own revision; body is the JSON object
            # of its values.
            """
            CREATE TABLE scoped_state (
                tenant_id   TEXT    NOT NULL,
                scope       TEXT    NOT NULL,
                user_id     TEXT    NOT NULL,
                revision    INTEGER NOT NULL,
                updated_us  INTEGER NOT NULL,
                body        TEXT    NOT NULL,
                PRIMARY KEY (tenant_id, scope, user_id)
            ) WITHOUT ROWID
            """,
        ),
    ),
    Migration(
        6,
        "full-text search",
        (
            # The FTS5 row of each message: messages is WITHOUT ROWID, so an
            # integer key per (tenant, thread, seq) is kept here.
            """
            CREATE TABLE message_search_keys (
                id         INTEGER PRIMARY KEY,
                tenant_id  TEXT    NOT NULL,
                thread_id  TEXT    NOT NULL,
                seq        INTEGER NOT NULL,
                UNIQUE (tenant_id, thread_id, seq)
            )
            """,
            # Contentless: the text is the message body's, never stored twice;
            # the triggers hand FTS5 the old text to take out of the index.
            """CREATE VIRTUAL TABLE messages_fts USING fts5(
                   text, content='', tokenize='unicode61 remove_diacritics 0')""",
            """INSERT INTO message_search_keys (tenant_id, thread_id, seq)
               SELECT tenant_id, thread_id, seq FROM messages""",
            f"""INSERT INTO messages_fts (rowid, text)
               SELECT k.id, {search_text_sql("m.body")} FROM message_search_keys AS k
               JOIN messages AS m ON m.tenant_id = k.tenant_id AND m.thread_id = k.thread_id
                                 AND m.seq = k.seq""",
            # Every write of a message row keeps the index, in its transaction.
            f"""CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN
                   INSERT INTO message_search_keys (tenant_id, thread_id, seq)
                   VALUES (new.tenant_id, new.thread_id, new.seq);
                   INSERT INTO messages_fts (rowid, text)
                   VALUES (last_insert_rowid(), {search_text_sql("new.body")});
               END""",
            f"""CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
                   INSERT INTO messages_fts (messages_fts, rowid, text)
                   SELECT 'delete', id, {search_text_sql("old.body")} FROM message_search_keys
                   WHERE tenant_id = old.tenant_id AND thread_id = old.thread_id AND seq = old.seq;
                   DELETE FROM message_search_keys
                   WHERE tenant_id = old.tenant_id AND thread_id = old.thread_id AND seq = old.seq;
               END""",
            f"""CREATE TRIGGER messages_search_update
               AFTER UPDATE OF tenant_id, thread_id, seq, body ON messages BEGIN
                   INSERT INTO messages_fts (messages_fts, rowid, text)
                   SELECT 'delete', id, {search_text_sql("old.body")} FROM message_search_keys
                   WHERE tenant_id = old.tenant_id AND thread_id = old.thread_id AND seq = old.seq;
                   UPDATE message_search_keys
                   SET tenant_id = new.tenant_id, thread_id = new.thread_id, seq = new.seq
                   WHERE tenant_id = old.tenant_id AND thread_id = old.thread_id AND seq = old.seq;
                   INSERT INTO messages_fts (rowid, text)
                   SELECT id, {search_text_sql("new.body")} FROM message_search_keys
                   WHERE tenant_id = new.tenant_id AND thread_id = new.thread_id AND seq = new.seq;
               END""",
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
_VERSION = "SELECT max(version) FROM convostore_migrations"
_RECORD = "INSERT INTO convostore_migrations (version, name, applied_at) VALUES (?, ?, ?)"


def ddl() -> str:
    """The full schema as SQL, for review or to apply by hand."""
    parts = [CREATE_MIGRATIONS_TABLE.strip() + ";"]
    for m in MIGRATIONS:
        parts.append(f"-- migration {m.version}: {m.name}")
        parts.extend(" ".join(s.split()) + ";" for s in m.statements)
    return "\n".join(parts) + "\n"


def schema_version() -> Steps[int]:
    """The newest migration recorded in the database (0 for an empty one)."""
    yield Query(CREATE_MIGRATIONS_TABLE, None, Fetch.NONE)
    row = yield Query(_VERSION, None, Fetch.ONE)
    return int(row[0] or 0)


def apply(migration: Migration, path: str, applied_at: str) -> Steps[bool]:
    """Apply ``migration`` unless the database has it (run in a write
    transaction); whether it was applied. A database at a version newer than
    this code's is refused."""
    current = yield from schema_version()
    if current > LATEST_VERSION:
        raise SchemaTooNewError(
            f"{path} has schema version {current}, newer than the "
            f"{LATEST_VERSION} this convostore knows: upgrade convostore",
            found=current,
            expected=LATEST_VERSION,
        )
    if current >= migration.version:
        return False
    for statement in migration.statements:
        yield Query(statement, None, Fetch.NONE)
    yield Query(_RECORD, (migration.version, migration.name, applied_at), Fetch.NONE)
    return True
