"""Snapshots: the versions read, importing beside the original, normalising an import."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from convostore.errors import (
    UnsupportedSnapshotVersionError,
    ValidationError,
)
from convostore.model import (
    SNAPSHOT_VERSIONS,
    ConversationSnapshot,
    CostInfo,
    Message,
    Thread,
    TokenUsage,
    no_branch_fields,
)
from convostore.store.rules.append import apply_append


def snapshot_of(
    thread: Thread, messages: list[Message], exported_at: dt.datetime
) -> ConversationSnapshot:
    """The snapshot of ``thread`` with ``messages`` (in seq order, deleted ones
    included), each message's pin kept, stamped with the store's clock."""
    return ConversationSnapshot(
        thread=thread,
        messages=messages,
        pinned=[m.pinned for m in messages],
        exported_at=exported_at,
    )


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
            **no_branch_fields(),
        }
    )
    thread, stored = apply_append(blank, msgs, now, list(snapshot.pinned))
    return thread.model_copy(update={"updated_at": src.updated_at}), stored
