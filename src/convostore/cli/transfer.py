"""``convostore export`` and ``convostore import``: move whole threads in and out.

Two file formats, because they answer different needs:

* **JSON** is the :class:`~convostore.model.ConversationSnapshot` document the
  library itself exports and imports. Export streams it; import parses the whole
  document and stores it atomically through ``import_thread`` (exact copy: times,
  deletions and counters), so its memory grows with the thread.
* **JSONL** is for threads of any size. Line 1 is a header
  ``{"format": "convostore.thread+jsonl", "version": 1, "thread": {...}}``, then
  one message per line in seq order. Import reads a line at a time and appends
  batches to a freshly created thread, so memory stays bounded by the batch size,
  however long the thread. Message ids are kept, so re-running an interrupted or
  completed import resumes it (the messages already stored are checked, not added
  again); a thread holding other messages is a conflict. The thread's
  ``updated_at`` becomes the import time and deleted messages are marked deleted
  at import time.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import click

from convostore._ids import new_id
from convostore.cli._common import (
    emit_json,
    json_option,
    must_exist,
    note,
    opened_store,
    resolve_url,
    store_options,
)
from convostore.errors import (
    ConflictError,
    StoreNotFoundError,
    ThreadExistsError,
    ValidationError,
)
from convostore.model import SNAPSHOT_VERSIONS, Message, Thread, utcnow
from convostore.snapshot_stream import JSON_TAIL, json_head, json_messages, past_cut
from convostore.store import Store
from convostore.store.rules.append import same_content
from convostore.store.rules.snapshots import check_snapshot_version
from convostore.store.rules.validation import is_incomplete_import, translate_validation

__all__ = ["JSONL_FORMAT", "ImportResult", "export_stream", "import_stream"]

JSONL_FORMAT = "convostore.thread+jsonl"
DEFAULT_BATCH = 1000
_JSONL_SUFFIXES = (".jsonl", ".ndjson")

F = TypeVar("F", bound=Callable[..., Any])
Tick = Callable[[int, int], None]
"""Progress callback: (bytes or messages done since the last call, messages done)."""


def _no_tick(_advance: int, _messages: int) -> None:
    pass


# --- export ------------------------------------------------------------------


def export_stream(
    store: Store, thread_id: str, out: IO[bytes], fmt: str, tick: Tick = _no_tick
) -> int:
    """Write thread ``thread_id`` to ``out`` in ``fmt`` (``json`` or ``jsonl``),
    reading its messages a page at a time; return the number of messages."""
    thread = store.get_thread(thread_id)
    page = store.limits.max_list_limit
    # Cut at the thread as read: the file holds the messages its header counts,
    # which is what import checks.
    msgs = itertools.takewhile(
        lambda m: not past_cut(m, thread),
        store.iter_messages(thread_id, include_deleted=True, batch=page),
    )
    count = 0
    if fmt == "jsonl":
        exported_at = json.dumps(utcnow().isoformat())
        out.write(
            b'{"format":"'
            + JSONL_FORMAT.encode()
            + b'","version":%d,' % SNAPSHOT_VERSIONS[-1]
            + b'"exported_at":'
            + exported_at.encode()
            + b',"thread":'
            + thread.model_dump_json().encode()
            + b"}\n"
        )
        for m in msgs:
            out.write(m.model_dump_json().encode() + b"\n")
            count += 1
            if count % page == 0:
                tick(page, count)
    else:
        out.write(json_head(thread))
        for chunk in _chunks(msgs, page):
            out.write(json_messages(chunk, first=count == 0))
            count += len(chunk)
            tick(len(chunk), count)
        out.write(JSON_TAIL)
    tick(count % page if fmt == "jsonl" else 0, count)
    return count


# --- import ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportResult:
    thread_id: str
    format: str
    messages: int
    """Messages in the file."""
    appended: int
    """Messages this run stored; the others were already there."""


def sniff_format(first_line: bytes, name: str | None) -> str:
    """``jsonl`` for a ``.jsonl``/``.ndjson`` name or a JSONL header line, else ``json``."""
    if name and name.lower().endswith(_JSONL_SUFFIXES):
        return "jsonl"
    try:
        head = json.loads(first_line)
    except ValueError:
        return "json"
    return "jsonl" if isinstance(head, dict) and head.get("format") == JSONL_FORMAT else "json"


def import_stream(
    store: Store,
    lines: Iterator[bytes],
    fmt: str,
    *,
    thread_id: str | None = None,
    new_ids: bool = False,
    batch: int = DEFAULT_BATCH,
    dry_run: bool = False,
    tick: Tick = _no_tick,
) -> ImportResult:
    """Import one thread from the lines of a JSON or JSONL file.

    Args:
        store: the store (and tenant) to import into.
        lines: the file's lines as bytes, e.g. a file opened in binary mode.
        fmt: ``json`` or ``jsonl``.
        thread_id: store the thread under this id instead of the file's.
        new_ids: give the messages fresh ids, their parent links re-pointed to
            match (and the thread a fresh id unless ``thread_id`` is given): a
            copy that can sit beside the original in the same tenant.
        batch: messages per append (JSONL); memory is bounded by it.
        dry_run: read and validate everything, write nothing.
        tick: progress callback, called once per batch.

    Raises:
        ValidationError: the file is not valid (the message names the line).
        ThreadExistsError: JSON format, and the thread id is taken.
        ConflictError: JSONL format, and the thread exists with other messages.
    """
    if new_ids and thread_id is None:
        thread_id = new_id("th")
    if fmt == "json":
        return _import_json(store, lines, thread_id, new_ids, batch, dry_run, tick)
    return _import_jsonl(store, lines, thread_id, new_ids, batch, dry_run, tick)


class _LinesReader:
    """The lines of a file as a file object again, for a streaming parser."""

    def __init__(self, lines: Iterator[bytes], sizes: list[int]) -> None:
        self._lines, self._buffer, self._sizes = lines, b"", sizes

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buffer) < n:
            line = next(self._lines, None)
            if line is None:
                break
            self._buffer += line
        out, self._buffer = (self._buffer, b"") if n < 0 else (self._buffer[:n], self._buffer[n:])
        self._sizes[0] += len(out)
        return out


_STARTS = frozenset({"start_map", "start_array"})
_ENDS = frozenset({"end_map", "end_array"})


def _json_members(fh: _LinesReader) -> Iterator[tuple[str, Any]]:
    """The members of a snapshot document as it is read: ``(key, value)`` for each
    top-level member but ``messages``, and ``("messages.item", value)`` for each
    message, one at a time, so no more than one message is held."""
    import ijson  # type: ignore[import-untyped]

    try:
        yield from _members_of(ijson, ijson.parse(fh, use_float=True))
    except (ijson.JSONError, UnicodeError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValidationError(f"not a JSON document: {detail}", field="file") from None


def _members_of(ijson: Any, events: Iterator[tuple[str, str, Any]]) -> Iterator[tuple[str, Any]]:
    try:
        _, event, _ = next(events)
    except StopIteration:
        raise ValidationError("the file is empty", field="file") from None
    if event != "start_map":
        raise ValidationError("must be a JSON object (a conversation snapshot)", field="file")
    key: str | None = None
    builder: Any = None
    depth = 0
    for prefix, event, value in events:
        if builder is None:
            if prefix == "":
                if event == "map_key":
                    key = value
                continue  # the end of the document
            if key == "messages" and prefix == "messages":
                if event not in ("start_array", "end_array"):
                    raise ValidationError("must be an array", field="messages")
                continue
            if event not in _STARTS:
                yield ("messages.item" if key == "messages" else str(key)), value
                continue
            builder, depth = ijson.ObjectBuilder(), 0
        builder.event(event, value)
        depth += 1 if event in _STARTS else -1 if event in _ENDS else 0
        if depth == 0:
            yield ("messages.item" if key == "messages" else str(key)), builder.value
            builder = None


def _import_json(
    store: Store,
    lines: Iterator[bytes],
    thread_id: str | None,
    new_ids: bool,
    batch: int,
    dry_run: bool,
    tick: Tick,
) -> ImportResult:
    """A snapshot document, read as a stream: the members before the messages
    (version, thread) first, then the messages a batch at a time, through the same
    hidden, checked and resumable import as JSONL."""
    sizes = [0]
    members = _json_members(_LinesReader(lines, sizes))
    header: dict[str, Any] = {}
    pins: list[bool] = []
    first: Any = None
    try:
        for key, value in members:
            if key == "messages.item":
                first = value
                break
            header[key] = value
    except ValueError as exc:  # ijson's errors are ValueErrors
        raise ValidationError(f"not a JSON document: {exc}", field="file") from None
    if header.get("format") == JSONL_FORMAT:
        raise ValidationError("is a JSONL export; import it with --format jsonl", field="file")
    if "version" not in header:
        raise ValidationError(
            "missing snapshot version (before the messages); is this a convostore export?",
            field="file",
        )
    check_snapshot_version(header)
    if not isinstance(header.get("thread"), dict):
        raise ValidationError("missing the thread object before the messages", field="file")
    with translate_validation("file.thread"):
        source = Thread.model_validate(header["thread"])

    def messages() -> Iterator[Message]:
        item, position = first, 0
        try:
            while item is not None or position == 0:
                if item is None:
                    break
                with translate_validation(f"file.messages.{position}"):
                    msg = Message.model_validate(item)
                pins.append(msg.pinned)
                position += 1
                if msg.seq is not None and msg.seq != position:
                    raise ValidationError(
                        f"seq {msg.seq} is out of order: expected {position}",
                        field=f"messages.{position - 1}",
                    )
                msg.thread_id = msg.seq = msg.turn = None
                yield msg
                item = None
                for key, value in members:
                    if key == "messages.item":
                        item = value
                        break
                    header[key] = value
        except ValueError as exc:
            if isinstance(exc, ValidationError):
                raise
            raise ValidationError(f"not a JSON document: {exc}", field="file") from None
        # A "pinned" array (older HTTP exports) must agree with the messages' flags.
        pinned = header.get("pinned")
        if pinned is not None and pinned != pins and any(pinned):
            raise ValidationError(
                "the pinned array disagrees with the messages' own pinned flags", field="pinned"
            )

    return _import_staged(
        store,
        "json",
        source,
        _declared_count(header["thread"]),
        messages(),
        sizes,
        thread_id,
        new_ids,
        batch,
        dry_run,
        tick,
    )


def _json_line(raw: bytes, lineno: int) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ValidationError(f"not JSON: {exc}", field=f"line {lineno}") from None


def _declared_count(thread: Any) -> int | None:
    """The message count a file's thread object declares, if it declares one."""
    count = thread.get("message_count") if isinstance(thread, dict) else None
    return count if type(count) is int and count >= 0 else None


