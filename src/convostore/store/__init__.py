"""Opening stores by URL.

``open_store(url)`` finds the backend by the URL's scheme in
:mod:`convostore.store.registry` (which lists the built-in schemes, and where
third-party backends register through the ``convostore.backends`` entry-point
group); ``None`` is the SQLite file ``convostore.db`` in the working directory.
Paths follow the SQLAlchemy convention: what follows ``scheme:///`` is the path,
so ``sqlite:///app.db`` is relative and ``sqlite:////var/lib/app.db`` absolute.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from convostore.errors import ValidationError
from convostore.store.api import AsyncStore, Store
from convostore.store.backend import AsyncBackend, Backend
from convostore.store.registry import open_backend
from convostore.store.settings import DEFAULT_SETTINGS, Limits, StoreSettings
from convostore.tokens import TokenCounter, counter_for

__all__ = [
    "DEFAULT_URL",
    "AsyncStore",
    "Store",
    "StoreSettings",
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


def _token_counter(url: str, spec: TokenCounter | str | None) -> tuple[str, TokenCounter | None]:
    """The store's token counter (the keyword, or ``token_counter=`` in the URL's
    query; ``None`` when neither names one) and the URL without it."""
    base, _, query = url.partition("?")
    params = parse_qsl(query, keep_blank_values=True)
    named = [v for k, v in params if k == "token_counter"]
    if named:
        if spec is not None or len(named) > 1:
            raise ValidationError("token_counter is given more than once", field="url")
        spec = named[0]
        rest = [(k, v) for k, v in params if k != "token_counter"]
        url = base + (f"?{urlencode(rest, quote_via=quote)}" if rest else "")
    return url, None if spec is None else counter_for(spec)


def _settings(
    url: str | None,
    settings: StoreSettings | None,
    limits: Limits | None,
    token_counter: TokenCounter | str | None,
) -> tuple[str, StoreSettings]:
    url, counter = _token_counter(url or DEFAULT_URL, token_counter)
    settings = settings or DEFAULT_SETTINGS
    if limits is not None:
        settings = settings.replace(limits=limits)
    if counter is not None:
        settings = settings.replace(token_counter=counter)
    return url, settings


def open_store(
    url: str | None = None,
    *,
    settings: StoreSettings | None = None,
    limits: Limits | None = None,
    token_counter: TokenCounter | str | None = None,
    **options: Any,
) -> Store:
    """Open a sync store bound to the tenant ``default``.

    Args:
        url: where the store lives (see :mod:`convostore.store.registry`);
            ``None`` is the embedded SQLite file ``convostore.db`` in the
            working directory.
        settings: limits, token counter, clock (:class:`StoreSettings`).
        limits: size limits applied to every write (replaces those of
            ``settings``).
        token_counter: what messages that arrive without a token count are
            counted with (replaces that of ``settings``): ``"heuristic"`` (the
            default: the same counts on every machine), ``"o200k_base"`` or
            ``"cl100k_base"`` (exact, from the ``tokens`` extra), or any
            :class:`~convostore.TokenCounter`. Also accepted in the URL, e.g.
            ``sqlite:///app.db?token_counter=o200k_base``.
        **options: backend options, e.g. ``synchronous="normal"`` for SQLite.

    Raises:
        ValidationError: an unknown scheme, option or counter name.
        MissingDependencyError: an encoding was named without its extra.
    """
    url, settings = _settings(url, settings, limits, token_counter)
    backend = open_backend(url, settings, options)
    assert isinstance(backend, Backend)
    return Store(backend)


def open_async_store(
    url: str | None = None,
    *,
    settings: StoreSettings | None = None,
    limits: Limits | None = None,
    token_counter: TokenCounter | str | None = None,
    **options: Any,
) -> AsyncStore:
    """Open an async store; use it as ``async with open_async_store(...) as store``.

    Takes the same arguments as :func:`open_store`.
    """
    url, settings = _settings(url, settings, limits, token_counter)
    backend = open_backend(url, settings, options, asynchronous=True)
    assert isinstance(backend, AsyncBackend)
    return AsyncStore(backend)
