"""Opening stores by URL.

==================================  =======================================
URL                                 backend
==================================  =======================================
``None``                            SQLite file ``convostore.db`` in the working directory
``memory://``                       in-process, lost on exit
``json:///dir`` / ``json:////abs``  one JSON file per thread under ``dir``
``sqlite:///file.db``               SQLite (relative path; four slashes for absolute)
``sqlite:///:memory:``              SQLite in memory
``postgresql://user@host/db``       PostgreSQL (``postgres`` extra)
==================================  =======================================

Paths follow the SQLAlchemy convention: what follows ``scheme:///`` is the path,
so ``sqlite:///app.db`` is relative and ``sqlite:////var/lib/app.db`` absolute.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from convostore.errors import ValidationError
from convostore.store._logic import DEFAULT_LIMITS, Limits
from convostore.store.base import AsyncBackend, Backend, ThreadedAsyncBackend
from convostore.store.facade import AsyncStore, Store
from convostore.tokens import TokenCounter, counter_for

__all__ = [
    "DEFAULT_URL",
    "AsyncStore",
    "Store",
    "open_async_store",
    "open_store",
    "url_from_env",
]

DEFAULT_URL = "sqlite:///convostore.db"
ENV_VAR = "CONVOSTORE_URL"


def url_from_env(environ: Mapping[str, str] | None = None) -> str:
    """The store URL of ``CONVOSTORE_URL``, else the embedded default.

    The library itself never reads the environment; the CLI and the server call
    this explicitly.
    """
    env = os.environ if environ is None else environ
    return env.get(ENV_VAR) or DEFAULT_URL


def _path_of(url: str, scheme: str) -> tuple[str, dict[str, str]]:
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


def _sync_backend(url: str, limits: Limits, options: dict[str, Any]) -> Backend:
    try:
        return _make_backend(url, limits, options)
    except TypeError as exc:  # an option the backend does not take
        raise ValidationError(f"unsupported store option: {exc}", field="url") from None


def _make_backend(url: str, limits: Limits, options: dict[str, Any]) -> Backend:
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        from convostore.store.memory import MemoryBackend

        return MemoryBackend(limits=limits)
    if scheme == "json":
        from convostore.store.jsonfile import JsonFileBackend

        path, query = _path_of(url, scheme)
        return JsonFileBackend(path, limits=limits, **{**query, **options})
    if scheme == "sqlite":
        from convostore.store.sqlite import SQLiteBackend

        path, query = _path_of(url, scheme)
        return SQLiteBackend(path, limits=limits, **{**query, **options})
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        from convostore.store.postgres import PostgresBackend

        return PostgresBackend(url, limits=limits, **options)
    raise ValidationError(
        f"unknown store URL scheme {scheme!r}; use memory://, json://, sqlite:// or postgresql://",
        field="url",
    )


def _token_counter(url: str, spec: TokenCounter | str | None) -> tuple[str, TokenCounter]:
    """The store's token counter (the keyword, or ``token_counter=`` in the URL's
    query) and the URL without it."""
    base, _, query = url.partition("?")
    params = parse_qsl(query, keep_blank_values=True)
    named = [v for k, v in params if k == "token_counter"]
    if named:
        if spec is not None or len(named) > 1:
            raise ValidationError("token_counter is given more than once", field="url")
        spec = named[0]
        rest = [(k, v) for k, v in params if k != "token_counter"]
        url = base + (f"?{urlencode(rest, quote_via=quote)}" if rest else "")
    return url, counter_for(spec)


def open_store(
    url: str | None = None,
    *,
    limits: Limits = DEFAULT_LIMITS,
    token_counter: TokenCounter | str | None = None,
    **options: Any,
) -> Store:
    """Open a sync store bound to the tenant ``default``.

    Args:
        url: where the store lives (see the module docs); ``None`` is the
            embedded SQLite file ``convostore.db`` in the working directory.
        limits: size limits applied to every write.
        token_counter: what messages that arrive without a token count are
            counted with: ``"heuristic"`` (the default: the same counts on
            every machine), ``"o200k_base"`` or ``"cl100k_base"`` (exact, from
            the ``tokens`` extra), or any :class:`~convostore.TokenCounter`.
            Also accepted in the URL, e.g. ``sqlite:///app.db?token_counter=o200k_base``.
        **options: backend options, e.g. ``synchronous="normal"`` for SQLite.

    Raises:
        ValidationError: an unknown counter name.
        MissingDependencyError: an encoding was named without its extra.
    """
    url, counter = _token_counter(url or DEFAULT_URL, token_counter)
    return Store(_sync_backend(url, limits, options), token_counter=counter)


def open_async_store(
    url: str | None = None,
    *,
    limits: Limits = DEFAULT_LIMITS,
    token_counter: TokenCounter | str | None = None,
    **options: Any,
) -> AsyncStore:
    """Open an async store; use it as ``async with open_async_store(...) as store``.

    Takes the same arguments as :func:`open_store`.
    """
    url, counter = _token_counter(url or DEFAULT_URL, token_counter)
    scheme = urlsplit(url).scheme.lower()
    backend: AsyncBackend
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        from convostore.store.postgres import AsyncPostgresBackend

        backend = AsyncPostgresBackend(url, limits=limits, **options)
    else:
        sync = _sync_backend(url, limits, options)
        backend = ThreadedAsyncBackend(sync, inline=scheme == "memory")
    return AsyncStore(backend, token_counter=counter)
