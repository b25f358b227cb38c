"""A backend over plain dicts, written from the public modules alone.

It implements the thirteen primitives of :class:`convostore.store.backend.CoreBackend`
and user and app state (``scoped_state``), nothing else: every other operation,
the async face and the context window come from the store core.
``test_dict_backend.py`` runs the whole conformance suite on it in both faces;
docs/backends.md walks through it.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from convostore.errors import (
    DuplicateMessageError,
    MessageNotFoundError,
    ThreadExistsError,
    ThreadNotFoundError,
)
from convostore.model import Message, Page, ScopedState, StateScope, Thread
from convostore.store import ops
from convostore.store.backend import Capabilities, CoreBackend
from convostore.store.rules.codec import encode_message, encode_thread, to_us
from convostore.store.rules.paging import message_page, thread_page
from convostore.store.rules.rewrite import Rewrite
from convostore.store.rules.snapshots import normalize_import
from convostore.store.rules.state import (
    applied_append,
    empty_state,
    plan_append_change,
    targets,
    updated_state,
)
from convostore.store.rules.validation import check_revision, check_writable
from convostore.store.settings import StoreSettings

T = TypeVar("T")
Key = tuple[str, str]


class DictBackend(CoreBackend):
    """Threads and messages in dicts, one lock around every operation.

    Every check runs before the first change, so an operation that raises has
    changed nothing; callers get copies, so mutating a returned object never
    changes what is stored.
    """

    kind = "dict"
    capabilities = Capabilities(durable=False, scoped_state=True)

    def __init__(self, *, settings: StoreSettings | None = None) -> None:
        super().__init__(settings=settings)
        self._lock = threading.Lock()
        self._threads: dict[Key, Thread] = {}
        self._messages: dict[Key, list[Message]] = {}  # (tenant, thread id) -> in seq order
        self._where: dict[Key, str] = {}  # (tenant, message id) -> thread id
        self._states: dict[tuple[str, StateScope, str | None], ScopedState] = {}

    def execute(self, op: ops.Op[T]) -> T:
        with self._lock:
            return copy.deepcopy(super().execute(copy.deepcopy(op)))

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return "dict://"

    def _thread(self, tenant: str, thread_id: str) -> Thread:
        thread = self._threads.get((tenant, thread_id))
        if thread is None:
            raise ThreadNotFoundError(thread_id)
        return thread

    def _message(self, tenant: str, message_id: str) -> tuple[Key, int]:
        thread_id = self._where.get((tenant, message_id))
        if thread_id is None:
            raise MessageNotFoundError(message_id)
        key = (tenant, thread_id)
        index = next(i for i, m in enumerate(self._messages[key]) if m.id == message_id)
        return key, index

    # threads -----------------------------------------------------------------

    def create_thread(self, op: ops.CreateThread) -> Thread:
        key = (op.tenant, op.thread.id)
        encode_thread(op.thread, self.limits)
        if key in self._threads:
            raise ThreadExistsError(op.thread.id)
        self._threads[key] = op.thread
        self._messages[key] = []
        if op.append is None:
            return op.thread
        try:  # the append (a state change) goes with the thread or neither stays
            self.append(op.append)
        except BaseException:
            del self._threads[key], self._messages[key]
            raise
        return self._threads[key]

    def get_thread(self, op: ops.GetThread) -> Thread:
        return self._thread(op.tenant, op.thread_id)

    def modify_thread(
        self,
        tenant: str,
        thread_id: str,
        expected: int | None,
        change: Callable[[Thread], Thread],
        *,
        writable: bool = True,
    ) -> Thread:
        thread = self._thread(tenant, thread_id)
        check_revision(thread, expected)
        if writable:
            check_writable(thread)
        new = change(thread)
        if new is not thread:
            encode_thread(new, self.limits)
            self._threads[(tenant, thread_id)] = new
        return new

    def purge_thread(self, op: ops.PurgeThread) -> None:
        key = (op.tenant, op.thread_id)
        check_revision(self._thread(*key), op.expected_revision)
        for m in self._messages.pop(key):
            del self._where[(op.tenant, m.id)]
        del self._threads[key]

    def list_threads(self, op: ops.ListThreads) -> Page[Thread]:
        f = op.filter
        rows = [
            t
            for (tenant, _), t in self._threads.items()
            if tenant == op.tenant
            and (f.user_id is None or t.user_id == f.user_id)
            and (f.agent_name is None or t.agent_name == f.agent_name)
            and (f.include_deleted or t.deleted_at is None)
            and (op.after is None or (to_us(t.updated_at), t.id) < op.after)
        ]
        rows.sort(key=lambda t: (to_us(t.updated_at), t.id), reverse=True)
        return thread_page(rows[: op.limit + 1], op.limit)

    # messages ----------------------------------------------------------------

    def append(self, op: ops.Append) -> list[Message]:
        thread = self._thread(op.tenant, op.thread_id)
        existing = {}
        for m in op.messages:
            if (op.tenant, m.id) in self._where:
                key, index = self._message(op.tenant, m.id)
                existing[m.id] = self._messages[key][index]
        new, slots, change = plan_append_change(thread, op, existing)
        if not new and change is None:
            return [s for s in slots if s is not None]
        states = {}
        if change is not None:
            states = {t: self._state(op.tenant, *t) for t in targets(thread, change)}
        plan = applied_append(thread, op, new, slots, change, states, self.now(), self.limits)
        encode_thread(plan.thread, self.limits)
        key = (op.tenant, op.thread_id)
        self._threads[key] = plan.thread
        self._messages[key].extend(plan.stored)
        self._where.update({(op.tenant, m.id): op.thread_id for m in plan.stored})
        for state, _ in plan.states:
            self._states[(op.tenant, state.scope, state.user_id)] = state
        return plan.result

    def _state(self, tenant: str, scope: StateScope, user_id: str | None) -> ScopedState:
        found = self._states.get((tenant, scope, user_id))
        return found if found is not None else empty_state(scope, user_id)

    def get_state(self, op: ops.GetState) -> ScopedState:
        return self._state(op.tenant, op.scope, op.user_id)

    def update_state(self, op: ops.UpdateState) -> ScopedState:
        current = self._state(op.tenant, op.scope, op.user_id)
        new, _ = updated_state(current, op.update, self.now(), self.limits)
        self._states[(op.tenant, op.scope, op.user_id)] = new
        return new

    def get_message(self, op: ops.GetMessage) -> Message:
        key, index = self._message(op.tenant, op.message_id)
        return self._messages[key][index]

    def modify_message(
        self,
        tenant: str,
        message_id: str,
        expected: int | None,
        change: Callable[[Thread, Message], tuple[Thread, Message]],
        *,
        importing: bool = False,
    ) -> Message:
        key, index = self._message(tenant, message_id)
        thread, old = self._threads[key], self._messages[key][index]
        check_revision(thread, expected)
        check_writable(thread, importing=importing)
        new_thread, new = change(thread, old)
        if new is old:
            return old
        encode_message(new, self.limits)
        encode_thread(new_thread, self.limits)
        self._threads[key] = new_thread
        self._messages[key][index] = new
        return new

    def rewrite_messages(
        self,
        tenant: str,
        thread_id: str,
        expected: int | None,
        plan: Callable[[Thread, Sequence[Message]], Rewrite],
        claims: Sequence[str] = (),
    ) -> ops.Rewritten:
        thread, msgs = self._thread(tenant, thread_id), self._messages[(tenant, thread_id)]
        check_revision(thread, expected)
        check_writable(thread)
        rw = plan(thread, list(msgs))
        taken = [m for m in claims if self._where.get((tenant, m), thread_id) != thread_id]
        if taken:
            raise DuplicateMessageError(taken[0], "in another thread")
        for m in rw.tail if rw.fresh else ():
            encode_message(m, self.limits)
        for m in rw.changed:
            msgs[(m.seq or 0) - 1] = m
        start = len(msgs) if rw.from_seq is None else rw.from_seq - 1
        for m in msgs[start:]:
            del self._where[(tenant, m.id)]
        msgs[start:] = rw.tail
        self._where.update({(tenant, m.id): thread_id for m in rw.tail})
        self._threads[(tenant, thread_id)] = rw.thread
        return rw.result

    def list_messages(self, op: ops.ListMessages) -> Page[Message]:
        self._thread(op.tenant, op.thread_id)
        msgs = self._messages[(op.tenant, op.thread_id)]
        live = [m for m in msgs if op.include_deleted or m.deleted_at is None]
        if op.before_seq is None:  # forward from after_seq, ascending
            rows = [m for m in live if (m.seq or 0) > op.after_seq]
        else:  # backward from before_seq, descending
            rows = [m for m in reversed(live) if (m.seq or 0) < op.before_seq]
        return message_page(rows[: op.limit + 1], op)

    def messages_by_execution(self, op: ops.ByExecution) -> list[Message]:
        out: list[Message] = []
        for (tenant, thread_id), msgs in sorted(self._messages.items()):
            if tenant != op.tenant or op.thread_id not in (None, thread_id):
                continue
            out.extend(
                m for m in msgs if m.execution_id == op.execution_id and m.deleted_at is None
            )
        return out if op.limit is None else out[: op.limit]

    def import_thread(self, op: ops.ImportThread) -> Thread:
        thread, msgs = normalize_import(op.tenant, op.snapshot, op.thread_id, self.now())
        encode_thread(thread, self.limits)
        for m in msgs:
            encode_message(m, self.limits)
        key = (op.tenant, thread.id)
        if key in self._threads:
            raise ThreadExistsError(thread.id)
        for m in msgs:
            if (op.tenant, m.id) in self._where:
                raise DuplicateMessageError(m.id, "in another thread")
        self._threads[key] = thread
        self._messages[key] = msgs
        self._where.update({(op.tenant, m.id): thread.id for m in msgs})
        return thread


def open_dict(url: str, *, settings: StoreSettings, **options: Any) -> DictBackend:
    """Open ``dict://`` (what an entry point of ``convostore.backends`` names)."""
    return DictBackend(settings=settings, **options)
