"""Storing the thread of a file as an import in progress: hidden until whole and
checked, resumable, optionally a copy under fresh ids."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from convostore._ids import new_id
from convostore.cli.transfer.formats import DEFAULT_BATCH, Tick, _chunks, _no_tick
from convostore.cli.transfer.reading import read_jsonl, read_snapshot
from convostore.errors import ConflictError, ThreadExistsError, ValidationError
from convostore.importers import Source
from convostore.model import Attachment, Message, Thread
from convostore.store import Store
from convostore.store.rules.append import same_content
from convostore.store.rules.attachments import extract
from convostore.store.rules.validation import is_incomplete_import

__all__ = ["ImportResult", "import_source", "import_stream"]


@dataclass(frozen=True, slots=True)
class ImportResult:
    thread_id: str
    format: str
    messages: int
    """Messages in the file."""
    appended: int
    """Messages this run stored; the others were already there."""


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


def import_source(
    store: Store,
    source: Source,
    fmt: str,
    *,
    batch: int = DEFAULT_BATCH,
    dry_run: bool = False,
    tick: Tick = _no_tick,
) -> list[ImportResult]:
    """Import every conversation of another project's store, one thread each,
    each through the same hidden, checked and resumable import as a file.

    A rerun confirms what is stored and appends only what the source gained
    since; a conversation whose stored messages differ from the source's is a
    ``ConflictError`` and stops the run (the threads before it stay imported).
    ``tick`` advances by messages."""
    results: list[ImportResult] = []
    for conversation in source.threads():
        sizes = [0]

        def counted(msgs: Iterator[Message], sizes: list[int] = sizes) -> Iterator[Message]:
            for msg in msgs:
                sizes[0] += 1
                yield msg

        done = sum(r.messages for r in results)

        def ticked(advance: int, messages: int, done: int = done) -> None:
            tick(advance, done + messages)  # messages of the whole run, not of this thread

        if not dry_run:
            _store_attachments(store, list(conversation.attachments()))
        results.append(
            _import_staged(
                store,
                fmt,
                conversation.thread,
                conversation.count,
                counted(conversation.messages()),
                sizes,
                None,
                False,
                batch,
                dry_run,
                ticked,
            )
        )
    return results


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
    source, declared, msgs, sizes, blobs = read_snapshot(lines)
    if not dry_run:
        _store_attachments(store, blobs)
    return _import_staged(
        store, "json", source, declared, msgs, sizes, thread_id, new_ids, batch, dry_run, tick
    )


def _import_jsonl(
    store: Store,
    lines: Iterator[bytes],
    thread_id: str | None,
    new_ids: bool,
    batch: int,
    dry_run: bool,
    tick: Tick,
) -> ImportResult:
    source, declared, msgs, sizes, blobs = read_jsonl(lines)
    if not dry_run:
        _store_attachments(store, blobs)
    return _import_staged(
        store, "jsonl", source, declared, msgs, sizes, thread_id, new_ids, batch, dry_run, tick
    )


def _store_attachments(store: Store, blobs: list[Attachment]) -> None:
    """Store the bytes a file carries before its messages, which reference them."""
    for blob in blobs:
        store.put_attachment(blob.data, blob.media_type)


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
        if (
            theirs is None
            or theirs.id != mine.id
            or not same_content(theirs, _as_stored(store, mine))
        ):
            raise ConflictError(
                f"thread {thread_id!r} already exists with other messages "
                f"(they differ at message {position})"
            )
        if mine.deleted_at is not None and theirs.deleted_at is None:
            undeleted.append(theirs.id)
    return undeleted


def _as_stored(store: Store, msg: Message) -> Message:
    """``msg`` as an append stores it: inline bytes moved into attachments, so
    a message of the source compares equal to the one an earlier run stored."""
    moved = extract([msg], store.limits)
    return moved.messages[0] if moved is not None else msg


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
