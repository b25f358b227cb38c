"""Pure store logic shared by every backend: no I/O here.

Each backend reads the rows it needs, hands them to these functions and writes
back what they return. Keeping the rules in one place is what makes the
backends behave identically: seq and turn assignment, the counters summaries
read, idempotent re-sends, the checks on stored text, and the cursor format.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import gc
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import pydantic
from pydantic_core import PydanticSerializationError, from_json

from convostore.errors import (
    ConflictError,
    DuplicateMessageError,
    RevisionConflictError,
    ThreadDeletedError,
    UnsupportedSnapshotVersionError,
    ValidationError,
)
from convostore.model import (
    _NO_COST,
    _NO_METADATA,
    _NO_USAGE,
    RESERVED_METADATA_PREFIX,
    SNAPSHOT_VERSIONS,
    ConversationSnapshot,
    CostInfo,
    Message,
    MessageMetadata,
    MessagePatch,
    Role,
    TextPart,
    Thread,
    ThreadPatch,
    TokenUsage,
    ToolResultPart,
    _text_of,
    is_identifier,
)

if TYPE_CHECKING:
    from convostore.tokens import TokenCounter

__all__ = [
    "IMPORT_KEY",
    "Limits",
    "apply_append",
    "apply_message_patch",
    "apply_thread_patch",
    "check_appendable",
    "check_filter_text",
    "check_revision",
    "check_writable",
    "collector_paused",
    "decode_cursor",
    "encode_cursor",
    "encode_message",
    "encode_thread",
    "fill_slots",
    "from_us",
    "incomplete_import_thread",
    "is_incomplete_import",
    "message_deleted",
    "message_restored",
    "plan_append",
    "plan_checked",
    "rekey_snapshot",
    "to_us",
    "translate_validation",
]

#: Fields a client sets on a message; a re-sent id must match on these to count
#: as the same message. Fields the store assigns or may fill in are left out.
CLIENT_FIELDS: set[str] = set(
    {
        "role",
        "name",
        "tool_call_id",
        "parts",
        "content",
        "execution_id",
        "parent_id",
        "parent_type",
        "pinned",
        "metadata",
        "native",
        "request_digest",
    }
)


@dataclass(frozen=True, slots=True)
class Limits:
    """Size limits applied to every write, identical on every backend."""

    max_message_bytes: int = 4 * 1024 * 1024
    max_thread_bytes: int = 1024 * 1024
    max_batch: int = 10_000
    max_list_limit: int = 1000


DEFAULT_LIMITS = Limits()


# --- validation -------------------------------------------------------------


@contextlib.contextmanager
def translate_validation(prefix: str = "") -> Iterator[None]:
    """Turn a pydantic ``ValidationError`` raised inside into ours."""
    try:
        yield
    except pydantic.ValidationError as exc:
        raise from_pydantic(exc, prefix) from None


def from_pydantic(exc: pydantic.ValidationError, prefix: str = "") -> ValidationError:
    err = exc.errors(include_url=False)[0]
    loc = ".".join(str(p) for p in err.get("loc", ()))
    field = ".".join(p for p in (prefix, loc) if p) or None
    ctx = err.get("ctx") or {}
    inner = ctx.get("error")
    if isinstance(inner, UnsupportedSnapshotVersionError):
        return inner
    msg = str(err.get("msg", "invalid value"))
    if len(exc.errors()) > 1:
        msg += f" (and {len(exc.errors()) - 1} more errors)"
    return ValidationError(msg, field=field)


def _find_bad_text(value: Any, path: str) -> tuple[str, str] | None:
    """Locate a NUL character or lone surrogate, returning (field, reason)."""
    if isinstance(value, pydantic.BaseModel):
        value = value.__dict__
    if isinstance(value, str):
        if "\x00" in value:
            return path, "NUL characters are not allowed in text"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path, "lone surrogates are not valid Unicode text"
        return None
    if isinstance(value, Mapping):
        for k, v in value.items():
            # The path names the key, escaped: a bad key must not make the error
            # message itself unencodable.
            name = (
                str(k).encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
            )
            sub = f"{path}.{name}" if path else name
            found = _find_bad_text(k, sub) or _find_bad_text(v, sub)
            if found:
                return found
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            found = _find_bad_text(v, f"{path}.{i}" if path else str(i))
            if found:
                return found
    return None


def _encode_checked(
    obj: pydantic.BaseModel, what: str, max_bytes: int, exclude: set[str] | None = None
) -> str:
    """Serialise ``obj`` once, refusing text that no backend can store alike.

    PostgreSQL cannot store NUL in text or jsonb and no UTF-8 store can hold a
    lone surrogate, so both are refused everywhere rather than working on some
    backends only.
    """
    try:
        text = obj.model_dump_json(exclude=exclude)
    except (PydanticSerializationError, RecursionError, ValueError) as exc:
        found = _find_bad_text(obj, "")
        if found:
            raise ValidationError(found[1], field=f"{what}.{found[0]}") from None
        raise ValidationError(f"cannot be encoded as JSON: {exc}", field=what) from None
    # NUL shows as an escape; a lone surrogate in a dict key is silently written
    # as U+FFFD by the serialiser, so either mark sends us to the exact check.
    if "\\u0000" in text or "\ufffd" in text:
        found = _find_bad_text(obj, "")
        if found:
            raise ValidationError(found[1], field=f"{what}.{found[0]}")
    if len(text) > max_bytes:  # characters <= bytes; check bytes only when close
        size = len(text.encode("utf-8"))
        if size > max_bytes:
            raise ValidationError(
                f"is {size} bytes encoded, over the limit of {max_bytes}", field=what
            )
    return text


#: Message fields left out of the stored JSON while they are ``None``.
_OPTIONAL_FIELDS = (
    "name",
    "tool_call_id",
    "execution_id",
    "parent_id",
    "parent_type",
    "native",
    "request_digest",
    "token_count",
    "token_counter",
    "updated_at",
    "deleted_at",
    "archived_at",
)


def encode_message(message: Message, limits: Limits = DEFAULT_LIMITS) -> str:
    """The message as checked JSON, in its lean stored form.

    Fields at their defaults (``None``, empty metadata, ``pinned`` false) are
    left out: validating the JSON gives back the same message, and a body half
    the size is parsed in half the time on every read.
    """
    exclude = {f for f in _OPTIONAL_FIELDS if getattr(message, f) is None}
    if not message.pinned:
        exclude.add("pinned")
    if message.metadata is _NO_METADATA or message.metadata == _NO_METADATA:
        exclude.add("metadata")
    # ``content`` and ``parts`` derive from each other when one is absent:
    # store a text only once.
    parts, content = message.parts, message.content
    if content and len(parts) == 1 and isinstance(parts[0], TextPart) and parts[0].text == content:
        exclude.add("parts")
    elif parts and content == _text_of(parts):
        exclude.add("content")
    return _encode_checked(message, "message", limits.max_message_bytes, exclude)


def bodies_as_dicts(bodies: Iterable[str]) -> list[dict[str, Any]]:
    """Stored message bodies as plain dicts: the fast path of a whole-thread read.

    pydantic-core's JSON parser reads these bodies in about half the time the
    standard library's ``json.loads`` takes, and shares the repeated short
    strings (keys, roles, counter names) between the dicts.
    """
    return list(map(from_json, bodies))


def as_stored_dicts(messages: Iterable[Message]) -> list[dict[str, Any]]:
    """Messages as plain dicts in their stored JSON form (defaults left out)."""
    with collector_paused():
        return bodies_as_dicts(encode_message(m) for m in messages)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a whole thread is decoded.

    Building tens of thousands of objects that all stay alive sets off full
    collections that walk the growing result again and again: the collector took
    about three fifths of a typed load of 100,000 messages, and pausing it saves
    about half (the new objects are still walked once when it comes back on).
    Reference counting frees memory as usual meanwhile; only cycles wait. The
    collector is switched back on when the block ends, error or not, unless it
    was already off when the block began (then it is left off). Overlapping
    blocks in other threads never keep it off past the block that switched it
    off, so a busy server still collects between loads.
    """
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def encode_thread(
    thread: Thread, limits: Limits = DEFAULT_LIMITS, exclude: set[str] | None = None
) -> str:
    """The thread as checked JSON, optionally without ``exclude``d fields.

    Usage and cost at zero are left out: validating the JSON gives back the
    model's shared zero values, and skips building two objects per thread read.
    """
    lean = set(exclude) if exclude else set()
    if thread.usage is _NO_USAGE or thread.usage == _NO_USAGE:
        lean.add("usage")
    if thread.cost is _NO_COST or thread.cost == _NO_COST:
        lean.add("cost")
    return _encode_checked(thread, "thread", limits.max_thread_bytes, lean or None)


def check_limit(limit: int | None, default: int, limits: Limits = DEFAULT_LIMITS) -> int:
    if limit is None:
        return default
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValidationError("must be a positive integer", field="limit")
    if limit > limits.max_list_limit:
        raise ValidationError(f"must be at most {limits.max_list_limit}", field="limit")
    return limit


# --- revisions and state ----------------------------------------------------


def check_revision(thread: Thread, expected: int | None) -> None:
    if expected is not None and thread.revision != expected:
        raise RevisionConflictError(thread.id, expected, thread.revision)


#: The reserved thread metadata key that marks an import still in progress.
IMPORT_KEY = RESERVED_METADATA_PREFIX + "import"
INCOMPLETE = "incomplete"


def is_incomplete_import(thread: Thread) -> bool:
    """Whether ``thread`` is an import begun and not finished: soft-deleted (so
    hidden from every listing and refused to every ordinary write) and marked
    with :data:`IMPORT_KEY`, until :func:`restored` with ``finish_import`` makes
    it whole and visible in one write."""
    return thread.deleted_at is not None and thread.metadata.get(IMPORT_KEY) == INCOMPLETE


def incomplete_import_thread(thread: Thread, now: dt.datetime) -> Thread:
    """``thread``, about to be created, as an import in progress."""
    return thread.model_copy(
        update={"deleted_at": now, "metadata": {**thread.metadata, IMPORT_KEY: INCOMPLETE}}
    )


def check_writable(thread: Thread, *, importing: bool = False) -> None:
    """Refuse a write to a deleted thread; an importing write goes only to an
    incomplete import."""
    if importing:
        if not is_incomplete_import(thread):
            raise ConflictError(f"thread {thread.id!r} is not an import in progress")
        return
    if thread.deleted_at is not None:
        raise ThreadDeletedError(thread.id)


def same_content(a: Message, b: Message) -> bool:
    return a.model_dump(include=CLIENT_FIELDS) == b.model_dump(include=CLIENT_FIELDS)


def check_appendable(message: Message, field: str) -> None:
    """Refuse a message no model could be sent: a tool message that does not say
    which call it answers (neither ``tool_call_id`` nor a tool-result part).

    Checked on append only; stored messages and imported snapshots are read as
    they are.
    """
    if (
        message.role is Role.TOOL
        and not message.tool_call_id
        and not any(isinstance(p, ToolResultPart) for p in message.parts)
    ):
        raise ValidationError(
            "a tool message must name the call it answers: set tool_call_id "
            "(or give it tool-result parts)",
            field=f"{field}.tool_call_id",
        )


def plan_append(
    thread_id: str,
    batch: Iterable[Message],
    existing: Mapping[str, Message],
) -> tuple[list[Message], list[Message | None]]:
    """Split a batch into messages to insert and ones already stored.

    Args:
        thread_id: the thread appended to.
        batch: the messages as sent, in order.
        existing: stored messages of this tenant whose id is in the batch.

    Returns:
        ``(new, slots)``: the messages to insert, and for each message of the
        batch either the stored message it duplicates or ``None`` for a new one.

    Raises:
        DuplicateMessageError: an id is stored with other content or in another
            thread, or repeated within the batch with other content.
    """
    new: list[Message] = []
    slots: list[Message | None] = []
    seen: dict[str, Message] = {}
    for msg in batch:
        if msg.thread_id is not None and msg.thread_id != thread_id:
            raise ValidationError(
                f"belongs to thread {msg.thread_id!r}, not {thread_id!r}",
                field=f"messages.{msg.id}.thread_id",
            )
        stored = existing.get(msg.id)
        if stored is not None:
            if stored.thread_id != thread_id:
                raise DuplicateMessageError(msg.id, "in another thread")
            if not same_content(stored, msg):
                raise DuplicateMessageError(msg.id)
            slots.append(stored)
            continue
        twin = seen.get(msg.id)
        if twin is not None:
            if not same_content(twin, msg):
                raise DuplicateMessageError(msg.id, "earlier in the same batch")
            slots.append(None)
            continue
        seen[msg.id] = msg
        new.append(msg)
        slots.append(None)
    return new, slots


def plan_checked(
    thread: Thread,
    batch: Iterable[Message],
    existing: Mapping[str, Message],
    expected_revision: int | None,
    *,
    importing: bool = False,
) -> tuple[list[Message], list[Message | None]]:
    """:func:`plan_append` on ``thread``, then, if anything is new, the checks a
    write must pass: the expected revision and a thread that is not deleted (or,
    ``importing``, one that is an import in progress)."""
    new, slots = plan_append(thread.id, batch, existing)
    if new:
        check_revision(thread, expected_revision)
        check_writable(thread, importing=importing)
    return new, slots


def fill_slots(
    slots: list[Message | None], batch: Iterable[Message], stored: list[Message]
) -> list[Message]:
    """An append's answer: for each message sent, the stored copy, whether it was
    stored before (its slot) or now (in ``stored``)."""
    by_id = {m.id: m for m in stored}
    return [s if s is not None else by_id[m.id] for s, m in zip(slots, batch, strict=True)]


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one message adds to its thread's counters."""

    tool_calls: int
    tokens: int
    usage: TokenUsage
    cost: CostInfo | None


def contribution(msg: Message) -> Contribution:
    meta = msg.metadata
    return Contribution(
        tool_calls=sum(1 for p in msg.parts if p.type == "tool-call"),
        tokens=msg.token_count or 0,
        usage=meta.token_usage or TokenUsage(),
        cost=meta.cost,
    )


def _add_cost(total: CostInfo, cost: CostInfo | None, sign: int = 1) -> CostInfo:
    if cost is None:
        return total
    currency = total.currency
    empty = total.total_cost == 0 and total.input_cost == 0 and total.output_cost == 0
    if empty and sign > 0:
        currency = cost.currency
    elif cost.currency != total.currency:
        currency = "mixed"
    return CostInfo(
        input_cost=total.input_cost + sign * cost.input_cost,
        output_cost=total.output_cost + sign * cost.output_cost,
        total_cost=total.total_cost + sign * cost.total_cost,
        currency=currency,
    )


@dataclass(frozen=True, slots=True)
class BatchDelta:
    """What a batch of new messages adds to its thread's counters."""

    count: int
    turns: int
    tool_calls: int
    tokens: int
    usage: TokenUsage
    cost: CostInfo | None


def batch_delta(
    new: list[Message], counts: list[tuple[int, str] | None] | None = None
) -> BatchDelta:
    """The counter changes ``new`` makes; ``counts`` fills in missing token counts."""
    count = turns = tool_calls = tokens = prompt = completion = total = 0
    cost: CostInfo | None = None
    for i, msg in enumerate(new):
        count += 1
        if msg.opens_turn:
            turns += 1
        for part in msg.parts:
            if part.type == "tool-call":
                tool_calls += 1
        counted = counts[i] if counts is not None else None
        tokens += counted[0] if counted is not None else (msg.token_count or 0)
        meta = msg.metadata
        if meta.token_usage is not None:
            prompt += meta.token_usage.prompt_tokens
            completion += meta.token_usage.completion_tokens
            total += meta.token_usage.total_tokens
        if meta.cost is not None:
            cost = meta.cost if cost is None else _add_cost(cost, meta.cost)
    usage = (
        TokenUsage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=total)
        if prompt or completion or total
        else _NO_USAGE
    )
    return BatchDelta(count, turns, tool_calls, tokens, usage, cost)


def token_counts(
    new: list[Message], counter: TokenCounter | None = None
) -> list[tuple[int, str] | None]:
    """For each message without a ``token_count``, its count and the counter used.

    Counts are stored once, at append, so reading a context window never
    recounts: provider-reported usage where it measures the message itself,
    else ``counter`` (the store's; the heuristic when ``None``). See
    :func:`convostore.tokens.count_batch`.
    """
    from convostore.tokens import count_batch

    return [None if tc is None else (tc.tokens, tc.counter) for tc in count_batch(new, counter)]


def assign(
    new: list[Message],
    thread_id: str,
    count_before: int,
    turns_before: int,
    counts: list[tuple[int, str] | None] | None = None,
    imported_pins: list[bool] | None = None,
) -> list[Message]:
    """Give the new messages their thread id, seq (from ``count_before + 1``), turn
    and, from ``counts``, the token counts they were missing.

    An appended message starts unedited and live. An imported one keeps its own
    times and deletion mark and takes its pinned flag from ``imported_pins``.
    """
    seq, turn = count_before, turns_before
    out = []
    for i, msg in enumerate(new):
        seq += 1
        if msg.opens_turn:
            turn += 1
        update: dict[str, Any] = {"thread_id": thread_id, "seq": seq, "turn": turn}
        if imported_pins is None:
            update["updated_at"] = update["deleted_at"] = None
        else:
            update["pinned"] = imported_pins[i]
        counted = counts[i] if counts is not None else None
        if counted is not None:
            update["token_count"], update["token_counter"] = counted
        out.append(msg.model_copy(update=update))
    return out


def apply_append(
    thread: Thread,
    new: list[Message],
    now: dt.datetime,
    imported_pins: list[bool] | None = None,
    counter: TokenCounter | None = None,
) -> tuple[Thread, list[Message]]:
    """Assign seq, turn and thread id to ``new`` and advance the counters.

    ``message_count`` is also the last seq handed out, so seq stays gap-free; the
    counters count every message appended, soft-deleted ones included, except
    ``live_message_count``, which counts the stored messages not soft-deleted
    (every appended one; an imported one unless it carries a deletion mark) and
    moves with :func:`message_deleted` and :func:`message_restored`.
    ``imported_pins`` marks an import (see :func:`assign`); ``counter`` counts
    the messages that carry no count (see :func:`token_counts`).
    """
    counts = token_counts(new, counter)
    d = batch_delta(new, counts)
    stored = assign(new, thread.id, thread.message_count, thread.turn_count, counts, imported_pins)
    updated = thread.model_copy(
        update={
            "message_count": thread.message_count + d.count,
            "live_message_count": thread.live_message_count
            + sum(1 for m in stored if m.deleted_at is None),
            "turn_count": thread.turn_count + d.turns,
            "tool_call_count": thread.tool_call_count + d.tool_calls,
            "token_count": thread.token_count + d.tokens,
            "usage": thread.usage + d.usage,
            "cost": _add_cost(thread.cost, d.cost),
            "revision": thread.revision + 1,
            "updated_at": max(now, thread.updated_at),
        }
    )
    return updated, stored


#: Message fields a token count depends on: changing one recounts the message.
_COUNTED_FIELDS = frozenset({"name", "parts", "content", "metadata"})


def parts_with_text(parts: list[Any], text: str) -> list[Any]:
    """``parts`` with their text replaced by ``text``: what an edit of a message's
    ``content`` means for its parts.

    The part that ``content`` is projected from (a text part, or a tool result
    whose result is a string) takes the new text; other parts (tool calls,
    images, reasoning, ...) stay as they are. A message without such a part gets
    a text part in front; an empty text removes the text part.

    Raises:
        ValidationError: the text comes from several parts that are not all text
            parts (e.g. several tool results), so no single edit of it is
            meaningful; change ``parts`` instead.
    """
    sources = [
        i
        for i, p in enumerate(parts)
        if isinstance(p, TextPart) or (isinstance(p, ToolResultPart) and isinstance(p.result, str))
    ]
    if len(sources) > 1 and not all(isinstance(parts[i], TextPart) for i in sources):
        raise ValidationError(
            "this message's text comes from several tool results; change parts instead",
            field="message.content",
        )
    if not sources:
        return [TextPart(text=text), *parts] if text else list(parts)
    first = sources[0]
    out: list[Any] = []
    for i, part in enumerate(parts):
        if i == first:
            if isinstance(part, ToolResultPart):
                out.append(part.model_copy(update={"result": text}))
            elif text:
                out.append(TextPart(text=text))
        elif i not in sources:
            out.append(part)
    return out


def apply_message_patch(
    thread: Thread,
    old: Message,
    patch: MessagePatch,
    now: dt.datetime,
    counter: TokenCounter | None = None,
) -> tuple[Thread, Message]:
    """Apply ``patch`` to ``old`` and move the thread's counters by the difference.

    The edited message is what appending it that way would have stored:
    ``content`` and ``parts`` agree (an edit of one rewrites the other, see
    :func:`parts_with_text`), and unless the patch sets ``token_count`` the
    message is counted again (with ``counter``) whenever a field the count
    depends on changed. Pinning a message brings an archived one back into the
    active history; a pinned message cannot be archived.
    """
    changes = {k: getattr(patch, k) for k in patch.model_fields_set}
    if "parts" in changes and changes["parts"] is None:
        changes["parts"] = []
    if "content" in changes and changes["content"] is None:
        changes["content"] = ""
    if "parts" in changes and "content" not in changes:
        changes["content"] = _text_of(changes["parts"])
    elif "content" in changes and "parts" not in changes:
        changes["parts"] = parts_with_text(old.parts, changes["content"])
    if "metadata" in changes and changes["metadata"] is None:
        changes["metadata"] = MessageMetadata()
    if changes.get("pinned", False) is None:
        raise ValidationError("must be true or false", field="message.pinned")
    pinned = changes.get("pinned", old.pinned)
    if pinned and changes.get("archived_at") is not None:
        raise ValidationError(
            "a pinned message stays in the active history; unpin it first",
            field="message.archived_at",
        )
    if changes.get("pinned") is True:
        changes["archived_at"] = None
    changes["updated_at"] = now
    with translate_validation("message"):
        new = Message.model_validate({**old.model_dump(), **changes})
    if "token_count" not in changes and not _COUNTED_FIELDS.isdisjoint(changes):
        from convostore.tokens import token_count_for

        tc = token_count_for(
            new.model_copy(update={"token_count": None, "token_counter": None}), counter
        )
        new = new.model_copy(update={"token_count": tc.tokens, "token_counter": tc.counter})
    before, after = contribution(old), contribution(new)
    updated = thread.model_copy(
        update={
            "tool_call_count": max(
                0, thread.tool_call_count + after.tool_calls - before.tool_calls
            ),
            "token_count": max(0, thread.token_count + after.tokens - before.tokens),
            "usage": thread.usage - before.usage + after.usage,
            "cost": _add_cost(_add_cost(thread.cost, before.cost, -1), after.cost),
            "revision": thread.revision + 1,
            "updated_at": max(now, thread.updated_at),
        }
    )
    return updated, new


