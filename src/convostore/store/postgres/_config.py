"""Options of the PostgreSQL backend, from keyword arguments and the URL.

Options may be given as keyword arguments or as query parameters of the URL
(where they arrive as strings); keyword arguments win. Query parameters that
are not convostore options are left in the URL for libpq (``sslmode``,
``connect_timeout``, ...), so one URL can carry both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

from convostore.errors import ValidationError
from convostore.store.group_commit import DEFAULT_GROUP_COMMIT, GroupCommit

__all__ = ["Config", "parse_config"]

_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True, slots=True)
class Config:
    """Everything the backend needs to connect, validated.

    Attributes:
        conninfo: the URL handed to libpq, with convostore's options removed.
        schema: the schema every object lives in.
        auto_migrate: apply pending migrations on open.
        check_schema: refuse to open when the schema version does not match.
        min_size: connections the pool keeps open.
        max_size: connections the pool may open at most.
        pool_timeout: seconds a call waits for a free connection.
        retries: times a transaction is retried after a serialization failure,
            deadlock or key race before :class:`~convostore.errors.ConflictError`.
        retry_delay: the first backoff delay in seconds; it doubles per retry
            (capped at 50 times this), with full jitter.
        prepare_threshold: executions before psycopg prepares a statement on a
            connection; ``None`` disables it (needed behind PgBouncer in
            transaction mode).
        connect_kwargs: extra connection parameters for libpq.
        group_commit: how the async face batches concurrent appends into one
            transaction (``on``, ``off`` or the largest batch; see
            :mod:`convostore.store.group_commit`).
        pgbouncer: the server is reached through PgBouncer in transaction
            pooling mode: no server-side prepared statements (it implies
            ``prepare_threshold=None``).
        replicas: the libpq URLs of streaming standbys that reads which may
            lag go to (``replica=host:port`` in the URL, repeatable).
        replica_backoff: seconds a replica that failed to answer is left out.
    """

    conninfo: str
    schema: str = "public"
    auto_migrate: bool = False
    check_schema: bool = True
    min_size: int = 1
    max_size: int = 10
    pool_timeout: float = 30.0
    retries: int = 8
    retry_delay: float = 0.005
    prepare_threshold: int | None = 5
    connect_kwargs: Mapping[str, Any] = field(default_factory=dict)
    group_commit: GroupCommit = DEFAULT_GROUP_COMMIT
    pgbouncer: bool = False
    replicas: tuple[str, ...] = ()
    replica_backoff: float = 5.0

    def describe(self) -> str:
        """The URL without password or query, plus the schema."""
        parts = urlsplit(self.conninfo)
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
        user = f"{parts.username}@" if parts.username else ""
        return f"postgresql://{user}{host}{parts.path}?schema={self.schema}"


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValidationError("must be true or false", field=name)


def _int(name: str, value: Any, low: int) -> int:
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise ValidationError("must be an integer", field=name) from None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValidationError(f"must be an integer of at least {low}", field=name)
    return value


def _float(name: str, value: Any) -> float:
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValidationError("must be a number", field=name) from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValidationError("must be a positive number", field=name)
    return float(value)


def _hostport(value: str) -> str:
    """``host[:port]`` checked, as the netloc of a URL."""
    host, _, port = value.rpartition(":") if ":" in value else (value, "", "")
    if not host or "/" in value or "@" in value or "?" in value:
        raise ValidationError(
            f"must be host:port or a PostgreSQL URL, not {value!r}", field="replica"
        )
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise ValidationError(f"has no valid port: {value!r}", field="replica")
    return value


def _replicas(value: Any) -> tuple[str, ...]:
    """The replicas as ``host:port`` or URLs (kept apart from the primary's URL
    until :func:`parse_config` can build their conninfo)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValidationError("must be a list of host:port or URLs", field="replicas")
    out = []
    for item in value:
        item = item.strip()
        if urlsplit(item).scheme.lower() in _SCHEMES:
            out.append(item)
        else:
            out.append(_hostport(item))
    return tuple(out)


def _schema(value: Any) -> str:
    if not isinstance(value, str) or not value or "\x00" in value or len(value.encode()) > 63:
        raise ValidationError("must be a schema name of 1-63 bytes", field="schema")
    return value


_PARSERS: dict[str, Any] = {
    "schema": _schema,
    "auto_migrate": lambda v: _bool("auto_migrate", v),
    "check_schema": lambda v: _bool("check_schema", v),
    "min_size": lambda v: _int("min_size", v, 0),
    "max_size": lambda v: _int("max_size", v, 1),
    "pool_timeout": lambda v: _float("pool_timeout", v),
    "retries": lambda v: _int("retries", v, 0),
    "retry_delay": lambda v: _float("retry_delay", v),
    "group_commit": GroupCommit.of,
    "pgbouncer": lambda v: _bool("pgbouncer", v),
    "replicas": _replicas,
    "replica_backoff": lambda v: _float("replica_backoff", v),
    "prepare_threshold": lambda v: (
        None
        if v is None or (isinstance(v, str) and v.lower() == "none")
        else _int("prepare_threshold", v, 0)
    ),
}


def _replica_conninfo(primary: SplitResult, libpq: list[tuple[str, str]], replica: str) -> str:
    """A replica's libpq URL: its own if it is one, else the primary's with
    ``host:port`` swapped (same user, password, database and libpq options)."""
    if "://" in replica:
        return parse_config(replica, {}).conninfo
    userinfo = primary.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{replica}" if userinfo else replica
    return urlunsplit(("postgresql", netloc, primary.path, urlencode(libpq), ""))


def parse_config(url: str, options: Mapping[str, Any]) -> Config:
    """Split ``url`` into libpq's part and convostore's options, and check them all.

    Raises:
        ValidationError: a malformed URL or an unknown or invalid option.
    """
    if not isinstance(url, str):
        raise ValidationError("must be a string", field="url")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise ValidationError(f"not a PostgreSQL URL (scheme {scheme!r})", field="url")
    ours: dict[str, Any] = {}
    libpq: list[tuple[str, str]] = []
    replicas: list[str] = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "replica":
            replicas.append(value)
        elif key in _PARSERS:
            ours[key] = value
        else:
            libpq.append((key, value))
    connect_kwargs: dict[str, Any] = {}
    for key, value in options.items():
        if key in _PARSERS:
            ours[key] = value
        elif key == "connect_kwargs" and isinstance(value, Mapping):
            connect_kwargs.update(value)
        else:
            raise ValidationError("is not an option of the postgres backend", field=key)
    if replicas and "replicas" not in ours:
        ours["replicas"] = replicas
    values = {key: _PARSERS[key](value) for key, value in ours.items()}
    if values.get("pgbouncer") and values.setdefault("prepare_threshold", None) is not None:
        raise ValidationError(
            "must be none behind PgBouncer (pgbouncer=true)", field="prepare_threshold"
        )
    names = {k for k, _ in libpq} | set(connect_kwargs)
    if "application_name" not in names:
        connect_kwargs["application_name"] = "convostore"
    if "connect_timeout" not in names:
        connect_kwargs["connect_timeout"] = 10
    conninfo = urlunsplit(
        ("postgresql", parts.netloc, parts.path, urlencode(libpq), parts.fragment)
    )
    values["replicas"] = tuple(
        _replica_conninfo(parts, libpq, r) for r in values.get("replicas", ())
    )
    config = Config(conninfo=conninfo, connect_kwargs=connect_kwargs, **values)
    if config.min_size > config.max_size:
        raise ValidationError(f"must be at most max_size ({config.max_size})", field="min_size")
    return config
