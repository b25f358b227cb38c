"""The progress bar of export and import, on stderr."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import click

from convostore.cli.transfer.formats import Tick, _no_tick

__all__ = ["progress_option"]

F = TypeVar("F", bound=Callable[..., Any])


@contextlib.contextmanager
def _progress(
    enabled: bool | None, label: str, total: int | None, *, in_bytes: bool
) -> Iterator[Tick]:
    from rich.console import Console

    console = Console(stderr=True)
    if not (console.is_terminal if enabled is None else enabled):
        yield _no_tick
        return
    from rich import progress as rp

    # The label holds a file name or a thread id: shown as written, never as markup.
    columns: list[Any] = [rp.TextColumn("{task.description}", markup=False), rp.BarColumn()]
    if in_bytes:
        columns += [rp.DownloadColumn(), rp.TransferSpeedColumn()]
    else:
        columns += [rp.MofNCompleteColumn()]
    columns += [rp.TextColumn("{task.fields[messages]} messages"), rp.TimeRemainingColumn()]
    with rp.Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(label, total=total, messages=0)

        def tick(advance: int, messages: int) -> None:
            bar.update(task, advance=advance, messages=messages)

        yield tick


def progress_option(f: F) -> F:
    return click.option(
        "--progress/--no-progress",
        default=None,
        help="Show a progress bar on stderr. [default: when stderr is a terminal]",
    )(f)
