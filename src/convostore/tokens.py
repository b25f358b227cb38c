"""Token counting: how many tokens a message costs in a model's context.

The seeds counted every message as ``len(text) / 4 + 1``, which is wrong by a
wide margin for code, numbers, non-Latin scripts and tool payloads, and was never
labelled as a guess. Here a count always says where it came from, in order of
preference:

1. **Provider-reported usage** stored on the message (``metadata.token_usage``
   of an assistant reply): the model's own figure.
2. **tiktoken**, the optional ``tiktoken`` extra, when its encoding file is
   already on this machine. Nothing is ever downloaded implicitly: point
   :meth:`TiktokenCounter.from_file` at a ``.tiktoken`` file, or let
   :func:`default_counter` find one that tiktoken itself cached earlier.
3. A **heuristic** that knows about words, digits, punctuation and multi-byte
   scripts. Its counts are estimates and are labelled as such.

The counter's name is stored next to the count (``Message.token_count`` and
``Message.token_counter``) when a message is written, so a context window is
assembled from stored numbers, never recounted, and can report whether any of
them were estimates.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import math
import os
import re
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable

from convostore.errors import MissingDependencyError, ValidationError
from convostore.model import (
    CodePart,
    FilePart,
    ImagePart,
    Message,
    ReasoningPart,
    Role,
    SourcePart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)

__all__ = [
    "HEURISTIC",
    "HeuristicCounter",
    "TiktokenCounter",
    "TokenCount",
    "TokenCounter",
    "default_counter",
    "is_estimate",
    "token_count_for",
    "with_token_count",
]


@runtime_checkable
class TokenCounter(Protocol):
    """Anything that can count the tokens of text and of a whole message.

    ``name`` is stored with every count it produces (e.g. ``tiktoken:o200k_base``);
    ``estimate`` says whether its counts are approximations.
    """

    @property
    def name(self) -> str: ...

    @property
    def estimate(self) -> bool: ...

    def count_text(self, text: str) -> int: ...

    def count_message(self, message: Message) -> int: ...


class TokenCount(NamedTuple):
    """A message's token count and the method that produced it."""

    tokens: int
    counter: str
    estimated: bool


def is_estimate(counter_name: str | None) -> bool:
    """Whether counts labelled ``counter_name`` are heuristic estimates."""
    return counter_name is None or counter_name.startswith("heuristic")


