"""``convostore prune``: apply the retention rules of the conversation layer.

Two rules, as in the conversation layer that owns them: sessions idle for longer
than a timeout expire, and each user keeps at most N sessions (the oldest go
first). The CLI only parses durations and reports counts, so a cron job and the
library apply exactly the same rules.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import click

from convostore.cli._common import emit_json, json_option, note, opened_store, store_options
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


def _count(result: Any) -> int:
    if isinstance(result, int):
        return result
    try:
        return len(result)
    except TypeError:
        return 0


def run_prune(store: Store, idle: dt.timedelta | None, keep: int | None) -> dict[str, int]:
    from convostore.conversation import ConversationConfig, ConversationManager

    config = ConversationConfig() if idle is None else ConversationConfig(idle_timeout=idle)
    manager = ConversationManager(store, config)
    expired = _count(manager.cleanup_expired()) if idle is not None else 0
    trimmed = _count(manager.enforce_max_sessions(keep)) if keep is not None else 0
    return {"expired": expired, "over_limit": trimmed}


@click.command()
@store_options
@click.option("--idle", callback=parse_duration, metavar="DURATION",
              help="Remove sessions idle for longer than this, e.g. 30m, 12h, 7d.")
@click.option("--keep", type=click.IntRange(1), metavar="N",
              help="Keep at most N sessions per user; the least recently active go.")
@json_option
def prune(store_url: str | None, tenant: str, idle: dt.timedelta | None, keep: int | None,
          as_json: bool) -> None:
    """Remove expired sessions and sessions over the per-user limit.

    Give --idle, --keep or both; the counts of removed sessions are printed.
    """
    if idle is None and keep is None:
        raise click.UsageError("give --idle DURATION, --keep N or both")
    with opened_store(store_url, tenant) as store:
        counts = run_prune(store, idle, keep)
    if as_json:
        emit_json(counts)
        return
    note(f"expired: {counts['expired']}, over the per-user limit: {counts['over_limit']}")
