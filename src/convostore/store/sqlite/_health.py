"""The health of a SQLite store: what the file system and the database say.

:func:`check` answers a store's ``health_check``; :func:`diagnose` answers
from the file system alone, for a store that cannot even be opened (``convostore
doctor`` says why).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from typing import Any

from convostore.errors import ConvostoreError
from convostore.model import HealthCheckResult, HealthReport
from convostore.store import _health as files
from convostore.store import ops
from convostore.store.sqlite._driver import Database, is_busy

__all__ = ["check", "diagnose"]

#: How long the health check's write probe waits for another writer.
_PROBE_WAIT_MS = 500
#: The pages the write probe asks room for: 64 KiB at the default page size, an
#: append of a few long messages.
_PROBE_PAGES = 16
_HEADER = b"SQLite format 3\x00"


def _not_writable(path: str) -> str | None:
    full = os.path.abspath(path)
    return files.not_writable((full, full + "-wal", full + "-shm"), os.path.dirname(full))


def diagnose(path: str) -> list[HealthCheckResult]:
    """What the file system tells of a SQLite database at ``path`` without
    opening it: whether it can be written (``writable``), whether space is
    left (``disk-space``) and whether it starts with a SQLite header
    (``integrity``). For a store that cannot be opened, to say why."""
    full = os.path.abspath(path)
    directory = os.path.dirname(full)
    checks: list[HealthCheckResult] = []
    if os.path.isdir(directory):
        why = _not_writable(full)
        checks.append(
            HealthCheckResult(
                name="writable",
                ok=why is None,
                detail=why or f"{full} and its directory are writable",
            )
        )
        checks.append(files.disk_space(directory))
    else:
        checks.append(
            HealthCheckResult(
                name="writable", ok=False, detail=f"the directory {directory} does not exist"
            )
        )
    try:
        with open(full, "rb") as f:
            head = f.read(len(_HEADER))
    except FileNotFoundError:
        return checks
    except OSError as exc:
        checks.append(
            HealthCheckResult(
                name="integrity", ok=False, detail=f"cannot read {full}: {exc.strerror}"
            )
        )
        return checks
    if head and head != _HEADER:
        checks.append(
            HealthCheckResult(
                name="integrity",
                ok=False,
                detail=f"{full} does not start with the SQLite header: not a SQLite "
                "database, or its first page is damaged",
            )
        )
    return checks


def check(
    db: Database, op: ops.HealthCheck, *, latest: int, describe: str, quick_max: int
) -> HealthReport:
    """``open``, ``schema``, ``writable``, ``disk-space`` and ``integrity``.

    Cheap by default (about 10 ms at most, whatever the size of the database):
    the header and schema are read, a write transaction is begun and rolled
    back, and a database up to ``quick_max`` bytes is quick-checked. ``full``
    runs ``PRAGMA integrity_check`` on any size.
    """
    detail: dict[str, Any] = {
        "path": db.path,
        "synchronous": db.synchronous,
        "sqlite_version": sqlite3.sqlite_version,
    }
    checks: list[HealthCheckResult] = []
    try:
        with db.reading() as conn:
            row = conn.execute(
                "SELECT (SELECT max(version) FROM convostore_migrations), page_size, "
                "page_count FROM pragma_page_size, pragma_page_count"
            ).fetchone()
    except ConvostoreError as exc:
        checks.append(HealthCheckResult(name="open", ok=False, detail=str(exc)))
        if not db.memory:
            checks.extend(diagnose(db.path))
        return HealthReport.of("sqlite", checks, detail, full=op.full)
    version, size = int(row[0] or 0), int(row[1]) * int(row[2])
    detail.update(schema_version=version, size_bytes=size)
    checks.append(HealthCheckResult(name="open", ok=True, detail=describe))
    checks.append(
        HealthCheckResult(
            name="schema", ok=version == latest, detail=f"version {version} of {latest}"
        )
    )
    why = None if db.memory else _not_writable(db.path)
    probe, busy = _probe_write(db)
    full_disk = probe is not None and "full" in probe
    done = (
        "another connection is writing; writes wait for it"
        if busy
        else "a write transaction was begun and rolled back"
    )
    if full_disk:
        done = "a write transaction was begun, but its write found no space"
    checks.append(
        HealthCheckResult(
            name="writable",
            ok=why is None and (probe is None or full_disk),
            detail=why or (None if full_disk else probe) or done,
        )
    )
    space = (
        HealthCheckResult(name="disk-space", ok=True, detail="in memory")
        if db.memory
        else files.disk_space(os.path.dirname(os.path.abspath(db.path)))
    )
    if full_disk:
        space = HealthCheckResult(name="disk-space", ok=False, detail=f"{probe}; {space.detail}")
    checks.append(space)
    checks.append(_integrity(db, op.full, size, quick_max))
    return HealthReport.of("sqlite", checks, detail, full=op.full)


def _probe_write(db: Database) -> tuple[str | None, bool]:
    """(why a write would fail now or ``None``, whether another writer held
    the lock so nothing was probed).

    Begins a write transaction, inserts a row of :data:`_PROBE_PAGES` pages
    into the migrations table (so room for a write of that size must be found,
    free pages or new ones, as for a real write) and rolls back: nothing is
    ever committed, and the pages stay in the page cache.
    """
    if not db.write_lock.acquire(timeout=_PROBE_WAIT_MS / 1000):
        return None, True
    try:
        conn = db.conn()
        conn.execute(f"PRAGMA busy_timeout = {min(db.busy_ms, _PROBE_WAIT_MS)}")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if is_busy(exc):
                return None, True
            raise
        try:
            page = conn.execute("PRAGMA page_size").fetchone()[0]
            conn.execute(
                "INSERT INTO convostore_migrations (version, name, applied_at) "
                "VALUES (-1, 'health check: rolled back', zeroblob(?))",
                (page * _PROBE_PAGES,),
            )
        finally:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        db.failed(exc)
        return f"a write would fail: {exc}", False
    except ConvostoreError as exc:
        return str(exc), False
    finally:
        with contextlib.suppress(sqlite3.Error, ConvostoreError):
            db.conn().execute(f"PRAGMA busy_timeout = {db.busy_ms}")
        db.write_lock.release()
    return None, False


def _integrity(db: Database, full: bool, size: int, quick_max: int) -> HealthCheckResult:
    whole = full or size <= quick_max
    pragma = "integrity_check" if full else "quick_check"
    try:
        with db.reading() as conn:
            if whole:
                found = [str(r[0]) for r in conn.execute(f"PRAGMA {pragma}(5)")]
            else:  # the root page and first leaf of every table
                for table in ("convostore_migrations", "threads", "messages"):
                    conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchall()
                found = ["ok"]
    except ConvostoreError as exc:
        return HealthCheckResult(name="integrity", ok=False, detail=str(exc))
    if found != ["ok"]:
        lines = [ln for r in found for ln in r.splitlines() if not ln.startswith("***")]
        shown = "; ".join(lines[:3]) + ("; ..." if len(lines) > 3 else "")
        return HealthCheckResult(
            name="integrity", ok=False, detail=f"PRAGMA {pragma} found damage: {shown}"
        )
    if whole:
        db.corrupt = None
    elif db.corrupt is not None:
        return HealthCheckResult(name="integrity", ok=False, detail=db.corrupt)
    if whole:
        return HealthCheckResult(
            name="integrity",
            ok=True,
            detail=f"PRAGMA {pragma}: ok ({files.human_bytes(size)})",
        )
    return HealthCheckResult(
        name="integrity",
        ok=True,
        detail=f"header, schema and table roots read; the pages of this "
        f"{files.human_bytes(size)} database are checked by "
        "health_check(full=True) and convostore doctor",
    )
