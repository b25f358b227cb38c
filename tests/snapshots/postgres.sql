-- convostore schema version 7, in schema "public"
BEGIN;
CREATE SCHEMA IF NOT EXISTS "public";
CREATE TABLE IF NOT EXISTS "public".convostore_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
-- migration 1: threads and messages
CREATE TABLE "public".convostore_threads (
    tenant_id   text COLLATE "C" NOT NULL,
    id          text COLLATE "C" NOT NULL,
    user_id     text COLLATE "C",
    agent_name  text,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    deleted_at  timestamptz,
    revision    bigint NOT NULL,
    body        json NOT NULL,
    CONSTRAINT convostore_threads_pkey PRIMARY KEY (tenant_id, id)
);
CREATE INDEX convostore_threads_by_user
    ON "public".convostore_threads (tenant_id, user_id, updated_at DESC, id DESC);
CREATE INDEX convostore_threads_by_tenant
    ON "public".convostore_threads (tenant_id, updated_at DESC, id DESC);
CREATE TABLE "public".convostore_messages (
    tenant_id    text COLLATE "C" NOT NULL,
    thread_id    text COLLATE "C" NOT NULL,
    seq          bigint NOT NULL CHECK (seq > 0),
    id           text COLLATE "C" NOT NULL,
    role         text NOT NULL,
    execution_id text COLLATE "C",
    created_at   timestamptz NOT NULL,
    deleted_at   timestamptz,
    body         json NOT NULL,
    CONSTRAINT convostore_messages_pkey PRIMARY KEY (tenant_id, thread_id, seq),
    CONSTRAINT convostore_messages_id_key UNIQUE (tenant_id, id),
    CONSTRAINT convostore_messages_thread_fkey FOREIGN KEY (tenant_id, thread_id)
        REFERENCES "public".convostore_threads (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX convostore_messages_by_execution
    ON "public".convostore_messages (tenant_id, execution_id, thread_id, seq)
    WHERE execution_id IS NOT NULL;
CREATE INDEX convostore_messages_mandatory
    ON "public".convostore_messages (tenant_id, thread_id, seq)
    WHERE role = 'system' OR (body->>'pinned')::boolean;
INSERT INTO "public".convostore_migrations (version, name) VALUES (1, 'threads and messages');
-- migration 2: live message count and live window indexes
UPDATE "public".convostore_threads AS t SET body = (
    left(rtrim(t.body::text), -1) || ',"live_message_count":' ||
    (SELECT count(*) FROM "public".convostore_messages AS m
        WHERE m.tenant_id = t.tenant_id AND m.thread_id = t.id
          AND m.deleted_at IS NULL)::text || '}')::json;
CREATE INDEX convostore_messages_live
    ON "public".convostore_messages (tenant_id, thread_id, seq)
    WHERE deleted_at IS NULL AND (body->>'archived_at') IS NULL;
CREATE INDEX convostore_messages_live_mandatory
    ON "public".convostore_messages (tenant_id, thread_id, seq)
    WHERE deleted_at IS NULL AND (body->>'archived_at') IS NULL
      AND (role = 'system' OR (body->>'pinned')::boolean);
DROP INDEX "public".convostore_messages_mandatory;
INSERT INTO "public".convostore_migrations (version, name) VALUES (2, 'live message count and live window indexes');
-- migration 3: thread counters and message flags as columns
ALTER TABLE "public".convostore_threads
    ADD COLUMN message_count      bigint NOT NULL DEFAULT 0,
    ADD COLUMN live_message_count bigint NOT NULL DEFAULT 0,
    ADD COLUMN turn_count         bigint NOT NULL DEFAULT 0,
    ADD COLUMN tool_call_count    bigint NOT NULL DEFAULT 0,
    ADD COLUMN token_count        bigint NOT NULL DEFAULT 0,
    ADD COLUMN prompt_tokens      bigint NOT NULL DEFAULT 0,
    ADD COLUMN completion_tokens  bigint NOT NULL DEFAULT 0,
    ADD COLUMN total_tokens       bigint NOT NULL DEFAULT 0,
    ADD COLUMN input_cost         double precision NOT NULL DEFAULT 0,
    ADD COLUMN output_cost        double precision NOT NULL DEFAULT 0,
    ADD COLUMN total_cost         double precision NOT NULL DEFAULT 0,
    ADD COLUMN currency           text NOT NULL DEFAULT 'USD';
UPDATE "public".convostore_threads AS t SET
    message_count      = coalesce((j->>'message_count')::bigint, 0),
    live_message_count = coalesce((j->>'live_message_count')::bigint, 0),
    turn_count         = coalesce((j->>'turn_count')::bigint, 0),
    tool_call_count    = coalesce((j->>'tool_call_count')::bigint, 0),
    token_count        = coalesce((j->>'token_count')::bigint, 0),
    prompt_tokens      = coalesce((j #>> '{usage,prompt_tokens}')::bigint, 0),
    completion_tokens  = coalesce((j #>> '{usage,completion_tokens}')::bigint, 0),
    total_tokens       = coalesce((j #>> '{usage,total_tokens}')::bigint, 0),
    input_cost         = coalesce((j #>> '{cost,input_cost}')::double precision, 0),
    output_cost        = coalesce((j #>> '{cost,output_cost}')::double precision, 0),
    total_cost         = coalesce((j #>> '{cost,total_cost}')::double precision, 0),
    currency           = coalesce(j #>> '{cost,currency}', 'USD'),
    body = (SELECT coalesce('{' || string_agg(to_json(e.key)::text || ':' || e.value::text,
                                              ',' ORDER BY e.n) || '}', '{}')
            FROM json_each(t.body) WITH ORDINALITY AS e(key, value, n)
            WHERE e.key NOT IN ('updated_at', 'deleted_at', 'revision', 'message_count',
                                'live_message_count', 'turn_count', 'tool_call_count',
                                'token_count', 'usage', 'cost'))::json
FROM (SELECT tenant_id, id, body::jsonb AS j FROM "public".convostore_threads) AS old
WHERE old.tenant_id = t.tenant_id AND old.id = t.id;
DROP INDEX "public".convostore_messages_live;
DROP INDEX "public".convostore_messages_live_mandatory;
ALTER TABLE "public".convostore_messages
    ADD COLUMN pinned   boolean NOT NULL DEFAULT false,
    ADD COLUMN deleted  boolean NOT NULL DEFAULT false,
    ADD COLUMN archived boolean NOT NULL DEFAULT false;
UPDATE "public".convostore_messages SET
    pinned   = coalesce((body->>'pinned')::boolean, false),
    deleted  = deleted_at IS NOT NULL,
    archived = (body->>'archived_at') IS NOT NULL
WHERE deleted_at IS NOT NULL OR (body->>'archived_at') IS NOT NULL
   OR coalesce((body->>'pinned')::boolean, false);
ALTER TABLE "public".convostore_messages DROP COLUMN deleted_at;
CREATE INDEX convostore_messages_live
    ON "public".convostore_messages (tenant_id, thread_id, seq)
    WHERE NOT deleted AND NOT archived;
CREATE INDEX convostore_messages_live_mandatory
    ON "public".convostore_messages (tenant_id, thread_id, seq)
    WHERE NOT deleted AND NOT archived AND (pinned OR role = 'system');
INSERT INTO "public".convostore_migrations (version, name) VALUES (3, 'thread counters and message flags as columns');
-- migration 4: attachments
CREATE TABLE "public".convostore_attachments (
    tenant_id  text COLLATE "C" NOT NULL,
    sha256     text COLLATE "C" NOT NULL,
    media_type text NOT NULL,
    size_bytes bigint NOT NULL,
    created_at timestamptz NOT NULL,
    data       bytea NOT NULL,
    PRIMARY KEY (tenant_id, sha256)
);
CREATE TABLE "public".convostore_attachment_refs (
    tenant_id  text COLLATE "C" NOT NULL,
    sha256     text COLLATE "C" NOT NULL,
    thread_id  text COLLATE "C" NOT NULL,
    message_id text COLLATE "C" NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, sha256, thread_id, message_id)
);
CREATE INDEX convostore_attachment_refs_by_thread
    ON "public".convostore_attachment_refs (tenant_id, thread_id);
INSERT INTO "public".convostore_migrations (version, name) VALUES (4, 'attachments');
-- migration 5: branches
ALTER TABLE "public".convostore_threads ADD COLUMN root_id text COLLATE "C";
CREATE INDEX convostore_threads_by_root
    ON "public".convostore_threads (tenant_id, root_id) WHERE root_id IS NOT NULL;
INSERT INTO "public".convostore_migrations (version, name) VALUES (5, 'branches');
-- migration 6: user and app state
CREATE TABLE "public".convostore_state (
    tenant_id  text COLLATE "C" NOT NULL,
    scope      text NOT NULL,
    user_id    text COLLATE "C" NOT NULL,
    revision   bigint NOT NULL,
    updated_at timestamptz NOT NULL,
    body       json NOT NULL,
    PRIMARY KEY (tenant_id, scope, user_id)
);
INSERT INTO "public".convostore_migrations (version, name) VALUES (6, 'user and app state');
-- migration 7: full-text search
ALTER TABLE "public".convostore_messages ADD COLUMN search tsvector
    GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, regexp_replace(left(
        coalesce(body->>'content', regexp_replace(
            jsonb_path_query_array(body::jsonb, '$.parts[*] ? (@.type == "text").text')::text
            || jsonb_path_query_array(body::jsonb,
                '$.parts[*] ? (@.type == "tool-result" && @.result.type() == "string").result'
            )::text, '\\(["\\/bfnrt]|u[0-9a-fA-F]{4})', ' ', 'g'))
        || E'\n' || coalesce(body->>'name', '')
        || E'\n' || jsonb_path_query_array(body::jsonb,
            '$.parts[*] ? (@.type == "tool-call" || @.type == "tool-result").tool_name')::text
        || E'\n' || jsonb_path_query_array(body::jsonb,
            '$.parts[*] ? (@.type == "tool-call").args')::text
        || E'\n' || jsonb_path_query_array(body::jsonb,
            '$.parts[*] ? (@.type == "tool-result" && @.result.type() != "string").result'
        )::text, 100000) COLLATE "C", '[[:punct:][:space:]]+', ' ', 'g')))
    STORED;
CREATE INDEX convostore_messages_search
    ON "public".convostore_messages USING gin (search);
INSERT INTO "public".convostore_migrations (version, name) VALUES (7, 'full-text search');
COMMIT;