def _json(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


class _PartCounter:
    """Shared message accounting: framing overhead plus the text of every part."""

    per_message: int = 3
    per_name: int = 1
    per_tool_item: int = 3
    per_image: int = 85

    def count_text(self, text: str) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    def count_message(self, message: Message) -> int:
        """Tokens the message costs when sent back to a model as input."""
        total = self.per_message
        if message.name:
            total += self.per_name + self.count_text(message.name)
        if not message.parts:
            return total + self.count_text(message.content)
        for part in message.parts:
            if isinstance(part, TextPart | ReasoningPart):
                total += self.count_text(part.text)
            elif isinstance(part, ToolCallPart):
                total += self.per_tool_item + self.count_text(part.tool_name)
                total += self.count_text(part.tool_call_id) + self.count_text(_json(part.args))
            elif isinstance(part, ToolResultPart):
                total += self.per_tool_item + self.count_text(part.tool_call_id)
                total += self.count_text(_json(part.result))
            elif isinstance(part, CodePart):
                total += self.count_text(part.code) + 2
            elif isinstance(part, ImagePart):
                total += self.per_image + self.count_text(part.alt_text or "")
            elif isinstance(part, FilePart):
                total += self.per_tool_item + self.count_text(part.filename)
            elif isinstance(part, SourcePart):
                total += self.count_text(" ".join(x for x in (part.title, part.url) if x))
        return total


_WORD = re.compile(r"\w+|[^\w\s]|\s*\n\s*|\s{2,}", re.UNICODE)
_ASCII_WORD = re.compile(r"\w+")
_ASCII_OTHER = re.compile(r"[^\w\s]|\s*\n\s*|\s{2,}")

# Longer ASCII text is counted with C-level bytes methods instead of a regex
# scan. ``[^\w\s]`` in ASCII is punctuation and control characters. The str
# ``\s`` also covers the information separators \x1c-\x1f, which bytes methods
# do not treat as whitespace: text holding one takes the regex path.
_ASCII_MARKS = bytes(i for i in range(128)
                     if not (chr(i).isalnum() or chr(i) == "_" or chr(i).isspace()))
_SEPARATORS = bytes(range(0x1C, 0x20))
_ODD_WS = b"\t\r\x0b\x0c"
_MARKS_TO_SPACE = bytes.maketrans(_ASCII_MARKS, b" " * len(_ASCII_MARKS))
# A whitespace run is a token when it holds a line break or is two or more
# characters long; a lone space or tab is part of the next word.
_WS_TOKEN = re.compile(rb"\s\s+|\n")
_SHORT = 32  # below this many characters the regex scan is the quicker one


def _word_tokens(words: list[str] | list[bytes]) -> int:
    """ASCII words: digits in groups of three, anything else every six characters."""
    total = 0
    for word in words:
        total += (len(word) + 2) // 3 if word.isdigit() else (len(word) + 5) // 6
    return total


class HeuristicCounter(_PartCounter):
    """An offline estimate that needs no tokenizer.

    Rather than one token per four characters it follows how BPE tokenizers
    behave: a common short word is one token and long words split every few
    letters; digits go in groups of three; each punctuation mark is a token;
    runs of whitespace with line breaks are a token; text outside ASCII costs
    about one token per three UTF-8 bytes. On English prose it lands within a
    few percent of ``cl100k_base``; on code and JSON it errs on the high side,
    which is the safe side for a budget. Its counts are labelled estimates.
    """

    name = "heuristic-v1"
    estimate = True

    def count_text(self, text: str) -> int:
        """Estimated tokens of ``text``."""
        if not text.isascii():
            return self._count_scanned(text)
        if len(text) >= _SHORT:
            raw = text.encode("ascii")
            n = len(raw)
            if len(raw.translate(None, _SEPARATORS)) == n:
                # Every mark is a token, whitespace runs are looked for only
                # when there can be one, and the words are what lies between.
                total = n - len(raw.translate(None, _ASCII_MARKS))
                if b"\n" in raw or b"  " in raw or len(raw.translate(None, _ODD_WS)) != n:
                    total += len(_WS_TOKEN.findall(raw))
                return total + _word_tokens(raw.translate(_MARKS_TO_SPACE).split())
        # Same pieces as the general scan: word, punctuation and whitespace
        # characters are disjoint classes, so two scans find them.
        total = len(_ASCII_OTHER.findall(text))
        return total + _word_tokens(_ASCII_WORD.findall(text))

    @staticmethod
    def _count_scanned(text: str) -> int:
        """The general path: one scan over every piece of ``text``."""
        total = 0
        for match in _WORD.finditer(text):
            piece = match.group()
            if piece.isspace():
                total += 1
            elif piece.isascii():
                if piece.isdigit():
                    total += math.ceil(len(piece) / 3)
                elif piece.isalnum() or "_" in piece:
                    total += 1 + (len(piece) - 1) // 6
                else:
                    total += 1
            else:
                total += max(1, math.ceil(len(piece.encode("utf-8", "surrogatepass")) / 3))
        return total


HEURISTIC = HeuristicCounter()
"""The shared heuristic counter."""


# --- tiktoken -----------------------------------------------------------------

_O200K_PAT = "|".join([
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""\p{N}{1,3}""",
    r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
    r"""\s*[\r\n]+""",
    r"""\s+(?!\S)""",
    r"""\s+""",
])
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
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d", _O200K_PAT),
    "cl100k_base": _Known(
        _BLOB + "cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7", _CL100K_PAT),
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
            raise ValidationError(f"line {n} is not '<base64 token> <rank>'",
                                  field=source) from None
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
    def from_file(cls, path: str | os.PathLike[str], encoding: str = "o200k_base", *,
                  pat_str: str | None = None, expected_sha256: str | None = None
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
            raise ValidationError(f"unknown encoding {encoding!r}: pass its pat_str",
                                  field="pat_str")
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise ValidationError(f"cannot read {os.fspath(path)!r}: {exc.strerror}",
                                  field="path") from None
        if expected_sha256 and hashlib.sha256(data).hexdigest() != expected_sha256:
            raise ValidationError("SHA-256 does not match", field="path")
        ranks = _read_ranks(data, "path")
        enc = tiktoken.Encoding(encoding, pat_str=pattern, mergeable_ranks=ranks,
                                special_tokens={})
        return cls(enc)

    @classmethod
    def from_cache(cls, encoding: str = "o200k_base", *,
                   cache_dir: str | os.PathLike[str] | None = None) -> TiktokenCounter | None:
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
            cache_dir = (os.environ.get("TIKTOKEN_CACHE_DIR")
                         or os.environ.get("DATA_GYM_CACHE_DIR")
                         or os.path.join(tempfile.gettempdir(), "data-gym-cache"))
        path = Path(cache_dir) / hashlib.sha1(known.url.encode()).hexdigest()
        if not path.is_file():
            return None
        try:
            return cls.from_file(path, encoding, expected_sha256=known.sha256)
        except ValidationError:
            return None


_default_lock = threading.Lock()
_default: TokenCounter | None = None


def default_counter(*, refresh: bool = False) -> TokenCounter:
    """The counter used when none is given: cached tiktoken ``o200k_base`` if it is
    already on this machine, else the heuristic. Found once per process."""
    global _default
    with _default_lock:
        if _default is None or refresh:
            _default = TiktokenCounter.from_cache("o200k_base") or HEURISTIC
        return _default


def token_count_for(message: Message, counter: TokenCounter | None = None) -> TokenCount:
    """The token count to store with ``message``, and where it came from.

    Precedence: a count already on the message; the completion tokens the
    provider reported for an assistant reply; ``counter`` (default:
    :func:`default_counter`).
    """
    if message.token_count is not None:
        name = message.token_counter or "unspecified"
        return TokenCount(message.token_count, name, is_estimate(name))
    usage = message.metadata.token_usage
    if message.role is Role.ASSISTANT and usage is not None and usage.completion_tokens > 0:
        provider = message.metadata.provider
        return TokenCount(usage.completion_tokens,
                          f"usage:{provider}" if provider else "usage", False)
    c = counter if counter is not None else default_counter()
    return TokenCount(c.count_message(message), c.name, c.estimate)


def with_token_count(message: Message, counter: TokenCounter | None = None) -> Message:
    """``message`` with ``token_count`` and ``token_counter`` filled in, ready to append.

    A message that already carries a count and its counter is returned as is.
    """
    if message.token_count is not None and message.token_counter is not None:
        return message
    tc = token_count_for(message, counter)
    return message.model_copy(update={"token_count": tc.tokens, "token_counter": tc.counter})
