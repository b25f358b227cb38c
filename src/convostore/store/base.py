"""What a backend implements: one handler per operation record.

A sync backend subclasses :class:`Backend`; the async face of a blocking
backend (memory, JSON files, SQLite) is :class:`ThreadedAsyncBackend`, which
runs the very same handlers on worker threads. A natively async backend
subclasses :class:`AsyncBackend` directly. Third-party backends prove
themselves with :mod:`convostore.testing`.
"""

from __future__ import annotations

import asyncio
import functools
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from convostore.model import (
    ConversationSnapshot,
    HealthReport,
    Message,
    Page,
    Thread,
    ThreadSummary,
    utcnow,
)
from convostore.store import _ops as ops
from convostore.store._logic import (
    DEFAULT_LIMITS,
    Limits,
    apply_thread_patch,
    as_stored_dicts,
    restored,
    soft_deleted,
)

T = TypeVar("T")

__all__ = ["AsyncBackend", "Backend", "Capabilities", "ThreadChangeBackend", "ThreadedAsyncBackend"]


class Capabilities:
    """Optional features a backend declares instead of raising NotImplementedError."""

    def __init__(
        self, *, full_text_search: bool = False, multi_process: bool = False, durable: bool = True
    ) -> None:
        self.full_text_search = full_text_search
        self.multi_process = multi_process
        self.durable = durable

    def as_dict(self) -> dict[str, bool]:
        return dict(vars(self))


