"""The project's own test harness: fresh stores of the built-in backends.

A :class:`BackendSpec` names a built-in backend; what it can promise is what
its backend class declares (``Capabilities``), never a list kept here. A
:class:`Harness` opens stores of one backend and one face at a fresh location
and cleans up after them. The conformance suite is parametrized over
:func:`standard_backends` x :data:`FACES`; the ``store_url`` fixture of
``tests/conftest.py`` hands the CLI, server and conversation suites the URL of
a fresh store of each backend.

Availability rules, so that a half-installed checkout still runs the rest:

* a backend whose module does not import, or a package a test needs that is
  missing, is *skipped* with the reason, unless the environment variable
  ``CI`` is ``true``, where it is a failure (:func:`unavailable`);
* PostgreSQL runs when ``convostore.store.postgres`` imports and a server
  answers at ``CONVOSTORE_TEST_PG_URL`` (default
  ``postgresql://postgres@127.0.0.1:5432/test``); each harness works in its own
  schema, named in its URL and dropped afterwards. With ``CI=true`` an
  unreachable server fails.
"""

from __future__ import annotations

import importlib
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, NoReturn

import pytest

from convostore import AsyncStore, Store
from convostore.store import open_async_store, open_store
from convostore.store.backend import Capabilities
from convostore.store.settings import StoreSettings
from convostore.testing import SyncStoreAdapter

__all__ = [
    "FACES",
    "PG_URL_ENV",
    "BackendSpec",
    "Face",
    "Harness",
    "backend_face_params",
    "backend_params",
    "in_ci",
    "need_module",
    "pg_url",
    "require",
    "require_pg",
    "spec_named",
    "standard_backends",
    "unavailable",
]

Face = Literal["sync", "async"]
FACES: tuple[Face, ...] = ("sync", "async")
PG_URL_ENV = "CONVOSTORE_TEST_PG_URL"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"

AnyStore = Store | SyncStoreAdapter


def in_ci() -> bool:
    """True when ``CI`` is set to true: what is missing then fails instead of skipping."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def pg_url() -> str:
    return os.environ.get(PG_URL_ENV) or DEFAULT_PG_URL


def unavailable(reason: str) -> NoReturn:
    """Skip with ``reason``; under ``CI=true`` fail instead: CI must run everything.

    Callable inside a test or fixture and at module level alike."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: what a test needs must be there)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def need_module(name: str, install: str = "") -> ModuleType:
    """Import ``name``, or skip (fail under CI) saying what to install."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        hint = f" ({install})" if install else ""
        unavailable(f"{name} does not import{hint}: {exc}")


_pg_checked: dict[str, str | None] = {}


def _pg_problem(url: str) -> str | None:
    """Why no PostgreSQL server can be used at ``url``, or ``None`` when one answers."""
    if url not in _pg_checked:
        try:
            import psycopg
        except ImportError as exc:
            _pg_checked[url] = f"psycopg is not installed (the postgres extra): {exc}"
        else:
            try:
                with psycopg.connect(url, connect_timeout=3) as conn:
                    conn.execute("SELECT 1")
                _pg_checked[url] = None
            except Exception as exc:
                _pg_checked[url] = f"no PostgreSQL server answers at {url}: {exc}"
    return _pg_checked[url]


def require_pg() -> str:
    """The URL of a PostgreSQL server that answers; skips (fails under CI) otherwise."""
    url = pg_url()
    problem = _pg_problem(url)
    if problem:
        unavailable(problem)
    return url


@dataclass(frozen=True)
class BackendSpec:
    """A built-in backend: the module that must import and its backend class."""

    name: str
    module: str
    backend_class: str
    needs_server: bool = False
    via_pgbouncer: bool = False
    """PostgreSQL reached through a PgBouncer in transaction pooling mode that
    the session starts (the ``pgbouncer_url`` fixture)."""

    def capabilities(self) -> Capabilities | None:
        """What the backend class declares; ``None`` while its module does not import
        (:func:`require` then says why)."""
        try:
            module = importlib.import_module(self.module)
        except ImportError:
            return None
        caps: Capabilities = getattr(module, self.backend_class).capabilities
        return caps

    def url(self, location: Path) -> str:
        """The URL of a fresh store under ``location`` (which need not exist); for
        PostgreSQL, the server's URL without a schema (see :class:`Harness`)."""
        if self.name == "memory":
            return "memory://"
        if self.name == "json":
            return f"json:///{location / 'store'}"
        if self.name == "sqlite":
            return f"sqlite:///{location / 'store.db'}"
        if self.name == "postgres":
            return pg_url()
        raise ValueError(f"unknown backend {self.name!r}")