def _check_count(found: int, declared: int | None) -> None:
    """Refuse a file whose messages are not the number its thread declares: a file
    cut at a line boundary is otherwise well-formed, and would import short."""
    if declared is not None and found != declared:
        raise ValidationError(
            f"holds {found} messages but its thread declares {declared}: the file is "
            f"{'cut short' if found < declared else 'longer than it says'}; nothing was "
            "made visible",
            field="file",
        )


def _read_header(lines: Iterator[bytes]) -> tuple[Thread, int, int | None]:
    """The thread of the header line, the header's size in bytes, and the message
    count the header declares."""
    first = next(lines, b"")
    if not first.strip():
        raise ValidationError("the file is empty; expected a JSONL header", field="line 1")
    header = _json_line(first, 1)
    if not isinstance(header, dict) or header.get("format") != JSONL_FORMAT:
        raise ValidationError(f'is not a header with "format": "{JSONL_FORMAT}"', field="line 1")
    if "version" not in header:
        raise ValidationError("missing version", field="line 1")
    check_snapshot_version(header)
    if not isinstance(header.get("thread"), dict):
        raise ValidationError("missing the thread object", field="line 1")
    with translate_validation("line 1.thread"):
        thread = Thread.model_validate(header["thread"])
    return thread, len(first), _declared_count(header["thread"])


