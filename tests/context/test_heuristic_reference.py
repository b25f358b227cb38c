"""The heuristic gives exactly the counts of its first implementation.

``heuristic-v2`` is stored with every count it produced, so a faster
implementation under the same name must return the same number for every
text. The reference (:mod:`tests.context.heuristic_reference`) is the
original code, kept verbatim; these properties compare the two on arbitrary
text and on text built to reach every branch: case changes and acronyms,
digit groups, runs of spaces, underscores and line breaks, base64 blobs
(repeated, nested, next to other runs), non-ASCII scripts, emoji, and texts
longer than the masks made in advance.
"""

from __future__ import annotations

import base64
import json

from hypothesis import example, given, settings
from hypothesis import strategies as st

from convostore.tokens import HEURISTIC, counter
from convostore.tokens import heuristic as impl

from . import heuristic_reference as reference

#: Characters that make the estimate branch: every ASCII class, the base64
#: alphabet's extra characters, and a few scripts outside ASCII.
_PIECES = (
    "a",
    "z",
    "A",
    "Z",
    "0",
    "9",
    " ",
    "_",
    "\n",
    "\t",
    "\r",
    "\x00",
    "\x7f",
    ".",
    ",",
    "{",
    '"',
    ":",
    "+",
    "/",
    "=",
    "-",
    "é",
    "Ж",
    "中",
    "한",
    "か",
    "→",
    "\ufe0f",
    "😀",
    "\U0001f3fd",
)

_blob = st.binary(min_size=8, max_size=96).map(lambda b: base64.b64encode(b).decode())
_fragment = st.one_of(
    st.sampled_from(_PIECES),
    st.text(st.sampled_from(_PIECES), min_size=1, max_size=12),
    _blob,
    st.sampled_from(
        [
            "getUserName",
            "XMLHttpRequest",
            "iPhone",
            "HTTPServer",
            "e29b41d4",
            "\U0001f44d\U0001f3fd",
        ]
    ),
    st.integers(min_value=0, max_value=10**12).map(str),
)
_built = st.lists(_fragment, max_size=40).map("".join)
_long_run = st.tuples(st.sampled_from(_PIECES), st.integers(min_value=1, max_value=5000)).map(
    lambda t: t[0] * t[1]
)
_texts = st.one_of(
    st.text(max_size=300),
    st.text(st.characters(max_codepoint=127), max_size=300),
    _built,
    st.lists(st.one_of(_built, _long_run), max_size=4).map("".join),
)


@given(_texts)
@settings(max_examples=1500, deadline=None)
@example("")
@example("a" * 4095 + "B")
@example("a" * 4096 + "B" * 9 + "c 1" * 700)
@example("QUJDZGVm" * 3 + "x" + "QUJDZGVm" * 3 + " key=" + "QUJDZGVm" * 3 + "AbCdEfGh12")
def test_heuristic_equals_the_reference(text: str) -> None:
    assert HEURISTIC.count_text(text) == reference.count_text(text)


@given(st.binary(max_size=400).map(lambda b: bytes(c & 0x7F for c in b)))
@settings(max_examples=500, deadline=None)
def test_ascii_pass_equals_the_reference_on_every_ascii_byte(raw: bytes) -> None:
    assert impl._ascii_tokens(raw) == reference._ascii_tokens(raw)


def test_long_texts_use_masks_of_their_own() -> None:
    """Past the masks made in advance the count is the same as before."""
    unit = "userName XMLHttp 123 4567  \n\n  x_1 QUJDZGVmR2hpSktMbW5v "
    for size in (impl._MASK_BYTES - 1, impl._MASK_BYTES, impl._MASK_BYTES + 1, 50_000):
        text = (unit * (size // len(unit) + 1))[:size]
        assert len(text) == size
        assert HEURISTIC.count_text(text) == reference.count_text(text)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(_json_values)
@settings(max_examples=300, deadline=None)
def test_tool_arguments_are_counted_from_the_same_json(value: object) -> None:
    """Tool arguments and results are counted from the JSON ``json.dumps`` makes
    (a string is counted as it is)."""
    if isinstance(value, str):
        assert counter._json(value) == value
        return
    expected = json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    assert counter._json(value) == expected
