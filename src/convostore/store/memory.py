"""In-process backend: dictionaries behind one lock.

It is the reference implementation of the store contract and the base of the
JSON-file backend, which adds persistence through :meth:`MemoryBackend._persist`:
every write first changes memory, then persists the thread it touched, and
rolls memory back if persisting fails, so nothing is half-written.

A context window reads through a per-thread index of the seqs a window may use
(live, not archived) and of the mandatory ones among them (system and pinned),
so its cost does not grow with the archived or deleted history. The index is
built on a thread's first window read and kept up to date by every write.
"""

from __future__ import annotations

import bisect
import contextlib
import copy
import dataclasses
import datetime as dt
import functools
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from convostore.errors import (
    AttachmentNotFoundError,
    DuplicateMessageError,
    MessageNotFoundError,
    ThreadExistsError,
    ThreadNotFoundError,
)
from convostore.model import (
    Attachment,
    AttachmentInfo,
    ConversationSnapshot,
    HealthCheckResult,
    HealthReport,
    Message,
    Page,
    ScopedState,
    StateScope,
    Thread,
    ThreadSummary,
)
from convostore.store import ops
from convostore.store.backend import Capabilities, CoreBackend
from convostore.store.rules.branches import (
    check_purgeable,
    check_rewrite,
    check_unshared,
    new_branch,
    plan_fork,
    prefix_counters,
    tree_key,
)
from convostore.store.rules.codec import (
    as_stored_dicts,
    collector_paused,
    encode_message,
    encode_thread,
    to_us,
)
from convostore.store.rules.paging import message_page, thread_page
from convostore.store.rules.patches import touch
from convostore.store.rules.rewrite import Rewrite
from convostore.store.rules.snapshots import normalize_import, snapshot_of
from convostore.store.rules.state import (
    applied_append,
    empty_state,
    plan_append_change,
    state_key,
    targets,
    updated_state,
)
from convostore.store.rules.validation import check_revision, check_writable
from convostore.store.settings import Limits, StoreSettings

__all__ = ["MemoryBackend"]

T = TypeVar("T")
Key = tuple[str, str]  # (tenant, thread_id)
StateKey = tuple[str, str, str]  # (tenant, scope, user id or "" for app state)
Undo = Callable[[], object]


@dataclass(slots=True)
class _Windows:
    """The seqs of one thread a context window may read, ascending."""

    live: list[int] = field(default_factory=list)  # not deleted, not archived
    mandatory: list[int] = field(default_factory=list)  # of those, system or pinned

    @staticmethod
    def flags(m: Message) -> tuple[bool, bool]:
        """Whether ``m`` belongs in ``live`` and in ``mandatory``."""
        live = m.deleted_at is None and m.archived_at is None
        return live, live and (m.pinned or m.role == "system")

    def add(self, m: Message) -> None:
        """Index a message whose seq is above every seq indexed so far."""
        live, mandatory = self.flags(m)
        if live:
            self.live.append(m.seq or 0)
        if mandatory:
            self.mandatory.append(m.seq or 0)

    def truncate(self, seq: int) -> None:
        """Forget the seqs from ``seq`` on."""
        for seqs in (self.live, self.mandatory):
            del seqs[bisect.bisect_left(seqs, seq) :]

    def replace(self, old: Message, new: Message) -> None:
        seq = new.seq or 0
        for before, after, seqs in zip(
            self.flags(old), self.flags(new), (self.live, self.mandatory), strict=True
        ):
            if before and not after:
                del seqs[bisect.bisect_left(seqs, seq)]
            elif after and not before:
                bisect.insort(seqs, seq)


