-- The schema of a new convostore SQLite store: sqlite_master, PRAGMA
-- user_version and the migrations recorded (tests/test_schema_snapshot.py).
-- Regenerate: CONVOSTORE_UPDATE_SNAPSHOTS=1 python -m pytest tests/test_schema_snapshot.py

PRAGMA user_version = 0;

-- migration 1: threads and messages
-- migration 2: live message count and live window indexes
-- migration 3: attachments
-- migration 4: branches
-- migration 5: user and app state
-- migration 6: full-text search

-- table attachment_refs on attachment_refs
CREATE TABLE attachment_refs (
                tenant_id   TEXT    NOT NULL,
                sha256      TEXT    NOT NULL,
                thread_id   TEXT    NOT NULL,
                message_id  TEXT    NOT NULL,
                created_us  INTEGER NOT NULL,
                PRIMARY KEY (tenant_id, sha256, thread_id, message_id)
            ) WITHOUT ROWID;

-- index attachment_refs_by_thread on attachment_refs
CREATE INDEX attachment_refs_by_thread ON attachment_refs (tenant_id, thread_id);

-- table attachments on attachments
CREATE TABLE attachments (
                tenant_id   TEXT    NOT NULL,
                sha256      TEXT    NOT NULL,
                media_type  TEXT    NOT NULL,
                size_bytes  INTEGER NOT NULL,
                created_us  INTEGER NOT NULL,
                data        BLOB    NOT NULL,
                UNIQUE (tenant_id, sha256)
            );

-- index sqlite_autoindex_attachments_1 on attachments: made by SQLite itself

-- table convostore_migrations on convostore_migrations
CREATE TABLE convostore_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at TEXT    NOT NULL
);

-- table message_search_keys on message_search_keys
CREATE TABLE message_search_keys (
                id         INTEGER PRIMARY KEY,
                tenant_id  TEXT    NOT NULL,
                thread_id  TEXT    NOT NULL,
                seq        INTEGER NOT NULL,
                UNIQUE (tenant_id, thread_id, seq)
            );

-- index sqlite_autoindex_message_search_keys_1 on message_search_keys: made by SQLite itself

-- trigger messages_search_delete on messages
CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
                   INSERT INTO messages_fts (messages_fts, rowid, text)
                   SELECT 'delete', id, substr(coalesce(json_extract(old.body, '$.content'), (SELECT group_concat(CASE json_extract(p.value, '$.type') WHEN 'text' THEN json_extract(p.value, '$.text') ELSE json_extract(p.value, '$.result') END, char(10)) FROM json_each(old.body, '$.parts') AS p WHERE json_extract(p.value, '$.type') = 'text' OR (json_extract(p.value, '$.type') = 'tool-result' AND json_type(p.value, '$.result') = 'text')), '') || char(10) || coalesce(json_extract(old.body, '$.name'), '') || coalesce((SELECT group_concat(char(10) || coalesce(json_extract(p.value, '$.tool_name'), '') || char(10) || CASE WHEN json_extract(p.value, '$.type') = 'tool-call' THEN coalesce(json_extract(p.value, '$.args'), '') WHEN json_type(p.value, '$.result') = 'text' THEN '' ELSE coalesce(json_extract(p.value, '$.result'), '') END, '') FROM json_each(old.body, '$.parts') AS p WHERE json_extract(p.value, '$.type') IN ('tool-call', 'tool-result')), ''), 1, 100000) FROM message_search_keys
                   WHERE tenant_id = old.tenant_id AND thread_id = old.thread_id AND seq = old.seq;
                   DELETE FROM message_search_keys
                   WHERE tenant_id = old.tenant_id AND thread_id = old.thread_id AND seq = old.seq;
               END;

-- trigger messages_search_insert on messages
CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN
                   INSERT INTO message_search_keys (tenant_id, thread_id, seq)
                   VALUES (new.tenant_id, new.thread_id, new.seq);
                   INSERT INTO messages_fts (rowid, text)
                   VALUES (last_insert_rowid(), substr(coalesce(json_extract(new.body, '$.content'), (SELECT group_concat(CASE json_extract(p.value, '$.type') WHEN 'text' THEN json_extract(p.value, '$.text') ELSE json_extract(p.value, '$.result') END, char(10)) FROM json_each(new.body, '$.parts') AS p WHERE json_extract(p.value, '$.type') = 'text' OR (json_extract(p.value, '$.type') = 'tool-result' AND json_type(p.value, '$.result') = 'text')), '') || char(10) || coalesce(json_extract(new.body, '$.name'), '') || coalesce((SELECT group_concat(char(10) || coalesce(json_extract(p.value, '$.tool_name'), '') || char(10) || CASE WHEN json_extract(p.value, '$.type') = 'tool-call' THEN coalesce(json_extract(p.value, '$.args'), '') WHEN json_type(p.value, '$.result') = 'text' THEN '' ELSE coalesce(json_extract(p.value, '$.result'), '') END, '') FROM json_each(new.body, '$.parts') AS p WHERE json_extract(p.value, '$.type') IN ('tool-call', 'tool-result')), ''), 1, 100000));
               END;

