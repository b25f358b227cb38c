"""Token counting: precedence, the heuristic, and the optional tiktoken counter."""

from __future__ import annotations

import base64
import hashlib
import os
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests._harness import need_module

from convostore.errors import MissingDependencyError, ValidationError
from convostore.model import (
    ImagePart,
    Message,
    MessageMetadata,
    Role,
    TokenUsage,
    ToolCallPart,
)
from convostore.tokens import (
    HEURISTIC,
    HeuristicCounter,
    TiktokenCounter,
    TokenCounter,
    default_counter,
    is_estimate,
    token_count_for,
    with_token_count,
)


@pytest.fixture
def tiktoken_installed() -> None:
    """tiktoken (an optional extra) is importable: skipped without it, a failure
    under CI."""
    need_module("tiktoken", "pip install 'convostore[tiktoken]'")


def test_token_estimation() -> None:
    """Seed 001 test_token_estimation: 'Hello world' is a few tokens, counted offline."""
    msg = Message.user("Hello world")
    assert HEURISTIC.count_text("Hello world") == 2  # what cl100k and o200k give
    tc = token_count_for(msg, HEURISTIC)
    assert tc.tokens == 2 + HeuristicCounter.per_message
    assert tc.counter == "heuristic-v2" and tc.estimated


def test_heuristic_tracks_what_tokenizers_do() -> None:
    h = HEURISTIC
    assert h.count_text("") == 0
    assert h.count_text("1234567890") == 4  # digits in threes
    assert h.count_text("a, b; c.") == 6  # punctuation is its own token
    assert h.count_text("日本語のテキスト") >= 7  # ~one token per CJK character
    long_word = "antidisestablishmentarianism"
    assert 3 <= h.count_text(long_word) <= 6


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200), st.text(max_size=200))
def test_heuristic_is_monotone_under_concatenation(a: str, b: str) -> None:
    joined = HEURISTIC.count_text(a + "\n" + b)
    assert joined >= max(HEURISTIC.count_text(a), HEURISTIC.count_text(b)) - 1
    assert HEURISTIC.count_text(a) >= 0


def test_tool_payloads_and_images_count() -> None:
    plain = Message.assistant("")
    with_call = plain.with_parts(
        ToolCallPart(tool_call_id="c1", tool_name="search", args={"query": "x" * 400})
    )
    assert HEURISTIC.count_message(with_call) > HEURISTIC.count_message(plain) + 20
    img = Message(role=Role.USER, parts=[ImagePart(image_id="i1")])
    assert HEURISTIC.count_message(img) >= HeuristicCounter.per_image


def test_precedence_stored_then_usage_then_counter() -> None:
    stored = Message.user("hi", token_count=42, token_counter="tiktoken:o200k_base")
    assert token_count_for(stored) == (42, "tiktoken:o200k_base", False)
    reply = Message.assistant("a long answer").with_metadata(
        MessageMetadata(provider="openai", token_usage=TokenUsage.of(1000, 17))
    )
    assert token_count_for(reply) == (17, "usage:openai", False)
    # a user message's prompt_tokens cover the whole prompt, not the message: not used
    asked = Message.user("q").with_metadata(MessageMetadata(token_usage=TokenUsage.of(900, 0)))
    assert token_count_for(asked, HEURISTIC).counter == HEURISTIC.name


def test_with_token_count_stores_the_counter() -> None:
    m = with_token_count(Message.user("Hello world"), HEURISTIC)
    assert m.token_count == 5 and m.token_counter == "heuristic-v2"
    assert with_token_count(m) == m  # already counted: unchanged


def test_is_estimate() -> None:
    assert is_estimate("heuristic-v1") and is_estimate(None)
    assert not is_estimate("tiktoken:o200k_base") and not is_estimate("usage:openai")


def test_protocol_and_default() -> None:
    assert isinstance(HEURISTIC, TokenCounter)
    # kept for old callers: the heuristic, whatever tiktoken has cached
    assert default_counter() is HEURISTIC and default_counter(refresh=True) is HEURISTIC


def test_from_cache_without_a_cached_file_is_none(tmp_path: Path) -> None:
    assert TiktokenCounter.from_cache("o200k_base", cache_dir=tmp_path) is None
    assert TiktokenCounter.from_cache("no-such-encoding", cache_dir=tmp_path) is None


