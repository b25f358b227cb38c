"""``convostore prune``: retention for a tenant, from cron or by hand.

Two rules: sessions idle for longer than a timeout expire (the conversation
layer's own rule, applied through :class:`~convostore.conversation.ConversationManager`
so the CLI and the library agree on what "expired" means), and each user keeps at
most N sessions, the most recently active ones (the manager's per-user retention).
Either way a thread written to between listing and removal is kept.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from dataclasses import dataclass
from typing import Any, cast

import click

from convostore.cli._common import (
    emit_json,
    json_option,
    note,
    opened_store,
    store_options,
    table,
)
from convostore.conversation import ConversationManager, SessionConfig
from convostore.model import Page, Thread
from convostore.store import Store

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*")


def parse_duration(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> dt.timedelta | None:
    """``90``, ``90s``, ``30m``, ``12h``, ``7d`` or ``2w`` as a timedelta."""
    if value is None:
        return None
    match = _DURATION.fullmatch(value)
    if not match or float(match.group(1)) <= 0:
        raise click.BadParameter(
            f"{value!r} is not a positive duration such as 30m, 12h or 7d", ctx, param
        )
    return dt.timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2) or "s"])


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


@dataclass(frozen=True, slots=True)
class Removal:
    thread: Thread
    reason: str
    """``idle`` or ``over-limit``."""


class _Observed:
    """The store as the conversation manager sees it during a prune.

    The manager decides what expires and what is over the limit (so the CLI and
    the library never disagree on it); this wrapper only watches: it remembers the
    threads the manager listed and records each one it removes. On a dry run the
    removal is recorded and not made, and threads already recorded are left out
    of later listings, as a real removal would leave them out.
    """

    def __init__(self, store: Store, *, dry_run: bool) -> None:
        self._store = store
        self._dry_run = dry_run
        self._listed: dict[str, Thread] = {}
        self.removed: list[Removal] = []
        self.reason = "idle"

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def list_threads(self, *args: Any, **kwargs: Any) -> Page[Thread]:
        page = self._store.list_threads(*args, **kwargs)
        gone = {r.thread.id for r in self.removed}
        items = [t for t in page.items if t.id not in gone]
        self._listed.update((t.id, t) for t in items)
        return page.model_copy(update={"items": items})

    def _remove(self, method: str, thread_id: str, kwargs: dict[str, Any]) -> Any:
        thread = self._listed.get(thread_id) or self._store.get_thread(thread_id)
        result = None
        if not self._dry_run:
            result = getattr(self._store, method)(thread_id, **kwargs)
        self.removed.append(Removal(thread, self.reason))
        return result

    def purge_thread(self, thread_id: str, **kwargs: Any) -> Any:
        return self._remove("purge_thread", thread_id, kwargs)

    def delete_thread(self, thread_id: str, **kwargs: Any) -> Any:
        return self._remove("delete_thread", thread_id, kwargs)


def run_rules(
    store: Store, idle: dt.timedelta | None, keep: int | None, *, purge: bool, dry_run: bool
) -> list[Removal]:
    """Apply the idle rule, then the per-user limit; return what was (or, on a dry
    run, would be) removed, in that order."""
    observed = _Observed(store, dry_run=dry_run)
    as_store = cast(Store, observed)
    if idle is not None:
        manager = ConversationManager(as_store, SessionConfig(idle_timeout=idle))
        manager.cleanup_expired(purge=purge)
    if keep is not None:
        observed.reason = "over-limit"
        ConversationManager(as_store).enforce_max_sessions(keep, purge=purge, per_user=True)
    return observed.removed


COLUMNS = ("id", "user", "agent", "title", "messages", "updated", "reason")


def _report(removed: list[Removal], *, purge: bool, dry_run: bool, as_json: bool) -> None:
    expired = sum(r.reason == "idle" for r in removed)
    if as_json:
        emit_json(
            {
                "expired": expired,
                "over_limit": len(removed) - expired,
                "purged": purge,
                "dry_run": dry_run,
                "threads": [
                    {
                        "id": r.thread.id,
                        "user_id": r.thread.user_id,
                        "agent_name": r.thread.agent_name,
                        "title": r.thread.title,
                        "message_count": r.thread.message_count,
                        "updated_at": r.thread.updated_at,
                        "reason": r.reason,
                    }
                    for r in removed
                ],
            }
        )
        return
    if not removed:
        note("nothing to prune")
        return
    table(
        COLUMNS,
        (
            (
                r.thread.id,
                r.thread.user_id,
                r.thread.agent_name,
                r.thread.title,
                r.thread.message_count,
                r.thread.updated_at,
                r.reason,
            )
            for r in removed
        ),
    )
    verb = "purge" if purge else "soft-delete"
    done = f"would {verb}" if dry_run else ("purged" if purge else "soft-deleted")
    note(
        f"{done} {len(removed)} thread(s): {expired} idle, {len(removed) - expired} over "
        "the limit" + (" (nothing changed)" if dry_run else "")
    )


@click.command()
@store_options
@click.option(
    "--idle",
    callback=parse_duration,
    metavar="DURATION",
    help="Remove sessions idle for longer than this, e.g. 30m, 12h, 7d.",
)
@click.option(
    "--keep",
    type=click.IntRange(1),
    metavar="N",
    help="Keep each user's N most recently active sessions; remove the rest.",
)
@click.option(
    "--soft", is_flag=True, help="Soft-delete instead of purging, so threads restore can undo it."
)
@click.option(
    "--dry-run", is_flag=True, help="List the threads that would be removed; change nothing."
)
@click.option(
    "-y",
    "--yes",
    is_flag=True,
    help="Purge without asking. Needed to purge when stdin is not a terminal.",
)
@json_option
def prune(
    store_url: str | None,
    tenant: str,
    idle: dt.timedelta | None,
    keep: int | None,
    soft: bool,
    dry_run: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Remove expired sessions and sessions over the per-user limit of a tenant.

    Give --idle, --keep or both. Removed threads are purged (gone for good) unless
    --soft is given; a purge first lists what it would remove and asks, unless --yes
    is given (without a terminal to ask on, it refuses with exit code 2). --dry-run
    only lists. The threads removed are printed (a table, or "threads" with --json).
    A session written to while prune runs is kept.
    """
    if idle is None and keep is None:
        raise click.UsageError("give --idle DURATION, --keep N or both")
    purge = not soft
    with opened_store(store_url, tenant, create=False) as store:
        if purge and not dry_run and not yes:
            planned = run_rules(store, idle, keep, purge=purge, dry_run=True)
            if not planned:
                _report(planned, purge=purge, dry_run=False, as_json=as_json)
                return
            question = (
                f"Purge {len(planned)} thread(s) and all their messages for good? "
                f"({', '.join(r.thread.id for r in planned[:5])}"
                f"{', ...' if len(planned) > 5 else ''})"
            )
            if not stdin_is_terminal():
                raise click.UsageError(
                    f"prune would purge {len(planned)} thread(s) for good: pass --yes to "
                    "confirm (or --dry-run to list them, --soft to make it undoable)"
                )
            click.confirm(question, abort=True, err=True)
        removed = run_rules(store, idle, keep, purge=purge, dry_run=dry_run)
    _report(removed, purge=purge, dry_run=dry_run, as_json=as_json)
