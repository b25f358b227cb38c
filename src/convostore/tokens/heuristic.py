"""The heuristic: an offline estimate of token counts that needs no tokenizer."""

from __future__ import annotations

import math
import re

from convostore.tokens.counter import _PartCounter

__all__ = ["HEURISTIC", "HeuristicCounter"]


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
# The letter, digit, mark and whitespace counts are taken in one pass over
# the text as a big integer (one byte per character, a bit per class), with
# shifts and masks; only runs of a length (seven lower-case letters, five
# capitals, two spaces, two line breaks) are counted with ``bytes.count``.
# Python loops run only over the rare long base64-like runs.

# Each ASCII byte as its classes, one bit each: lower case and upper case
# letters also carry the letter bit. A byte outside ASCII (never passed in)
# is neither of them, nor a mark. The order matters: a byte's class and the
# next bit of its successor's are lower then upper case, or a space then a
# digit (see ``_ascii_tokens``).
_LOW, _UP, _LETTER, _SPACE, _DIGIT, _BREAK, _MARK, _OTHER = (1 << k for k in range(8))


def _codes() -> bytes:
    table = bytearray([_OTHER] * 256)
    for c in range(128):
        ch = chr(c)
        if "a" <= ch <= "z":
            table[c] = _LOW | _LETTER
        elif "A" <= ch <= "Z":
            table[c] = _UP | _LETTER
        elif "0" <= ch <= "9":
            table[c] = _DIGIT
        elif ch in " _":
            table[c] = _SPACE  # a space or underscore before digits is a token
        elif ch in "\t\n\r\x0b\x0c":
            table[c] = _BREAK
        else:
            table[c] = _MARK  # punctuation and control characters
    return bytes(table)


_CODES = _codes()
_LOWER_7 = bytes([_LOW | _LETTER]) * 7
_UPPER_5 = bytes([_UP | _LETTER]) * 5
_SPACE_2 = bytes([_SPACE]) * 2
_SPACE_4 = bytes([_SPACE]) * 4
_BREAK_2 = bytes([_BREAK]) * 2


def _masks(size: int) -> tuple[int, ...]:
    """Per class bit, the integer with that bit set in each of ``size`` bytes;
    last, the lower-case and space bits together."""
    ones = int.from_bytes(b"\x01" * size, "big")
    return (*(ones << k for k in range(8)), ones | ones << 3)


# Masks for texts up to this many bytes are made once; longer ones get their own.
_MASK_BYTES = 4096
_MASKS = _masks(_MASK_BYTES)
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


def _ascii_tokens(raw: bytes) -> int:
    """Estimated tokens of ASCII text (see the notes above).

    ``y`` holds the text's class bits, its first byte highest: ``y >> 8``
    puts each byte's predecessor in its place and ``y << 8`` its successor;
    ``y << 7`` puts the successor's class bits one lower, so ``y & (y << 7)``
    has the lower-case bit set where lower case turns upper (``aA``) and the
    space bit where a space is followed by a digit. ``y & ~(y >> 8)`` has the
    letter or digit bit set where a run of letters or digits starts.
    """
    total = 0
    codes = raw.translate(_CODES)
    y = int.from_bytes(codes, "big")
    m = _MASKS if len(raw) <= _MASK_BYTES else _masks(len(raw))
    pairs = y & (y << 7)
    if len(raw) >= _BLOB_MIN and pairs & m[0]:
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
            codes = raw.translate(_CODES)
            y = int.from_bytes(codes, "big")
            pairs = y & (y << 7)
    same = y & (y << 8)  # the class bits a byte shares with its successor
    starts = y ^ (y & (y >> 8))  # the class bits its predecessor lacks
    # One token each: a mark, a run of letters, a case change inside one
    # (``userName``), and a space before a number (``" 42"`` is a space and
    # a number).
    tokens = (pairs & m[8]) | (starts & m[2]) | (y & m[6])
    # A long run of letters costs one more per seven lower-case or five
    # upper-case letters.
    total += codes.count(_LOWER_7)
    if same & m[1]:
        # Two capitals, then lower case: an acronym meets a word (``XMLHttp``).
        tokens |= same & (y << 17) & m[1]
        total += codes.count(_UPPER_5)
    total += tokens.bit_count()
    digits = y & m[4]
    if digits:
        # Digit runs are cut in groups of three: ``(digits + 2 * runs) // 3``
        # is exact for one run and at most one high per three runs.
        total += (digits.bit_count() + 2 * (starts & m[4]).bit_count()) // 3
    breaks = y & m[5]
    if breaks:
        # A line break (or a run of them, roughly) is a token, and so is
        # the indentation after it.
        total += breaks.bit_count() - (codes.count(_BREAK_2) if same & m[5] else 0)
    if same & m[3]:
        total += codes.count(_SPACE_2) - codes.count(_SPACE_4)
    return total or int(len(raw) > 0)


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
