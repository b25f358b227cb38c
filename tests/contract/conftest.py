"""The conformance suite's fixtures: every built-in backend x both faces.

``harness`` is parametrized over (memory, json, sqlite, postgres) x (sync,
async), plus PostgreSQL behind PgBouncer (``postgres-pgbouncer-*``); each
test gets a fresh location (``tmp_path``, or a fresh PostgreSQL
schema that is dropped afterwards). ``backend_spec`` is the backend alone. A
backend whose module does not import yet is skipped with the reason, except
under ``CI=true`` where that fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests._harness import BackendSpec, Harness, backend_face_params, backend_params, require


@pytest.fixture(params=backend_face_params(pgbouncer=True))
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    spec, face = request.param
    require(spec)
    server = request.getfixturevalue("pgbouncer_url") if spec.via_pgbouncer else None
    h = Harness(spec, face, tmp_path, server_url=server)
    try:
        yield h
    finally:
        h.cleanup()


@pytest.fixture(params=backend_params())
def backend_spec(request: pytest.FixtureRequest) -> BackendSpec:
    spec: BackendSpec = request.param
    require(spec)
    return spec


#: Known bugs of one backend, found by this suite: (backend id, test id part) ->
#: reason. Each becomes ``xfail(strict=True)``, so a fix makes the suite say so.
BACKEND_BUGS: dict[tuple[str, str], str] = {}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "/contract/" not in item.nodeid.replace("\\", "/"):
            continue
        for (backend, part), reason in BACKEND_BUGS.items():
            if f"[{backend}-" in item.nodeid and part in item.nodeid:
                item.add_marker(pytest.mark.xfail(strict=True, reason=reason))
