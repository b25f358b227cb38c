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
            # counted once; from now on it moves with every write.
            """UPDATE {s}.convostore_threads AS t SET body = (t.body::jsonb || jsonb_build_object(
    'live_message_count', (SELECT count(*) FROM {s}.convostore_messages AS m
        WHERE m.tenant_id = t.tenant_id AND m.thread_id = t.id
          AND m.deleted_at IS NULL)))::json""",
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
)
"""Every migration, oldest first; versions are 1, 2, ... without gaps."""

LATEST = MIGRATIONS[-1].version
"""The schema version this code reads and writes."""


def quote_ident(name: str) -> str:
    """``name`` as a double-quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def render(template: str, schema: str) -> str:
    """A statement template with ``{s}`` replaced by the quoted schema."""
    return template.replace("{s}", quote_ident(schema))


def render_ddl(schema: str = "public") -> str:
    """The whole schema as one SQL script a DBA can review and apply by hand.

    The script is what :meth:`migrate` runs on an empty database, including the
    rows that record the migrations, so a store opened afterwards finds the
    schema current.
    """
    q = quote_ident(schema)
    lines = [
        f"-- convostore schema version {LATEST}, in schema {q}",
        "BEGIN;",
        f"CREATE SCHEMA IF NOT EXISTS {q};",
    ]
    lines += [render(stmt, schema) + ";" for stmt in BOOTSTRAP]
    for mig in MIGRATIONS:
        lines.append(f"-- migration {mig.version}: {mig.name}")
        lines += [render(stmt, schema) + ";" for stmt in mig.statements]
        name = mig.name.replace("'", "''")
        lines.append(
            f"INSERT INTO {q}.{MIGRATIONS_TABLE} (version, name) VALUES ({mig.version}, '{name}');"
        )
    lines.append("COMMIT;")
    return "\n".join(lines) + "\n"
