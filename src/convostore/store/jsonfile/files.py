"""Files replaced atomically (through temporary files) and made durable with
``fsync``."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

__all__ = ["atomic_replace", "sync_dir", "sync_fd"]

#: Temporary files are dot-files ending in this; one left by a crash is removed
#: at the next open.
_TMP_SUFFIX = ".tmp"


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _is_dir_fd(fd: int) -> bool:
    try:
        return stat.S_ISDIR(os.fstat(fd).st_mode)
    except OSError:
        return False


def atomic_replace(path: Path, data: bytes, *, fsync: bool, strict: bool) -> None:
    """Replace the file at ``path`` with ``data`` atomically: written to a
    temporary file in the same directory, flushed (and fsynced unless ``fsync``
    is false) and renamed over it. The directory is not synced here."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=_TMP_SUFFIX, dir=path.parent)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            sync_fd(fd, fsync=fsync, strict=strict)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def sync_fd(fd: int, *, fsync: bool, strict: bool) -> None:
    """``fsync`` the file ``fd``; a failure is raised only when ``strict``."""
    if not fsync:
        return
    try:
        os.fsync(fd)
    except OSError:
        if strict:
            raise


def sync_dir(directory: Path, *, fsync: bool, strict: bool) -> None:
    """``fsync`` a directory, so a rename or removal in it survives a power loss."""
    if not fsync:
        return
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        if strict:
            raise
        return
    try:
        sync_fd(fd, fsync=fsync, strict=strict)
    except OSError as exc:
        # Some file systems cannot fsync a directory at all; that is no failure.
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP) or not _is_dir_fd(fd):
            raise
    finally:
        os.close(fd)
