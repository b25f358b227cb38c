"""Plumbing shared by every command: store and output options, opening the store,
printing for people and for programs.

Keeping these here keeps the commands uniform: each takes ``--store`` (or
``CONVOSTORE_URL``) and ``--tenant`` the same way, and prints either for a person
(a rich table on a terminal, tab-separated text in a pipe) or for a program
(``--json`` documents, ``--jsonl`` lines), with datetimes in ISO 8601 UTC.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import click

from convostore.errors import MessageNotFoundError, StoreNotFoundError, ThreadNotFoundError
from convostore.store import DEFAULT_URL, Store, open_store, url_from_env
from convostore.store.registry import path_of

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

JSON_META = "convostore.json"
"""``ctx.meta`` key set when machine output was asked for, so errors follow suit."""


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("convostore")
    except PackageNotFoundError:  # running from a source tree
        return "unknown"


# --- options -----------------------------------------------------------------


def store_option(f: F) -> F:
    return click.option(
        "--store",
        "store_url",
        metavar="URL",
        envvar="CONVOSTORE_URL",
        show_envvar=True,
        help=f"Store URL: sqlite:///file.db, json:///dir, postgresql://..., memory://. "
        f"[default: {DEFAULT_URL}]",
    )(f)


def tenant_option(f: F) -> F:
    return click.option(
        "--tenant",
        default="default",
        show_default=True,
        metavar="NAME",
        envvar="CONVOSTORE_TENANT",
        show_envvar=True,
        help="Tenant whose data the command reads and writes; an API key's threads "
        "are in the key's tenant.",
    )(f)


def store_options(f: F) -> F:
    """``--store`` and ``--tenant``."""
    return store_option(tenant_option(f))


def _mark_json(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta[JSON_META] = True
    return value


def json_option(f: F) -> F:
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        callback=_mark_json,
        expose_value=True,
        help="Print one JSON document (errors become a JSON object on stderr).",
    )(f)


def jsonl_option(f: F) -> F:
    return click.option(
        "--jsonl",
        "as_jsonl",
        is_flag=True,
        callback=_mark_json,
        help="Print one JSON object per line.",
    )(f)


# --- the store ---------------------------------------------------------------


def resolve_url(url: str | None) -> str:
    """The store URL of ``--store``, else ``CONVOSTORE_URL``, else the default."""
    return url or url_from_env()


_EXPLICIT_MIGRATIONS = ("postgresql", "postgres", "postgresql+psycopg")
_HINT = (
    "check --store or CONVOSTORE_URL; commands that write, such as import, keys "
    "create or db upgrade, create it"
)


def must_exist(url: str) -> None:
    """Raise :class:`StoreNotFoundError` when ``url`` names a store on disk (a SQLite
    file or a JSON directory) that is not there.

    Opening a file store creates it, its directories included, which is right for
    a command that stores something and wrong for one that only reads or changes
    what is stored: a mistyped path would become an empty store that answers "no
    threads". Memory and PostgreSQL stores are never created by opening them.
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("sqlite", "json"):
        return
    path, _ = path_of(url)
    if scheme == "sqlite" and path == ":memory:":
        return
    if not os.path.exists(path):
        raise StoreNotFoundError(redact(url), path, hint=_HINT)


def _open(url: str, *, admin: bool = False) -> Store:
    # A PostgreSQL store refuses to open below the latest schema, which is right
    # for applications but would keep `db upgrade` from ever running.
    if admin and urlsplit(url).scheme.lower() in _EXPLICIT_MIGRATIONS:
        return open_store(url, check_schema=False)
    return open_store(url)


@contextmanager
def opened_store(
    url: str | None, tenant: str | None = None, *, create: bool, admin: bool = False
) -> Iterator[Store]:
    """The store at ``url`` bound to ``tenant`` (the store's default when ``None``),
    closed on exit.

    ``create`` says whether the command may create the store: only commands that
    store something new (import, keys create, db upgrade) pass ``True``; the
    others fail with :class:`StoreNotFoundError` rather than leave an empty store
    behind. ``admin`` opens a store whose schema may be behind, for schema commands.

    A thread or message that is not found while the store is open is reported with
    the tenant and store it was looked for in: the usual cause is looking in the
    wrong tenant (an API key's threads are in the key's tenant).
    """
    resolved = resolve_url(url)
    if not create:
        must_exist(resolved)
    base = _open(resolved, admin=admin)
    try:
        yield base if tenant is None or tenant == base.tenant_id else base.tenant(tenant)
    except (ThreadNotFoundError, MessageNotFoundError) as exc:
        if tenant is not None:
            exc.add_note(
                f"in tenant {tenant!r} of {redact(resolved)}; --tenant or "
                "CONVOSTORE_TENANT picks another tenant"
            )
        raise
    finally:
        base.close()


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``, safe to print."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[-1]}"))