def _read_messages(lines: Iterator[bytes], sizes: list[int]) -> Iterator[Message]:
    """Messages of the lines after the header, checked for seq order, without the
    fields the store assigns; adds each line's size to ``sizes[0]``."""
    position = 0
    for lineno, raw in enumerate(lines, start=2):
        sizes[0] += len(raw)
        if not raw.strip():
            continue
        with translate_validation(f"line {lineno}"):
            msg = Message.model_validate_json(raw)
        position += 1
        if msg.seq is not None and msg.seq != position:
            raise ValidationError(
                f"seq {msg.seq} is out of order: expected {position}", field=f"line {lineno}"
            )
        # Assigned by the store; cleared in place, as a copy would cost more than
        # the parse on million-message imports.
        msg.thread_id = msg.seq = msg.turn = None
        yield msg


def _chunks(items: Iterable[Message], size: int) -> Iterator[list[Message]]:
    chunk: list[Message] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _NewIds:
    """Fresh message ids for a copy, with parent links re-pointed to match.

    Messages come in file order, so a parent (which precedes its replies) has its
    new id by the time a reply names it; a ``parent_id`` naming no earlier message
    of the file refers outside it and is kept.
    """

    def __init__(self) -> None:
        self._ids: dict[str, str] = {}

    def rename(self, msg: Message, new: str) -> Message:
        if msg.parent_id is not None and msg.parent_id in self._ids:
            msg.parent_id = self._ids[msg.parent_id]
        if msg.id is not None:
            self._ids[msg.id] = new
        msg.id = new
        return msg

    def fresh(self, msgs: Iterable[Message]) -> Iterator[Message]:
        for msg in msgs:
            yield self.rename(msg, new_id("msg"))


