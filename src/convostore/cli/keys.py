"""``convostore keys``: issue, list and revoke the API keys of the HTTP server.

Keys live in the store they protect, so these commands need only ``--store``. The
token is printed once, by ``create``, and cannot be read back afterwards: only
its hash is stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from convostore.cli._common import (
    emit_json,
    json_option,
    note,
    opened_store,
    stdout_is_terminal,
    store_option,
    table,
)

if TYPE_CHECKING:
    from convostore.keys import ApiKey

COLUMNS = ("id", "tenant", "read-only", "label", "created", "revoked")


def _row(k: ApiKey) -> tuple[object, ...]:
    return (k.id, k.tenant, k.read_only, k.label, k.created_at, k.revoked_at)


@click.group()
def keys() -> None:
    """Issue, list and revoke API keys for the HTTP server."""


@keys.command("create")
@store_option
@click.option(
    "--tenant",
    required=True,
    metavar="NAME",
    help="Tenant that requests made with the key are scoped to.",
)
@click.option("--read-only", is_flag=True, help="The key may read but not write.")
@click.option("--label", metavar="TEXT", help="A note saying what the key is for.")
@json_option
def create(
    store_url: str | None, tenant: str, read_only: bool, label: str | None, as_json: bool
) -> None:
    """Issue a key; prints its token (the secret) once.

    With --json, prints the key's fields and its token as "key".
    """
    from convostore.keys import KeyManager

    with opened_store(store_url, create=True) as store:
        key, token = KeyManager(store).create(tenant, read_only=read_only, label=label)
    if as_json:
        emit_json({**key.model_dump(mode="json"), "key": token})
        return
    click.echo(token)
    if stdout_is_terminal():
        note(
            f"key {key.id} for tenant {key.tenant}"
            f"{' (read-only)' if key.read_only else ''}: keep the token above now, it "
            "cannot be shown again. Send it as 'Authorization: Bearer <token>'."
        )


@keys.command("list")
@store_option
@click.option("--tenant", metavar="NAME", help="Only keys of this tenant. [default: all]")
@json_option
def list_(store_url: str | None, tenant: str | None, as_json: bool) -> None:
    """List keys, revoked ones included, oldest first. Tokens are never shown."""
    from convostore.keys import KeyManager

    with opened_store(store_url, create=False) as store:
        found = KeyManager(store).list(tenant)
    if as_json:
        emit_json({"items": found})
        return
    table(COLUMNS, (_row(k) for k in found))


@keys.command("revoke")
@store_option
@click.argument("key_id")
@json_option
def revoke(store_url: str | None, key_id: str, as_json: bool) -> None:
    """Revoke a key at once; revoking it again changes nothing."""
    from convostore.keys import KeyManager

    with opened_store(store_url, create=False) as store:
        key = KeyManager(store).revoke(key_id)
    if as_json:
        emit_json(key)
        return
    note(f"revoked {key.id} (tenant {key.tenant})")
