"""Drive an :class:`~convostore.AsyncStore` from blocking code.

The conformance suite is written once against the sync face. To run the very
same tests on the async face, :class:`SyncStoreAdapter` wraps an ``AsyncStore``
and runs every coroutine on *one* event loop that lives in a background thread
for the whole life of the store. One loop per store matters: a store may hold
loop-bound resources (a connection pool, locks), which ``asyncio.run`` per call
would tear down and orphan.

The adapter is thread-safe: several threads may call it at once, and their
coroutines then run concurrently on the store's loop, which is what the
concurrency tests of the async face rely on.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, TypeVar

from convostore.model import Message
from convostore.store.api import AsyncStore

__all__ = ["EventLoopThread", "SyncStoreAdapter"]

T = TypeVar("T")


class EventLoopThread:
    """An asyncio event loop running forever in a daemon thread."""

    def __init__(self, name: str = "convostore-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()
        self._ready.wait()
        self._stopped = False

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and wait for its result (or exception)."""
        if self._stopped:
            coro.close()
            raise RuntimeError("the event loop thread is stopped")
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("cannot block on the loop from inside the loop")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        """Shut down async generators and the default executor, then the loop."""
        if self._stopped:
            return

        async def shutdown() -> None:
            await self.loop.shutdown_asyncgens()
            await self.loop.shutdown_default_executor()

        try:
            self.run(shutdown(), timeout=60)
        finally:
            self._stopped = True
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=60)
            self.loop.close()


class SyncStoreAdapter:
    """A blocking view of an :class:`AsyncStore`, with the method names of ``Store``.

    Build one with :meth:`open`, which constructs and opens the async store on
    the adapter's loop (so that loop-bound resources are created there)::

        store = SyncStoreAdapter.open(lambda: open_async_store("sqlite:///x.db"))
        store.create_thread(id="t1")
        store.close()   # closes the async store, then stops the loop

    Exceptions raised by the async store propagate unchanged.
    """

    def __init__(self, store: AsyncStore, runner: EventLoopThread, *, owner: bool = True) -> None:
        self._store = store
        self._runner = runner
        self._owner = owner
        self._closed = False

    @classmethod
    def open(
        cls, factory: Callable[[], AsyncStore], *, name: str = "convostore-loop"
    ) -> SyncStoreAdapter:
        """Create a loop thread, build the store with ``factory`` on it and open it."""
        runner = EventLoopThread(name)

        async def make() -> AsyncStore:
            store = factory()
            try:
                await store.open()
            except BaseException:
                await store.close()
                raise
            return store

        try:
            store = runner.run(make())
        except BaseException:
            runner.stop()
            raise
        return cls(store, runner)

    # plumbing ---------------------------------------------------------------

    @property
    def async_store(self) -> AsyncStore:
        """The wrapped async store (only await it on :attr:`loop`)."""
        return self._store

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._runner.loop

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run any coroutine (e.g. one using :attr:`async_store`) on the store's loop."""
        return self._runner.run(coro)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if inspect.iscoroutinefunction(attr):

            @functools.wraps(attr)
            def call(*args: Any, **kwargs: Any) -> Any:
                return self._runner.run(attr(*args, **kwargs))

            return call
        if inspect.isasyncgenfunction(attr):

            @functools.wraps(attr)
            def iterate(*args: Any, **kwargs: Any) -> Iterator[Any]:
                return iter(self._runner.run(_collect(attr(*args, **kwargs))))

            return iterate
        return attr

    def __repr__(self) -> str:
        return f"SyncStoreAdapter({self._store!r})"

    # the few members that are not plain coroutine methods -------------------

    @property
    def tenant_id(self) -> str:
        return self._store.tenant_id

    @property
    def backend(self) -> Any:
        return self._store.backend

    @property
    def limits(self) -> Any:
        return self._store.limits

    def tenant(self, name: str) -> SyncStoreAdapter:
        """A view bound to tenant ``name`` sharing this store and its loop."""
        return SyncStoreAdapter(self._store.tenant(name), self._runner, owner=False)

    def iter_messages(
        self, thread_id: str, *, batch: int = 500, include_deleted: bool = False
    ) -> Iterator[Message]:
        gen = self._store.iter_messages(thread_id, batch=batch, include_deleted=include_deleted)
        return iter(self._runner.run(_collect(gen)))

    def close(self) -> None:
        """Close the async store and stop the loop; a tenant view does nothing."""
        if not self._owner or self._closed:
            return
        self._closed = True
        try:
            self._runner.run(self._store.close())
        finally:
            self._runner.stop()

    def __enter__(self) -> SyncStoreAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _collect(gen: AsyncIterator[T]) -> list[T]:
    return [item async for item in gen]
