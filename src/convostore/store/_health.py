"""The file-system checks of a health report, shared by the backends that keep files.

Each function answers one named check (see
:class:`~convostore.model.HealthCheckResult`) from the file system alone, so the
same answer is given by a store's ``health_check`` and by ``convostore
doctor`` when the store cannot even be opened.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from convostore.model import HealthCheckResult

__all__ = ["MIN_FREE_BYTES", "disk_space", "human_bytes", "not_writable"]

MIN_FREE_BYTES = 16 * 2**20
"""Below this much free space the ``disk-space`` check fails: room for a few
transactions and a WAL checkpoint, so a write that is about to fail for want of
space shows as not ready before it does."""


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def not_writable(files: Iterable[str], directory: str) -> str | None:
    """Why a write to ``files`` (those that exist) or a new file in ``directory``
    would be refused by the operating system, or ``None``.

    ``os.access`` answers for the process as it is: as root it ignores the mode
    bits, but not a read-only mount or an immutable file.
    """
    if not os.access(directory, os.W_OK | os.X_OK):
        return f"the directory {directory} is not writable" + (
            " (read-only file system)" if _read_only_fs(directory) else ""
        )
    for path in files:
        if os.path.exists(path) and not os.access(path, os.W_OK):
            return f"{path} is not writable"
    return None


def _read_only_fs(path: str) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def disk_space(directory: str, floor: int = MIN_FREE_BYTES) -> HealthCheckResult:
    """``disk-space``: at least ``floor`` bytes (and a free inode) left where
    ``directory`` lives, as an unprivileged process may use them."""
    try:
        st = os.statvfs(directory)
    except OSError as exc:
        return HealthCheckResult(
            name="disk-space",
            ok=False,
            detail=f"cannot tell the free space of {directory}: {exc.strerror or exc}",
        )
    free, total = st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize
    shown = f"{human_bytes(free)} free of {human_bytes(total)} at {directory}"
    if free < floor:
        return HealthCheckResult(
            name="disk-space",
            ok=False,
            detail=f"{shown}: below the {human_bytes(floor)} writes need",
        )
    if st.f_files and not st.f_favail:
        return HealthCheckResult(
            name="disk-space",
            ok=False,
            detail=f"no free inodes at {directory}: no file can be created",
        )
    return HealthCheckResult(name="disk-space", ok=True, detail=shown)
