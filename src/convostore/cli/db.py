"""``convostore db``: see and apply the schema migrations of a SQL store.

SQLite migrates itself when opened; PostgreSQL waits for ``db upgrade`` so that
schema changes on a shared server happen when an operator says so. Memory and
JSON-file stores have no schema, and the commands say so rather than fail.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import click

from convostore.cli._common import emit_json, fields, json_option, note, opened_store, store_option
from convostore.errors import SchemaTooNewError, SchemaTooOldError
from convostore.store import Store

NO_SCHEMA = "no schema (memory/json backend)"


@runtime_checkable
class Migratable(Protocol):
    """What a backend with a versioned schema offers."""

    latest_version: int

    def migrate(self) -> list[int]: ...
    def schema_version(self) -> int: ...
    def ddl(self) -> str: ...


def schema_of(store: Store) -> Migratable | None:
    backend: Any = store.backend
    return backend if isinstance(backend, Migratable) else None


def status_of(store: Store) -> dict[str, Any]:
    """Backend, schema version and whether migrations are pending."""
    schema = schema_of(store)
    out: dict[str, Any] = {"store": store.backend.describe(), "backend": store.backend.kind}
    if schema is None:
        out.update(schema_version=None, latest_version=None, up_to_date=True, detail=NO_SCHEMA)
        return out
    current, latest = schema.schema_version(), schema.latest_version
    out.update(
        schema_version=current,
        latest_version=latest,
        up_to_date=current == latest,
        detail="up to date"
        if current == latest
        else f"{latest - current} migration(s) pending: run convostore db upgrade"
        if current < latest
        else "written by a newer convostore",
    )
    return out


@click.group()
def db() -> None:
    """Schema version and migrations of SQL stores."""


@db.command("status")
@store_option
@click.option(
    "--check", is_flag=True, help="Exit with code 5 when the schema is not at the latest version."
)
@json_option
def status(store_url: str | None, check: bool, as_json: bool) -> None:
    """Show the store's schema version and whether migrations are pending."""
    with opened_store(store_url, create=False, admin=True) as store:
        info = status_of(store)
    if as_json:
        emit_json(info)
    else:
        fields(
            [
                ("store", info["store"]),
                ("backend", info["backend"]),
                ("schema version", info["schema_version"]),
                ("latest version", info["latest_version"]),
                ("status", info["detail"]),
            ]
        )
    if check and not info["up_to_date"]:
        found, latest = info["schema_version"], info["latest_version"]
        error = SchemaTooNewError if found > latest else SchemaTooOldError
        raise error(
            f"schema version {found}, latest {latest}: {info['detail']}",
            found=found,
            expected=latest,
        )


@db.command("upgrade")
@store_option
@json_option
def upgrade(store_url: str | None, as_json: bool) -> None:
    """Apply pending schema migrations."""
    with opened_store(store_url, create=True, admin=True) as store:
        schema = schema_of(store)
        applied = [] if schema is None else schema.migrate()
        info = status_of(store)
    if as_json:
        emit_json({**info, "applied": applied})
        return
    if schema is None:
        note(f"nothing to upgrade: {NO_SCHEMA}")
    elif applied:
        note(
            f"applied migration(s) {', '.join(map(str, applied))}; "
            f"schema at version {info['schema_version']}"
        )
    else:
        note(f"already at the latest schema version {info['schema_version']}")


@db.command("ddl")
@store_option
def ddl(store_url: str | None) -> None:
    """Print the full schema as SQL, for review or to apply by hand."""
    with opened_store(store_url, create=False, admin=True) as store:
        schema = schema_of(store)
        if schema is None:
            note(NO_SCHEMA)
            return
        click.echo(schema.ddl(), nl=False)
