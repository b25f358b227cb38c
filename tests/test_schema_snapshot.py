"""The database schemas, compared with the snapshots committed in ``tests/snapshots``.

A change to a schema should be a new migration made on purpose, never a side
effect of rewriting the code around it. These tests build each schema the way
a new database gets it and compare what the engine then holds with a committed
text file, so every change shows up in review as a diff of that file:

* ``sqlite.sql``: ``sqlite_master`` of a new SQLite store (the SQL text of each
  table and index as the engine keeps it), ``PRAGMA user_version`` and the
  migrations recorded;
* ``postgres.sql``: the script ``render_ddl`` prints for schema ``public``;
* ``postgres_catalog.txt``: PostgreSQL's own view of a new schema (columns with
  type, nullability, default and collation; index definitions; constraints;
  the migrations recorded), with the schema's name written ``<schema>``. It is
  checked for a schema made by ``migrate`` and for one made by running the
  printed script by hand: both must be this same schema.

When a change is intended, regenerate the files and commit them with it::

    CONVOSTORE_UPDATE_SNAPSHOTS=1 python -m pytest tests/test_schema_snapshot.py

The PostgreSQL tests skip without a server, except when ``CI=true``: there a
missing server (or driver) is a failure, as in ``tests/postgres``.
"""

from __future__ import annotations

import difflib
import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from convostore.store import open_store

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE_VAR = "CONVOSTORE_UPDATE_SNAPSHOTS"
REGENERATE = f"{UPDATE_VAR}=1 python -m pytest tests/test_schema_snapshot.py"
PG_DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
DDL_SCHEMA = "public"
PLACEHOLDER = "<schema>"


def _updating() -> bool:
    return os.environ.get(UPDATE_VAR, "") == "1"


def _lines(text: str) -> str:
    """``text`` with no trailing blanks on its lines and one final newline, the
    form a committed text file keeps."""
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines()) + "\n"


def _compare(name: str, actual: str, what: str) -> None:
    """Compare ``actual`` with the snapshot ``name``; rewrite it when updating."""
    path = SNAPSHOTS / name
    if _updating():
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8", newline="\n")
        return
    if not path.exists():
        pytest.fail(
            f"tests/snapshots/{name} is missing: create it with\n    {REGENERATE}\n"
            "then review and commit it.",
            pytrace=False,
        )
    expected = path.read_text(encoding="utf-8")
    if actual == expected:
        return
    diff = "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            fromfile=f"tests/snapshots/{name} (committed)",
            tofile=f"{name} (what this code builds)",
        )
    )
    pytest.fail(
        f"the {what} differs from tests/snapshots/{name}:\n\n{diff}\n"
        "If the change is intended (a new migration), regenerate the snapshots with\n"
        f"    {REGENERATE}\n"
        "and commit them with the change. If it is not, the code now builds a "
        "different schema: find what changed it.",
        pytrace=False,
    )


# --- SQLite ------------------------------------------------------------------------------


def sqlite_schema(path: Path) -> str:
    """The schema of the SQLite database at ``path`` as snapshot text."""
    conn = sqlite3.connect(path)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        migrations = conn.execute(
            "SELECT version, name FROM convostore_migrations ORDER BY version"
        ).fetchall()
        objects = conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master "
            "WHERE name NOT LIKE 'sqlite_stat%' ORDER BY tbl_name, type DESC, name"
        ).fetchall()
    finally:
        conn.close()
    out = [
        "-- The schema of a new convostore SQLite store: sqlite_master, PRAGMA",
        "-- user_version and the migrations recorded (tests/test_schema_snapshot.py).",
        f"-- Regenerate: {REGENERATE}",
        "",
        f"PRAGMA user_version = {version};",
        "",
    ]
    out += [f"-- migration {v}: {name}" for v, name in migrations]
    for kind, name, table, sql in objects:
        out.append("")
        if sql is None:
            out.append(f"-- {kind} {name} on {table}: made by SQLite itself")
        else:
            out.append(f"-- {kind} {name} on {table}")
            out.append(f"{sql.rstrip()};")
    return _lines("\n".join(out))


def test_sqlite_schema_matches_the_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.db"
    with open_store(f"sqlite:///{path}") as store:
        assert store.health_check().ok
    _compare("sqlite.sql", sqlite_schema(path), "SQLite schema of a new store")


