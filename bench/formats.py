"""What a provider-format window and an attachment cost.

Claims checked:

* ``store.context(thread, max_tokens=4000, format=F)`` takes within 1.5x of
  ``store.context(thread, max_tokens=4000)`` on the same thread, for every
  format F (the window is chosen the same way; the difference is the
  conversion, the framing and reading the window's attachments);
* appending a message with a 1 MB image, next to appending the same message
  without it: a new image each time (its bytes hashed and stored), and the
  same image again (hashed, found, only referenced).

The thread holds 10,000 messages of agent traffic (user turns, assistant
replies with reasoning and parallel tool calls, tool results); the calls are
interleaved and repeated, and the medians reported::

    .venv/bin/python bench/formats.py            # ~1 minute
    .venv/bin/python bench/formats.py --quick

Writes ``bench/results/formats.md`` and ``.json`` (``--quick``: ``formats-quick.*``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "src"))
sys.path.insert(0, str(BENCH))

from common import machine, write_json  # noqa: E402

import convostore  # noqa: E402
from convostore import (  # noqa: E402
    ImagePart,
    Message,
    ReasoningPart,
    TextPart,
    ToolCallPart,
)
from convostore.formats import FORMATS  # noqa: E402

RESULTS = BENCH / "results"
LIMIT = 1.5
BUDGET = 4000
MB = 1024 * 1024


def turn(i: int) -> list[Message]:
    a, b = f"c{i}a", f"c{i}b"
    return [
        Message.user(f"Question {i}: what is the weather in Paris and in Rome this week?"),
        Message.assistant().with_parts(
            ReasoningPart(text=f"Two cities, two calls ({i}).", signature=f"sig{i}"),
            ToolCallPart(tool_call_id=a, tool_name="weather", args={"city": "Paris", "day": i}),
            ToolCallPart(tool_call_id=b, tool_name="weather", args={"city": "Rome", "day": i}),
        ),
        Message.tool('{"temp_c": 18, "sky": "clear"}', a, tool_name="weather"),
        Message.tool('{"temp_c": 24, "sky": "sunny"}', b, tool_name="weather"),
        Message.assistant(f"Paris is 18 °C and clear, Rome 24 °C and sunny (day {i})."),
    ]


def timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def windows(store: convostore.Store, thread_id: str, reps: int) -> dict[str, Any]:
    names = ["native", *FORMATS]
    samples: dict[str, list[float]] = {n: [] for n in names}
    calls = {
        n: (
            (lambda: store.context(thread_id, max_tokens=BUDGET))
            if n == "native"
            else (lambda n=n: store.context(thread_id, max_tokens=BUDGET, format=n))
        )
        for n in names
    }
    for fn in calls.values():  # warm the page cache and the code paths
        fn()
    for _ in range(reps):
        for n in names:
            samples[n].append(timed(calls[n]))
    med = {n: statistics.median(v) for n, v in samples.items()}
    return {n: {"median_ms": med[n] * 1e3, "ratio": med[n] / med["native"]} for n in names}


def appends(store: convostore.Store, reps: int) -> dict[str, Any]:
    text = "Here is the chart you asked for."
    same = os.urandom(MB)
    t = store.create_thread()
    kinds = ("text only", "new 1 MB image", "same 1 MB image")
    samples: dict[str, list[float]] = {k: [] for k in kinds}

    def message(kind: str) -> Message:
        parts: list[Any] = [TextPart(text=text)]
        if kind == "new 1 MB image":
            parts.append(ImagePart(data=os.urandom(MB), media_type="image/png"))
        elif kind == "same 1 MB image":
            parts.append(ImagePart(data=same, media_type="image/png"))
        return Message.user(text).with_parts(*parts)

    store.append(t.id, message("same 1 MB image"))  # stored once, before measuring
    for _ in range(reps):
        for kind in kinds:
            m = message(kind)  # built outside the timing: the caller's bytes
            samples[kind].append(timed(lambda m=m: store.append(t.id, m)))
    med = {k: statistics.median(v) for k, v in samples.items()}
    return {k: {"median_ms": med[k] * 1e3, "ratio": med[k] / med["text only"]} for k in kinds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n_turns = 200 if args.quick else 2000
    reps = 7 if args.quick else 51
    with (
        tempfile.TemporaryDirectory() as tmp,
        convostore.open_store(f"sqlite:///{tmp}/bench.db") as store,
    ):
        t = store.create_thread()
        batch: list[Message] = []
        for i in range(n_turns):
            batch.extend(turn(i))
            if len(batch) >= 1000:
                store.append(t.id, batch)
                batch = []
        if batch:
            store.append(t.id, batch)
        n = store.get_thread(t.id).message_count
        win = windows(store, t.id, reps)
        app = appends(store, reps)
    ok = all(v["ratio"] <= LIMIT for k, v in win.items() if k != "native")
    result = {
        "machine": machine(),
        "messages": n,
        "budget": BUDGET,
        "reps": reps,
        "windows": win,
        "appends": app,
        "claim": f"context(format=...) within {LIMIT}x of context()",
        "holds": ok,
    }
    stem = "formats-quick" if args.quick else "formats"
    write_json(RESULTS / f"{stem}.json", result)
    lines = [
        "# Provider-format windows and attachments",
        "",
        f"SQLite, a thread of {n:,} messages, `max_tokens={BUDGET}`, medians of {reps} "
        "interleaved calls (`bench/formats.py`).",
        "",
        "| window | median | vs `context()` |",
        "|---|---|---|",
    ]
    for k, v in win.items():
        label = "`context()`" if k == "native" else f"`format={k!r}`"
        lines.append(f"| {label} | {v['median_ms']:.2f} ms | {v['ratio']:.2f}x |")
    lines += [
        "",
        f"Claim: every format within {LIMIT}x: **{'holds' if ok else 'does not hold'}**.",
        "",
        "| append of one message | median | vs text only |",
        "|---|---|---|",
    ]
    for k, v in app.items():
        lines.append(f"| {k} | {v['median_ms']:.2f} ms | {v['ratio']:.2f}x |")
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
