"""What both faces of a store share: argument checks and operation records.

:class:`StoreBase` validates a call's arguments and builds the
:mod:`~convostore.store.ops` record for it; the faces
(:class:`~convostore.AsyncStore`, written by hand, and
:class:`~convostore.Store`, generated from it) only hand the record to their
backend.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Generator, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from convostore._ids import new_id
from convostore.errors import ValidationError
from convostore.model import (
    ID_RULE,
    Attachment,
    ConversationSnapshot,
    Message,
    MessagePatch,
    Role,
    StateChange,
    StateUpdate,
    Thread,
    ThreadPatch,
    ThreadState,
    is_identifier,
    no_branch_fields,
)
from convostore.store import ops
from convostore.store.backend import AsyncBackend, Backend
from convostore.store.rules.append import CLIENT_FIELDS
from convostore.store.rules.attachments import check_size, extract
from convostore.store.rules.paging import decode_cursor
from convostore.store.rules.patches import apply_message_patch
from convostore.store.rules.search import decode_search_cursor, fingerprint, parse_query
from convostore.store.rules.snapshots import check_snapshot_version, rekey_snapshot
from convostore.store.rules.state import check_change, check_scope, check_update
from convostore.store.rules.validation import (
    check_appendable,
    check_filter_text,
    check_limit,
    incomplete_import_thread,
    translate_validation,
)
from convostore.store.rules.window import plan_context
from convostore.store.settings import Limits, StoreSettings

if TYPE_CHECKING:
    from convostore.formats import DropReport
    from convostore.tokens import TokenCounter

__all__ = ["MessageLike", "StoreBase", "check_id", "check_revision"]

B = TypeVar("B", Backend, AsyncBackend)
W = TypeVar("W", ops.Append, ops.ReplaceMessages)
MessageLike = Message | Mapping[str, Any]

_DEFAULT_TENANT = "default"
_REF = re.compile(r"sha256:[0-9a-f]{64}")
_HEX = re.compile(r"[0-9a-f]{64}")


def check_id(value: Any, field: str) -> str:
    """``value`` if it is a valid identifier, else a ValidationError naming ``field``."""
    if not is_identifier(value):
        raise ValidationError(ID_RULE, field=field)
    return value


def _utc_time(value: Any, field: str) -> dt.datetime | None:
    """A time filter as an aware UTC datetime (a naive one is taken as UTC)."""
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        raise ValidationError("must be a datetime", field=field)
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def check_revision(value: Any) -> int | None:
    """An ``expected_revision`` argument: ``None`` or a non-negative integer."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError("must be a non-negative integer", field="expected_revision")
    return value


