"""``convostore messages pop|purge|restore|clear|trim|replace``: change a thread's
messages from the terminal, one atomic store call each.

Each prints what it did (``--json`` for the messages or counts), and takes
``--expected-revision`` to refuse a thread that changed since it was read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import IO, Any, TypeVar

import click

from convostore.cli._common import emit_json, json_option, note, opened_store, store_options
from convostore.cli.messages import _row, messages
from convostore.errors import ValidationError
from convostore.model import Message
from convostore.store import Store

F = TypeVar("F", bound=Callable[..., Any])


def _revision_option(f: F) -> F:
    return click.option(
        "--expected-revision",
        type=click.IntRange(0),
        default=None,
        help="Refuse (a conflict) unless the thread is at this revision.",
    )(f)


def _one(
    store_url: str | None,
    tenant: str,
    as_json: bool,
    verb: str,
    call: Callable[[Store], Message | None],
) -> None:
    """Run ``call`` on the store and print the one message it answers with."""
    with opened_store(store_url, tenant, create=False) as store:
        message = call(store)
    if as_json:
        emit_json({"message": message})
    elif message is None:
        note("no message")
    else:
        seq, turn, role, _, mid, body = _row(message, True)
        note(f"{verb} {mid} (seq {seq}, turn {turn}, {role}): {body}")


@messages.command("pop")
@store_options
@click.argument("thread_id")
@_revision_option
@json_option
def pop(
    store_url: str | None,
    tenant: str,
    thread_id: str,
    expected_revision: int | None,
    as_json: bool,
) -> None:
    """Remove the newest message of a thread for good and print it."""
    _one(
        store_url,
        tenant,
        as_json,
        "popped",
        lambda s: s.pop_message(thread_id, expected_revision=expected_revision),
    )


@messages.command("purge")
@store_options
@click.argument("message_id")
@_revision_option
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
def purge(
    store_url: str | None,
    tenant: str,
    message_id: str,
    expected_revision: int | None,
    yes: bool,
    as_json: bool,
) -> None:
    """Remove one message for good; the later ones move down one seq."""

    def purged(store: Store) -> Message:
        store.get_message(message_id)  # a missing id fails before asking
        if not yes:
            click.confirm(f"Purge message {message_id} for good?", abort=True, err=True)
        return store.purge_message(message_id, expected_revision=expected_revision)

    _one(store_url, tenant, as_json, "purged", purged)


@messages.command("restore")
@store_options
@click.argument("message_id")
@_revision_option
@json_option
def restore(
    store_url: str | None,
    tenant: str,
    message_id: str,
    expected_revision: int | None,
    as_json: bool,
) -> None:
    """Undo a soft delete: the message is live again, at its seq."""
    _one(
        store_url,
        tenant,
        as_json,
        "restored",
        lambda s: s.restore_message(message_id, expected_revision=expected_revision),
    )


@messages.command("clear")
@store_options
@click.argument("thread_id")
@click.option(
    "--mode",
    type=click.Choice(["archive", "delete", "purge"]),
    default="archive",
    show_default=True,
    help="Archive (readable, out of context windows), soft-delete, or purge for good.",
)
@click.option(
    "--keep",
    type=click.Choice(["mandatory", "system", "none"]),
    default="mandatory",
    show_default=True,
    help="Leave in place the system and pinned messages, the system ones, or none.",
)
@_revision_option
@json_option
def clear(
    store_url: str | None,
    tenant: str,
    thread_id: str,
    mode: str,
    keep: str,
    expected_revision: int | None,
    as_json: bool,
) -> None:
    """Take every active message of a thread out of its active history at once."""
    with opened_store(store_url, tenant, create=False) as store:
        n = store.clear_messages(
            thread_id,
            mode=mode,  # type: ignore[arg-type]
            keep=keep,  # type: ignore[arg-type]
            expected_revision=expected_revision,
        )
    if as_json:
        emit_json({"thread_id": thread_id, "cleared": n, "mode": mode})
    else:
        note(f"cleared {n} message(s) of {thread_id} ({mode})")


@messages.command("trim")
@store_options
@click.argument("thread_id")
@click.argument("n", type=click.IntRange(0, 10_000))
@click.option(
    "--mode",
    type=click.Choice(["archive", "delete", "purge"]),
    default="archive",
    show_default=True,
    help="Archive (readable, out of context windows), soft-delete, or purge for good.",
)
@click.option(
    "--keep",
    type=click.Choice(["mandatory", "system", "none"]),
    default="mandatory",
    show_default=True,
    help="Skip the system and pinned messages, the system ones, or none.",
)
@_revision_option
@json_option
def trim(
    store_url: str | None,
    tenant: str,
    thread_id: str,
    n: int,
    mode: str,
    keep: str,
    expected_revision: int | None,
    as_json: bool,
) -> None:
    """Take the oldest N active messages of a thread out of its active history."""
    with opened_store(store_url, tenant, create=False) as store:
        taken = store.trim_messages(
            thread_id,
            n,
            mode=mode,  # type: ignore[arg-type]
            keep=keep,  # type: ignore[arg-type]
            expected_revision=expected_revision,
        )
    if as_json:
        emit_json({"thread_id": thread_id, "mode": mode, "messages": [m.id for m in taken]})
    else:
        note(f"trimmed {len(taken)} message(s) of {thread_id} ({mode})")


def _read_messages(source: IO[str]) -> list[Any]:
    """Messages from a JSON array, a ``{"messages": [...]}`` object or JSON lines."""
    text = source.read()
    try:
        data = json.loads(text) if text.strip() else []
    except ValueError:
        try:
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError as exc:
            raise ValidationError(f"not JSON or JSON lines: {exc}", field="messages") from None
    if isinstance(data, dict) and "messages" in data:
        data = data["messages"]
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise ValidationError("must be a list of messages", field="messages")
    return data


@messages.command("replace")
@store_options
@click.argument("thread_id")
@click.argument("source", type=click.File("r", encoding="utf-8"), metavar="FILE")
@_revision_option
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
def replace(
    store_url: str | None,
    tenant: str,
    thread_id: str,
    source: IO[str],
    expected_revision: int | None,
    yes: bool,
    as_json: bool,
) -> None:
    """Make the messages of FILE (JSON, JSON lines, ``-`` for stdin) the thread's
    whole history, in one write; every message it holds now goes for good."""
    batch = _read_messages(source)
    with opened_store(store_url, tenant, create=False) as store:
        thread = store.get_thread(thread_id)
        if not yes:
            click.confirm(
                f"Replace the {thread.message_count} message(s) of {thread_id} with {len(batch)}?",
                abort=True,
                err=True,
            )
        stored = store.replace_messages(thread_id, batch, expected_revision=expected_revision)
    if as_json:
        emit_json({"thread_id": thread_id, "items": stored})
    else:
        note(f"replaced the history of {thread_id} with {len(stored)} message(s)")
