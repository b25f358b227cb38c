"""The token counter is a store option, used by every path that stores a count;
provider usage is trusted only where it measures the message itself.

Run on every backend (memory, json, sqlite, postgres) and both faces.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests._harness import Harness, backend_face_params, require

from convostore import Message, open_async_store, open_store
from convostore.errors import ValidationError
from convostore.model import MessageMetadata, TokenUsage, ToolCallPart
from convostore.store import _token_counter
from convostore.tokens import HEURISTIC, TokenCounter, text_floor


@pytest.fixture(params=backend_face_params())
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    spec, face = request.param
    require(spec)
    h = Harness(spec, face, tmp_path)
    try:
        yield h
    finally:
        h.cleanup()


class HalfCounter:
    """A counter unlike any built-in one: half a token per character."""

    name = "test:half"
    estimate = False

    def count_text(self, text: str) -> int:
        return (len(text) + 1) // 2

    def count_message(self, message: Message) -> int:
        return 1 + self.count_text(message.content)


HALF = HalfCounter()


def test_the_default_is_the_heuristic_on_every_machine(harness: Harness) -> None:
    store = harness.open()
    assert store.token_counter is HEURISTIC
    t = store.create_thread()
    (m,) = store.append(t.id, Message.user("Hello world"))
    assert (m.token_count, m.token_counter) == (HEURISTIC.count_message(m), HEURISTIC.name)


def test_every_write_counts_with_the_store_counter(harness: Harness) -> None:
    harness.options["token_counter"] = HALF
    store = harness.open()
    assert store.token_counter is HALF
    t = store.create_thread()
    text = "a" * 40
    (m,) = store.append(t.id, [Message.user(text)])
    assert (m.token_count, m.token_counter) == (21, "test:half")
    # a message that carries its own count keeps it
    (given,) = store.append(t.id, [Message.user("x", token_count=7, token_counter="mine")])
    assert (given.token_count, given.token_counter) == (7, "mine")
    # a tenant view shares the option
    other = store.tenant("other")
    t2 = other.create_thread()
    (o,) = other.append(t2.id, [Message.user(text)])
    assert o.token_counter == "test:half"
    # an edit is counted again with it
    edited = store.update_message(m.id, content="b" * 10)
    assert (edited.token_count, edited.token_counter) == (6, "test:half")
    assert store.get_thread(t.id).token_count == 6 + 7
    # an imported message without a count is counted with it
    snap = store.export_thread(t.id)
    bare = snap.model_copy(
        update={
            "messages": [
                x.model_copy(update={"token_count": None, "token_counter": None})
                for x in snap.messages
            ]
        }
    )
    copy = store.import_thread(bare, new_ids=True)
    counted = store.load_messages(copy.id)
    assert [(x.token_count, x.token_counter) for x in counted] == [
        (6, "test:half"),
        (2, "test:half"),
    ]
    # context windows report it
    w = store.context(t.id, max_tokens=100)
    assert w.counters == ["mine", "test:half"]


def test_an_exact_encoding_by_name(harness: Harness) -> None:
    harness.options["token_counter"] = "o200k_base"
    store = harness.open()
    t = store.create_thread()
    (m,) = store.append(t.id, Message.user("Hello world"))
    assert (m.token_count, m.token_counter) == (2 + 3, "tiktoken:o200k_base")


def test_an_unknown_counter_name_is_refused_before_opening(tmp_path: Path) -> None:
    for opener in (open_store, open_async_store):
        with pytest.raises(ValidationError) as err:
            opener(f"sqlite:///{tmp_path / 'x.db'}", token_counter="gpt-9")
        assert err.value.field == "token_counter"
    assert not (tmp_path / "x.db").exists()


def test_the_counter_can_be_named_in_the_url(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'x.db'}?token_counter=cl100k_base") as store:
        assert store.token_counter.name == "tiktoken:cl100k_base"
    with pytest.raises(ValidationError):
        open_store("memory://?token_counter=heuristic", token_counter="heuristic")
    # the option leaves the URL; the backend's own options stay as they were
    url, counter = _token_counter(
        "postgresql://u@h/db?token_counter=heuristic&options=-c%20search_path%3Dx", None
    )
    assert (url, counter) == ("postgresql://u@h/db?options=-c%20search_path%3Dx", HEURISTIC)
    with open_store(
        f"sqlite:///{tmp_path / 'y.db'}?synchronous=normal&token_counter=heuristic"
    ) as store:
        assert store.token_counter is HEURISTIC


def test_a_counter_is_anything_with_the_protocol() -> None:
    assert isinstance(HALF, TokenCounter)
    with open_store("memory://", token_counter=HALF) as store:
        assert store.tenant("t2").token_counter is HALF


# --- provider usage ------------------------------------------------------------------


def _reply(text: str, completion: int, **meta: Any) -> Message:
    return Message.assistant(text).with_metadata(
        MessageMetadata(provider="openai", token_usage=TokenUsage.of(500, completion), **meta)
    )


def test_an_absurd_provider_count_does_not_fit_a_long_reply_in_a_small_window(
    harness: Harness,
) -> None:
    """A 3,000-word reply reported as 1 completion token is not a 1-token message."""
    store = harness.open()
    t = store.create_thread()
    essay = " ".join(["word"] * 3000)
    stored = store.append(
        t.id, [Message.user("write an essay"), _reply(essay, 1), Message.user("thanks")]
    )
    long_one = stored[1]
    assert long_one.token_count is not None
    assert long_one.token_count >= text_floor(long_one) >= 1500
    assert long_one.token_counter == HEURISTIC.name
    assert store.get_thread(t.id).token_count >= 1500
    w = store.context(t.id, max_tokens=50)
    assert [m.content for m in w.messages] == ["thanks"]
    assert w.tokens <= 50


def test_usage_that_measures_the_message_is_kept(harness: Harness) -> None:
    store = harness.open()
    t = store.create_thread()
    (m,) = store.append(t.id, _reply("Paris is the capital of France.", 8))
    assert (m.token_count, m.token_counter) == (8, "usage:openai")


def test_usage_far_above_the_text_is_not_the_message(harness: Harness) -> None:
    """Hidden reasoning is in completion_tokens but is not sent back with the reply."""
    store = harness.open()
    t = store.create_thread()
    (m,) = store.append(t.id, _reply("42.", 4000))
    assert m.token_counter == HEURISTIC.name
    assert m.token_count == HEURISTIC.count_message(m)


def test_one_usage_on_several_messages_of_a_batch_is_not_any_one_of_them(harness: Harness) -> None:
    """A completion stored as a text message and a tool-call message, each
    carrying the completion's usage: neither is counted as the whole of it."""
    store = harness.open()
    t = store.create_thread()
    say = _reply("Let me look that up.", 30)
    call = _reply("", 30).with_parts(
        ToolCallPart(tool_call_id="c1", tool_name="search", args={"q": "weather in Paris today"})
    )
    stored = store.append(t.id, [Message.user("weather?"), say, call])
    assert [m.token_counter for m in stored[1:]] == [HEURISTIC.name, HEURISTIC.name]
    assert stored[1].token_count == HEURISTIC.count_message(stored[1])


def test_doctor_reports_the_counter_of_the_store_url(tmp_path: Path) -> None:
    from convostore.cli.doctor import tokenizer_in_use

    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert tokenizer_in_use(f"{url}?token_counter=o200k_base") == ("ok", "tiktoken:o200k_base")
    status, detail = tokenizer_in_use(url)
    assert status == "warn" and detail.startswith(HEURISTIC.name)
    assert tokenizer_in_use(f"{url}?token_counter=nope")[0] == "fail"
