"""Group commit: concurrent appends to one store share a transaction and its commit.

An append on its own costs a transaction: on SQLite a ``BEGIN IMMEDIATE``,
the rows, and a ``COMMIT`` that syncs the write-ahead log, one writer at a
time; on PostgreSQL a pooled connection and a commit that waits for the WAL
flush. Under many concurrent writers most of that is waiting. With group
commit the appends that arrive while a batch is being written queue up and go
together in the next one: one transaction, one commit, and (SQLite) one hop to
a worker thread for the whole batch.

Each append is still planned and checked on its own, by the very handlers a
lone append runs, inside a savepoint of its own: an append that fails (a
revision conflict, a deleted thread, a taken id) is rolled back to its
savepoint and gets its error, and the others go on. Every caller is answered
only after the shared commit has returned, so no append is acknowledged before
its data is as durable as the store's sync setting makes a commit. When the
batch as a whole fails before it commits, each of its appends runs again on its
own, as it would have without group commit; when the commit itself fails, each
gets that error.

Nothing waits for a batch to fill: an append that finds no batch being written
starts one at once, so a lone writer sees no added latency. The setting is a
backend option, ``group_commit`` (see :class:`GroupCommit`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from convostore.errors import ValidationError
from convostore.model import Message
from convostore.store import ops

__all__ = ["DEFAULT_GROUP_COMMIT", "AppendGroups", "GroupCommit", "Outcome"]

Outcome = list[Message] | Exception
"""What one append of a batch came to: its stored messages, or its error."""


@dataclass(frozen=True, slots=True)
class GroupCommit:
    """How concurrent appends of one store are batched.

    Attributes:
        max_batch: appends one transaction takes at most; 1 turns group commit
            off (every append is a transaction of its own).
        batches: batches written at once (each on its own connection); SQLite
            has one writer, so it always writes one at a time.
    """

    max_batch: int = 64
    batches: int = 2

    @property
    def enabled(self) -> bool:
        return self.max_batch > 1

    @classmethod
    def of(cls, value: Any, *, batches: int | None = None) -> GroupCommit:
        """The setting from a backend option: a :class:`GroupCommit`, ``True``
        or ``"on"`` (the defaults), ``False``, ``"off"`` or 1 (off), or the
        largest batch as an integer."""
        if isinstance(value, GroupCommit):
            return value
        default = DEFAULT_GROUP_COMMIT
        n_batches = default.batches if batches is None else batches
        if isinstance(value, str):
            text = value.strip().lower()
            if text in ("on", "true", "yes"):
                return cls(default.max_batch, n_batches)
            if text in ("off", "false", "no"):
                return cls(1, n_batches)
            try:
                value = int(text)
            except ValueError:
                raise ValidationError(
                    "must be on, off or the largest batch (an integer)", field="group_commit"
                ) from None
        if value is True:
            return cls(default.max_batch, n_batches)
        if value is False:
            return cls(1, n_batches)
        if isinstance(value, int) and value >= 1:
            return cls(value, n_batches)
        raise ValidationError(
            "must be on, off or the largest batch (an integer of at least 1)",
            field="group_commit",
        )


DEFAULT_GROUP_COMMIT = GroupCommit()
"""On: up to 64 appends per transaction, two batches in flight (PostgreSQL)."""


class AppendGroups:
    """The appends waiting for one store's next batch, and the writing of batches.

    ``write`` runs a batch (one transaction) and returns one outcome per
    append, in order. At most ``config.batches`` batches are written at once;
    appends that arrive meanwhile wait for the next one. Belongs to the event
    loop it is first used on, like the backend that holds it.

    A caller that is cancelled while its batch is written is not told the
    outcome; its append is committed or not with the batch, as a cancelled
    append on a worker thread is. One cancelled before its batch starts is
    left out of it, and a batch whose callers are all cancelled is cancelled.
    """

    def __init__(
        self,
        write: Callable[[Sequence[ops.Append]], Awaitable[list[Outcome]]],
        config: GroupCommit,
    ) -> None:
        self._write = write
        self._config = config
        self._pending: list[tuple[ops.Append, asyncio.Future[list[Message]]]] = []
        self._writers = 0
        # The write of each batch being written, by the futures of its callers.
        self._writing: dict[asyncio.Future[list[Message]], _Write] = {}

    async def append(self, op: ops.Append) -> list[Message]:
        """Append ``op`` in the next batch; return once that batch has committed."""
        done: asyncio.Future[list[Message]] = asyncio.get_running_loop().create_future()
        self._pending.append((op, done))
        if self._writers < self._config.batches:
            self._writers += 1
            asyncio.get_running_loop().create_task(self._drain())
        try:
            return await done
        except asyncio.CancelledError:
            write = self._writing.get(done)
            if write is not None and write.abandon():
                # The last caller of its batch: return once the batch has
                # stopped, as a lone cancelled append returns once it has.
                await asyncio.wait({write.task})
            raise

    async def _drain(self) -> None:
        try:
            while self._pending:
                size = self._config.max_batch
                batch, self._pending = self._pending[:size], self._pending[size:]
                batch = [(op, done) for op, done in batch if not done.done()]  # not cancelled
                if batch:
                    await self._write_batch(batch)
        finally:
            self._writers -= 1

    async def _write_batch(
        self, batch: list[tuple[ops.Append, asyncio.Future[list[Message]]]]
    ) -> None:
        write = _Write(asyncio.ensure_future(self._write([op for op, _ in batch])), batch)
        for _, done in batch:
            self._writing[done] = write
        try:
            await asyncio.wait({write.task})
        except BaseException:
            write.task.cancel()
            for _, done in batch:
                done.cancel()
            raise
        finally:
            for _, done in batch:
                self._writing.pop(done, None)
        if write.task.cancelled():
            return
        error = write.task.exception()
        if error is not None:
            for _, done in batch:
                if not done.done():
                    done.set_exception(error)
            return
        for (_, done), outcome in zip(batch, write.task.result(), strict=True):
            if done.done():  # its caller was cancelled
                continue
            if isinstance(outcome, Exception):
                done.set_exception(outcome)
            else:
                done.set_result(outcome)


class _Write:
    """A batch being written: the task writing it and its callers' futures."""

    def __init__(
        self,
        task: asyncio.Future[list[Outcome]],
        batch: list[tuple[ops.Append, asyncio.Future[list[Message]]]],
    ) -> None:
        self.task = task
        self.batch = batch

    def abandon(self) -> bool:
        """Cancel the write if every caller gave up (PostgreSQL then cancels
        the statement and rolls back, as for a lone append); whether it did."""
        if self.task.done() or not all(done.cancelled() for _, done in self.batch):
            return False
        self.task.cancel()
        return True
