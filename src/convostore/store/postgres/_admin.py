"""PostgreSQL's own handlers: schema versions, migrations and the health check.

Sans-I/O like the operations (:mod:`convostore.store.sql.handlers`), run by the
same drivers; only PostgreSQL has them, so they live here.
"""

from __future__ import annotations

from convostore.errors import SchemaTooNewError, SchemaTooOldError
from convostore.model import HealthCheckResult, HealthReport
from convostore.store import ops
from convostore.store.postgres._statements import PgStatements
from convostore.store.postgres.migrations import BOOTSTRAP, LATEST, MIGRATIONS
from convostore.store.settings import StoreSettings
from convostore.store.sql.handlers import Steps
from convostore.store.sql.statements import Fetch, Query

__all__ = ["check_schema", "health_check", "migrate", "schema_version"]


def schema_version(sq: PgStatements) -> Steps[int]:
    """The version recorded in the database; 0 when nothing is installed."""
    row = yield Query(sq.migrations_table_exists, (sq.migrations_table_name,), Fetch.ONE)
    if not row[0]:
        return 0
    row = yield Query(sq.schema_version, None, Fetch.ONE)
    return int(row[0])


def _too_new(sq: PgStatements, found: int) -> SchemaTooNewError:
    return SchemaTooNewError(
        f"the database schema {sq.schema!r} is at version {found}, written by a newer "
        f"convostore; this version understands up to {LATEST}. Upgrade convostore.",
        found=found,
        expected=LATEST,
    )


def check_schema(sq: PgStatements) -> Steps[int]:
    """Refuse a schema that is older or newer than this code."""
    found = yield from schema_version(sq)
    if found > LATEST:
        raise _too_new(sq, found)
    if found < LATEST:
        raise SchemaTooOldError(
            f"the database schema {sq.schema!r} is at version {found}, this convostore "
            f"needs {LATEST}: run `convostore db upgrade`, call store.backend.migrate(), "
            "or open the store with auto_migrate=True",
            found=found,
            expected=LATEST,
        )
    return found


def migrate(sq: PgStatements) -> Steps[list[int]]:
    """Apply the pending migrations, under a lock that serialises migrators.

    Runs in one transaction: ``pg_advisory_xact_lock`` makes a second server
    starting at the same moment wait, then find nothing left to do.
    """
    yield Query(sq.advisory_lock, (f"convostore.migrate:{sq.schema}",), Fetch.NONE)
    exists = yield Query(sq.schema_exists, (sq.schema,), Fetch.ONE)
    if exists is None:
        yield Query(sq.create_schema, None, Fetch.NONE)
    for stmt in BOOTSTRAP:
        yield Query(sq.render(stmt), None, Fetch.NONE)
    row = yield Query(sq.schema_version, None, Fetch.ONE)
    found = int(row[0])
    if found > LATEST:
        raise _too_new(sq, found)
    applied = []
    for mig in MIGRATIONS:
        if mig.version <= found:
            continue
        for stmt in mig.statements:
            yield Query(sq.render(stmt), None, Fetch.NONE)
        yield Query(sq.record_migration, (mig.version, mig.name), Fetch.NONE)
        applied.append(mig.version)
    return applied


def health_check(
    sq: PgStatements, settings: StoreSettings, op: ops.HealthCheck
) -> Steps[HealthReport]:
    """``open``, ``schema`` and ``writable``: the server answers, the schema is
    this code's, and a write would be accepted (the server is not a standby in
    recovery, the session's transactions are not read-only, and the role may
    write both tables). Disk space and page integrity are the server's own
    business and are not checked from here."""
    found = yield from schema_version(sq)
    checks = [
        HealthCheckResult(name="open", ok=True, detail=f"schema {sq.schema!r}"),
        HealthCheckResult(name="schema", ok=found == LATEST, detail=f"version {found} of {LATEST}"),
    ]
    if found:  # the tables exist, so what may be done to them can be asked
        recovery, read_only, granted = yield Query(sq.write_state, None, Fetch.ONE)
        why = (
            "the server is a standby in recovery"
            if recovery
            else "transactions are read-only (default_transaction_read_only is on)"
            if read_only == "on"
            else "the role may not insert, update and delete in the convostore tables"
            if not granted
            else None
        )
        checks.append(
            HealthCheckResult(
                name="writable", ok=why is None, detail=why or "the server accepts writes"
            )
        )
    return HealthReport.of(
        "postgres",
        checks,
        {
            "schema": sq.schema,
            "schema_version": found,
            "expected_schema_version": LATEST,
        },
        full=op.full,
    )