def _skip_stored_prefix(
    store: Store,
    thread_id: str,
    stored_count: int,
    msgs: Iterator[Message],
    renames: _NewIds | None,
) -> list[str]:
    """Consume the first ``stored_count`` messages of ``msgs``, checking that the
    thread already holds exactly them, in order; nothing is written. Returns the
    ids of those the file marks deleted and the thread does not (a run stopped
    between storing a batch and marking its deletions).

    For a copy under new ids (``renames``), a stored message matches by position
    and content, and its id becomes the new id of the file's message.
    """
    stored = store.iter_messages(thread_id, include_deleted=True, batch=store.limits.max_list_limit)
    undeleted: list[str] = []
    for position in range(1, stored_count + 1):
        mine = next(msgs, None)
        theirs = next(stored, None)
        if mine is None:
            raise ConflictError(
                f"thread {thread_id!r} already exists with more messages "
                f"({stored_count}) than the file ({position - 1})"
            )
        if theirs is not None and renames is not None and theirs.id is not None:
            renames.rename(mine, theirs.id)
        if theirs is None or theirs.id != mine.id or not same_content(theirs, mine):
            raise ConflictError(
                f"thread {thread_id!r} already exists with other messages "
                f"(they differ at message {position})"
            )
        if mine.deleted_at is not None and theirs.deleted_at is None:
            undeleted.append(theirs.id)
    return undeleted


def _import_jsonl(
    store: Store,
    lines: Iterator[bytes],
    thread_id: str | None,
    new_ids: bool,
    batch: int,
    dry_run: bool,
    tick: Tick,
) -> ImportResult:
    source, header_size, declared = _read_header(lines)
    sizes = [header_size]
    return _import_staged(
        store,
        "jsonl",
        source,
        declared,
        _read_messages(lines, sizes),
        sizes,
        thread_id,
        new_ids,
        batch,
        dry_run,
        tick,
    )


