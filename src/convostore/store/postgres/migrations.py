"""Versioned, append-only schema migrations of the PostgreSQL backend.

A database records every migration it has applied in ``convostore_migrations``;
the schema version is the highest version recorded. Released migrations are
never edited: a schema change is a new entry appended to :data:`MIGRATIONS`.
That is what lets a database refuse code older than itself
(:class:`~convostore.errors.SchemaTooNewError`) and lets :meth:`migrate` bring
any older database forward one step at a time.

The statements are templates: ``{s}`` stands for the quoted schema name, so
every object lives in the schema the store was opened with.

Layout choices, all made so the same schema runs on a sharded PostgreSQL
(Citus) unchanged:

* ``tenant_id`` is on every table and leads every primary, unique and foreign
  key, so both tables can be distributed by it and colocated.
* Identifier columns use the ``"C"`` collation: listings order by id as a tie
  breaker, and byte order is what every other backend uses.
* A message's whole body is kept as the JSON text the model produced (type
  ``json``, not ``jsonb``): ``json`` stores the text verbatim, so reading it back
  is a plain copy handed to ``Message.model_validate_json``, with no re-rendering
  on the server and no ``json.loads`` on the client. The columns the queries
  filter or sort on are kept beside it.
* The physical shape is SQLite's (since version 3): a thread's counters and a
  message's flags (``pinned``, ``deleted``, ``archived``) are columns, so both
  engines run the same handlers (:mod:`convostore.store.sql`) on the same
  shape, and an append never rewrites a thread's JSON.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LATEST", "MIGRATIONS", "MIGRATIONS_TABLE", "Migration", "render_ddl"]

MIGRATIONS_TABLE = "convostore_migrations"


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: its version, a short name and its statements."""

    version: int
    name: str
    statements: tuple[str, ...]


BOOTSTRAP: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS {s}.convostore_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)""",
)
"""Statements run before any migration: the table that records them."""


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "threads and messages",
        (
            """CREATE TABLE {s}.convostore_threads (
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
)""",
            """CREATE INDEX convostore_threads_by_user
    ON {s}.convostore_threads (tenant_id, user_id, updated_at DESC, id DESC)""",
            """CREATE INDEX convostore_threads_by_tenant
    ON {s}.convostore_threads (tenant_id, updated_at DESC, id DESC)""",
            """CREATE TABLE {s}.convostore_messages (
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
        REFERENCES {s}.convostore_threads (tenant_id, id) ON DELETE CASCADE
)""",
            """CREATE INDEX convostore_messages_by_execution
    ON {s}.convostore_messages (tenant_id, execution_id, thread_id, seq)
    WHERE execution_id IS NOT NULL""",
            # The system prompt and pinned messages every context window starts from.
            """CREATE INDEX convostore_messages_mandatory
    ON {s}.convostore_messages (tenant_id, thread_id, seq)
    WHERE role = 'system' OR (body->>'pinned')::boolean""",
        ),
    ),
    Migration(
        2,
        "live message count and live window indexes",
        (
            # A thread's counters live in its body: the live count is added there,
            # counted once; from now on it moves with every write. The member is
            # spliced into the JSON text (a thread body is a non-empty object
            # without it), so the other members keep their order and their
            # number forms: a round trip through jsonb would sort the keys of
            # metadata and state and turn 1e16 into 10000000000000000.
            """UPDATE {s}.convostore_threads AS t SET body = (
    left(rtrim(t.body::text), -1) || ',"live_message_count":' ||
    (SELECT count(*) FROM {s}.convostore_messages AS m
        WHERE m.tenant_id = t.tenant_id AND m.thread_id = t.id
          AND m.deleted_at IS NULL)::text || '}')::json""",
            # The rows a context window may read (live, not archived), and the
            # mandatory ones among them, so archived or deleted history costs a
            # window nothing. A message body leaves out ``archived_at`` (and
            # ``pinned``) at its default, so these test the body's fields.
            """CREATE INDEX convostore_messages_live
    ON {s}.convostore_messages (tenant_id, thread_id, seq)
    WHERE deleted_at IS NULL AND (body->>'archived_at') IS NULL""",
            """CREATE INDEX convostore_messages_live_mandatory
    ON {s}.convostore_messages (tenant_id, thread_id, seq)
    WHERE deleted_at IS NULL AND (body->>'archived_at') IS NULL
      AND (role = 'system' OR (body->>'pinned')::boolean)""",
            "DROP INDEX {s}.convostore_messages_mandatory",
        ),
    ),
    Migration(
        3,
        "thread counters and message flags as columns",
        (
            # The shape SQLite stores: what every append changes in columns of
            # its own, so an append moves integers and never rewrites the JSON.
            """ALTER TABLE {s}.convostore_threads
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
    ADD COLUMN currency           text NOT NULL DEFAULT 'USD'""",
            # Moved out of each body in one pass: the values into the columns
            # (a body leaves usage and cost out at zero), and the body rebuilt
            # from its other members, in their order and with their text as
            # stored. The columns it drops were already columns (revision,
            # updated_at, deleted_at) or are now.
            """UPDATE {s}.convostore_threads AS t SET
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
FROM (SELECT tenant_id, id, body::jsonb AS j FROM {s}.convostore_threads) AS old
WHERE old.tenant_id = t.tenant_id AND old.id = t.id""",
            # The window indexes test the flags from now on; these tested the body.
            "DROP INDEX {s}.convostore_messages_live",
            "DROP INDEX {s}.convostore_messages_live_mandatory",
            """ALTER TABLE {s}.convostore_messages
    ADD COLUMN pinned   boolean NOT NULL DEFAULT false,
    ADD COLUMN deleted  boolean NOT NULL DEFAULT false,
    ADD COLUMN archived boolean NOT NULL DEFAULT false""",
            # Only the rows with a flag set are written; a body leaves ``pinned``
            # and ``archived_at`` out at their defaults.
            """UPDATE {s}.convostore_messages SET
    pinned   = coalesce((body->>'pinned')::boolean, false),
    deleted  = deleted_at IS NOT NULL,
    archived = (body->>'archived_at') IS NOT NULL