-- trigger messages_search_update on messages
CREATE TRIGGER messages_search_update
               AFTER UPDATE OF tenant_id, thread_id, seq, body ON messages BEGIN
                   INSERT INTO messages_fts (messages_fts, rowid, text)
                   SELECT 'delete', id, substr(coalesce(json_extract(old.body, '$.content'), (SELECT group_concat(CASE json_extract(p.value, '$.type') WHEN 'text' THEN json_extract(p.value, '$.text') ELSE json_extract(p.value, '$.result') END, char(10)) FROM json_each(old.body, '$.parts') AS p WHERE json_extract(p.value, '$.type') = 'text' OR (json_extract(p.value, '$.type') = 'tool-result' AND json_type(p.value, '$.result') = 'text')), '') || char(10) || coalesce(json_extract(old.body, '$.name'), '') || coalesce((SELECT group_concat(char(10) || coalesce(json_extract(p.value, '$.tool_name'), '') || char(10) || CASE WHEN json_extract(p.value, '$.type') = 'tool-call' THEN coalesce(json_extract(p.value, '$.args'), '') WHEN json_type(p.value, '$.result') = 'text' THEN '' ELSE coalesce(json_extract(p.value, '$.result'), '') END, '') FROM json_each(old.body, '$.parts') AS p WHERE json_extract(p.value, '$.type') IN ('tool-call', 'tool-result')), ''), 1, 100000) FROM message_search_keys
                   WHERE tenant_id = old.tenant_id AND thread_id = old.thread_id AND seq = old.seq;
                   UPDATE message_search_keys
                   SET tenant_id = new.tenant_id, thread_id = new.thread_id, seq = new.seq
                   WHERE tenant_id = old.tenant_id AND thread_id = old.thread_id AND seq = old.seq;
                   INSERT INTO messages_fts (rowid, text)
                   SELECT id, substr(coalesce(json_extract(new.body, '$.content'), (SELECT group_concat(CASE json_extract(p.value, '$.type') WHEN 'text' THEN json_extract(p.value, '$.text') ELSE json_extract(p.value, '$.result') END, char(10)) FROM json_each(new.body, '$.parts') AS p WHERE json_extract(p.value, '$.type') = 'text' OR (json_extract(p.value, '$.type') = 'tool-result' AND json_type(p.value, '$.result') = 'text')), '') || char(10) || coalesce(json_extract(new.body, '$.name'), '') || coalesce((SELECT group_concat(char(10) || coalesce(json_extract(p.value, '$.tool_name'), '') || char(10) || CASE WHEN json_extract(p.value, '$.type') = 'tool-call' THEN coalesce(json_extract(p.value, '$.args'), '') WHEN json_type(p.value, '$.result') = 'text' THEN '' ELSE coalesce(json_extract(p.value, '$.result'), '') END, '') FROM json_each(new.body, '$.parts') AS p WHERE json_extract(p.value, '$.type') IN ('tool-call', 'tool-result')), ''), 1, 100000) FROM message_search_keys
                   WHERE tenant_id = new.tenant_id AND thread_id = new.thread_id AND seq = new.seq;
               END;

-- table messages on messages
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
            ) WITHOUT ROWID;

-- index messages_by_execution on messages
CREATE INDEX messages_by_execution ON messages (tenant_id, execution_id, thread_id)
               WHERE execution_id IS NOT NULL;

-- index messages_by_id on messages
CREATE UNIQUE INDEX messages_by_id ON messages (tenant_id, id);

-- index messages_live on messages
CREATE INDEX messages_live ON messages (tenant_id, thread_id, seq)
               WHERE deleted = 0 AND archived = 0;

-- index messages_live_mandatory on messages
CREATE INDEX messages_live_mandatory ON messages (tenant_id, thread_id, seq)
               WHERE deleted = 0 AND archived = 0 AND (pinned = 1 OR role = 'system');

-- table messages_fts on messages_fts
CREATE VIRTUAL TABLE messages_fts USING fts5(
                   text, content='', tokenize='unicode61 remove_diacritics 0');

-- table messages_fts_config on messages_fts_config
CREATE TABLE 'messages_fts_config'(k PRIMARY KEY, v) WITHOUT ROWID;

-- table messages_fts_data on messages_fts_data
CREATE TABLE 'messages_fts_data'(id INTEGER PRIMARY KEY, block BLOB);

-- table messages_fts_docsize on messages_fts_docsize
CREATE TABLE 'messages_fts_docsize'(id INTEGER PRIMARY KEY, sz BLOB);

-- table messages_fts_idx on messages_fts_idx
CREATE TABLE 'messages_fts_idx'(segid, term, pgno, PRIMARY KEY(segid, term)) WITHOUT ROWID;

-- table scoped_state on scoped_state
CREATE TABLE scoped_state (
                tenant_id   TEXT    NOT NULL,
                scope       TEXT    NOT NULL,
                user_id     TEXT    NOT NULL,
                revision    INTEGER NOT NULL,
                updated_us  INTEGER NOT NULL,
                body        TEXT    NOT NULL,
                PRIMARY KEY (tenant_id, scope, user_id)
            ) WITHOUT ROWID;

-- table threads on threads
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
                body        TEXT    NOT NULL, live_message_count INTEGER NOT NULL DEFAULT 0, root_id TEXT,
                PRIMARY KEY (tenant_id, id)
            );

-- index sqlite_autoindex_threads_1 on threads: made by SQLite itself

-- index threads_by_activity on threads
CREATE INDEX threads_by_activity ON threads (tenant_id, updated_us DESC, id DESC);

-- index threads_by_root on threads
CREATE INDEX threads_by_root ON threads (tenant_id, root_id)
               WHERE root_id IS NOT NULL;

-- index threads_by_user on threads
CREATE INDEX threads_by_user
               ON threads (tenant_id, user_id, updated_us DESC, id DESC);
