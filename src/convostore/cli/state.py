"""``convostore state``: show, set and unset user, app and thread state.

One scope per command: ``--user ID`` (the state every thread of that user
shares), ``--app`` (the tenant's) or ``--thread ID`` (the data of one thread's
state). ``set`` and ``unset`` change only the keys they name, in one atomic
write, so concurrent writers of other keys keep theirs; ``--if-revision N``
makes the write happen only at that revision.
"""

from __future__ import annotations

import json
from typing import Any

import click

from convostore.cli._common import emit_json, fields, json_option, opened_store, store_options
from convostore.errors import ValidationError
from convostore.model import StateChange, StateUpdate
from convostore.store import Store


def _scope_options(f: Any) -> Any:
    f = click.option(
        "--thread", "thread_id", metavar="ID", help="The data of this thread's state."
    )(f)
    f = click.option("--app", "app", is_flag=True, help="The tenant's app state.")(f)
    f = click.option(
        "--user", "user_id", metavar="ID", help="The state shared by this user's threads."
    )(f)
    return f


def _revision_option(f: Any) -> Any:
    return click.option(
        "--if-revision",
        "expected",
        type=click.IntRange(0),
        metavar="N",
        help="Write only if the state (for --thread: the thread) is at revision N.",
    )(f)


def _scope(user_id: str | None, app: bool, thread_id: str | None) -> str:
    given = [name for name, on in (("user", user_id), ("app", app), ("thread", thread_id)) if on]
    if len(given) != 1:
        raise click.UsageError("name one scope: --user ID, --app or --thread ID")
    return given[0]


def _write(
    store: Store,
    scope: str,
    user_id: str | None,
    thread_id: str | None,
    update: StateUpdate,
) -> tuple[dict[str, Any], int]:
    """Apply ``update`` to the scope; the values and revision it now has."""
    if scope == "thread":
        assert thread_id is not None
        store.append(thread_id, [], state=StateChange(thread=update))
        thread = store.get_thread(thread_id)
        return dict(thread.state.data), thread.revision
    state = store.update_state(
        scope,
        user_id=user_id,
        changes=update.changes,
        remove=update.remove,
        expected_revision=update.expected_revision,
    )
    return dict(state.data), state.revision


def _show(data: dict[str, Any], revision: int, as_json: bool) -> None:
    if as_json:
        emit_json({"data": data, "revision": revision})
        return
    fields([("revision", revision), *((k, json.dumps(v)) for k, v in sorted(data.items()))])


def _value(text: str) -> Any:
    """A value given on the command line: JSON if it parses, else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


@click.group()
def state() -> None:
    """Show and change user, app and thread state."""


@state.command()
@store_options
@_scope_options
@json_option
def show(
    store_url: str | None,
    tenant: str,
    user_id: str | None,
    app: bool,
    thread_id: str | None,
    as_json: bool,
) -> None:
    """Show the values and revision of one scope's state."""
    scope = _scope(user_id, app, thread_id)
    with opened_store(store_url, tenant, create=False) as store:
        if scope == "thread":
            assert thread_id is not None
            thread = store.get_thread(thread_id)
            data, revision = dict(thread.state.data), thread.revision
        else:
            found = store.get_state(scope, user_id=user_id)
            data, revision = dict(found.data), found.revision
    _show(data, revision, as_json)


@state.command("set")
@store_options
@_scope_options
@_revision_option
@click.argument("pairs", nargs=-1, required=True, metavar="KEY VALUE [KEY VALUE]...")
@json_option
def set_(
    store_url: str | None,
    tenant: str,
    user_id: str | None,
    app: bool,
    thread_id: str | None,
    expected: int | None,
    pairs: tuple[str, ...],
    as_json: bool,
) -> None:
    """Set keys, keeping the others. A VALUE is read as JSON (42, true, "text",
    [1, 2], {"a": 1}); one that is not JSON is taken as a string."""
    scope = _scope(user_id, app, thread_id)
    if len(pairs) % 2:
        raise click.UsageError("give KEY VALUE pairs")
    changes = {pairs[i]: _value(pairs[i + 1]) for i in range(0, len(pairs), 2)}
    with opened_store(store_url, tenant, create=False) as store:
        update = _update(changes=changes, expected_revision=expected)
        data, revision = _write(store, scope, user_id, thread_id, update)
    _show(data, revision, as_json)


@state.command()
@store_options
@_scope_options
@_revision_option
@click.argument("keys", nargs=-1, required=True, metavar="KEY...")
@json_option
def unset(
    store_url: str | None,
    tenant: str,
    user_id: str | None,
    app: bool,
    thread_id: str | None,
    expected: int | None,
    keys: tuple[str, ...],
    as_json: bool,
) -> None:
    """Remove keys, keeping the others (a key that is not set is no error)."""
    scope = _scope(user_id, app, thread_id)
    with opened_store(store_url, tenant, create=False) as store:
        update = _update(remove=list(keys), expected_revision=expected)
        data, revision = _write(store, scope, user_id, thread_id, update)
    _show(data, revision, as_json)


def _update(**fields_: Any) -> StateUpdate:
    try:
        return StateUpdate(**fields_)
    except ValueError as exc:  # pydantic's, for a value no JSON holds
        raise ValidationError(str(exc).splitlines()[0], field="state") from None
