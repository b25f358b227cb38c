"""What every part of the conformance suite shares.

:class:`ContractBase` holds the fixtures a backend's test class overrides
(``store``, ``reopen``, ``process_url``) and the ones it builds stores with
(``clock``, ``settings``); the functions here are the suite's small helpers,
free for a backend's own tests too.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import pydantic
import pytest
from hypothesis import HealthCheck, settings

from convostore.errors import ConvostoreError, ThreadNotFoundError
from convostore.model import Message
from convostore.store import ops
from convostore.store.backend import Capabilities
from convostore.store.settings import StoreSettings
from convostore.testing.contract.clock import ManualClock

__all__ = [
    "PROPERTY_SETTINGS",
    "ContractBase",
    "StoreLike",
    "all_messages",
    "assert_typed",
    "capabilities",
    "execute_op",
    "fingerprint",
    "raised",
    "require_capability",
    "seqs",
    "setup_basic",
    "thread_ids",
]

StoreLike = Any  # a Store, or a SyncStoreAdapter over an AsyncStore

PROPERTY_SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


def fingerprint(store: StoreLike, *thread_ids: str) -> tuple[Any, ...]:
    """Everything a rejected write must leave untouched: the threads (revision,
    counters, fields), all their messages, and the thread listing of the tenant."""
    threads: list[tuple[Any, ...] | None] = []
    for tid in thread_ids:
        try:
            snap = store.export_thread(tid)
        except ThreadNotFoundError:
            threads.append(None)
        else:
            threads.append((snap.thread, snap.messages, snap.pinned))
    listing = [t.id for t in store.list_threads(include_deleted=True, limit=1000)]
    return (tuple(threads), listing, store.count_threads(include_deleted=True))


def all_messages(store: StoreLike, thread_id: str) -> list[Message]:
    """Every message of a thread, deleted ones included, in seq order."""
    return list(store.iter_messages(thread_id, include_deleted=True))


def seqs(messages: list[Message]) -> list[int | None]:
    return [m.seq for m in messages]


def thread_ids(page: Any) -> list[str]:
    return [t.id for t in page]


def execute_op(store: StoreLike, op: ops.Op[Any]) -> Any:
    """Run an operation record on the store's backend, whichever face it has."""
    result = store.backend.execute(op)
    if inspect.isawaitable(result):
        return store.run(result)
    return result


def raised(action: Callable[[], object]) -> ConvostoreError:
    """The convostore error ``action`` raises; a failure if it raises another
    exception or none."""
    try:
        action()
    except ConvostoreError as exc:
        return exc
    except Exception as exc:  # pragma: no cover - reported as a contract failure
        kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
        pytest.fail(f"a non-convostore exception escaped: {kind}: {exc}")
    pytest.fail("the call was accepted but must be rejected")


def assert_typed(exc: BaseException) -> None:
    """``exc`` is one of convostore's typed errors, not a leaked pydantic one."""
    assert isinstance(exc, ConvostoreError)
    assert type(exc).__module__ == "convostore.errors", type(exc)
    assert not isinstance(exc, pydantic.ValidationError)


def setup_basic(store: StoreLike) -> None:
    """Thread ``t1`` (user ``u1``, agent ``agent``, title ``first``) holding a user
    message ``m1`` and an assistant message ``m2`` of execution ``e1``."""
    store.create_thread(id="t1", user_id="u1", agent_name="agent", title="first")
    store.append(
        "t1", [Message.user("hello", id="m1"), Message.assistant("hi", id="m2", execution_id="e1")]
    )


def capabilities(store: StoreLike) -> Capabilities:
    """What the store's backend declares it offers beyond the contract."""
    caps: Capabilities = store.backend.capabilities
    return caps


_CAPABILITIES = frozenset(f.name for f in dataclasses.fields(Capabilities))


def require_capability(store: StoreLike, name: str) -> None:
    """Skip the test unless the store's backend declares capability ``name``.

    The suite holds a backend to the promises of the capabilities it declares
    (:class:`~convostore.store.backend.Capabilities`), and to no others.
    """
    if name not in _CAPABILITIES:
        raise ValueError(f"no capability {name!r}; there are {sorted(_CAPABILITIES)}")
    if not getattr(capabilities(store), name):
        kind = getattr(store.backend, "kind", type(store.backend).__name__)
        pytest.skip(f"the {kind} backend does not declare the {name} capability")


class ContractBase:
    """The fixtures of the conformance suite.

    A backend's test class overrides ``store`` (a fresh, empty store, built with
    the ``settings`` fixture), ``reopen`` when its backend is durable and
    ``process_url`` when it is multi-process; see :class:`StoreContract`.
    """

    @pytest.fixture
    def store(self) -> Iterator[StoreLike]:
        raise NotImplementedError("override the `store` fixture to yield a fresh, empty store")

    @pytest.fixture
    def reopen(self) -> Callable[[], StoreLike] | None:
        """A callable closing the stores handed out so far and opening the same data
        again; ``None`` for a backend that keeps nothing across opens."""
        return None

    @pytest.fixture
    def process_url(self) -> str | None:
        """A URL at which another process opens the store the ``store`` fixture
        yields (``open_store(url)``); needed by the tests of the
        ``multi_process`` capability."""
        return None

    @pytest.fixture
    def clock(self) -> ManualClock:
        """The clock of the store under test: tests move it instead of sleeping."""
        return ManualClock()

    @pytest.fixture
    def settings(self, clock: ManualClock) -> StoreSettings:
        """The settings to build the store under test with: the defaults, with
        :meth:`clock` as the clock."""
        return StoreSettings(clock=clock)

    @staticmethod
    def check_clock(store: StoreLike, clock: ManualClock) -> None:
        """Fail, saying how to build the store, unless ``clock`` is the store's
        clock: a test that drives the clock calls this first."""
        running: object = store.settings.clock
        if running is not clock:
            pytest.fail(
                "this test drives the store's clock: build the store of the `store` "
                "fixture with the suite's `settings` fixture (StoreSettings(clock=...))",
                pytrace=False,
            )

    @staticmethod
    def durable_reopen(
        store: StoreLike, reopen: Callable[[], StoreLike] | None
    ) -> Callable[[], StoreLike]:
        """``reopen`` for a backend that declares ``durable``; skips otherwise."""
        require_capability(store, "durable")
        if reopen is None:
            pytest.fail(
                "the backend declares the durable capability: override the `reopen` "
                "fixture to open the same data again",
                pytrace=False,
            )
        return reopen
