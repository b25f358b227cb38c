"""``convostore search QUERY``: find messages from the terminal, best first.

Modelled on ``llm logs -q``: the query is words that must all occur,
``"quoted phrases"`` and ``prefix*`` words; filters are options; a table of
hits by default (each with a snippet, the matched words in ``[brackets]``),
``--json``/``--jsonl`` for the hits whole, ``--all`` to follow the cursor.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from convostore.cli._common import (
    json_option,
    jsonl_option,
    listed,
    note,
    opened_store,
    store_options,
    table,
)
from convostore.model import Role, SearchHit

COLUMNS = ("score", "thread", "seq", "role", "created", "id", "snippet")


def _time(_ctx: click.Context, param: click.Parameter, value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            "an ISO 8601 time, e.g. 2026-01-31 or 2026-01-31T12:00:00Z", param=param
        ) from None


def _row(h: SearchHit) -> tuple[object, ...]:
    m = h.message
    role = m.role.value + (" (deleted)" if m.is_deleted else "")
    return (f"{h.score:.4g}", h.thread_id, m.seq, role, m.created_at, m.id, h.snippet.render())


@click.command("search")
@store_options
@click.argument("query")
@click.option("--user", "user_id", metavar="ID", help="Only threads of this user.")
@click.option("--thread", "thread_id", metavar="ID", help="Only this thread.")
@click.option("--agent", "agent_name", metavar="NAME", help="Only threads of this agent.")
@click.option("--role", type=click.Choice([r.value for r in Role]), help="Only this role.")
@click.option("--model", metavar="NAME", help="Only messages of this model (metadata.model).")
@click.option("--tool", "tool_name", metavar="NAME", help="Only messages calling or answering it.")
@click.option("--execution", "execution_id", metavar="ID", help="Only this agent execution.")
@click.option("--since", callback=_time, metavar="TIME", help="Created at or after (ISO 8601).")
@click.option("--until", callback=_time, metavar="TIME", help="Created before (ISO 8601).")
@click.option("--deleted", "include_deleted", is_flag=True, help="Include deleted messages.")
@click.option(
    "-n", "--limit", type=click.IntRange(1), default=20, show_default=True, help="Hits per page."
)
@click.option(
    "--cursor", metavar="CURSOR", help="Continue from the next_cursor of a previous page."
)
@click.option("--all", "all_pages", is_flag=True, help="Follow the cursor through every page.")
@json_option
@jsonl_option
def search(
    store_url: str | None,
    tenant: str,
    query: str,
    user_id: str | None,
    thread_id: str | None,
    agent_name: str | None,
    role: str | None,
    model: str | None,
    tool_name: str | None,
    execution_id: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    include_deleted: bool,
    limit: int,
    cursor: str | None,
    all_pages: bool,
    as_json: bool,
    as_jsonl: bool,
) -> None:
    """Search the tenant's messages, best match first.

    QUERY is words that must all occur (any case), "quoted phrases" and
    prefix* words, e.g. 'invoice "next friday" refund*'. One page at a time:
    the cursor of the next page is printed on stderr (and as next_cursor with
    --json). --all follows it to the end.
    """
    with opened_store(store_url, tenant, create=False) as store:

        def fetch(nxt: str | None) -> Any:
            return store.search(
                query,
                user_id=user_id,
                thread_id=thread_id,
                agent_name=agent_name,
                role=role,
                model=model,
                tool_name=tool_name,
                execution_id=execution_id,
                since=since,
                until=until,
                include_deleted=include_deleted,
                limit=limit,
                cursor=nxt,
            )

        shown = listed(fetch, cursor, all_pages, as_json=as_json, as_jsonl=as_jsonl)
        if shown is None:
            return
        collected, next_cursor = shown
        table(COLUMNS, (_row(h) for h in collected))
        if next_cursor:
            note(f"more hits: --cursor {next_cursor}")
        elif not collected:
            note(f"no messages in tenant {tenant!r} match {query!r}")
