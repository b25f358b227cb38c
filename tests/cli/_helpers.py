"""Helpers shared by the CLI tests: invoking the CLI and seeding a store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from click.testing import CliRunner, Result

from convostore.cli import _common, cli
from convostore.model import Message, Thread
from convostore.store import Store

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


def seed(url: str, *, tenant: str = "default", messages: int = 3, **fields: Any) -> Thread:
    """A thread with ``messages`` alternating user/assistant messages."""
    with _common.opened_store(url, tenant, create=True) as store:
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