MEMORY = BackendSpec("memory", "convostore.store.memory", "MemoryBackend")
JSON = BackendSpec("json", "convostore.store.jsonfile", "JsonFileBackend")
SQLITE = BackendSpec("sqlite", "convostore.store.sqlite", "SQLiteBackend")
POSTGRES = BackendSpec(
    "postgres", "convostore.store.postgres", "PostgresBackend", needs_server=True
)
PGBOUNCER = BackendSpec(
    "postgres-pgbouncer",
    "convostore.store.postgres",
    "PostgresBackend",
    needs_server=True,
    via_pgbouncer=True,
)


def standard_backends() -> tuple[BackendSpec, ...]:
    """memory, json, sqlite and postgres, in that order."""
    return (MEMORY, JSON, SQLITE, POSTGRES)


def spec_named(name: str) -> BackendSpec:
    """The standard backend called ``name`` (``memory``, ``json``, ``sqlite``, ``postgres``)."""
    for spec in standard_backends():
        if spec.name == name:
            return spec
    raise ValueError(f"no standard backend {name!r}")


def _marks(spec: BackendSpec) -> list[Any]:
    return [pytest.mark.postgres] if spec.needs_server else []


def backend_params(capability: str | None = None) -> list[Any]:
    """``pytest.param(spec)`` for every standard backend (that declares
    ``capability``, when given), with the ``postgres`` mark where a server is
    needed. A backend whose module does not import stays in, so that
    :func:`require` reports it."""
    out: list[Any] = []
    for spec in standard_backends():
        caps = spec.capabilities()
        if capability is not None and caps is not None and not getattr(caps, capability):
            continue
        out.append(pytest.param(spec, id=spec.name, marks=_marks(spec)))
    return out


def backend_face_params(*, pgbouncer: bool = False) -> list[Any]:
    """``pytest.param((spec, face))`` for every standard backend in both faces, with
    ids like ``sqlite-async`` and the ``postgres`` mark where a server is needed.

    With ``pgbouncer``, PostgreSQL behind PgBouncer too: the async face in the
    default run, the sync face (the same statements, another driver) only with
    the ``stress`` runs, to keep the default suite short."""
    out = [
        pytest.param((spec, face), id=f"{spec.name}-{face}", marks=_marks(spec))
        for spec in standard_backends()
        for face in FACES
    ]
    if pgbouncer:
        out += [
            pytest.param(
                (PGBOUNCER, "async"), id="postgres-pgbouncer-async", marks=_marks(PGBOUNCER)
            ),
            pytest.param(
                (PGBOUNCER, "sync"),
                id="postgres-pgbouncer-sync",
                marks=[*_marks(PGBOUNCER), pytest.mark.stress],
            ),
        ]
    return out


def require(spec: BackendSpec) -> None:
    """Skip (or fail under CI) unless ``spec`` can run here."""
    need_module(spec.module)
    if spec.needs_server:
        require_pg()


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

    :attr:`url` opens that location from anywhere (another process, the CLI, a
    server): for PostgreSQL it names the harness's own schema, created on first
    open. Every store opened through the harness is closed by :meth:`cleanup`,
    which for PostgreSQL also drops the schema.
    """

    def __init__(
        self,
        spec: BackendSpec,
        face: Face,
        location: Path,
        *,
        settings: StoreSettings | None = None,
        server_url: str | None = None,
    ) -> None:
        self.spec = spec
        self.face = face
        self.location = location
        self.settings = settings or StoreSettings()
        self.options: dict[str, Any] = {}
        self.schema: str | None = None
        self.url = server_url or spec.url(location)
        if spec.needs_server:
            self.schema = f"cst_{uuid.uuid4().hex[:16]}"
            sep = "&" if "?" in self.url else "?"
            self.url = f"{self.url}{sep}schema={self.schema}&auto_migrate=true"
        self._open: list[AnyStore] = []

    @property
    def capabilities(self) -> Capabilities:
        caps = self.spec.capabilities()
        assert caps is not None, f"{self.spec.module} does not import"
        return caps

    def __repr__(self) -> str:
        return f"Harness({self.spec.name}, {self.face})"

    def open(self) -> Any:
        """A store of this face: a ``Store``, or a ``SyncStoreAdapter`` over an ``AsyncStore``."""
        store: AnyStore
        if self.face == "sync":
            store = open_store(self.url, settings=self.settings, **self.options)
        else:
            store = SyncStoreAdapter.open(self.async_factory(), name=f"convostore-{self.spec.name}")
        self._open.append(store)
        _fill_pool(store)
        return store

    def async_factory(self) -> Callable[[], AsyncStore]:
        """A callable building an unopened ``AsyncStore`` at this location."""
        return lambda: open_async_store(self.url, settings=self.settings, **self.options)

    def create(self) -> str:
        """Create the (empty) store at this location, close it, and return :attr:`url`."""
        self.open()
        self.close_all()
        return self.url

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
            if self.schema is not None:
                from convostore.store import postgres

                postgres.drop_schema(self.url, self.schema)
