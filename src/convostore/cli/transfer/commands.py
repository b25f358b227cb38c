"""The ``convostore export`` and ``convostore import`` commands."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import click

from convostore.cli._common import (
    emit_json,
    json_option,
    must_exist,
    note,
    opened_store,
    resolve_url,
    store_options,
)
from convostore.cli.transfer.exporting import export_stream
from convostore.cli.transfer.formats import DEFAULT_BATCH, _format_of, sniff_format
from convostore.cli.transfer.importing import import_source, import_stream
from convostore.cli.transfer.progress import _progress, progress_option
from convostore.errors import StoreNotFoundError
from convostore.importers import IMPORTERS, open_source

__all__ = ["export", "import_"]


@click.command("export")
@store_options
@click.argument("thread_id")
@click.option(
    "-o",
    "--output",
    metavar="FILE",
    default="-",
    show_default=True,
    help="Where to write; - is stdout. A file appears only once complete.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "jsonl"]),
    help="File format. [default: jsonl for a .jsonl/.ndjson FILE, else json]",
)
@progress_option
def export(
    store_url: str | None,
    tenant: str,
    thread_id: str,
    output: str,
    fmt: str | None,
    progress: bool | None,
) -> None:
    """Write a thread, messages included, to a JSON or JSONL file.

    JSON is the snapshot document that the library's import_thread reads; JSONL
    (a header line, then one message per line) suits threads of any size. Both are
    written while the messages are read, a page at a time.
    """
    fmt = _format_of(None if output == "-" else output, fmt)
    with opened_store(store_url, tenant, create=False) as store:
        total = store.get_thread(thread_id).message_count
        if output == "-":
            sys.stdout.flush()
            out = sys.stdout.buffer
            with _progress(progress, f"export {thread_id}", total, in_bytes=False) as tick:
                count = export_stream(store, thread_id, out, fmt, tick)
            out.flush()
            return
        path = Path(output)
        part = path.with_name(path.name + ".part")
        try:
            with (
                part.open("wb") as fh,
                _progress(progress, f"export {thread_id}", total, in_bytes=False) as tick,
            ):
                count = export_stream(store, thread_id, fh, fmt, tick)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(part, path)
        finally:
            part.unlink(missing_ok=True)
    note(f"exported {count} messages of thread {thread_id} to {output} ({fmt})")


@click.command("import")
@store_options
@click.argument("file", metavar="FILE|SOURCE")
@click.option(
    "--from",
    "source_format",
    type=click.Choice(sorted(IMPORTERS)),
    help="Import every conversation of another project's store instead of a "
    "convostore file: SOURCE is its database file or URL.",
)
@click.option(
    "--option",
    "source_options",
    metavar="KEY=VALUE",
    multiple=True,
    help="With --from, a setting of the source (e.g. a table name); repeatable.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "jsonl"]),
    help="File format. [default: jsonl for .jsonl/.ndjson or a JSONL header line, else json]",
)
@click.option(
    "--as",
    "thread_id",
    metavar="THREAD_ID",
    help="Store a copy under this thread id: its messages get fresh ids "
    "(parent links re-pointed), so it can sit beside the original.",
)
@click.option(
    "--keep-ids",
    is_flag=True,
    help="With --as, keep the file's message ids (for a copy in another "
    "tenant or store that must keep them).",
)
@click.option(
    "--batch",
    type=click.IntRange(1, 10_000),
    default=DEFAULT_BATCH,
    show_default=True,
    help="Messages per append.",
)
@click.option("--dry-run", is_flag=True, help="Validate the whole file; write nothing.")
@progress_option
@json_option
def import_(
    store_url: str | None,
    tenant: str,
    file: str,
    source_format: str | None,
    source_options: tuple[str, ...],
    fmt: str | None,
    thread_id: str | None,
    keep_ids: bool,
    batch: int,
    dry_run: bool,
    progress: bool | None,
    as_json: bool,
) -> None:
    """Import a thread from a JSON or JSONL file made by export (FILE - reads stdin),
    or with --from every conversation of another project's store.

    Both formats are read as a stream and appended in batches, so memory stays
    bounded for threads of any length. The thread stays hidden until every message
    is stored and their number is the one the file declares; a file cut short
    fails and leaves nothing visible. Re-running the import of the same file
    resumes or confirms it (with --as too); a thread holding other messages is a
    conflict (exit code 4).
    """
    if keep_ids and thread_id is None:
        raise click.UsageError("--keep-ids goes with --as THREAD_ID")
    if source_format is not None:
        if thread_id is not None or fmt is not None:
            raise click.UsageError("--as and --format go with a file, not with --from")
        _import_from(
            store_url,
            tenant,
            source_format,
            file,
            source_options,
            batch,
            dry_run,
            progress,
            as_json,
        )
        return
    if source_options:
        raise click.UsageError("--option goes with --from")
    if file != "-" and not Path(file).is_file():
        raise click.BadParameter(f"file {file!r} does not exist", param_hint="FILE")
    with contextlib.ExitStack() as stack:
        if file == "-":
            fh: IO[bytes] = sys.stdin.buffer
            size = None
        else:
            fh = stack.enter_context(open(file, "rb"))
            size = os.fstat(fh.fileno()).st_size
        first = fh.readline()
        fmt = fmt or sniff_format(first, None if file == "-" else file)
        lines = _chain(first, fh)
        store = stack.enter_context(
            opened_store(_dry_run_target(store_url, dry_run), tenant, create=not dry_run)
        )
        tick = stack.enter_context(
            _progress(progress, f"import {Path(file).name}", size, in_bytes=True)
        )
        result = import_stream(
            store,
            lines,
            fmt,
            thread_id=thread_id,
            new_ids=thread_id is not None and not keep_ids,
            batch=batch,
            dry_run=dry_run,
            tick=tick,
        )
    if as_json:
        emit_json(
            {
                "thread_id": result.thread_id,
                "format": result.format,
                "messages": result.messages,
                "appended": result.appended,
                "dry_run": dry_run,
            }
        )
        return
    if dry_run:
        note(
            f"valid {result.format}: thread {result.thread_id}, {result.messages} messages "
            "(nothing written)"
        )
    else:
        note(
            f"imported thread {result.thread_id}: {result.messages} messages, "
            f"{result.appended} newly stored"
        )


def _import_from(
    store_url: str | None,
    tenant: str,
    source_format: str,
    source: str,
    source_options: tuple[str, ...],
    batch: int,
    dry_run: bool,
    progress: bool | None,
    as_json: bool,
) -> None:
    options: dict[str, str] = {}
    for item in source_options:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--option")
        options[key] = value
    with contextlib.ExitStack() as stack:
        opened = open_source(source_format, source, options)
        stack.callback(opened.close)
        store = stack.enter_context(
            opened_store(_dry_run_target(store_url, dry_run), tenant, create=not dry_run)
        )
        tick = stack.enter_context(
            _progress(progress, f"import {source_format}", opened.total_messages(), in_bytes=False)
        )
        results = import_source(
            store, opened, source_format, batch=batch, dry_run=dry_run, tick=tick
        )
    threads = len(results)
    messages = sum(r.messages for r in results)
    appended = sum(r.appended for r in results)
    if as_json:
        emit_json(
            {
                "format": source_format,
                "threads": [
                    {"thread_id": r.thread_id, "messages": r.messages, "appended": r.appended}
                    for r in results
                ],
                "messages": messages,
                "appended": appended,
                "dry_run": dry_run,
            }
        )
        return
    if dry_run:
        note(f"valid {source_format}: {threads} threads, {messages} messages (nothing written)")
    else:
        note(
            f"imported {threads} threads from {source_format}: {messages} messages, "
            f"{appended} newly stored"
        )


def _dry_run_target(store_url: str | None, dry_run: bool) -> str | None:
    """The store to import into: for a dry run into a store that does not exist
    yet (the real import would create it), an empty in-memory stand-in, since a
    dry run only validates the file and must not create anything."""
    if not dry_run:
        return store_url
    try:
        must_exist(resolve_url(store_url))
    except StoreNotFoundError:
        return "memory://"
    return store_url


def _chain(first: bytes, rest: IO[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest
