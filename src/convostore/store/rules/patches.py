"""Changes to stored threads and messages: patches, deletion marks, restores.

Each function takes the stored thread (and message) and returns the new ones
with the thread's counters, revision and ``updated_at`` moved; a backend
writes back what it gets, in the transaction it read them in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from convostore.errors import (
    ConflictError,
    ValidationError,
)
from convostore.model import (
    RESERVED_METADATA_PREFIX,
    Message,
    MessageMetadata,
    MessagePatch,
    TextPart,
    Thread,
    ThreadPatch,
    ToolResultPart,
    _text_of,
)
from convostore.store.rules.append import add_cost, contribution
from convostore.store.rules.validation import IMPORT_KEY, is_incomplete_import, translate_validation

if TYPE_CHECKING:
    from convostore.tokens import TokenCounter


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
            "cost": add_cost(add_cost(thread.cost, before.cost, -1), after.cost),
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
