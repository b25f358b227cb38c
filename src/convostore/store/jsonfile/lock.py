"""The one-writer lock: an exclusive ``flock`` on ``<dir>/.lock``, held while the
store is open and dropped by the OS when the process dies."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path

from convostore.errors import BackendUnavailableError, StoreLockedError
from convostore.store.jsonfile.files import _why
from convostore.store.jsonfile.layout import LOCK_NAME

__all__ = ["acquire"]


def acquire(root: Path, timeout: float) -> int:
    """The file descriptor of ``root``'s lock file, locked exclusively; waits up
    to ``timeout`` seconds for another holder to let go, then raises
    :class:`~convostore.errors.StoreLockedError`."""
    path = root / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise BackendUnavailableError(f"cannot open the lock file {path}: {_why(exc)}") from exc
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StoreLockedError(_locked_message(fd, root, timeout)) from None
                time.sleep(min(0.05, left))
        with contextlib.suppress(OSError):  # the pid is only a hint for humans
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except OSError as exc:
        os.close(fd)
        raise BackendUnavailableError(f"cannot lock {path}: {_why(exc)}") from exc
    except BaseException:
        os.close(fd)
        raise
    return fd


def _locked_message(fd: int, root: Path, timeout: float) -> str:
    holder = ""
    with contextlib.suppress(OSError, ValueError):
        pid = int(os.pread(fd, 32, 0).decode().strip())
        holder = (
            " by another store open in this process" if pid == os.getpid() else f" by process {pid}"
        )
    waited = f" after waiting {timeout:g}s" if timeout else ""
    return (
        f"the JSON-file store directory {root} is locked{holder}{waited}; "
        "only one process may open it at a time (close the other store, or use "
        "SQLite for several processes)"
    )