class StoreBase(Generic[B]):
    """Argument checks and operation records shared by both faces."""

    def __init__(
        self,
        backend: B,
        tenant: str = _DEFAULT_TENANT,
        *,
        token_counter: TokenCounter | str | None = None,
        _owner: bool = True,
    ):
        from convostore.tokens import counter_for

        self._backend: B = backend
        self._tenant = check_id(tenant, "tenant")
        self._owner = _owner
        self._counter = (
            backend.settings.token_counter if token_counter is None else counter_for(token_counter)
        )

    @property
    def token_counter(self) -> TokenCounter:
        """What this store counts a message's tokens with when the message does
        not carry a count (the ``token_counter`` option; the heuristic unless
        told). Used by every append, edit and import, and by context windows."""
        return self._counter

    @property
    def tenant_id(self) -> str:
        """The tenant every call of this store is scoped to."""
        return self._tenant

    @property
    def backend(self) -> B:
        """The backend this store hands its operations to."""
        return self._backend

    @property
    def limits(self) -> Limits:
        """The size limits every write is checked against (the store's settings)."""
        return self._backend.settings.limits

    @property
    def settings(self) -> StoreSettings:
        """Limits, token counter and clock of this store."""
        return self._backend.settings

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._backend.describe()!r}, tenant={self._tenant!r})"

    # thread ops --------------------------------------------------------------

    def _create_thread(
        self, thread: Thread | None, fields: dict[str, Any], state_change: Any = None
    ) -> ops.CreateThread:
        with translate_validation("thread"):
            if thread is None:
                clean = {k: v for k, v in fields.items() if v is not None}
                if isinstance(clean.get("state"), Mapping):
                    clean["state"] = ThreadState.model_validate(clean["state"])
                thread = Thread.model_validate({**clean, "tenant_id": self._tenant})
            elif fields and any(v is not None for v in fields.values()):
                raise ValidationError("pass a Thread or keyword fields, not both", field="thread")
        if not isinstance(thread, Thread):
            raise ValidationError("must be a Thread", field="thread")
        if "tenant_id" in thread.model_fields_set and thread.tenant_id != self._tenant:
            raise ValidationError(
                f"is {thread.tenant_id!r} but this store is bound to {self._tenant!r}",
                field="thread.tenant_id",
            )
        # The times not given come from the store's clock.
        unset = {"created_at", "updated_at"} - thread.model_fields_set
        now = self._backend.settings.now() if unset else None
        times = dict.fromkeys(unset, now)
        fresh = thread.model_copy(
            update={
                **times,
                "tenant_id": self._tenant,
                "revision": 0,
                "message_count": 0,
                "live_message_count": 0,
                "turn_count": 0,
                "tool_call_count": 0,
                "token_count": 0,
                "deleted_at": None,
                **no_branch_fields(),
            }
        )
        fresh.usage = type(thread.usage)()
        fresh.cost = type(thread.cost)()
        if state_change is None:
            return ops.CreateThread(self._tenant, fresh)
        with_state = self._with_state(self._append(fresh.id, [], None), state_change)
        return ops.CreateThread(self._tenant, fresh, with_state if with_state.state else None)

    def _update_thread(
        self, thread_id: str, rev: int | None, fields: dict[str, Any]
    ) -> ops.UpdateThread:
        with translate_validation("thread"):
            patch = ThreadPatch.model_validate(fields)
        return ops.UpdateThread(
            self._tenant, check_id(thread_id, "thread_id"), patch, check_revision(rev)
        )

    def _filter(
        self, user_id: str | None, agent_name: str | None, include_deleted: bool
    ) -> ops.ThreadFilter:
        if user_id is not None:
            check_id(user_id, "user_id")
        check_filter_text(agent_name, "agent_name")
        return ops.ThreadFilter(
            user_id=user_id, agent_name=agent_name, include_deleted=bool(include_deleted)
        )

    def _list_threads(
        self,
        user_id: str | None,
        agent_name: str | None,
        include_deleted: bool,
        limit: int | None,
        cursor: str | None,
    ) -> ops.ListThreads:
        after = None
        if cursor is not None:
            us, tid = decode_cursor(cursor, "threads", ("time", "id"))
            after = (us, tid)
        return ops.ListThreads(
            self._tenant,
            self._filter(user_id, agent_name, include_deleted),
            check_limit(limit, 50, self.limits),
            after,
        )

    # message ops ------------------------------------------------------------

    def _append(
        self, thread_id: str, messages: MessageLike | Iterable[MessageLike], rev: int | None
    ) -> ops.Append:
        check_id(thread_id, "thread_id")
        if isinstance(messages, Message | Mapping):
            messages = [messages]
        if isinstance(messages, str | bytes) or not isinstance(messages, Iterable):
            raise ValidationError("must be a message or an iterable of messages", field="messages")
        batch: list[Message] = []
        for i, m in enumerate(messages):
            if isinstance(m, Message):
                batch.append(m)
            elif isinstance(m, Mapping):
                with translate_validation(f"messages.{i}"):
                    batch.append(Message.model_validate(m))
            else:
                raise ValidationError("must be a Message or a mapping", field=f"messages.{i}")
            check_appendable(batch[-1], f"messages.{i}")
        if len(batch) > self.limits.max_batch:
            raise ValidationError(
                f"at most {self.limits.max_batch} messages per append", field="messages"
            )
        return ops.Append(self._tenant, thread_id, tuple(batch), check_revision(rev), self._counter)

    # branches ----------------------------------------------------------------------

    def _fork(
        self,
        thread_id: str,
        at: str | None,
        at_seq: int | None,
        branch_id: str | None,
        fields: dict[str, Any],
        messages: MessageLike | Iterable[MessageLike],
        rev: int | None,
    ) -> ops.ForkThread:
        check_id(thread_id, "thread_id")
        if at is not None:
            check_id(at, "at")
            if at_seq is not None:
                raise ValidationError("give at or at_seq, not both", field="at")
        if at_seq is not None and (
            isinstance(at_seq, bool) or not isinstance(at_seq, int) or at_seq < 0
        ):
            raise ValidationError("must be a seq (an integer from 0)", field="at_seq")
        bid = new_id("th") if branch_id is None else check_id(branch_id, "id")
        clean = {k: v for k, v in fields.items() if v is not None}
        with translate_validation("thread"):
            patch = ThreadPatch.model_validate(clean) if clean else None
        empty = isinstance(messages, list | tuple) and not messages
        append = None if empty else self._append(bid, messages, None)
        return ops.ForkThread(
            self._tenant, thread_id, bid, at_seq, at, patch, append, check_revision(rev)
        )

    def _fork_before(
        self,
        stored: Message,
        messages: MessageLike | Iterable[MessageLike],
        branch_id: str | None,
        rev: int | None,
    ) -> ops.ForkThread:
        """A fork of the thread that stores ``stored``, sharing the history before
        it, with ``messages`` appended: an edit or a regeneration of it."""
        before = (stored.seq or 1) - 1
        return self._fork(stored.thread_id or "", None, before, branch_id, {}, messages, rev)

    def _split_fork(self, op: ops.ForkThread) -> tuple[ops.Attach | None, ops.ForkThread]:
        """A fork whose messages carry bytes, split like :meth:`_split`."""
        if op.append is None:
            return None, op
        attach, append = self._split(op.append)
        return attach, dataclasses.replace(op, append=append)

    def _edited_copy(self, stored: Message, fields: dict[str, Any]) -> Message:
        """A new message (a new id) that is ``stored`` with ``fields`` changed,
        as an edit in a new branch appends it."""
        with translate_validation("message"):
            patch = MessagePatch.model_validate(fields)
        _, edited = apply_message_patch(Thread(), stored, patch, stored.created_at)
        kept = edited.model_dump(include=CLIENT_FIELDS - {"request_digest"})
        with translate_validation("message"):
            return Message.model_validate(kept)

    def _with_state(self, op: ops.Append, state: Any) -> ops.Append:
        """``op`` carrying the state change ``state`` (a StateChange, a mapping
        of one, or ``None``)."""
        if state is None:
            return op
        if isinstance(state, Mapping):
            with translate_validation("state"):
                state = StateChange.model_validate(state)
        if not isinstance(state, StateChange):
            raise ValidationError("must be a StateChange or a mapping", field="state")
        if state.empty:
            return op
        self._need_state()
        return dataclasses.replace(op, state=check_change(state))

    def _need_state(self) -> None:
        if not self._backend.capabilities.scoped_state:
            raise ValidationError(
                f"the {self._backend.kind} backend does not store user and app state",
                field="scope",
            )

    # user and app state ------------------------------------------------------------

    def _get_state(self, scope: Any, user_id: Any) -> ops.GetState:
        found, user = check_scope(scope, user_id)
        self._need_state()
        return ops.GetState(self._tenant, found, user)

    def _update_state(
        self,
        scope: Any,
        user_id: Any,
        changes: Mapping[str, Any] | None,
        remove: Iterable[str] | None,
        replace: Mapping[str, Any] | None,
        expected_revision: Any,
    ) -> ops.UpdateState:
        found, user = check_scope(scope, user_id)
        self._need_state()
        if isinstance(remove, str | bytes) or not (remove is None or isinstance(remove, Iterable)):
            raise ValidationError("must be a list of keys", field="remove")
        fields: dict[str, Any] = {"expected_revision": check_revision(expected_revision)}
        if changes is not None:
            fields["changes"] = changes
        if remove is not None:
            fields["remove"] = list(remove)
        if replace is not None:
            fields["replace"] = replace
        with translate_validation("state"):
            update = StateUpdate.model_validate(fields)
        return ops.UpdateState(self._tenant, found, user, check_update(update, "state"))

    def _purge_message(self, message_id: str, rev: int | None) -> ops.PurgeMessage:
        return ops.PurgeMessage(
            self._tenant, check_id(message_id, "message_id"), check_revision(rev)
        )

    def _pop_message(self, thread_id: str, rev: int | None) -> ops.PopMessage:
        return ops.PopMessage(self._tenant, check_id(thread_id, "thread_id"), check_revision(rev))

    def _clear_messages(
        self, thread_id: str, mode: Any, keep: Any, rev: int | None, limit: int | None = None
    ) -> ops.ClearMessages:
        check_id(thread_id, "thread_id")
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 0
        ):
            raise ValidationError(f"must be a whole number >= 0, got {limit!r}", field="n")
        if mode not in ops.CLEAR_MODES:
            raise ValidationError("must be 'archive', 'delete' or 'purge'", field="mode")
        if keep not in ops.CLEAR_KEEPS:
            raise ValidationError("must be 'mandatory', 'system' or 'none'", field="keep")
        return ops.ClearMessages(self._tenant, thread_id, mode, keep, check_revision(rev), limit)

    def _replace_messages(
        self, thread_id: str, messages: MessageLike | Iterable[MessageLike], rev: int | None
    ) -> ops.ReplaceMessages:
        op = self._append(thread_id, messages, rev)
        return ops.ReplaceMessages(
            op.tenant, op.thread_id, op.messages, op.expected_revision, op.counter
        )

    def _release(self, done: ops.Rewritten) -> ops.ReleaseAttachments | None:
        """What releases the attachment references a rewrite dropped, if any."""
        if not done.released or not self._stores_attachments():
            return None
        return ops.ReleaseAttachments(self._tenant, done.thread.id, done.released)

    # attachments -------------------------------------------------------------------

    def _stores_attachments(self) -> bool:
        return self._backend.capabilities.attachments

    def _split(self, op: W) -> tuple[ops.Attach | None, W]:
        """An append whose messages carry bytes as the ``Attach`` to run first
        and the append of the messages holding references only."""
        found = extract(op.messages, self.limits)
        if found is None:
            return None, op
        self._need_attachments()
        attach = ops.Attach(op.tenant, op.thread_id, found.blobs, found.refs)
        return attach, dataclasses.replace(op, messages=found.messages)

    def _split_patch(self, op: ops.UpdateMessage) -> tuple[ops.Attach | None, ops.UpdateMessage]:
        """An update whose new parts carry bytes or references, split like
        :meth:`_split`; the ``Attach`` names no thread yet (the face fills it
        in from the stored message)."""
        patch = op.patch
        if patch.parts is None:
            return None, op
        probe = Message(id=op.message_id, role="user", parts=patch.parts, content="")
        found = extract([probe], self.limits, field="message")
        if found is None:
            return None, op
        self._need_attachments()
        parts = found.messages[0].parts
        new = dataclasses.replace(op, patch=patch.model_copy(update={"parts": parts}))
        return ops.Attach(op.tenant, None, found.blobs, found.refs), new

    def _split_import(self, op: ops.ImportThread) -> tuple[ops.Attach | None, ops.ImportThread]:
        """An import as the ``Attach`` of its snapshot's attachments and inline
        bytes, and the import of messages holding references only."""
        snap = op.snapshot
        found = extract(
            snap.messages, self.limits, field="snapshot.messages", blobs=snap.attachments
        )
        if found is None:
            return None, op
        self._need_attachments()
        thread_id = op.thread_id or snap.thread.id
        snapshot = snap.model_copy(update={"messages": list(found.messages), "attachments": []})
        attach = ops.Attach(op.tenant, thread_id, found.blobs, found.refs)
        return attach, dataclasses.replace(op, snapshot=snapshot)

    def _need_attachments(self) -> None:
        if not self._stores_attachments():
            raise ValidationError(
                f"the {self._backend.kind} backend does not store attachments "
                "(image, audio or file bytes)",
                field="data",
            )

    def _put_attachment(self, data: Any, media_type: str) -> ops.Attach:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ValidationError("must be bytes", field="data")
        if not isinstance(media_type, str) or not 1 <= len(media_type) <= 255:
            raise ValidationError("must be a media type of 1-255 characters", field="media_type")
        data = bytes(data)
        check_size(len(data), self.limits, "data")
        self._need_attachments()
        return ops.Attach(self._tenant, None, (Attachment.of(data, media_type),), ())

    def _get_attachment(self, ref: Any, with_data: bool) -> ops.GetAttachment:
        if isinstance(ref, str) and _HEX.fullmatch(ref):
            ref = "sha256:" + ref
        if not isinstance(ref, str) or not _REF.fullmatch(ref):
            raise ValidationError(
                "must be sha256: and 64 lowercase hex digits (or the 64 digits alone)",
                field="ref",
            )
        self._need_attachments()
        return ops.GetAttachment(self._tenant, ref, with_data)

    def _purge_attachments(self, older_than: Any) -> ops.PurgeAttachments:
        if not isinstance(older_than, dt.timedelta) or older_than < dt.timedelta(0):
            raise ValidationError("must be a non-negative timedelta", field="older_than")
        self._need_attachments()
        return ops.PurgeAttachments(self._tenant, self.settings.clock() - older_than)

    def _update_message(
        self, message_id: str, rev: int | None, fields: dict[str, Any]
    ) -> ops.UpdateMessage:
        with translate_validation("message"):
            patch = MessagePatch.model_validate(fields)
        return ops.UpdateMessage(
            self._tenant,
            check_id(message_id, "message_id"),
            patch,
            check_revision(rev),
            self._counter,
        )

    def _list_messages(
        self,
        thread_id: str,
        limit: int | None,
        cursor: str | None,
        from_end: bool,
        include_deleted: bool,
    ) -> ops.ListMessages:
        check_id(thread_id, "thread_id")
        limit = check_limit(limit, 100, self.limits)
        after, before = 0, None
        if cursor is not None:
            tid, direction, seq = decode_cursor(cursor, "messages", ("id", "direction", "seq"))
            if tid != thread_id:
                raise ValidationError("belongs to another thread", field="cursor")
            if direction == "after":
                after = seq
            else:
                before = seq
        elif from_end:
            before = 2**63 - 1
        return ops.ListMessages(
            self._tenant, thread_id, limit, after, before, bool(include_deleted)
        )

    def _begin_import(self, thread: Thread) -> ops.CreateThread:
        op = self._create_thread(thread, {})
        return ops.CreateThread(
            op.tenant, incomplete_import_thread(op.thread, self._backend.settings.now())
        )

    def _import_append(
        self, thread_id: str, messages: MessageLike | Iterable[MessageLike]
    ) -> ops.Append:
        op = self._append(thread_id, messages, None)
        return ops.Append(op.tenant, op.thread_id, op.messages, None, op.counter, importing=True)

    def _finish_import(self, thread_id: str, expected_count: int | None) -> ops.RestoreThread:
        if expected_count is not None and (
            isinstance(expected_count, bool)
            or not isinstance(expected_count, int)
            or expected_count < 0
        ):
            raise ValidationError("must be a non-negative integer", field="expected_count")
        return ops.RestoreThread(
            self._tenant,
            check_id(thread_id, "thread_id"),
            None,
            finish_import=True,
            expected_count=expected_count,
        )

    def _by_execution(
        self, execution_id: str, thread_id: str | None, limit: int | None
    ) -> ops.ByExecution:
        if thread_id is not None:
            check_id(thread_id, "thread_id")
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 2**63 - 1
        ):
            raise ValidationError("must be a positive integer", field="limit")
        return ops.ByExecution(
            self._tenant, check_id(execution_id, "execution_id"), thread_id, limit
        )

    def _search(
        self, query: str, filters: Mapping[str, Any], limit: int | None, cursor: str | None
    ) -> ops.Search:
        terms = parse_query(query)
        f = dict(filters)
        for name in ("user_id", "thread_id", "execution_id"):
            if f[name] is not None:
                check_id(f[name], name)
        for name in ("agent_name", "model", "tool_name"):
            check_filter_text(f[name], name)
        if f["role"] is not None:
            try:
                f["role"] = Role(f["role"]).value
            except ValueError:
                roles = ", ".join(r.value for r in Role)
                raise ValidationError(f"must be one of {roles}", field="role") from None
        for name in ("since", "until"):
            f[name] = _utc_time(f[name], name)
        f["include_deleted"] = bool(f["include_deleted"])
        flt = ops.SearchFilter(**f)
        key = fingerprint(query, flt)
        after = None if cursor is None else decode_search_cursor(cursor, key)
        return ops.Search(self._tenant, terms, flt, check_limit(limit, 20, self.limits), after, key)

    def _load_messages(
        self, thread_id: str, include_deleted: bool, as_dicts: bool, active_only: bool
    ) -> ops.LoadMessages:
        check_id(thread_id, "thread_id")
        if active_only and include_deleted:
            raise ValidationError(
                "active_only reads live messages only; it cannot include deleted ones",
                field="active_only",
            )
        return ops.LoadMessages(
            self._tenant,
            thread_id,
            bool(include_deleted),
            bool(as_dicts),
            active_only=bool(active_only),
        )

    def _recent(
        self, thread_id: str, n: int | None, include_deleted: bool, since: Any = None
    ) -> ops.Recent:
        check_id(thread_id, "thread_id")
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
            raise ValidationError("must be a non-negative integer or None", field="n")
        return ops.Recent(
            self._tenant,
            thread_id,
            None if n is None else min(n, self.limits.max_list_limit),
            bool(include_deleted),
            since=_utc_time(since, "since"),
        )

    def _import(
        self,
        snapshot: ConversationSnapshot | Mapping[str, Any] | str | bytes,
        thread_id: str | None,
        new_ids: bool = False,
    ) -> ops.ImportThread:
        if thread_id is not None:
            check_id(thread_id, "thread_id")
        if not isinstance(snapshot, ConversationSnapshot):
            with translate_validation("snapshot"):
                if isinstance(snapshot, str | bytes):
                    import json

                    try:
                        snapshot = json.loads(snapshot)
                    except ValueError as exc:
                        raise ValidationError(f"not JSON: {exc}", field="snapshot") from None
                check_snapshot_version(snapshot)
                snapshot = ConversationSnapshot.model_validate(snapshot)
        if not isinstance(new_ids, bool):
            raise ValidationError("must be true or false", field="new_ids")
        if new_ids:
            snapshot = rekey_snapshot(snapshot, thread_id)
            thread_id = snapshot.thread.id
        return ops.ImportThread(self._tenant, self._counted(snapshot), thread_id)

    def _counted(self, snapshot: ConversationSnapshot) -> ConversationSnapshot:
        """The snapshot with this store's counts on the messages that carry none."""
        from convostore.tokens import count_batch

        counts = count_batch(list(snapshot.messages), self._counter)
        if all(tc is None for tc in counts):
            return snapshot
        msgs = [
            m
            if tc is None
            else m.model_copy(update={"token_count": tc.tokens, "token_counter": tc.counter})
            for m, tc in zip(snapshot.messages, counts, strict=True)
        ]
        return snapshot.model_copy(update={"messages": msgs})

    def _context(
        self,
        thread_id: str,
        max_tokens: int | None,
        max_messages: int | None,
        start_on_user: bool,
        counter: TokenCounter | None,
        format: str | None = None,
        report: DropReport | None = None,
    ) -> Generator[ops.Op[Any], Any, Any]:
        if format is None:
            return plan_context(
                self._tenant,
                check_id(thread_id, "thread_id"),
                max_tokens,
                max_messages,
                bool(start_on_user),
                counter or self._counter,
            )
        from convostore.formats.window import plan_format_context

        if not isinstance(format, str):
            raise ValidationError("must be a format name", field="format")
        return plan_format_context(
            self._tenant,
            check_id(thread_id, "thread_id"),
            max_tokens,
            max_messages,
            bool(start_on_user),
            counter or self._counter,
            format,
            report,
        )

    def _view_args(self, name: str) -> tuple[B, str]:
        return self._backend, check_id(name, "tenant")