# --- PostgreSQL --------------------------------------------------------------------------


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def pg_driver() -> None:
    """The PostgreSQL driver is installed; skips (or fails on CI) without it."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install 'convostore[postgres]')")


@pytest.fixture(scope="module")
def pg_url(pg_driver: None) -> str:
    """The URL of a reachable server; skips (or fails on CI) without one."""
    import psycopg

    url = os.environ.get("CONVOSTORE_TEST_PG_URL", PG_DEFAULT_URL)
    try:
        with psycopg.connect(url, connect_timeout=3):
            return url
    except psycopg.Error as exc:
        _unavailable(f"no PostgreSQL server at {url}: {str(exc).strip()}")


@pytest.fixture
def pg_schema(pg_url: str) -> Iterator[str]:
    """A fresh schema name, dropped (with everything in it) after the test."""
    from convostore.store.postgres import drop_schema

    name = f"cs_test_{uuid.uuid4().hex[:12]}"
    yield name
    drop_schema(pg_url, name)


def postgres_catalog(url: str, schema: str) -> str:
    """What PostgreSQL's catalog says of ``schema``, as snapshot text."""
    import psycopg

    from convostore.store.postgres.migrations import MIGRATIONS_TABLE, quote_ident

    def norm(text: str) -> str:
        return text.replace(quote_ident(schema), PLACEHOLDER).replace(schema, PLACEHOLDER)

    with psycopg.connect(url) as conn:
        columns: list[tuple[Any, ...]] = conn.execute(
            "SELECT table_name, column_name, data_type, is_nullable, column_default, "
            "collation_name FROM information_schema.columns WHERE table_schema = %s "
            "ORDER BY table_name, ordinal_position",
            (schema,),
        ).fetchall()
        indexes = conn.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = %s "
            "ORDER BY tablename, indexname",
            (schema,),
        ).fetchall()
        constraints = conn.execute(
            "SELECT r.relname, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
            "JOIN pg_class r ON r.oid = c.conrelid "
            "JOIN pg_namespace n ON n.oid = r.relnamespace "
            "WHERE n.nspname = %s ORDER BY r.relname, c.conname",
            (schema,),
        ).fetchall()
        migrations = conn.execute(
            f"SELECT version, name FROM {quote_ident(schema)}.{MIGRATIONS_TABLE} ORDER BY version"
        ).fetchall()
    out = [
        "-- PostgreSQL's catalog of a new convostore schema, its name written <schema>",
        "-- (tests/test_schema_snapshot.py).",
        f"-- Regenerate: {REGENERATE}",
        "",
        "-- migrations recorded",
    ]
    out += [f"{v}: {name}" for v, name in migrations]
    out += ["", "-- columns (information_schema.columns): type, nullable, default, collation"]
    table = None
    for tname, column, kind, nullable, default, collation in columns:
        if tname != table:
            out += ["", f"{tname}:"]
            table = tname
        extra = [kind, "NULL" if nullable == "YES" else "NOT NULL"]
        if default is not None:
            extra.append(f"DEFAULT {norm(default)}")
        if collation is not None:
            extra.append(f'COLLATE "{collation}"')
        out.append(f"    {column}: {' '.join(extra)}")
    out += ["", "-- indexes (pg_indexes.indexdef)"]
    for tname, name, definition in indexes:
        out += ["", f"{tname}.{name}:", f"    {norm(definition)}"]
    out += ["", "-- constraints (pg_get_constraintdef)"]
    for tname, name, definition in constraints:
        out += ["", f"{tname}.{name}:", f"    {norm(definition)}"]
    return _lines("\n".join(out))


def test_postgres_ddl_matches_the_snapshot(pg_driver: None) -> None:
    from convostore.store.postgres import render_ddl

    _compare("postgres.sql", render_ddl(DDL_SCHEMA), f"PostgreSQL DDL for schema {DDL_SCHEMA!r}")


@pytest.mark.postgres
@pytest.mark.parametrize("made_by", ["migrate", "ddl"])
def test_postgres_catalog_matches_the_snapshot(pg_url: str, pg_schema: str, made_by: str) -> None:
    import psycopg

    from convostore.store.postgres import PostgresBackend, render_ddl
    from convostore.store.postgres.migrations import LATEST

    if made_by == "migrate":
        with open_store(pg_url, schema=pg_schema, auto_migrate=True) as store:
            assert isinstance(store.backend, PostgresBackend)
            assert store.backend.schema_version() == LATEST
    else:  # the printed script, run by hand
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(render_ddl(pg_schema).encode())
        with open_store(pg_url, schema=pg_schema) as store:  # found current
            assert isinstance(store.backend, PostgresBackend)
            assert store.backend.migrate() == []
    catalog = postgres_catalog(pg_url, pg_schema)
    assert pg_schema not in catalog
    if made_by == "ddl" and _updating():
        return  # the file is written once, from the schema migrate makes
    _compare(
        "postgres_catalog.txt",
        catalog,
        f"PostgreSQL catalog of a schema made by {made_by}",
    )
