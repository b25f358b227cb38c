"""Finding a backend by the scheme of a store URL.

The built-in backends are registered here; a third-party package adds its own
with an entry point in the ``convostore.backends`` group, named by its URL
scheme, whose object is a :class:`BackendSpec` (or a callable taking
``(url, settings=..., **options)`` and returning a backend)::

    # pyproject.toml of the package "convostore-redis"
    [project.entry-points."convostore.backends"]
    redis = "convostore_redis:SPEC"

after which ``open_store("redis://localhost/0")`` opens it. A program can
also call :func:`register_backend` itself (tests, a private backend).

==================================  =======================================
URL                                 backend
==================================  =======================================
``memory://``                       in-process, lost on exit
``json:///dir`` / ``json:////abs``  one JSON file per thread under ``dir``
``sqlite:///file.db``               SQLite (relative path; four slashes for absolute)
``sqlite:///:memory:``              SQLite in memory
``postgresql://user@host/db``       PostgreSQL (``postgres`` extra)
==================================  =======================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from convostore.errors import ValidationError
from convostore.store.backend import AsyncBackend, Backend, ThreadedAsyncBackend
from convostore.store.settings import StoreSettings

__all__ = [
    "ENTRY_POINT_GROUP",
    "BackendSpec",
    "backend_spec",
    "open_backend",
    "path_of",
    "register_backend",
    "schemes",
]

#: The entry-point group third-party backends register in.
ENTRY_POINT_GROUP = "convostore.backends"

Opener = Callable[..., Backend]
AsyncOpener = Callable[..., AsyncBackend]


@dataclass(frozen=True, slots=True)
class BackendSpec:
    """How to open a backend from a URL.

    Args:
        name: what the backend is called in messages.
        open: ``open(url, settings=..., **options)`` returns a blocking backend.
        open_async: the same for a natively async backend; without it the
            async face runs the blocking backend on worker threads.
        inline_async: run the blocking backend's operations on the event loop
            itself (only for a backend that never blocks, like ``memory://``).
    """

    name: str
    open: Opener
    open_async: AsyncOpener | None = None
    inline_async: bool = False


def path_of(url: str) -> tuple[str, dict[str, str]]:
    """The path and query options of ``scheme:///path?option=value``.

    What follows ``scheme:///`` is the path, so ``sqlite:///app.db`` is relative
    and ``sqlite:////var/lib/app.db`` absolute (the SQLAlchemy convention).
    """
    scheme = urlsplit(url).scheme
    rest = url[len(scheme) + 3 :]
    rest, _, query = rest.partition("?")
    params = dict(parse_qsl(query))
    if "limits" in params:
        raise ValidationError("limits cannot be set in a URL; pass limits=Limits(...)", field="url")
    if rest.startswith("/"):
        rest = rest[1:]
    if not rest:
        raise ValidationError(f"{scheme} URL needs a path, e.g. {scheme}:///name", field="url")
    return rest, params


def _memory(url: str, *, settings: StoreSettings, **options: Any) -> Backend:
    from convostore.store.memory import MemoryBackend

    return MemoryBackend(settings=settings, **options)


def _json(url: str, *, settings: StoreSettings, **options: Any) -> Backend:
    from convostore.store.jsonfile import JsonFileBackend

    path, query = path_of(url)
    return JsonFileBackend(path, settings=settings, **{**query, **options})


def _sqlite(url: str, *, settings: StoreSettings, **options: Any) -> Backend:
    from convostore.store.sqlite import SQLiteBackend

    path, query = path_of(url)
    return SQLiteBackend(path, settings=settings, **{**query, **options})


def _postgres(url: str, *, settings: StoreSettings, **options: Any) -> Backend:
    from convostore.store.postgres import PostgresBackend

    return PostgresBackend(url, settings=settings, **options)


def _postgres_async(url: str, *, settings: StoreSettings, **options: Any) -> AsyncBackend:
    from convostore.store.postgres import AsyncPostgresBackend

    return AsyncPostgresBackend(url, settings=settings, **options)


_POSTGRES = BackendSpec("postgres", _postgres, _postgres_async)
_BUILT_IN: dict[str, BackendSpec] = {
    "memory": BackendSpec("memory", _memory, inline_async=True),
    "json": BackendSpec("json", _json),
    "sqlite": BackendSpec("sqlite", _sqlite),
    "postgresql": _POSTGRES,
    "postgres": _POSTGRES,
    "postgresql+psycopg": _POSTGRES,
}
_registered: dict[str, BackendSpec] = {}


def register_backend(scheme: str, spec: BackendSpec) -> None:
    """Open URLs of ``scheme`` with ``spec`` (replacing what opened them before)."""
    _registered[scheme.lower()] = spec


def _from_entry_point(scheme: str) -> BackendSpec | None:
    for ep in entry_points(group=ENTRY_POINT_GROUP, name=scheme):
        obj = ep.load()
        if isinstance(obj, BackendSpec):
            return obj
        if callable(obj):
            return BackendSpec(ep.name, obj)
        raise TypeError(
            f"entry point {ep.value!r} of {ENTRY_POINT_GROUP} is neither a BackendSpec "
            "nor a callable"
        )
    return None


def schemes() -> list[str]:
    """Every scheme a URL may have: built in, registered, or from entry points."""
    found = set(_BUILT_IN) | set(_registered)
    found.update(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
    return sorted(found)


def backend_spec(url: str) -> BackendSpec:
    """The spec that opens ``url``.

    Raises:
        ValidationError: no backend takes the URL's scheme.
    """
    scheme = urlsplit(url).scheme.lower()
    spec = _registered.get(scheme) or _BUILT_IN.get(scheme) or _from_entry_point(scheme)
    if spec is None:
        known = ", ".join(f"{s}://" for s in schemes())
        raise ValidationError(f"unknown store URL scheme {scheme!r}; use {known}", field="url")
    return spec


def open_backend(
    url: str, settings: StoreSettings, options: dict[str, Any], *, asynchronous: bool = False
) -> Backend | AsyncBackend:
    """Open the backend of ``url`` with ``settings`` and backend ``options``.

    Raises:
        ValidationError: an unknown scheme, or an option the backend does not take.
    """
    spec = backend_spec(url)
    try:
        if asynchronous and spec.open_async is not None:
            return spec.open_async(url, settings=settings, **options)
        backend = spec.open(url, settings=settings, **options)
    except TypeError as exc:  # an option the backend does not take
        raise ValidationError(f"unsupported store option: {exc}", field="url") from None
    if asynchronous:
        return ThreadedAsyncBackend(backend, inline=spec.inline_async)
    return backend