def _import_staged(
    store: Store,
    fmt: str,
    source: Thread,
    declared: int | None,
    msgs: Iterator[Message],
    sizes: list[int],
    thread_id: str | None,
    new_ids: bool,
    batch: int,
    dry_run: bool,
    tick: Tick,
) -> ImportResult:
    """Store ``msgs`` (messages of a file, in order, without store-assigned fields)
    as thread ``thread_id or source.id``, a batch at a time, as an import in
    progress made visible only once whole; ``sizes[0]`` counts the bytes read
    since the last tick."""
    target = thread_id or source.id
    renames = _NewIds() if new_ids else None
    total = appended = 0

    def advance() -> None:
        tick(sizes[0], total)
        sizes[0] = 0

    if dry_run:
        for _ in msgs:
            total += 1
            if total % batch == 0:
                advance()
        advance()
        _check_count(total, declared)
        return ImportResult(target, fmt, total, 0)

    # The thread is made as an import in progress: hidden from every reader until
    # the whole file is stored and its count checked, then made visible in one
    # write. A run that fails or is interrupted leaves it hidden (listed by
    # `threads list --deleted` and `doctor`); running the import again resumes it.
    created = False
    try:
        store.begin_import(source.model_copy(update={"id": target, "tenant_id": store.tenant_id}))
        created = importing = True
        undeleted: list[str] = []
    except ThreadExistsError:
        existing = store.get_thread(target)
        importing = is_incomplete_import(existing)
        undeleted = _skip_stored_prefix(store, target, existing.message_count, msgs, renames)
        total = existing.message_count
    append = store.import_append if importing else store.append
    delete = store.import_delete_message if importing else store.delete_message
    for message_id in undeleted:
        delete(message_id)
    advance()
    if renames is not None:
        msgs = renames.fresh(msgs)
    try:
        for chunk in _chunks(msgs, batch):
            stored = append(target, chunk)
            for sent, kept in zip(chunk, stored, strict=True):
                if sent.deleted_at is not None and kept.deleted_at is None:
                    delete(kept.id)
            total += len(chunk)
            appended += len(chunk)
            advance()
        _check_count(total, declared)
        if importing:
            store.finish_import(target, expected_count=total)
    except BaseException:
        # A thread this run made and could not fill is not left behind; a partly
        # filled one stays hidden, and running the import again completes it.
        if created and appended == 0:
            with contextlib.suppress(Exception):
                store.purge_thread(target)
        raise
    if source.deleted_at is not None and store.get_thread(target).deleted_at is None:
        store.delete_thread(target)
    return ImportResult(target, fmt, total, appended)


# --- progress ----------------------------------------------------------------


@contextlib.contextmanager
def _progress(
    enabled: bool | None, label: str, total: int | None, *, in_bytes: bool
) -> Iterator[Tick]:
    from rich.console import Console

    console = Console(stderr=True)
    if not (console.is_terminal if enabled is None else enabled):
        yield _no_tick
        return
    from rich import progress as rp

    # The label holds a file name or a thread id: shown as written, never as markup.
    columns: list[Any] = [rp.TextColumn("{task.description}", markup=False), rp.BarColumn()]
    if in_bytes:
        columns += [rp.DownloadColumn(), rp.TransferSpeedColumn()]
    else:
        columns += [rp.MofNCompleteColumn()]
    columns += [rp.TextColumn("{task.fields[messages]} messages"), rp.TimeRemainingColumn()]
    with rp.Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(label, total=total, messages=0)

        def tick(advance: int, messages: int) -> None:
            bar.update(task, advance=advance, messages=messages)

        yield tick


def progress_option(f: F) -> F:
    return click.option(
        "--progress/--no-progress",
        default=None,
        help="Show a progress bar on stderr. [default: when stderr is a terminal]",
    )(f)


# --- commands ----------------------------------------------------------------


def _format_of(path: str | None, fmt: str | None) -> str:
    if fmt:
        return fmt
    return "jsonl" if path and path.lower().endswith(_JSONL_SUFFIXES) else "json"


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
@click.argument(
    "file", metavar="FILE", type=click.Path(exists=True, dir_okay=False, allow_dash=True)
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
    fmt: str | None,
    thread_id: str | None,
    keep_ids: bool,
    batch: int,
    dry_run: bool,
    progress: bool | None,
    as_json: bool,
) -> None:
    """Import a thread from a JSON or JSONL file made by export (FILE - reads stdin).

    Both formats are read as a stream and appended in batches, so memory stays
    bounded for threads of any length. The thread stays hidden until every message
    is stored and their number is the one the file declares; a file cut short
    fails and leaves nothing visible. Re-running the import of the same file
    resumes or confirms it (with --as too); a thread holding other messages is a
    conflict (exit code 4).
    """
    if keep_ids and thread_id is None:
        raise click.UsageError("--keep-ids goes with --as THREAD_ID")
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
