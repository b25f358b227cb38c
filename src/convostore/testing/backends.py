"""Open fresh stores of the built-in backends, in both faces, for tests.

A :class:`BackendSpec` names a backend; a :class:`Harness` opens stores of one
backend and one face at a fresh location and cleans up after them. The
conformance suite of convostore itself is parametrized over
:func:`standard_backends` x :data:`FACES`.

Availability rules, so that a half-installed checkout still runs the rest:

* a backend whose module does not import is *skipped* with the import error
  as the reason, unless the environment variable ``CI`` is ``true``, where it
  is a failure;
* PostgreSQL runs when ``convostore.store.postgres`` imports and a server
  answers at ``CONVOSTORE_TEST_PG_URL`` (default
  ``postgresql://postgres@127.0.0.1:5432/test``); each harness works in its own
  schema, dropped afterwards. With ``CI=true`` an unreachable server fails.
"""

from __future__ import annotations

import importlib
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from convostore.store import open_async_store, open_store
from convostore.store.facade import AsyncStore, Store
from convostore.store.settings import DEFAULT_LIMITS, Limits
from convostore.testing.adapter import SyncStoreAdapter

__all__ = [
    "FACES",
    "PG_URL_ENV",
    "BackendSpec",
    "Face",
    "Harness",
    "backend_face_params",
    "in_ci",
    "pg_url",
    "require",
    "standard_backends",
]

Face = Literal["sync", "async"]
FACES: tuple[Face, ...] = ("sync", "async")
PG_URL_ENV = "CONVOSTORE_TEST_PG_URL"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"

AnyStore = Store | SyncStoreAdapter


def in_ci() -> bool:
    """True when ``CI`` is set to true: missing backends then fail instead of skipping."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def pg_url() -> str:
    return os.environ.get(PG_URL_ENV) or DEFAULT_PG_URL


def _unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing backend is a failure)", pytrace=False)
    pytest.skip(reason)


_pg_checked: dict[str, str | None] = {}


def _pg_problem(url: str) -> str | None:
    """Why no PostgreSQL server can be used at ``url``, or ``None`` when one answers."""
    if url not in _pg_checked:
        try:
            import psycopg
        except ImportError as exc:
            _pg_checked[url] = f"psycopg is not installed: {exc}"
        else:
            try:
                with psycopg.connect(url, connect_timeout=3) as conn:
                    conn.execute("SELECT 1")
                _pg_checked[url] = None
            except Exception as exc:
                _pg_checked[url] = f"no PostgreSQL server answers at {url}: {exc}"
    return _pg_checked[url]


@dataclass(frozen=True)
class BackendSpec:
    """A built-in backend: the module that must import, and what it can promise."""

    name: str
    module: str
    durable: bool
    multi_process: bool
    needs_server: bool = False

    def url(self, location: Path) -> str:
        """The URL of a fresh store under ``location`` (which need not exist)."""
        if self.name == "memory":
            return "memory://"
        if self.name == "json":
            return f"json:///{location / 'store'}"
        if self.name == "sqlite":
            return f"sqlite:///{location / 'store.db'}"
        if self.name == "postgres":
            return pg_url()
        raise ValueError(f"unknown backend {self.name!r}")


MEMORY = BackendSpec("memory", "convostore.store.memory", durable=False, multi_process=False)
JSON = BackendSpec("json", "convostore.store.jsonfile", durable=True, multi_process=False)
SQLITE = BackendSpec("sqlite", "convostore.store.sqlite", durable=True, multi_process=True)
POSTGRES = BackendSpec(
    "postgres", "convostore.store.postgres", durable=True, multi_process=True, needs_server=True
)


def standard_backends() -> tuple[BackendSpec, ...]:
    """memory, json, sqlite and postgres, in that order."""
    return (MEMORY, JSON, SQLITE, POSTGRES)


def backend_face_params() -> list[Any]:
    """``pytest.param((spec, face))`` for every standard backend in both faces, with
    ids like ``sqlite-async`` and the ``postgres`` mark where a server is needed."""
    params: list[Any] = []
    for spec in standard_backends():
        marks = [pytest.mark.postgres] if spec.needs_server else []
        for face in FACES:
            params.append(pytest.param((spec, face), id=f"{spec.name}-{face}", marks=marks))
    return params


def require(spec: BackendSpec) -> None:
    """Skip (or fail under CI) unless ``spec`` can run here."""
    try:
        importlib.import_module(spec.module)
    except ImportError as exc:
        _unavailable(f"{spec.module} does not import yet: {exc}")
    if spec.needs_server:
        problem = _pg_problem(pg_url())
        if problem:
            _unavailable(problem)


def _fill_pool(store: AnyStore) -> None:
    """Wait until a PostgreSQL store's pool holds its connections (other
    backends have no pool).

    The pool opens them in the background, and each connect draws on the global
    ``random`` (psycopg_pool jitters connection lifetimes); that must not happen
    while hypothesis generates an example, or it reports the strategy flaky.
    """
    pool: Any = getattr(store.backend, "pool", None)
    if pool is None:
        return
    if isinstance(store, SyncStoreAdapter):
        store.run(pool.wait(timeout=30))
    else:
        pool.wait(timeout=30)


class Harness:
    """Opens stores of one backend and face at one fresh location.

    Every store opened through the harness is closed by :meth:`cleanup`, which
    for PostgreSQL also drops the harness's schema.
    """

    def __init__(
        self, spec: BackendSpec, face: Face, location: Path, *, limits: Limits = DEFAULT_LIMITS
    ) -> None:
        self.spec = spec
        self.face = face
        self.location = location
        self.limits = limits
        self.url = spec.url(location)
        self.options: dict[str, Any] = {}
        if spec.name == "postgres":
            self.schema = f"cst_{uuid.uuid4().hex[:16]}"
            self.options = {"schema": self.schema, "auto_migrate": True}
        self._open: list[AnyStore] = []

    @property
    def durable(self) -> bool:
        return self.spec.durable

    def __repr__(self) -> str:
        return f"Harness({self.spec.name}, {self.face})"

    def open(self) -> Any:
        """A store of this face: a ``Store``, or a ``SyncStoreAdapter`` over an ``AsyncStore``."""
        store: AnyStore
        if self.face == "sync":
            store = open_store(self.url, limits=self.limits, **self.options)
        else:
            store = SyncStoreAdapter.open(self.async_factory(), name=f"convostore-{self.spec.name}")
        self._open.append(store)
        _fill_pool(store)
        return store

    def async_factory(self) -> Callable[[], AsyncStore]:
        """A callable building an unopened ``AsyncStore`` at this location."""
        return lambda: open_async_store(self.url, limits=self.limits, **self.options)

    def close_all(self) -> None:
        while self._open:
            self._open.pop().close()

    def reopen(self) -> Any:
        """Close every store opened so far, then open a fresh one at the same place."""
        self.close_all()
        return self.open()

    def cleanup(self) -> None:
        try:
            self.close_all()
        finally:
            if self.spec.name == "postgres":
                from convostore.store import postgres

                postgres.drop_schema(self.url, self.schema)