def test_missing_tiktoken_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tiktoken", None)  # as if it were not installed
    with pytest.raises(MissingDependencyError, match=r"convostore\[tiktoken\]"):
        TiktokenCounter.from_file(tmp_path / "x.tiktoken")


def _tiny_bpe(path: Path) -> bytes:
    """A byte-level vocabulary with a few merges, in the .tiktoken file format."""
    tokens = [bytes([b]) for b in range(256)] + [b"he", b"ll", b"hell", b"hello", b" w"]
    data = b"".join(
        base64.b64encode(t) + b" " + str(i).encode() + b"\n" for i, t in enumerate(tokens)
    )
    path.write_bytes(data)
    return data


@pytest.mark.usefixtures("tiktoken_installed")
def test_tiktoken_from_a_local_file(tmp_path: Path) -> None:
    f = tmp_path / "tiny.tiktoken"
    data = _tiny_bpe(f)
    counter = TiktokenCounter.from_file(
        f, "o200k_base", expected_sha256=hashlib.sha256(data).hexdigest()
    )
    assert counter.name == "tiktoken:o200k_base" and not counter.estimate
    assert counter.count_text("hello") == 1
    assert counter.count_text("hello world") == 1 + 1 + 4  # hello, " w", o r l d
    m = with_token_count(Message.user("hello"), counter)
    assert m.token_counter == "tiktoken:o200k_base" and m.token_count == 1 + 3


@pytest.mark.usefixtures("tiktoken_installed")
def test_tiktoken_found_in_its_cache_never_downloads(tmp_path: Path) -> None:
    from convostore.tokens import KNOWN_ENCODINGS

    known = KNOWN_ENCODINGS["o200k_base"]
    cached = tmp_path / hashlib.sha1(known.url.encode()).hexdigest()
    _tiny_bpe(cached)
    # the hash does not match the real o200k file: refused, not re-fetched
    assert TiktokenCounter.from_cache("o200k_base", cache_dir=tmp_path) is None


@pytest.mark.usefixtures("tiktoken_installed")
def test_tiktoken_rejects_bad_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tiktoken"
    bad.write_bytes(b"not base64 at all\n")
    with pytest.raises(ValidationError):
        TiktokenCounter.from_file(bad)
    with pytest.raises(ValidationError):
        TiktokenCounter.from_file(tmp_path / "missing.tiktoken")
    f = tmp_path / "ok.tiktoken"
    _tiny_bpe(f)
    with pytest.raises(ValidationError, match="SHA-256"):
        TiktokenCounter.from_file(f, expected_sha256="0" * 64)
    with pytest.raises(ValidationError, match="pat_str"):
        TiktokenCounter.from_file(f, "custom")


_HASH_SEED_PROBE = """
import sys
from convostore.tokens import HEURISTIC
text = sys.stdin.read()
print(HEURISTIC.count_text(text))
"""


def test_heuristic_counts_do_not_depend_on_the_process() -> None:
    """The same text gets the same count in every process (string hashing is
    randomised per process; nothing in the count may depend on it)."""
    import subprocess
    import sys

    blob = "QUJDZGVm" * 3  # one base64 run inside another, and twice the same run
    text = f"{blob}x{blob} {blob} key={blob}AbCdEfGh12 iPhone McDonald"
    counts = set()
    for seed in ("1", "2", "3", "4"):
        out = subprocess.run(
            [sys.executable, "-c", _HASH_SEED_PROBE],
            input=text,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        counts.add(int(out.stdout))
    assert counts == {HEURISTIC.count_text(text)}


@given(
    st.text(max_size=200),
    st.text(alphabet=st.characters(min_codepoint=128), min_size=1, max_size=20),
)
@settings(max_examples=200, deadline=None)
def test_heuristic_charges_non_ascii_text(a: str, extra: str) -> None:
    """Text outside ASCII always costs something: inserting it never lowers a count."""
    assert HEURISTIC.count_text(a + " " + extra) >= HEURISTIC.count_text(a)
    assert HEURISTIC.count_text(extra) >= 1