# --- output ------------------------------------------------------------------


def jsonable(obj: Any) -> Any:
    """A JSON-ready form of a model, dataclass, datetime or plain value."""
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dt.datetime | dt.date):
        return obj.isoformat()
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    return obj


def emit_json(obj: Any) -> None:
    click.echo(json.dumps(jsonable(obj), ensure_ascii=False, indent=2))


def listed(
    fetch: Callable[[str | None], Any],
    cursor: str | None,
    all_pages: bool,
    *,
    as_json: bool,
    as_jsonl: bool,
) -> tuple[list[Any], str | None] | None:
    """A paged listing as the listing commands print it: ``fetch(cursor)``
    returns a page (``items``, ``next_cursor``), followed to the end with
    ``all_pages``. With ``as_jsonl`` each page's items are printed as they
    come, with ``as_json`` one object with ``next_cursor``; both return
    ``None``. Otherwise the items and the cursor after them, for a table."""

    def pages() -> Iterator[tuple[list[Any], str | None]]:
        nxt = cursor
        while True:
            page = fetch(nxt)
            yield page.items, page.next_cursor
            nxt = page.next_cursor
            if not all_pages or nxt is None:
                return

    if as_jsonl:
        for items, _ in pages():
            emit_jsonl(items)
        return None
    collected: list[Any] = []
    next_cursor: str | None = None
    for items, cursor_after in pages():
        collected.extend(items)
        next_cursor = cursor_after
    if as_json:
        emit_json({"items": collected, "next_cursor": next_cursor})
        return None
    return collected, next_cursor


def emit_jsonl(items: Iterable[Any]) -> None:
    for item in items:
        click.echo(json.dumps(jsonable(item), ensure_ascii=False))


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def when(value: dt.datetime | None) -> str:
    """A datetime as ``YYYY-MM-DD HH:MM:SS`` UTC, or ``-``."""
    if value is None:
        return "-"
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def table(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None
) -> None:
    """Rows as a rich table on a terminal, else as tab-separated lines with a header.

    Every cell is printed as the text it holds: titles, message text and ids are
    user data, and rich would read ``[red]``, ``[/x]`` or ``[link=...]`` in them as
    markup (restyling them, dropping them, or failing the whole listing). A cell
    that should be styled is passed as a :class:`Styled` value.
    """
    cells = [[_cell(v) for v in row] for row in rows]
    if stdout_is_terminal():
        from rich.table import Table

        t = Table(*columns, title=_text(title), title_justify="left")
        for row in cells:
            t.add_row(*(_text(c) for c in row))
        _print(t)
        return
    click.echo("\t".join(columns))
    for row in cells:
        click.echo("\t".join(_flat(c) for c in row))


def fields(pairs: Iterable[tuple[str, Any]], *, title: str | None = None) -> None:
    """Name/value pairs: a two-column rich table on a terminal, ``name: value`` lines else.

    Values are printed as the text they hold, never read as markup (see :func:`table`).
    """
    items = [(k, _cell(v)) for k, v in pairs]
    if stdout_is_terminal():
        from rich.table import Table

        t = Table(show_header=False, title=_text(title), title_justify="left", box=None)
        t.add_column(style="bold")
        t.add_column()
        for k, v in items:
            t.add_row(_text(k), _text(v))
        _print(t)
        return
    for k, v in items:
        click.echo(f"{k}: {v}")


@dataclasses.dataclass(frozen=True, slots=True)
class Styled:
    """A cell printed in a rich style on a terminal (e.g. ``"red"``), plain elsewhere."""

    text: str
    style: str

    def __str__(self) -> str:
        return self.text


def _print(renderable: Any) -> None:
    from rich.console import Console

    # markup and emoji codes are off for the console as a whole, so no string that
    # reaches it (a title, a column name) is ever interpreted.
    Console(markup=False, emoji=False, highlight=False).print(renderable)


def _text(value: str | Styled | None) -> Any:
    """``value`` as a rich ``Text``: literal characters, never markup."""
    if value is None:
        return None
    from rich.text import Text

    if isinstance(value, Styled):
        return Text(value.text, style=value.style)
    return Text(value)


def _flat(value: str | Styled) -> str:
    """A cell on one tab-separated line."""
    return str(value).replace("\t", " ").replace("\n", " ").replace("\r", " ")


def _cell(value: Any) -> str | Styled:
    if value is None:
        return "-"
    if isinstance(value, Styled):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return when(value)
    return str(value)


def note(message: str) -> None:
    """A human-facing remark on stderr, so stdout stays clean for pipes."""
    click.echo(message, err=True)
