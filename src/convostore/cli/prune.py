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

import click

from convostore.cli._common import emit_json, json_option, note, opened_store, store_options
from convostore.conversation import ConversationManager, SessionConfig
from convostore.store import Store

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")


def parse_duration(ctx: click.Context, param: click.Parameter, value: str | None
                   ) -> dt.timedelta | None:
    """``90``, ``90s``, ``30m``, ``12h``, ``7d`` or ``2w`` as a timedelta."""
    if value is None:
        return None
    match = _DURATION.match(value)
    if not match or float(match.group(1)) <= 0:
        raise click.BadParameter(
            f"{value!r} is not a positive duration such as 30m, 12h or 7d", ctx, param)
    return dt.timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2) or "s"])


def expire_idle(store: Store, idle: dt.timedelta, *, purge: bool) -> int:
    """Remove the sessions idle for longer than ``idle``; return how many."""
    manager = ConversationManager(store, SessionConfig(idle_timeout=idle))
    return manager.cleanup_expired(purge=purge)


@click.command()
@store_options
@click.option("--idle", callback=parse_duration, metavar="DURATION",
              help="Remove sessions idle for longer than this, e.g. 30m, 12h, 7d.")
@click.option("--keep", type=click.IntRange(1), metavar="N",
              help="Keep each user's N most recently active sessions; remove the rest.")
@click.option("--soft", is_flag=True,
              help="Soft-delete instead of purging, so threads restore can undo it.")
@json_option
def prune(store_url: str | None, tenant: str, idle: dt.timedelta | None, keep: int | None,
          soft: bool, as_json: bool) -> None:
    """Remove expired sessions and sessions over the per-user limit of a tenant.

    Give --idle, --keep or both. Removed threads are purged (gone for good) unless
    --soft is given. A session written to while prune runs is kept.
    """
    if idle is None and keep is None:
        raise click.UsageError("give --idle DURATION, --keep N or both")
    with opened_store(store_url, tenant) as store:
        expired = 0 if idle is None else expire_idle(store, idle, purge=not soft)
        over = 0 if keep is None else ConversationManager(store).enforce_max_sessions(
            keep, purge=not soft, per_user=True)
    if as_json:
        emit_json({"expired": expired, "over_limit": over, "purged": not soft})
        return
    verb = "soft-deleted" if soft else "purged"
    note(f"{verb} {expired} idle and {over} over-the-limit session(s)")