WHERE deleted_at IS NOT NULL OR (body->>'archived_at') IS NOT NULL
   OR coalesce((body->>'pinned')::boolean, false)""",
            # Replaced by ``deleted``: the time stays in the body, as in SQLite.
            "ALTER TABLE {s}.convostore_messages DROP COLUMN deleted_at",
            """CREATE INDEX convostore_messages_live
    ON {s}.convostore_messages (tenant_id, thread_id, seq)
    WHERE NOT deleted AND NOT archived""",
            """CREATE INDEX convostore_messages_live_mandatory
    ON {s}.convostore_messages (tenant_id, thread_id, seq)
    WHERE NOT deleted AND NOT archived AND (pinned OR role = 'system')""",
        ),
    ),
    Migration(
        4,
        "attachments",
        (
            # Bytes of images, audio and files, once per tenant and hash;
            # PostgreSQL keeps large values out of line (TOAST) by itself.
            """CREATE TABLE {s}.convostore_attachments (
    tenant_id  text COLLATE "C" NOT NULL,
    sha256     text COLLATE "C" NOT NULL,
    media_type text NOT NULL,
    size_bytes bigint NOT NULL,
    created_at timestamptz NOT NULL,
    data       bytea NOT NULL,
    PRIMARY KEY (tenant_id, sha256)
)""",
            # Which message of which thread references which bytes.
            """CREATE TABLE {s}.convostore_attachment_refs (
    tenant_id  text COLLATE "C" NOT NULL,
    sha256     text COLLATE "C" NOT NULL,
    thread_id  text COLLATE "C" NOT NULL,
    message_id text COLLATE "C" NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, sha256, thread_id, message_id)
)""",
            """CREATE INDEX convostore_attachment_refs_by_thread
    ON {s}.convostore_attachment_refs (tenant_id, thread_id)""",
        ),
    ),
    Migration(
        5,
        "branches",
        (
            # The root of a branch's tree (set on branches), which lists a tree;
            # the lineage itself is in body.
            'ALTER TABLE {s}.convostore_threads ADD COLUMN root_id text COLLATE "C"',
            """CREATE INDEX convostore_threads_by_root
    ON {s}.convostore_threads (tenant_id, root_id) WHERE root_id IS NOT NULL""",
        ),
    ),
    Migration(
        6,
        "user and app state",
        (
            # One row per user (scope 'user') and one per tenant (scope 'app',
            # user_id ''), each with its own revision; tenant_id leads the key.
            """CREATE TABLE {s}.convostore_state (
    tenant_id  text COLLATE "C" NOT NULL,
    scope      text NOT NULL,
    user_id    text COLLATE "C" NOT NULL,
    revision   bigint NOT NULL,
    updated_at timestamptz NOT NULL,
    body       json NOT NULL,
    PRIMARY KEY (tenant_id, scope, user_id)
)""",
        ),
    ),
    Migration(
        7,
        "full-text search",
        (
            # Generated from the body, so every write of a message row keeps it,
            # in its transaction; adding it rewrites the table, indexing every
            # message already stored. The text is the one
            # convostore.store.rules.search.search_text makes: content (made
            # from the parts when the body leaves it out, JSON escapes taken
            # out), name, tool names, call arguments and non-string results, by
            # JSON paths (a function or subqueries would cost an insert three
            # times as much). ASCII punctuation separates words, as on the
            # other backends (the parser would keep ``example.com`` whole).
            r"""ALTER TABLE {s}.convostore_messages ADD COLUMN search tsvector
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
    STORED""",
            """CREATE INDEX convostore_messages_search
    ON {s}.convostore_messages USING gin (search)""",
        ),
    ),
)
"""Every migration, oldest first, in increasing versions."""

LATEST = MIGRATIONS[-1].version
"""The schema version this code reads and writes."""


def quote_ident(name: str) -> str:
    """``name`` as a double-quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def render(template: str, schema: str) -> str:
    """A statement template with ``{s}`` replaced by the quoted schema."""
    return template.replace("{s}", quote_ident(schema))


def render_ddl(schema: str = "public", after: int = 0) -> str:
    """The whole schema as one SQL script a DBA can review and apply by hand.

    The script is what :meth:`migrate` runs on an empty database, including the
    rows that record the migrations, so a store opened afterwards finds the
    schema current. With ``after``, only the migrations past that version: the
    upgrade script of a database at version ``after``, in one transaction.
    """
    q = quote_ident(schema)
    head = f"-- convostore schema version {LATEST}, in schema {q}"
    if after:
        head += f", upgrading from version {after}"
    lines = [head, "BEGIN;", f"CREATE SCHEMA IF NOT EXISTS {q};"]
    lines += [render(stmt, schema) + ";" for stmt in BOOTSTRAP]
    for mig in MIGRATIONS:
        if mig.version <= after:
            continue
        lines.append(f"-- migration {mig.version}: {mig.name}")
        lines += [render(stmt, schema) + ";" for stmt in mig.statements]
        name = mig.name.replace("'", "''")
        lines.append(
            f"INSERT INTO {q}.{MIGRATIONS_TABLE} (version, name) VALUES ({mig.version}, '{name}');"
        )
    lines.append("COMMIT;")
    return "\n".join(lines) + "\n"
