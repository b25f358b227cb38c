"""Opening, options, migrations and schema versions of the PostgreSQL backend."""

from __future__ import annotations

import subprocess
import sys
import threading

import psycopg
import pytest

from convostore import (
    BackendUnavailableError,
    ConflictError,
    Message,
    MissingDependencyError,
    SchemaTooNewError,
    SchemaTooOldError,
    ValidationError,
)
from convostore.store import Store, open_store
from convostore.store.postgres import SCHEMA_VERSION, PostgresBackend, drop_schema, render_ddl
from convostore.store.postgres._config import parse_config
from convostore.store.postgres.migrations import MIGRATIONS

pytestmark = pytest.mark.postgres


def _table_count(url: str, schema: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = %s", (schema,)
        ).fetchone()
        assert row is not None
        return int(row[0])


# --- options --------------------------------------------------------------------------


def test_url_options_arrive_as_strings_and_keywords_win() -> None:
    cfg = parse_config(
        "postgresql+psycopg://u:secret@db:5433/app?schema=s1&auto_migrate=true"
        "&min_size=2&max_size=4&sslmode=disable&retries=3",
        {"max_size": 8},
    )
    assert (cfg.schema, cfg.auto_migrate, cfg.min_size, cfg.max_size, cfg.retries) == (
        "s1",
        True,
        2,
        8,
        3,
    )
    assert cfg.conninfo == "postgresql://u:secret@db:5433/app?sslmode=disable"
    assert "secret" not in cfg.describe()
    assert cfg.connect_kwargs["application_name"] == "convostore"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"bogus": 1}, "bogus"),
        ({"auto_migrate": "maybe"}, "auto_migrate"),
        ({"min_size": "-1"}, "min_size"),
        ({"min_size": 5, "max_size": 2}, "min_size"),
        ({"schema": ""}, "schema"),
        ({"schema": "x" * 64}, "schema"),
        ({"pool_timeout": "0"}, "pool_timeout"),
    ],
)
def test_bad_options_are_validation_errors(options: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_config("postgresql://localhost/db", options)
    assert info.value.field == field


def test_unreachable_server_is_backend_unavailable() -> None:
    with pytest.raises(BackendUnavailableError):
        open_store("postgresql://postgres@127.0.0.1:1/test?connect_timeout=2")


def test_missing_driver_names_the_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['psycopg'] = None\n"
        "from convostore.errors import MissingDependencyError\n"
        "from convostore.store import open_store\n"
        "try:\n"
        "    open_store('postgresql://localhost/x')\n"
        "except MissingDependencyError as exc:\n"
        "    print(exc.package, exc.extra)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split() == ["psycopg", "postgres"]
    assert issubclass(MissingDependencyError, ImportError)


# --- versions -------------------------------------------------------------------------


def test_fresh_database_is_refused_until_migrated(pg_url: str, schema: str) -> None:
    with pytest.raises(SchemaTooOldError) as info:
        open_store(pg_url, schema=schema)
    assert "convostore db upgrade" in str(info.value)
    assert (info.value.found, info.value.expected) == (0, SCHEMA_VERSION)
    # Opening without the check gives a backend that can migrate itself.
    with open_store(pg_url, schema=schema, check_schema=False) as s:
        backend = s.backend
        assert isinstance(backend, PostgresBackend)
        assert backend.schema_version() == 0
        assert backend.latest_version == SCHEMA_VERSION  # what `convostore db` reads
        assert backend.migrate() == [m.version for m in MIGRATIONS]
        assert backend.migrate() == []
        assert backend.schema_version() == SCHEMA_VERSION
    with open_store(pg_url, schema=schema) as s:
        t = s.create_thread()
        assert s.append(t.id, Message.user("hi"))[0].seq == 1


def test_auto_migrate_via_url(pg_url: str, schema: str) -> None:
    with open_store(f"{pg_url}?schema={schema}&auto_migrate=true") as s:
        assert s.health_check().ok
    # threads, messages, migrations, attachments, refs, state
    assert _table_count(pg_url, schema) == 6


def test_database_from_a_newer_version_is_refused(pg_url: str, schema: str) -> None:
    with open_store(pg_url, schema=schema, auto_migrate=True):
        pass
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            f'INSERT INTO "{schema}".convostore_migrations (version, name) '
            "VALUES (999, 'from the future')"
        )
    for auto in (False, True):
        with pytest.raises(SchemaTooNewError) as info:
            open_store(pg_url, schema=schema, auto_migrate=auto)
        assert info.value.found == 999
        assert "newer convostore" in str(info.value)
    with open_store(pg_url, schema=schema, check_schema=False) as s:
        assert not s.health_check().ok


def test_ddl_applied_by_hand_is_current(pg_url: str, schema: str) -> None:
    with open_store(pg_url, schema=schema, check_schema=False) as s:
        backend = s.backend
        assert isinstance(backend, PostgresBackend)
        script = backend.ddl()
    assert script == render_ddl(schema)
    assert "CREATE TABLE" in script and "pg_" not in script
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(script.encode())
    with open_store(pg_url, schema=schema) as s:
        backend = s.backend
        assert isinstance(backend, PostgresBackend)
        assert backend.schema_version() == SCHEMA_VERSION
        assert backend.migrate() == []


def test_concurrent_migrators_do_not_race(pg_url: str, schema: str) -> None:
    errors: list[BaseException] = []
    stores: list[Store] = []
    barrier = threading.Barrier(4)

    def start() -> None:
        barrier.wait()
        try:
            stores.append(open_store(pg_url, schema=schema, auto_migrate=True, min_size=0))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for s in stores:
        s.close()
    assert errors == []
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(
            f'SELECT version FROM "{schema}".convostore_migrations ORDER BY version'
        ).fetchall()
    assert [r[0] for r in rows] == [m.version for m in MIGRATIONS]


def test_dropped_tables_are_reported_as_schema_too_old(pg_url: str, schema: str) -> None:
    with open_store(pg_url, schema=schema, auto_migrate=True) as s:
        drop_schema(pg_url, schema)
        with pytest.raises(SchemaTooOldError):
            s.create_thread()


def test_drop_schema_in_public_only_drops_convostore_tables(pg_url: str) -> None:
    # Uses a separate database-level object name check instead of touching public.
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS public.cs_keep_me (x int)")
    try:
        drop_schema(pg_url, "public")  # no convostore tables there: a no-op
        with psycopg.connect(pg_url) as conn:
            row = conn.execute("SELECT to_regclass('public.cs_keep_me') IS NOT NULL").fetchone()
        assert row == (True,)
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS public.cs_keep_me")


def test_closed_store_is_unavailable(pg_url: str, schema: str) -> None:
    s = open_store(pg_url, schema=schema, auto_migrate=True)
    s.close()
    with pytest.raises(BackendUnavailableError):
        s.create_thread()
    assert not issubclass(BackendUnavailableError, ConflictError)
