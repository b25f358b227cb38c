"""Health: what a store's ``health_check`` found, as a :class:`HealthReport`
of named :class:`HealthCheckResult` findings."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class HealthCheckResult(BaseModel):
    """One finding of a health check: what was checked, and what was found.

    The names are stable, for alerts to match on: ``open`` (the store
    answers), ``schema`` (its version is the one this code writes),
    ``writable`` (a write could be made now: files, directory, a write
    transaction, a server that is not read-only), ``disk-space`` (room left
    for writes) and ``integrity`` (the stored data is sound).
    """

    model_config = ConfigDict(use_attribute_docstrings=True)

    name: str
    """What was checked: ``open``, ``schema``, ``writable``, ``disk-space`` or
    ``integrity``."""
    ok: bool
    """Whether the check passed."""
    detail: str = ""
    """What was found, in words; may be empty when the check passed."""


class HealthReport(BaseModel):
    """What a store's ``health_check`` found.

    ``ok`` is true when every check passed; ``checks`` lists them all and
    :attr:`problems` the failed ones. ``full`` tells whether the data was
    checked in full (``health_check(full=True)``) or only cheaply. When not
    ok, ``detail["error"]`` sums the problems up in one line.
    """

    model_config = ConfigDict(use_attribute_docstrings=True)

    ok: bool
    """Whether every check passed."""
    backend: str
    """The kind of store checked, e.g. ``sqlite``."""
    detail: dict[str, Any] = Field(default_factory=dict)
    """What the store reports about itself; ``error`` sums up the failed checks
    when not ok."""
    checks: list[HealthCheckResult] = Field(default_factory=list)
    """Every check made, passed or not."""
    full: bool = False
    """Whether the data was checked in full (``health_check(full=True)``) rather
    than cheaply."""

    @property
    def problems(self) -> list[HealthCheckResult]:
        """The checks that failed."""
        return [c for c in self.checks if not c.ok]

    @classmethod
    def of(
        cls,
        backend: str,
        checks: list[HealthCheckResult],
        detail: dict[str, Any] | None = None,
        *,
        full: bool = False,
    ) -> HealthReport:
        """The report of ``checks``: ok when all passed, ``detail["error"]`` naming
        the failed ones otherwise."""
        detail = dict(detail or {})
        failed = [c for c in checks if not c.ok]
        if failed:
            detail.setdefault("error", "; ".join(f"{c.name}: {c.detail}" for c in failed))
        return cls(ok=not failed, backend=backend, detail=detail, checks=checks, full=full)
