"""Builders of conversations for the context-window tests."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from hypothesis import strategies as st

from convostore.model import (
    Message,
    ReasoningPart,
    Role,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)


def number(messages: Sequence[Message], thread_id: str = "th_test") -> list[Message]:
    """Give messages the thread id and gap-free seq a store would."""
    return [
        m.model_copy(update={"thread_id": thread_id, "seq": i}) for i, m in enumerate(messages, 1)
    ]


def user(text: str, tokens: int | None = 10, **kw: object) -> Message:
    return Message.user(text, token_count=tokens, token_counter="test" if tokens else None, **kw)


def assistant(text: str, tokens: int | None = 10, **kw: object) -> Message:
    return Message.assistant(
        text, token_count=tokens, token_counter="test" if tokens else None, **kw
    )


def reasoning(text: str = "thinking", tokens: int | None = 5) -> Message:
    return Message(
        role=Role.ASSISTANT,
        parts=[ReasoningPart(text=text)],
        token_count=tokens,
        token_counter="test" if tokens else None,
    )


def call(
    *ids: str, text: str = "", tokens: int | None = 10, inline_reasoning: bool = False
) -> Message:
    parts: list[object] = []
    if inline_reasoning:
        parts.append(ReasoningPart(text="plan"))
    if text:
        parts.append(TextPart(text=text))
    parts.extend(ToolCallPart(tool_call_id=i, tool_name="lookup", args={"q": i}) for i in ids)
    return Message(
        role=Role.ASSISTANT,
        parts=parts,
        token_count=tokens,  # type: ignore[arg-type]
        token_counter="test" if tokens else None,
    )


def result(call_id: str, text: str = "ok", tokens: int | None = 10) -> Message:
    return Message.tool(
        text,
        call_id,
        tool_name="lookup",
        token_count=tokens,
        token_counter="test" if tokens else None,
    )


def multi_result(*ids: str, tokens: int | None = 10) -> Message:
    """One tool message answering several calls (Anthropic-style grouped results)."""
    return Message(
        role=Role.TOOL,
        parts=[ToolResultPart(tool_call_id=i, result="ok") for i in ids],
        token_count=tokens,
        token_counter="test" if tokens else None,
    )


@dataclass
class Generated:
    messages: list[Message]
    units: list[list[str]] = field(default_factory=list)  # ids that belong together


@st.composite
def conversations(
    draw: st.DrawFn,
    *,
    pins: bool = True,
    max_turns: int = 8,
    reuse_ids: bool = False,
    late_system: bool = False,
) -> Generated:
    """A valid thread: system prompt, turns with parallel tool calls whose results
    arrive in any order, separate or inline reasoning, long tool outputs, and
    whole units pinned.

    ``reuse_ids``: call ids restart at ``call_0`` in every turn, as some
    OpenAI-compatible servers number them. ``late_system``: a system message
    may also come mid-thread (ordinary history, not the prompt)."""
    rnd = random.Random(draw(st.integers(0, 2**32 - 1)))
    out: list[Message] = []
    units: list[list[str]] = []
    counter = iter(range(10_000))

    def tokens() -> int | None:
        if rnd.random() < 0.1:
            return None  # counted by the heuristic at selection time
        return rnd.choice([1, 3, 8, 15, 40])

    def pin_maybe(unit: list[Message]) -> list[Message]:
        if pins and rnd.random() < 0.12:
            return [m.model_copy(update={"pinned": True}) for m in unit]
        return unit

    if draw(st.booleans()):
        out.append(
            Message.system("be brief", token_count=rnd.choice([2, 20]), token_counter="test")
        )
    if rnd.random() < 0.2:  # a greeting before the first user message
        unit = pin_maybe([assistant("hello", tokens())])
        out += unit
        units.append([m.id for m in unit])
    for t in range(draw(st.integers(0, max_turns))):
        if reuse_ids:
            counter = iter(range(10_000))
        if late_system and rnd.random() < 0.2:
            unit = [
                Message.system(f"note {t}", token_count=rnd.choice([2, 20]), token_counter="test")
            ]
            out += unit
            units.append([m.id for m in unit])
        unit = pin_maybe([user(f"q{t}", tokens())])
        out += unit
        units.append([m.id for m in unit])
        for _ in range(rnd.choice([0, 0, 1, 1, 2, 3])):
            n = rnd.choice([1, 1, 2, 3])
            ids = [f"call_{next(counter)}" for _ in range(n)]
            unit = []
            if rnd.random() < 0.3:
                unit.append(reasoning(tokens=tokens()))
            unit.append(
                call(
                    *ids,
                    text=rnd.choice(["", "let me look"]),
                    tokens=tokens(),
                    inline_reasoning=rnd.random() < 0.2,
                )
            )
            order = ids[:]
            rnd.shuffle(order)
            if n > 1 and rnd.random() < 0.3:
                unit.append(multi_result(*order, tokens=tokens()))
            else:
                for cid in order:
                    big = rnd.random() < 0.15
                    unit.append(
                        result(
                            cid,
                            "x" * (4000 if big else 10),
                            tokens=rnd.choice([200, 900]) if big else tokens(),
                        )
                    )
            unit = pin_maybe(unit)
            out += unit
            units.append([m.id for m in unit])
        if rnd.random() < 0.85:
            unit = []
            if rnd.random() < 0.2:
                unit.append(reasoning(tokens=tokens()))
            unit.append(assistant(f"a{t}", tokens()))
            unit = pin_maybe(unit)
            out += unit
            units.append([m.id for m in unit])
    return Generated(number(out), units)


class CountingIter:
    """An iterator that records how many items were pulled from it."""

    def __init__(self, items: Sequence[Message]) -> None:
        self._it = iter(items)
        self.pulled = 0

    def __iter__(self) -> Iterator[Message]:
        return self

    def __next__(self) -> Message:
        item = next(self._it)
        self.pulled += 1
        return item
