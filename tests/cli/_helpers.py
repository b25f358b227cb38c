"""Helpers shared by the CLI tests: invoking the CLI and seeding a store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from click.testing import CliRunner, Result

from convostore.cli import _common, cli
from convostore.model import Message, Thread, utcnow
from convostore.store import Store, StoreSettings, open_store

Run = Callable[..., Result]


def invoke(
    *args: object, input: str | bytes | None = None, env: dict[str, str] | None = None
) -> Result:
    """Run the CLI in-process; fail on any traceback or escaped exception."""
    result = CliRunner().invoke(cli, [str(a) for a in args], input=input, env=env)
    assert "Traceback" not in result.output, result.output
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), repr(result.exception)
    return result


class SeedClock:
    """The clock data is seeded with: the real time, or ``ago`` seconds before it.

    A test that needs old data (``prune --idle``) seeds it in the past instead
    of waiting. The shared memory store of the CLI tests runs on this clock too
    (see ``conftest.py``), so seeding it in the past works the same way.
    """

    def __init__(self) -> None:
        self.ago = 0.0

    def __call__(self) -> dt.datetime:
        return utcnow() - dt.timedelta(seconds=self.ago)


SEED_CLOCK = SeedClock()


@contextmanager
def _seeding(url: str, tenant: str, ago: float) -> Iterator[Store]:
    SEED_CLOCK.ago = ago
    try:
        if url == "memory://":  # the test's shared store, on SEED_CLOCK already
            with _common.opened_store(url, tenant, create=True) as store:
                yield store
            return
        base = open_store(url, settings=StoreSettings(clock=SEED_CLOCK))
        try:
            yield base if tenant == base.tenant_id else base.tenant(tenant)
        finally:
            base.close()
    finally:
        SEED_CLOCK.ago = 0.0


def seed(
    url: str, *, tenant: str = "default", messages: int = 3, ago: float = 0.0, **fields: Any
) -> Thread:
    """A thread with ``messages`` alternating user/assistant messages, written
    ``ago`` seconds in the past (by the store's clock: nothing waits)."""
    with _seeding(url, tenant, ago) as store:
        thread = store.create_thread(**fields)
        if messages:
            store.append(
                thread.id,
                [
                    Message.user(f"question {i}")
                    if i % 2 == 0
                    else Message.assistant(f"answer {i}")
                    for i in range(messages)
                ],
            )
        return store.get_thread(thread.id)


def with_store(url: str, fn: Callable[[Store], Any], tenant: str = "default") -> Any:
    with _common.opened_store(url, tenant, create=True) as store:
        return fn(store)