class Backend(ABC):
    """A blocking backend. Every handler receives its operation record."""

    kind: ClassVar[str] = "backend"
    capabilities: ClassVar[Capabilities] = Capabilities()

    def __init__(self, *, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits

    def execute(self, op: ops.Op[T]) -> T:
        handler: Callable[[ops.Op[T]], T] = getattr(self, op.name)
        return handler(op)

    def describe(self) -> str:
        """A human-readable location of the store, without secrets."""
        return self.kind

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def create_thread(self, op: ops.CreateThread) -> Thread: ...
    @abstractmethod
    def get_thread(self, op: ops.GetThread) -> Thread: ...
    @abstractmethod
    def update_thread(self, op: ops.UpdateThread) -> Thread: ...
    @abstractmethod
    def delete_thread(self, op: ops.DeleteThread) -> Thread: ...
    @abstractmethod
    def restore_thread(self, op: ops.RestoreThread) -> Thread: ...
    @abstractmethod
    def purge_thread(self, op: ops.PurgeThread) -> None: ...
    @abstractmethod
    def list_threads(self, op: ops.ListThreads) -> Page[Thread]: ...
    @abstractmethod
    def count_threads(self, op: ops.CountThreads) -> int: ...
    @abstractmethod
    def summaries(self, op: ops.Summaries) -> list[ThreadSummary]: ...
    @abstractmethod
    def append(self, op: ops.Append) -> list[Message]: ...
    @abstractmethod
    def get_message(self, op: ops.GetMessage) -> Message: ...
    @abstractmethod
    def update_message(self, op: ops.UpdateMessage) -> Message: ...
    @abstractmethod
    def delete_message(self, op: ops.DeleteMessage) -> Message: ...
    @abstractmethod
    def restore_message(self, op: ops.RestoreMessage) -> Message: ...
    @abstractmethod
    def list_messages(self, op: ops.ListMessages) -> Page[Message]: ...
    @abstractmethod
    def recent(self, op: ops.Recent) -> list[Message]: ...
    @abstractmethod
    def messages_by_execution(self, op: ops.ByExecution) -> list[Message]: ...
    @abstractmethod
    def export_thread(self, op: ops.ExportThread) -> ConversationSnapshot: ...
    @abstractmethod
    def import_thread(self, op: ops.ImportThread) -> Thread: ...
    @abstractmethod
    def health_check(self, op: ops.HealthCheck) -> HealthReport: ...

    def load_messages(self, op: ops.LoadMessages) -> list[Any]:
        """A whole thread; backends override this with a single read."""
        out: list[Any] = []
        after = 0
        while True:
            page = self.list_messages(
                ops.ListMessages(op.tenant, op.thread_id, 1000, after, None, op.include_deleted)
            )
            out.extend(page.items)
            if page.next_cursor is None or not page.items:
                return as_stored_dicts(out) if op.as_dicts else out
            after = page.items[-1].seq or 0

    def context_page(self, op: ops.ContextPage) -> ops.ContextRows:
        """A page for a context window: live, unarchived messages only. Backends
        override this with one indexed read of exactly those rows that leaves
        the bodies undecoded until the window uses them; this default steps
        over archived messages, so its cost grows with them."""
        mandatory = (
            self.mandatory(ops.Mandatory(op.tenant, op.thread_id)) if op.with_mandatory else None
        )
        rows: list[tuple[int, Message | str]] = []
        before = op.before_seq
        while len(rows) < op.limit:
            page = self.list_messages(
                ops.ListMessages(op.tenant, op.thread_id, op.limit, 0, before)
            )
            rows.extend((m.seq or 0, m) for m in reversed(page.items) if m.archived_at is None)
            if page.prev_cursor is None or not page.items:
                break
            before = page.items[0].seq or 0
        return ops.ContextRows(mandatory, rows[: op.limit])

    def mandatory(self, op: ops.Mandatory) -> list[Message]:
        """System and pinned messages; backends override this with an indexed read."""
        out: list[Message] = []
        after = 0
        while True:
            page = self.list_messages(ops.ListMessages(op.tenant, op.thread_id, 500, after))
            out.extend(
                m for m in page.items if (m.pinned or m.role == "system") and m.archived_at is None
            )
            if page.next_cursor is None or not page.items:
                return out
            after = page.items[-1].seq or 0


class ThreadChangeBackend(Backend):
    """A backend whose thread writes go through one read-check-write primitive.

    ``_modify`` loads the thread under the backend's write lock or transaction,
    checks the expected revision (and, with ``writable``, that it is not
    deleted), applies ``change`` and stores the result unless ``change``
    returned the thread unchanged. The friendly thread writes are defined here
    once in terms of it.
    """

    @abstractmethod
    def _modify(
        self,
        tenant: str,
        thread_id: str,
        expected: int | None,
        change: Callable[[Thread], Thread],
        *,
        writable: bool = True,
    ) -> Thread: ...

    def update_thread(self, op: ops.UpdateThread) -> Thread:
        return self._modify(
            op.tenant,
            op.thread_id,
            op.expected_revision,
            lambda t: apply_thread_patch(t, op.patch, utcnow()),
        )

    def delete_thread(self, op: ops.DeleteThread) -> Thread:
        return self._modify(
            op.tenant,
            op.thread_id,
            op.expected_revision,
            lambda t: soft_deleted(t, utcnow()),
            writable=False,
        )

    def restore_thread(self, op: ops.RestoreThread) -> Thread:
        return self._modify(
            op.tenant,
            op.thread_id,
            op.expected_revision,
            lambda t: restored(
                t, utcnow(), finish_import=op.finish_import, expected_count=op.expected_count
            ),
            writable=False,
        )


class AsyncBackend(ABC):
    """A natively asynchronous backend."""

    kind: ClassVar[str] = "backend"
    capabilities: ClassVar[Capabilities] = Capabilities()
    limits: Limits = DEFAULT_LIMITS

    @abstractmethod
    async def execute(self, op: ops.Op[T]) -> T: ...

    @abstractmethod
    async def aclose(self) -> None: ...

    async def aopen(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Acquire resources that need the event loop (pools); idempotent."""

    def describe(self) -> str:
        return self.kind


class ThreadedAsyncBackend(AsyncBackend):
    """The async face of a blocking backend: its handlers run on worker threads.

    A cancelled call does not interrupt the worker: the operation either
    completes as a whole or not at all, exactly as in the sync face, and the
    caller that was cancelled is simply not told which.
    """

    def __init__(self, backend: Backend, *, inline: bool = False) -> None:
        self.backend = backend
        self.kind = backend.kind  # type: ignore[misc]
        self.capabilities = backend.capabilities  # type: ignore[misc]
        self.limits = backend.limits
        self._inline = inline

    async def execute(self, op: ops.Op[T]) -> T:
        if self._inline:
            return self.backend.execute(op)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, functools.partial(self.backend.execute, op))

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.backend.close)

    def describe(self) -> str:
        return self.backend.describe()

    def __getattr__(self, name: str) -> Any:
        # Backend-specific extras (migrate, schema_version, ...) stay reachable.
        return getattr(self.backend, name)