def with_reserved_keys(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """``new`` as a thread's metadata, keeping the reserved keys of ``old`` that it
    does not name (see :data:`~convostore.model.RESERVED_METADATA_PREFIX`)."""
    kept = {k: v for k, v in old.items() if k.startswith(RESERVED_METADATA_PREFIX) and k not in new}
    return {**new, **kept} if kept else dict(new)


def apply_thread_patch(thread: Thread, patch: ThreadPatch, now: dt.datetime) -> Thread:
    changes: dict[str, Any] = {k: getattr(patch, k) for k in patch.model_fields_set}
    if "metadata" in changes:
        changes["metadata"] = with_reserved_keys(thread.metadata, changes["metadata"] or {})
    if "state" in changes and changes["state"] is None:
        from convostore.model import ThreadState

        changes["state"] = ThreadState()
    changes["revision"] = thread.revision + 1
    changes["updated_at"] = max(now, thread.updated_at)
    return thread.model_copy(update=changes)


def touch(thread: Thread, now: dt.datetime, **changes: Any) -> Thread:
    """A copy with ``changes``, the revision advanced and ``updated_at`` bumped."""
    return thread.model_copy(
        update={
            **changes,
            "revision": thread.revision + 1,
            "updated_at": max(now, thread.updated_at),
        }
    )


def message_deleted(thread: Thread, message: Message, now: dt.datetime) -> tuple[Thread, Message]:
    """``message`` soft-deleted at ``now`` and its thread one live message down;
    both unchanged (the same objects) when it already is deleted."""
    if message.deleted_at is not None:
        return thread, message
    live = max(0, thread.live_message_count - 1)
    return (
        touch(thread, now, live_message_count=live),
        message.model_copy(update={"deleted_at": now, "updated_at": now}),
    )


def message_restored(thread: Thread, message: Message, now: dt.datetime) -> tuple[Thread, Message]:
    """``message`` without its deletion mark and its thread one live message up;
    both unchanged (the same objects) when it is not deleted."""
    if message.deleted_at is None:
        return thread, message
    return (
        touch(thread, now, live_message_count=thread.live_message_count + 1),
        message.model_copy(update={"deleted_at": None, "updated_at": now}),
    )


def soft_deleted(thread: Thread, now: dt.datetime) -> Thread:
    """The thread marked deleted at ``now``, or itself when it already is."""
    if thread.deleted_at is not None:
        return thread
    return touch(thread, now, deleted_at=now)


def restored(
    thread: Thread,
    now: dt.datetime,
    *,
    finish_import: bool = False,
    expected_count: int | None = None,
) -> Thread:
    """The thread with its deletion mark removed, or itself when it has none.

    With ``finish_import`` the thread must be an import in progress holding
    ``expected_count`` messages (when given); its import mark goes in the same
    write, so the thread turns visible and whole at once.
    """
    if finish_import:
        if not is_incomplete_import(thread):
            raise ConflictError(f"thread {thread.id!r} is not an import in progress")
        if expected_count is not None and thread.message_count != expected_count:
            raise ValidationError(
                f"the import holds {thread.message_count} messages, not the "
                f"{expected_count} expected; it stays incomplete",
                field="messages",
            )
        metadata = {k: v for k, v in thread.metadata.items() if k != IMPORT_KEY}
        return touch(thread, now, deleted_at=None, metadata=metadata)
    return touch(thread, now, deleted_at=None) if thread.deleted_at is not None else thread


# --- time and cursors -------------------------------------------------------


def to_us(value: dt.datetime) -> int:
    """Microseconds since the epoch: the storage and cursor form of a time."""
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(value: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=value)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def encode_cursor(kind: str, key: list[Any]) -> str:
    # UTF-8, not \u escapes: a cursor holding a 255-character non-ASCII id stays
    # under 1,400 characters (escaped, up to 12 bytes a character, it would not).
    raw = json.dumps([kind, *key], separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


#: The largest signed 64-bit integer: the widest value SQLite and PostgreSQL
#: store in an integer column (seq, revision, times in microseconds).
INT64_MAX = 2**63 - 1
#: The longest cursor accepted. The longest the store makes, a messages cursor
#: of a 255-character id of 4-byte characters, is about 1,430 characters.
MAX_CURSOR_LENGTH = 4096
#: The times a cursor may hold, in microseconds: those of a ``datetime``.
_US_RANGE = (
    to_us(dt.datetime.min.replace(tzinfo=dt.UTC)),
    to_us(dt.datetime.max.replace(tzinfo=dt.UTC)),
)

CursorField = Literal["id", "seq", "time", "direction"]
"""What one value of a cursor is: an id (the id rule), a seq (an integer
0..2**63-1), a time (an integer of microseconds within the range of a
``datetime``) or a paging direction (``"after"`` or ``"before"``)."""


def _is_int_in(value: Any, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high  # bool is not a seq or a time


def _cursor_value_ok(value: Any, field: CursorField) -> bool:
    if field == "id":
        return is_identifier(value)
    if field == "seq":
        return _is_int_in(value, 0, INT64_MAX)
    if field == "time":
        return _is_int_in(value, *_US_RANGE)
    return isinstance(value, str) and value in ("after", "before")


def decode_cursor(cursor: str, kind: str, fields: Sequence[CursorField]) -> list[Any]:
    """Decode a cursor made by :func:`encode_cursor` for a listing of ``kind``.

    The values are checked against ``fields``, one per value, before any
    backend sees them: a cursor is client input, and a crafted one (a seq past
    64 bits, ``true`` for a number, an id with a NUL) must be refused the same
    way on every backend rather than reach a driver.

    Raises:
        ValidationError: with ``field="cursor"``, for anything but a cursor of
            this listing holding values of the right kinds.
    """
    if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR_LENGTH:
        raise ValidationError("malformed cursor", field="cursor")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeError, RecursionError):
        raise ValidationError("malformed cursor", field="cursor") from None
    if not isinstance(data, list) or len(data) != len(fields) + 1 or data[0] != kind:
        raise ValidationError(f"not a cursor of this {kind} listing", field="cursor")
    values = data[1:]
    if not all(_cursor_value_ok(v, f) for v, f in zip(values, fields, strict=True)):
        raise ValidationError("malformed cursor", field="cursor")
    return values


#: The longest text filter: the longest label a thread can hold
#: (``Thread.agent_name``), so a longer one could never match.
MAX_FILTER_LENGTH = 255


def check_filter_text(value: Any, field: str, max_length: int = MAX_FILTER_LENGTH) -> str | None:
    """A text filter of a listing (``agent_name``), refused with the rules of
    stored text: a string of at most ``max_length`` characters without NUL
    characters or lone surrogates. ``None`` (no filter) passes.

    Raises:
        ValidationError: with ``field`` set to the filter's name.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError("must be a string", field=field)
    if len(value) > max_length:
        raise ValidationError(f"must be at most {max_length} characters", field=field)
    found = _find_bad_text(value, field)
    if found is not None:
        raise ValidationError(found[1], field=field)
    return value


def check_snapshot_version(data: Any) -> None:
    """Refuse a snapshot of unknown version before anything else is read."""
    if isinstance(data, Mapping) and "version" in data:
        version = data["version"]
        if version not in SNAPSHOT_VERSIONS or isinstance(version, bool):
            raise UnsupportedSnapshotVersionError(version, SNAPSHOT_VERSIONS)


def rekey_snapshot(snapshot: ConversationSnapshot, thread_id: str | None) -> ConversationSnapshot:
    """A copy of ``snapshot`` under fresh ids, so it can be imported beside the
    thread it came from.

    The thread takes ``thread_id`` (a fresh id when ``None``) and every message a
    fresh time-ordered id, in the snapshot's order; a ``parent_id`` that points at
    a message of the snapshot is re-pointed at that message's new id. Ids that
    refer outside the snapshot (executions, provider tool-call ids) are kept.
    """
    from convostore._ids import new_id

    mapping = {m.id: new_id("msg") for m in snapshot.messages}
    messages = []
    for m in snapshot.messages:
        update: dict[str, Any] = {"id": mapping[m.id], "thread_id": None}
        if m.parent_id is not None and m.parent_id in mapping:
            update["parent_id"] = mapping[m.parent_id]
        messages.append(m.model_copy(update=update))
    thread = snapshot.thread.model_copy(update={"id": thread_id or new_id("th")})
    return snapshot.model_copy(update={"thread": thread, "messages": messages})


def normalize_import(
    tenant: str, snapshot: Any, thread_id: str | None, now: dt.datetime
) -> tuple[Thread, list[Message]]:
    """The thread and messages to store for an imported snapshot.

    Messages keep their ids, times and deletion marks; seq must be either unset
    on every message (it is then assigned in order) or exactly 1..n. The pinned
    flags of the snapshot are applied and the counters are recomputed from the
    messages rather than trusted.
    """
    msgs: list[Message] = list(snapshot.messages)
    seqs = [m.seq for m in msgs]
    if any(s is not None for s in seqs) and seqs != list(range(1, len(msgs) + 1)):
        raise ValidationError(
            "message seq must be unset or exactly 1..n in order", field="snapshot.messages"
        )
    ids = [m.id for m in msgs]
    if len(set(ids)) != len(ids):
        raise ValidationError("message ids must be unique", field="snapshot.messages")
    src = snapshot.thread
    blank = src.model_copy(
        update={
            "id": thread_id or src.id,
            "tenant_id": tenant,
            "revision": 0,
            "message_count": 0,
            "live_message_count": 0,
            "turn_count": 0,
            "tool_call_count": 0,
            "token_count": 0,
            "usage": TokenUsage(),
            "cost": CostInfo(),
        }
    )
    thread, stored = apply_append(blank, msgs, now, list(snapshot.pinned))
    return thread.model_copy(update={"updated_at": src.updated_at}), stored
