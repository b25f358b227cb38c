"""The one place where the CLI turns exceptions into a message and an exit code.

Commands raise the library's own exceptions and never print errors themselves, so
every command fails the same way: one line on stderr (a JSON object when ``--json``
was asked for), a documented exit code, and never a traceback. The table below is
also what the generated CLI reference prints, so the documented codes cannot drift
from the ones returned.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import dataclass
from enum import IntEnum

import click

from convostore.errors import (
    BackendUnavailableError,
    ConflictError,
    ConvostoreError,
    MissingDependencyError,
    NotFoundError,
    SchemaVersionError,
    ValidationError,
)

__all__ = ["EXIT_CODES", "ExitCode", "Failure", "classify", "report"]


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    NOT_FOUND = 3
    CONFLICT = 4
    UNAVAILABLE = 5
    INTERRUPTED = 130
    BROKEN_PIPE = 141


EXIT_CODES: tuple[tuple[ExitCode, str], ...] = (
    (ExitCode.OK, "success"),
    (ExitCode.ERROR, "unexpected error, or a command that was aborted"),
    (
        ExitCode.USAGE,
        "usage error or invalid input: unknown option, malformed id, cursor, "
        "store URL or import file; or a purge by prune without --yes when "
        "there is no terminal to confirm on",
    ),
    (
        ExitCode.NOT_FOUND,
        "the thread, message or key does not exist in this tenant, or "
        "the store does not exist (only import, keys create, db upgrade "
        "and demo create one)",
    ),
    (
        ExitCode.CONFLICT,
        "conflict: the thread already exists, is deleted, or holds other "
        "messages under the same ids",
    ),
    (
        ExitCode.UNAVAILABLE,
        "the store cannot be used: unreachable or locked backend, "
        "unwritable directory or damaged file, schema too old or too new "
        "(see `db upgrade`), optional extra not installed; `serve` on a "
        "store it cannot open; a failed check of `doctor`",
    ),
    (ExitCode.INTERRUPTED, "interrupted (Ctrl-C)"),
    (
        ExitCode.BROKEN_PIPE,
        "the reader of the output went away, e.g. `| head`; nothing is "
        "printed, as for any tool stopped by SIGPIPE",
    ),
)
"""Every exit code the CLI returns, with its meaning, for the generated docs."""


@dataclass(frozen=True, slots=True)
class Failure:
    code: ExitCode
    kind: str
    message: str


# Most specific first: the first matching row wins.
_RULES: tuple[tuple[type[BaseException], ExitCode, str], ...] = (
    (NotFoundError, ExitCode.NOT_FOUND, "not_found"),
    (ConflictError, ExitCode.CONFLICT, "conflict"),
    (ValidationError, ExitCode.USAGE, "invalid"),
    (SchemaVersionError, ExitCode.UNAVAILABLE, "schema"),
    (BackendUnavailableError, ExitCode.UNAVAILABLE, "unavailable"),
    (MissingDependencyError, ExitCode.UNAVAILABLE, "missing_dependency"),
    (ConvostoreError, ExitCode.ERROR, "error"),
    (KeyboardInterrupt, ExitCode.INTERRUPTED, "interrupted"),
    (BrokenPipeError, ExitCode.BROKEN_PIPE, "broken_pipe"),
    (OSError, ExitCode.ERROR, "os_error"),
)


def classify(exc: BaseException) -> Failure:
    """The exit code, a short machine-readable kind and the message for ``exc``."""
    for kind_of, code, kind in _RULES:
        if isinstance(exc, kind_of):
            return Failure(code, kind, _message(exc, kind))
    return Failure(
        ExitCode.ERROR,
        "internal",
        f"internal error ({type(exc).__name__}: {exc}); please report it",
    )


def _message(exc: BaseException, kind: str) -> str:
    if kind == "interrupted":
        return "interrupted"
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    text = str(exc) or type(exc).__name__
    notes = getattr(exc, "__notes__", None)  # context the CLI added on the way out
    text = " ".join([text, *notes]) if notes else text
    return " ".join(text.split()) if "\n" in text else text  # one line, as promised


def report(exc: BaseException, *, as_json: bool = False) -> int:
    """Print ``exc`` on stderr as one line and return the exit code for it."""
    failure = classify(exc)
    if failure.code == ExitCode.BROKEN_PIPE:
        _silence_stdout()
        return int(failure.code)
    if as_json:
        line = json.dumps(
            {
                "error": {
                    "kind": failure.kind,
                    "message": failure.message,
                    "exit_code": int(failure.code),
                }
            }
        )
    else:
        line = f"Error: {failure.message}"
    with contextlib.suppress(OSError):  # stderr itself is gone; the exit code still tells
        click.echo(line, err=True)
        sys.stderr.flush()
    return int(failure.code)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush into the closed
    pipe does not print an error of its own."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
