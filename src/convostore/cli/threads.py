"""``convostore threads``: list, show, soft-delete, restore and purge threads;
fork them and list and activate their branches.

Deletion is two-step on purpose, as in the library: ``rm`` hides a thread and can
be undone with ``restore``; ``purge`` removes it and its messages for good and
asks first unless ``--yes`` is given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from convostore.cli._common import (
    emit_json,
    fields,
    json_option,
    jsonl_option,
    listed,
    note,
    opened_store,
    redact,
    resolve_url,
    store_options,
    table,
)
from convostore.model import Thread
from convostore.store import Store
from convostore.store.rules.validation import is_incomplete_import

COLUMNS = ("id", "user", "agent", "title", "messages", "updated", "deleted", "status")


def status(t: Thread) -> str:
    """``live``, ``deleted``, or ``importing`` for an import not finished (hidden
    like a deleted thread until the import completes)."""
    if is_incomplete_import(t):
        return "importing"
    return "live" if t.deleted_at is None else "deleted"


def _row(t: Thread) -> tuple[object, ...]:
    return (
        t.id,
        t.user_id,
        t.agent_name,
        t.title,
        t.message_count,
        t.updated_at,
        t.deleted_at,
        status(t),
    )


@click.group()
def threads() -> None:
    """List, inspect, delete, restore, purge and fork threads."""


@threads.command("list")
@store_options
@click.option("--user", "user_id", metavar="ID", help="Only threads of this user.")
@click.option("--agent", "agent_name", metavar="NAME", help="Only threads of this agent.")
@click.option("--deleted", "include_deleted", is_flag=True, help="Include soft-deleted threads.")
@click.option(
    "-n", "--limit", type=click.IntRange(1), default=50, show_default=True, help="Threads per page."
)
@click.option(
    "--cursor", metavar="CURSOR", help="Continue from the next_cursor of a previous page."
)
@click.option("--all", "all_pages", is_flag=True, help="Follow the cursor through every page.")
@json_option
@jsonl_option
def list_(
    store_url: str | None,
    tenant: str,
    user_id: str | None,
    agent_name: str | None,
    include_deleted: bool,
    limit: int,
    cursor: str | None,
    all_pages: bool,
    as_json: bool,
    as_jsonl: bool,
) -> None:
    """List threads, newest activity first.

    One page at a time: the cursor of the next page is printed on stderr (and as
    next_cursor with --json). --all follows it to the end.
    """
    with opened_store(store_url, tenant, create=False) as store:

        def fetch(nxt: str | None) -> Any:
            return store.list_threads(
                user_id=user_id,
                agent_name=agent_name,
                include_deleted=include_deleted,
                limit=limit,
                cursor=nxt,
            )

        shown = listed(fetch, cursor, all_pages, as_json=as_json, as_jsonl=as_jsonl)
        if shown is None:
            return
        collected, next_cursor = shown
        table(COLUMNS, (_row(t) for t in collected))
        if next_cursor:
            note(f"more threads: --cursor {next_cursor}")
        elif not collected:
            # An empty answer most often means "looked in the wrong place": say where.
            note(
                f"no threads in tenant {tenant!r} of {redact(resolve_url(store_url))}"
                f"{' matching the filters' if user_id or agent_name or cursor else ''}; "
                "--tenant or CONVOSTORE_TENANT picks another tenant (an API key's "
                "threads are in its tenant)"
            )


@threads.command("show")
@store_options
@click.argument("thread_id")
@json_option
def show(store_url: str | None, tenant: str, thread_id: str, as_json: bool) -> None:
    """Show one thread: owner, labels, counters and times."""
    with opened_store(store_url, tenant, create=False) as store:
        thread = store.get_thread(thread_id)
    if as_json:
        emit_json(thread)
        return
    fields(
        [
            ("id", thread.id),
            ("tenant", thread.tenant_id),
            ("user", thread.user_id),
            ("agent", thread.agent_name),
            ("model", thread.model),
            ("title", thread.title),
            ("messages", thread.message_count),
            ("turns", thread.turn_count),
            ("tool calls", thread.tool_call_count),
            ("tokens", thread.token_count),
            (
                "usage",
                f"{thread.usage.prompt_tokens} prompt + "
                f"{thread.usage.completion_tokens} completion = "
                f"{thread.usage.total_tokens} tokens",
            ),
            ("cost", f"{thread.cost.total_cost:.6g} {thread.cost.currency}"),
            ("created", thread.created_at),
            ("updated", thread.updated_at),
            ("ended", thread.ended_at),
            ("deleted", thread.deleted_at),
            ("revision", thread.revision),
        ]
    )


def _each(
    store_url: str | None,
    tenant: str,
    ids: tuple[str, ...],
    as_json: bool,
    verb: str,
    action: Callable[[Store, str], Thread],
) -> None:
    with opened_store(store_url, tenant, create=False) as store:
        for tid in ids:  # fail on a missing id before changing anything
            store.get_thread(tid)
        done = [action(store, tid) for tid in ids]
    if as_json:
        emit_json({"items": done})
        return
    for t in done:
        note(f"{verb} {t.id}")


@threads.command("rm")
@store_options
@click.argument("thread_ids", metavar="THREAD_ID...", nargs=-1, required=True)
@json_option
def rm(store_url: str | None, tenant: str, thread_ids: tuple[str, ...], as_json: bool) -> None:
    """Soft-delete threads: hidden from listings until restored or purged."""
    _each(store_url, tenant, thread_ids, as_json, "deleted", Store.delete_thread)


@threads.command("restore")
@store_options
@click.argument("thread_ids", metavar="THREAD_ID...", nargs=-1, required=True)
@json_option
def restore(store_url: str | None, tenant: str, thread_ids: tuple[str, ...], as_json: bool) -> None:
    """Undo rm: make soft-deleted threads visible and writable again."""
    _each(store_url, tenant, thread_ids, as_json, "restored", Store.restore_thread)


@threads.command("purge")
@store_options
@click.argument("thread_ids", metavar="THREAD_ID...", nargs=-1, required=True)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
def purge(
    store_url: str | None, tenant: str, thread_ids: tuple[str, ...], yes: bool, as_json: bool
) -> None:
    """Remove threads and all their messages for good. Cannot be undone."""
    with opened_store(store_url, tenant, create=False) as store:
        for tid in thread_ids:  # fail on a missing id before asking or deleting
            store.get_thread(tid)
        if not yes:
            click.confirm(
                f"Purge {len(thread_ids)} thread(s) and all their messages?", abort=True, err=True
            )
        for tid in thread_ids:
            store.purge_thread(tid)
    if as_json:
        emit_json({"purged": list(thread_ids)})
        return
    for tid in thread_ids:
        note(f"purged {tid}")


@threads.command("fork")
@store_options
@click.argument("thread_id")
@click.option(
    "--at", "at", metavar="MESSAGE_ID", help="The last shared message (default: the newest)."
)
@click.option("--at-seq", type=click.IntRange(min=0), help="The last shared seq, instead of --at.")
@click.option("--id", "branch_id", help="The branch's id (made up if left out).")
@click.option("--title", help="The branch's title (default: the source's).")
@json_option
def fork(
    store_url: str | None,
    tenant: str,
    thread_id: str,
    at: str | None,
    at_seq: int | None,
    branch_id: str | None,
    title: str | None,
    as_json: bool,
) -> None:
    """Make a branch of a thread that shares its history without copying it."""
    with opened_store(store_url, tenant, create=False) as store:
        branch = store.fork_thread(thread_id, at=at, at_seq=at_seq, id=branch_id, title=title)
    if as_json:
        emit_json(branch)
        return
    click.echo(branch.id)
    note(f"forked {thread_id} at seq {branch.fork_seq} into {branch.id}")


@threads.command("branches")
@store_options
@click.argument("thread_id")
@json_option
def branches(store_url: str | None, tenant: str, thread_id: str, as_json: bool) -> None:
    """List the branch tree a thread belongs to, oldest first: each branch's
    parent and fork point, the seqs it shares with THREAD_ID, and the active one."""
    with opened_store(store_url, tenant, create=False) as store:
        found = store.branches(thread_id)
    if as_json:
        emit_json({"items": found})
        return
    table(
        ("id", "parent", "fork seq", "shared", "messages", "active", "title", "status"),
        [
            (
                b.thread.id,
                b.thread.parent_thread_id,
                b.thread.fork_seq,
                b.shared_seq,
                b.thread.message_count,
                "*" if b.is_active else "",
                b.thread.title,
                status(b.thread),
            )
            for b in found
        ],
    )


@threads.command("activate")
@store_options
@click.argument("branch_id")
@json_option
def activate(store_url: str | None, tenant: str, branch_id: str, as_json: bool) -> None:
    """Make a branch the active one of its tree (the one conversations resume)."""
    with opened_store(store_url, tenant, create=False) as store:
        root = store.set_active_branch(branch_id)
    if as_json:
        emit_json(root)
        return
    note(f"{branch_id} is the active branch of {root.id}")
