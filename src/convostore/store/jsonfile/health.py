"""The checks ``health_check`` runs on the store directory: can a file be
created in it now, and does every thread file still parse."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from convostore.model import HealthCheckResult
from convostore.store.jsonfile.files import _TMP_SUFFIX, _why
from convostore.store.jsonfile.layout import _JSON_SUFFIX, _unparsable

__all__ = ["integrity", "probe"]


def probe(root: Path) -> str | None:
    """Why a file cannot be created in the store directory now, or ``None``.

    The probe file is named like a temporary file, so one left behind by a
    crash is removed at the next open."""
    try:
        fd, name = tempfile.mkstemp(prefix=".health-", suffix=_TMP_SUFFIX, dir=root)
    except OSError as exc:
        return f"cannot create a file in {root}: {_why(exc)}"
    try:
        os.write(fd, b"\n")
    except OSError as exc:
        return f"cannot write a file in {root}: {_why(exc)}"
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(name)
    return None


def integrity(root: Path, damaged: dict[Path, str], held: set[Path]) -> HealthCheckResult:
    """Every thread file on disk read and parsed again; every thread held
    in memory still has its file."""
    problems = [f"{p}: {why}" for p, why in sorted(damaged.items())]
    files = 0
    for path in sorted(root.glob(f"*/*{_JSON_SUFFIX}")):
        if path.parent.name.startswith(".") or path.name.startswith("."):
            continue
        files += 1
        why = _unparsable(path)
        if why is not None and path not in damaged:
            problems.append(f"{path}: {why}")
        held.discard(path)
    problems.extend(f"{p}: missing, though the store holds its thread" for p in sorted(held))
    if problems:
        shown = "; ".join(problems[:3]) + (
            f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
        )
        return HealthCheckResult(
            name="integrity",
            ok=False,
            detail=f"{len(problems)} damaged thread file(s): {shown}",
        )
    return HealthCheckResult(name="integrity", ok=True, detail=f"all {files} thread files parse")
