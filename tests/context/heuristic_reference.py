"""The ``heuristic-v2`` estimate as first written: a reference for the faster
implementation in :mod:`convostore.tokens.heuristic`, which must give the same
count for every text (the counter's name is stored with its counts, so its
results may not change under the same name).

Kept verbatim (the class became a function): a byte-level pass per pattern.
"""

from __future__ import annotations

import math
import re

__all__ = ["count_text"]


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


def count_text(text: str) -> int:
    """Estimated tokens of ``text``."""
    if text.isascii():
        return _ascii_tokens(text.encode("ascii"))
    runs = _NON_ASCII.findall(text)
    # Each run of non-ASCII characters is charged by script and leaves a
    # separator behind (a NUL, counted as a mark, so taken off again).
    rest = _NON_ASCII.sub("\x00", text).encode("ascii")
    return _ascii_tokens(rest) - len(runs) + _non_ascii_tokens("".join(runs))