class MemoryBackend(CoreBackend):
    """Everything in process memory; lost when the process ends."""

    kind: ClassVar[str] = "memory"
    capabilities: ClassVar[Capabilities] = Capabilities(
        durable=False, attachments=True, branches=True, scoped_state=True
    )

    def __init__(
        self, *, settings: StoreSettings | None = None, limits: Limits | None = None
    ) -> None:
        super().__init__(settings=settings, limits=limits)
        self._lock = threading.RLock()
        self._records: dict[Key, Thread] = {}
        self._msgs: dict[Key, list[Message]] = {}
        self._by_id: dict[Key, tuple[str, int]] = {}  # (tenant, msg id) -> (thread, seq)
        self._by_exec: dict[Key, list[tuple[str, int]]] = {}
        self._windows: dict[Key, _Windows] = {}  # built on a thread's first window read
        self._blobs: dict[Key, Attachment] = {}  # (tenant, ref) -> attachment
        # (tenant, ref) -> {(thread id, message id): when the reference was recorded}
        self._refs: dict[Key, dict[Key, dt.datetime]] = {}
        # (tenant, root id) -> the ids of the branches of that root's tree
        self._trees: dict[Key, set[str]] = {}
        self._states: dict[StateKey, ScopedState] = {}
        self._written_states: list[ScopedState] = []  # by the write in progress
        self._closed = False

    def describe(self) -> str:
        return "memory://"

    def execute(self, op: ops.Op[T]) -> T:
        # Hand out copies and keep copies: a caller mutating a returned or a
        # submitted object must not change the store behind its back. A whole
        # thread's copy is built with the collector paused, as other backends
        # decode one.
        result = super().execute(copy.deepcopy(op))
        whole = isinstance(op, ops.LoadMessages | ops.ExportThread)
        with (
            collector_paused(self.settings.pause_gc_on_load) if whole else contextlib.nullcontext()
        ):
            return copy.deepcopy(result)

    def close(self) -> None:
        self._closed = True

    # persistence hook -------------------------------------------------------

    def _persist(self, key: Key) -> None:
        """Make the current state of thread ``key`` durable. Memory: nothing to do."""

    def _persist_states(self, tenant: str, written: list[ScopedState]) -> None:
        """Make the tenant's user and app states durable after a write changed
        ``written`` (persisted after the thread file that carries them too, see
        the JSON-file backend). Memory: nothing to do."""

    @contextlib.contextmanager
    def _writing(self, key: Key, *, thread: bool = True) -> Iterator[list[Undo]]:
        """Run a write under the lock; undo it if it or its persistence fails.

        A write of user or app state alone passes ``thread=False``: no thread
        is persisted, only the states."""
        undo: list[Undo] = []
        with self._lock:
            self._written_states = []
            try:
                yield undo
                if undo:  # a write that changed nothing has nothing to persist
                    if thread:
                        self._persist(key)
                    if self._written_states:
                        self._persist_states(key[0], self._written_states)
            except BaseException:
                for step in reversed(undo):
                    step()
                self._windows.pop(key, None)  # rebuilt from the rolled back state
                raise
            finally:
                self._written_states = []

    # lookups ----------------------------------------------------------------

    def _thread(self, tenant: str, thread_id: str) -> Thread:
        rec = self._records.get((tenant, thread_id))
        if rec is None:
            raise ThreadNotFoundError(thread_id)
        return rec

    def _base(self, key: Key) -> int:
        """The seq before a thread's first own message (a branch's fork point)."""
        return self._records[key].fork_seq or 0

    def _message(self, tenant: str, message_id: str) -> tuple[Key, int, Message]:
        loc = self._by_id.get((tenant, message_id))
        if loc is None:
            raise MessageNotFoundError(message_id)
        key = (tenant, loc[0])
        idx = loc[1] - 1 - self._base(key)
        return key, idx, self._msgs[key][idx]

    def _tree(self, tenant: str, root: str) -> list[Thread]:
        """The threads of the branch tree rooted at ``root`` (see ``TreeThreads``)."""
        ids = [root, *sorted(self._trees.get((tenant, root), ()))]
        return [self._records[(tenant, i)] for i in ids if (tenant, i) in self._records]

    def _add_to_tree(self, tenant: str, thread: Thread, undo: list[Undo]) -> None:
        if thread.root_thread_id is None:
            return
        members = self._trees.setdefault((tenant, thread.root_thread_id), set())
        members.add(thread.id)
        undo.append(lambda: members.discard(thread.id))

    def _branch_of(self, tenant: str, thread_id: str) -> Thread | None:
        with self._lock:
            thread = self._thread(tenant, thread_id)
        return thread if thread.is_branch else None

    def _set_record(self, key: Key, thread: Thread, undo: list[Undo]) -> None:
        old = self._records.get(key)
        self._records[key] = thread
        if old is None:
            undo.append(lambda: self._records.pop(key, None))
        else:
            undo.append(lambda: self._records.__setitem__(key, old))

    def _state(self, tenant: str, scope: StateScope, user_id: str | None) -> ScopedState:
        found = self._states.get((tenant, scope.value, state_key(scope, user_id)))
        return found if found is not None else empty_state(scope, user_id)

    def _set_state(self, tenant: str, state: ScopedState, undo: list[Undo]) -> None:
        skey = (tenant, state.scope.value, state_key(state.scope, state.user_id))
        old = self._states.get(skey)
        self._states[skey] = state
        self._written_states.append(state)
        if old is None:
            undo.append(lambda: self._states.pop(skey, None))
        else:
            undo.append(lambda: self._states.__setitem__(skey, old))

    # scoped state -------------------------------------------------------------

    def get_state(self, op: ops.GetState) -> ScopedState:
        with self._lock:
            return self._state(op.tenant, op.scope, op.user_id)

    def update_state(self, op: ops.UpdateState) -> ScopedState:
        with self._writing((op.tenant, ""), thread=False) as undo:
            current = self._state(op.tenant, op.scope, op.user_id)
            new, _ = updated_state(current, op.update, self.now(), self.limits)
            self._set_state(op.tenant, new, undo)
        return new

    # threads ----------------------------------------------------------------

    def create_thread(self, op: ops.CreateThread) -> Thread:
        thread = op.thread
        encode_thread(thread, self.limits)
        key = (op.tenant, thread.id)
        with self._writing(key) as undo:
            if key in self._records:
                raise ThreadExistsError(thread.id)
            self._set_record(key, thread, undo)
            self._msgs[key] = []
            undo.append(lambda: self._msgs.pop(key, None))
            if op.append is not None:
                self._append_locked(key, op.append, undo)
            return self._records[key]

    def get_thread(self, op: ops.GetThread) -> Thread:
        with self._lock:
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
        key = (tenant, thread_id)
        with self._writing(key) as undo:
            thread = self._thread(tenant, thread_id)
            check_revision(thread, expected)
            if writable:
                check_writable(thread)
            new = change(thread)
            if new is not thread:
                encode_thread(new, self.limits)
                self._set_record(key, new, undo)
        return new

    def purge_thread(self, op: ops.PurgeThread) -> None:
        key = (op.tenant, op.thread_id)
        with self._writing(key) as undo:
            thread = self._thread(*key)
            check_revision(thread, op.expected_revision)
            check_purgeable(thread, self._tree(op.tenant, tree_key(thread)))
            if thread.root_thread_id is not None:
                members = self._trees.get((op.tenant, thread.root_thread_id), set())
                if thread.id in members:
                    members.discard(thread.id)
                    undo.append(functools.partial(members.add, thread.id))
            msgs = self._msgs.pop(key, [])
            del self._records[key]
            self._windows.pop(key, None)
            undo.append(lambda: self._records.__setitem__(key, thread))
            undo.append(lambda: self._msgs.__setitem__(key, msgs))
            for m in msgs:
                loc = self._by_id.pop((op.tenant, m.id), None)
                if loc is not None:
                    undo.append(functools.partial(self._by_id.__setitem__, (op.tenant, m.id), loc))
                if m.execution_id:
                    self._unindex_exec(op.tenant, m, undo)

    def _filtered(self, tenant: str, flt: ops.ThreadFilter) -> list[Thread]:
        out = []
        for (t, _), rec in self._records.items():
            if t != tenant:
                continue
            if flt.user_id is not None and rec.user_id != flt.user_id:
                continue
            if flt.agent_name is not None and rec.agent_name != flt.agent_name:
                continue
            if not flt.include_deleted and rec.deleted_at is not None:
                continue
            out.append(rec)
        out.sort(key=lambda r: (to_us(r.updated_at), r.id), reverse=True)
        return out

    def list_threads(self, op: ops.ListThreads) -> Page[Thread]:
        with self._lock:
            rows = self._filtered(op.tenant, op.filter)
        if op.after is not None:
            rows = [r for r in rows if (to_us(r.updated_at), r.id) < op.after]
        return thread_page(rows[: op.limit + 1], op.limit)

    def count_threads(self, op: ops.CountThreads) -> int:
        with self._lock:
            return len(self._filtered(op.tenant, op.filter))

    def summaries(self, op: ops.Summaries) -> list[ThreadSummary]:
        with self._lock:
            rows = self._filtered(op.tenant, op.filter)
        if op.limit is not None:
            rows = rows[: op.limit]
        return [ThreadSummary.of(r) for r in rows]

    # messages ---------------------------------------------------------------

    def _index_exec(self, tenant: str, m: Message, undo: list[Undo]) -> None:
        assert m.execution_id is not None and m.thread_id is not None and m.seq is not None
        lst = self._by_exec.setdefault((tenant, m.execution_id), [])
        entry = (m.thread_id, m.seq)
        lst.append(entry)
        undo.append(lambda: lst.remove(entry))

    def _unindex_exec(self, tenant: str, m: Message, undo: list[Undo]) -> None:
        assert m.execution_id is not None
        lst = self._by_exec.get((tenant, m.execution_id), [])
        entry = (m.thread_id or "", m.seq or 0)
        if entry in lst:
            lst.remove(entry)
            undo.append(lambda: lst.append(entry))

    def append(self, op: ops.Append) -> list[Message]:
        key = (op.tenant, op.thread_id)
        with self._writing(key) as undo:
            return self._append_locked(key, op, undo)

    def _append_locked(self, key: Key, op: ops.Append, undo: list[Undo]) -> list[Message]:
        thread = self._thread(*key)
        existing = {}
        for m in op.messages:
            if (op.tenant, m.id) in self._by_id:
                existing[m.id] = self._message(op.tenant, m.id)[2]
        new, slots, change = plan_append_change(thread, op, existing)
        if not new and change is None:
            return [s for s in slots if s is not None]
        current = {}
        if change is not None:
            current = {t: self._state(op.tenant, *t) for t in targets(thread, change)}
        plan = applied_append(thread, op, new, slots, change, current, self.now(), self.limits)
        updated, stored = plan.thread, plan.stored
        encode_thread(updated, self.limits)
        for state, _ in plan.states:
            self._set_state(op.tenant, state, undo)
        msgs = self._msgs[key]
        size = len(msgs)
        self._set_record(key, updated, undo)
        msgs.extend(stored)
        undo.append(lambda: msgs.__delitem__(slice(size, None)))
        windows = self._windows.get(key)
        if windows is not None:
            for m in stored:
                windows.add(m)
        for m in stored:
            mk = (op.tenant, m.id)
            self._by_id[mk] = (op.thread_id, m.seq or 0)
            undo.append(functools.partial(self._by_id.pop, mk, None))
            if m.execution_id:
                self._index_exec(op.tenant, m, undo)
        return plan.result

    # branches ---------------------------------------------------------------

    def fork_thread(self, op: ops.ForkThread) -> Thread:
        if not op.supersede:
            return self._fork(op)
        # The source's revision goes up first, under the lock the fork runs in
        # (each write persists one thread): a failed fork puts it back, and a
        # crash between the two leaves only a revision bump, no branch.
        source_key = (op.tenant, op.thread_id)
        with self._lock:
            source = self._thread(*source_key)
            at_message = self._message(op.tenant, op.at_message_id)[2] if op.at_message_id else None
            plan_fork(source, op, at_message)
            if (op.tenant, op.branch_id) in self._records:
                raise ThreadExistsError(op.branch_id)
            with self._writing(source_key) as undo:
                self._set_record(source_key, touch(source, self.now()), undo)
            try:
                return self._fork(dataclasses.replace(op, expected_revision=None))
            except BaseException:
                with self._writing(source_key) as undo:
                    self._set_record(source_key, source, undo)
                raise

    def _fork(self, op: ops.ForkThread) -> Thread:
        key = (op.tenant, op.branch_id)
        with self._writing(key) as undo:
            source = self._thread(op.tenant, op.thread_id)
            at_message = self._message(op.tenant, op.at_message_id)[2] if op.at_message_id else None
            at, lineage = plan_fork(source, op, at_message)
            owner_key = (op.tenant, lineage[-1].thread_id)
            msgs, base, _ = self._own(*owner_key, None)
            counters = prefix_counters(self._records[owner_key], msgs[max(0, at - base) :], at)
            branch = new_branch(
                source, lineage, counters, branch_id=op.branch_id, patch=op.patch, now=self.now()
            )
            encode_thread(branch, self.limits)
            if key in self._records:
                raise ThreadExistsError(op.branch_id)
            self._set_record(key, branch, undo)
            self._msgs[key] = []
            undo.append(lambda: self._msgs.pop(key, None))
            self._add_to_tree(op.tenant, branch, undo)
            if op.append is not None:
                self._append_locked(key, op.append, undo)
            return self._records[key]

    def tree_threads(self, op: ops.TreeThreads) -> list[Thread]:
        with self._lock:
            return self._tree(op.tenant, op.root_id)

    def get_message(self, op: ops.GetMessage) -> Message:
        with self._lock:
            return self._message(op.tenant, op.message_id)[2]

    def modify_message(
        self,
        tenant: str,
        message_id: str,
        expected: int | None,
        change: Callable[[Thread, Message], tuple[Thread, Message]],
        *,
        importing: bool = False,
    ) -> Message:
        with self._lock:
            key, idx, old = self._message(tenant, message_id)
        with self._writing(key) as undo:
            key, idx, old = self._message(tenant, message_id)
            thread = self._thread(*key)
            check_revision(thread, expected)
            check_writable(thread, importing=importing)
            new_thread, new = change(thread, old)
            if new is old:
                return old
            check_unshared(thread, old, new, self._tree(tenant, tree_key(thread)))
            encode_message(new, self.limits)
            msgs = self._msgs[key]
            self._set_record(key, new_thread, undo)
            msgs[idx] = new
            undo.append(lambda: msgs.__setitem__(idx, old))
            windows = self._windows.get(key)
            if windows is not None:
                windows.replace(old, new)
        return new

    def rewrite_messages(
        self,
        tenant: str,
        thread_id: str,
        expected: int | None,
        plan: Callable[[Thread, Sequence[Message]], Rewrite],
        *,
        claims: Sequence[str] = (),
    ) -> ops.Rewritten:
        key = (tenant, thread_id)
        with self._writing(key) as undo:
            thread = self._thread(tenant, thread_id)
            check_revision(thread, expected)
            check_writable(thread)
            msgs = self._msgs[key]
            rw = plan(thread, msgs)
            if rw.thread is thread:
                return rw.result
            check_rewrite(thread, rw, self._tree(tenant, tree_key(thread)))
            base = self._base(key)
            for mid in claims:
                loc = self._by_id.get((tenant, mid))
                if loc is not None and loc[0] != thread_id:
                    raise DuplicateMessageError(mid, "in another thread")
            if rw.fresh:
                for m in rw.tail:
                    encode_message(m, self.limits)
            self._set_record(key, rw.thread, undo)
            for new in rw.changed:
                self._put_message(key, new, base, undo)
            if rw.from_seq is not None:
                start = max(0, rw.from_seq - 1 - base)
                self._replace_tail(key, start, rw.from_seq, rw.tail, undo)
        return rw.result

    def _put_message(self, key: Key, new: Message, base: int, undo: list[Undo]) -> None:
        msgs, idx = self._msgs[key], (new.seq or 0) - 1 - base
        old = msgs[idx]
        msgs[idx] = new
        undo.append(lambda: msgs.__setitem__(idx, old))
        windows = self._windows.get(key)
        if windows is not None:
            windows.replace(old, new)

    def _replace_tail(
        self, key: Key, start: int, from_seq: int, tail: Sequence[Message], undo: list[Undo]
    ) -> None:
        """The thread's own rows from index ``start`` on replaced by ``tail``,
        with the id, execution and window indexes."""
        tenant, thread_id = key
        msgs = self._msgs[key]
        old = msgs[start:]
        del msgs[start:]
        msgs.extend(tail)

        def back() -> None:
            del msgs[start:]
            msgs.extend(old)

        undo.append(back)
        for m in old:
            mk = (tenant, m.id)
            loc = self._by_id.pop(mk, None)
            if loc is not None:
                undo.append(functools.partial(self._by_id.__setitem__, mk, loc))
            if m.execution_id:
                self._unindex_exec(tenant, m, undo)
        for m in tail:
            mk = (tenant, m.id)
            self._by_id[mk] = (thread_id, m.seq or 0)
            undo.append(functools.partial(self._by_id.pop, mk, None))
            if m.execution_id:
                self._index_exec(tenant, m, undo)
        windows = self._windows.get(key)
        if windows is not None:
            windows.truncate(from_seq)
            for m in tail:
                windows.add(m)

    def _live(self, op_tenant: str, thread_id: str) -> list[Message]:
        self._thread(op_tenant, thread_id)
        return self._msgs[(op_tenant, thread_id)]

    def _own(
        self, tenant: str, thread_id: str, last_seq: int | None
    ) -> tuple[list[Message], int, int]:
        """A thread's own messages, the seq before the first (its fork point)
        and how many of them a read up to ``last_seq`` covers."""
        msgs = self._live(tenant, thread_id)
        base = self._base((tenant, thread_id))
        end = len(msgs) if last_seq is None else max(0, min(len(msgs), last_seq - base))
        return msgs, base, end

    def list_messages(self, op: ops.ListMessages) -> Page[Message]:
        with self._lock:
            msgs, base, end = self._own(op.tenant, op.thread_id, op.upto_seq)
            want = op.limit + 1
            rows: list[Message] = []
            if op.before_seq is None:
                i = max(0, op.after_seq - base)  # seq n sits at index n-1-base
                while i < end and len(rows) < want:
                    if op.include_deleted or msgs[i].deleted_at is None:
                        rows.append(msgs[i])
                    i += 1
            else:
                i = min(op.before_seq - 1 - base, end) - 1
                while i >= 0 and len(rows) < want:
                    if op.include_deleted or msgs[i].deleted_at is None:
                        rows.append(msgs[i])
                    i -= 1
        return message_page(rows, op)

    def recent(self, op: ops.Recent) -> list[Message]:
        with self._lock:
            msgs, _, end = self._own(op.tenant, op.thread_id, op.upto_seq)
            out: list[Message] = []
            i = end - 1
            while i >= 0 and (op.n is None or len(out) < op.n):
                if ops.recent_wanted(op, msgs[i]):
                    out.append(msgs[i])
                i -= 1
        out.reverse()
        return out

    def load_messages(self, op: ops.LoadMessages) -> list[Any]:
        with self._lock:
            own, _, end = self._own(op.tenant, op.thread_id, op.upto_seq)
            msgs = [m for m in own[:end] if ops.loaded(op, m)]
        if not op.as_dicts:
            return msgs
        with collector_paused(self.settings.pause_gc_on_load):
            return as_stored_dicts(msgs)

    def _windows_of(self, key: Key) -> _Windows:
        """The window index of a thread, built on first use (O(thread) once)."""
        windows = self._windows.get(key)
        if windows is None:
            windows = _Windows()
            for m in self._msgs[key]:
                windows.add(m)
            self._windows[key] = windows
        return windows

    def mandatory(self, op: ops.Mandatory) -> list[Message]:
        with self._lock:
            msgs, base, end = self._own(op.tenant, op.thread_id, op.upto_seq)
            seqs = self._windows_of((op.tenant, op.thread_id)).mandatory
            return [msgs[s - 1 - base] for s in seqs if s - base <= end]

    def context_page(self, op: ops.ContextPage) -> ops.ContextRows:
        key = (op.tenant, op.thread_id)
        with self._lock:
            msgs, base, own_end = self._own(*key, op.upto_seq)
            windows = self._windows_of(key)
            end = bisect.bisect_left(windows.live, min(op.before_seq, base + own_end + 1))
            seqs = windows.live[max(0, end - op.limit) : end]
            rows: list[tuple[int, Message | str]] = [
                (s, msgs[s - 1 - base]) for s in reversed(seqs)
            ]
            mandatory = (
                [msgs[s - 1 - base] for s in windows.mandatory if s - base <= own_end]
                if op.with_mandatory
                else None
            )
        return ops.ContextRows(mandatory, rows)

    def messages_by_execution(self, op: ops.ByExecution) -> list[Message]:
        with self._lock:
            locs = sorted(self._by_exec.get((op.tenant, op.execution_id), []))
            out: list[Message] = []
            for thread_id, seq in locs:
                if op.thread_id is not None and thread_id != op.thread_id:
                    continue
                if op.upto_seq is not None and seq > op.upto_seq:
                    continue
                key = (op.tenant, thread_id)
                m = self._msgs[key][seq - 1 - self._base(key)]
                if m.deleted_at is None:
                    if op.limit is not None and len(out) == op.limit:
                        break
                    out.append(m)
        return out

    # snapshots --------------------------------------------------------------

    def export_thread(self, op: ops.ExportThread) -> ConversationSnapshot:
        with self._lock:
            thread = self._thread(op.tenant, op.thread_id)
            msgs = list(self._msgs[(op.tenant, op.thread_id)])
        return snapshot_of(thread, msgs, self.now())

    def import_thread(self, op: ops.ImportThread) -> Thread:
        thread, msgs = normalize_import(op.tenant, op.snapshot, op.thread_id, self.now())
        key = (op.tenant, thread.id)
        encode_thread(thread, self.limits)
        for m in msgs:
            encode_message(m, self.limits)
        with self._writing(key) as undo:
            if key in self._records:
                raise ThreadExistsError(thread.id)
            for m in msgs:
                if (op.tenant, m.id) in self._by_id:
                    raise DuplicateMessageError(m.id, "in another thread")
            self._set_record(key, thread, undo)
            self._msgs[key] = msgs
            self._windows.pop(key, None)
            undo.append(lambda: self._msgs.pop(key, None))
            for m in msgs:
                mk = (op.tenant, m.id)
                self._by_id[mk] = (thread.id, m.seq or 0)
                undo.append(functools.partial(self._by_id.pop, mk, None))
                if m.execution_id:
                    self._index_exec(op.tenant, m, undo)
        return thread

    # attachments ------------------------------------------------------------

    def _persist_blob(self, tenant: str, blob: Attachment) -> None:
        """Make a new attachment durable. Memory: nothing to do."""

    def _drop_blob(self, tenant: str, ref: str) -> None:
        """Remove a durable attachment. Memory: nothing to do."""

    def attach(self, op: ops.Attach) -> list[AttachmentInfo]:
        with self._lock:
            given = {b.ref for b in op.blobs}
            for _, ref in op.refs:
                if ref not in given and (op.tenant, ref) not in self._blobs:
                    raise AttachmentNotFoundError(ref)
            now = self.now()
            infos: list[AttachmentInfo] = []
            for b in op.blobs:
                key = (op.tenant, b.ref)
                have = self._blobs.get(key)
                if have is None:
                    have = b.model_copy(update={"created_at": now})
                    self._persist_blob(op.tenant, have)
                    self._blobs[key] = have
                infos.append(have.info())
            if op.thread_id is not None:
                for mid, ref in op.refs:
                    self._refs.setdefault((op.tenant, ref), {}).setdefault((op.thread_id, mid), now)
            return infos

    def get_attachment(self, op: ops.GetAttachment) -> Attachment | AttachmentInfo:
        with self._lock:
            found = self._blobs.get((op.tenant, op.ref))
        if found is None:
            raise AttachmentNotFoundError(op.ref)
        return found if op.with_data else found.info()

    def _remove_unreferenced(self, tenant: str, refs: list[str], before: dt.datetime | None) -> int:
        removed = 0
        for ref in refs:
            key = (tenant, ref)
            blob = self._blobs.get(key)
            if blob is None or self._refs.get(key):
                continue
            if before is not None and blob.created_at >= before:
                continue
            self._drop_blob(tenant, ref)
            del self._blobs[key]
            self._refs.pop(key, None)
            removed += 1
        return removed

    def release_attachments(self, op: ops.ReleaseAttachments) -> int:
        with self._lock:
            released = []
            if op.refs is not None:
                for mid, ref in op.refs:
                    holders = self._refs.get((op.tenant, ref), {})
                    if holders.pop((op.thread_id, mid), None) is not None:
                        released.append(ref)
                return self._remove_unreferenced(op.tenant, list(dict.fromkeys(released)), None)
            for (tenant, ref), holders in self._refs.items():
                if tenant != op.tenant:
                    continue
                for holder in [h for h in holders if h[0] == op.thread_id]:
                    del holders[holder]
                    released.append(ref)
            return self._remove_unreferenced(op.tenant, list(dict.fromkeys(released)), None)

    def purge_attachments(self, op: ops.PurgeAttachments) -> int:
        with self._lock:
            for (tenant, _), holders in self._refs.items():
                if tenant != op.tenant:
                    continue
                for holder, at in list(holders.items()):
                    if at < op.before and (tenant, holder[1]) not in self._by_id:
                        del holders[holder]
            refs = [ref for (tenant, ref) in self._blobs if tenant == op.tenant]
            return self._remove_unreferenced(op.tenant, refs, op.before)

    def health_check(self, op: ops.HealthCheck) -> HealthReport:
        with self._lock:
            n = len(self._records)
        check = HealthCheckResult(
            name="open",
            ok=not self._closed,
            detail="the store is closed" if self._closed else "in the memory of this process",
        )
        return HealthReport.of(self.kind, [check], {"threads": n}, full=op.full)
