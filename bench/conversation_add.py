"""Conversation.add under max_messages: within 3x of a plain append?

Claim checked: with the default ``SessionConfig`` (``max_messages=100``, past
which the oldest messages are archived), ``Conversation.add`` costs within 3x
of a plain ``store.append`` of the same message, on the memory backend and on
a SQLite file, once the history is past the limit (so every add archives one
message).

Each backend gets three threads already holding 300 messages. The calls are
measured in interleaved rounds, a block of each kind per round, so machine
noise hits them alike:

* ``store.append``: a plain append of one user message;
* ``Conversation.add``: the same through a conversation handle (it appends,
  then retires the oldest message from a short forward read);
* ``Conversation.add, rescanning``: the handle forgets what it knows before
  every add, so each add reads back over the active history as it did before
  the handle remembered it (the cost this replaced).

Medians of all calls are reported with their ratio to the plain append.

    .venv/bin/python bench/conversation_add.py            # 7 rounds x 200 calls
    .venv/bin/python bench/conversation_add.py --quick    # 3 rounds x 50 calls

Writes ``bench/results/conversation_add.md`` and ``.json`` (``--quick`` writes
``conversation_add-quick.*``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, fmt_seconds, machine, median, write_json

LIMIT = 3.0
PREFILL = 300


def measure(url: str, rounds: int, calls: int) -> dict[str, Any]:
    from convostore import Message, Role, open_store
    from convostore.conversation import ConversationManager, SessionConfig

    store = open_store(url)
    manager = ConversationManager(store, SessionConfig())  # the defaults
    plain = store.create_thread(id="plain").id
    conv = manager.create("conv")
    rescan = manager.create("rescan")
    for tid in (plain, conv.id, rescan.id):
        store.append(tid, [Message.user(f"earlier message {i}") for i in range(PREFILL)])
    conv.enforce_limits()
    rescan.enforce_limits()
    fresh = iter(range(10**9))

    def text() -> str:
        return f"message number {next(fresh)} of the benchmark, a short question"

    def forget_then_add() -> None:
        rescan._tail = None  # what the handle knew is gone: it reads back again
        rescan.add(Role.USER, text())

    kinds: dict[str, Callable[[], Any]] = {
        "store.append": lambda: store.append(plain, Message.user(text())),
        "Conversation.add": lambda: conv.add(Role.USER, text()),
        "Conversation.add, rescanning": forget_then_add,
    }

    def block(fn: Callable[[], Any]) -> list[float]:
        out = []
        for _ in range(calls):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
        return out

    for fn in kinds.values():  # warm-up, not recorded
        block(fn)
    raw: dict[str, list[float]] = {k: [] for k in kinds}
    for r in range(rounds):
        order = list(kinds) if r % 2 == 0 else list(reversed(kinds))
        for k in order:
            raw[k].extend(block(kinds[k]))
    active = len(conv.messages())
    store.close()
    base = median(raw["store.append"])
    assert base
    rows = []
    for k in kinds:
        m = median(raw[k])
        assert m
        rows.append({"call": k, "median_s": m, "ratio": m / base})
    return {"rows": rows, "raw_seconds": raw, "active_after": active}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 rounds x 50 calls")
    ap.add_argument("--rounds", type=int, default=None, help="default 7 (3 quick)")
    ap.add_argument("--calls", type=int, default=None, help="default 200 (50 quick)")
    ap.add_argument("--dir", default=None, help="where the database goes (default: a temp dir)")
    args = ap.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 7)
    calls = args.calls or (50 if args.quick else 200)

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="conversation-add-", dir=args.dir) as tmp:
        for name, url in (
            ("memory", "memory://"),
            ("sqlite file", f"sqlite:///{Path(tmp) / 'bench.db'}"),
        ):
            results[name] = measure(url, rounds, calls)
            print(f"{name} done", flush=True)

    ok = all(
        r["ratio"] <= LIMIT
        for res in results.values()
        for r in res["rows"]
        if r["call"] == "Conversation.add"
    )
    data = {
        "claim": f"Conversation.add within {LIMIT}x of store.append (default config, "
        f"past max_messages)",
        "prefill": PREFILL,
        "rounds": rounds,
        "calls_per_round": calls,
        "machine": machine(),
        "quick": args.quick,
        "within_limit": ok,
        "backends": results,
    }
    stem = "conversation_add-quick" if args.quick else "conversation_add"
    write_json(RESULTS / f"{stem}.json", data)
    md = [
        "# Conversation.add vs store.append under max_messages",
        "",
        f"Claim: with the default `SessionConfig` (`max_messages=100`, archive), "
        f"`Conversation.add` takes within {LIMIT}x of a plain `store.append`, once the "
        f"history is past the limit (every add archives one message).",
        "",
        f"Threads prefilled with {PREFILL} messages; {rounds} interleaved rounds x {calls} "
        f"calls per kind; medians of all calls. Generated by "
        f"`bench/conversation_add.py{' --quick' if args.quick else ''}`.",
        "",
        "| backend | call | median | vs store.append |",
        "|---|---|---:|---:|",
    ]
    for name, res in results.items():
        for row in res["rows"]:
            md.append(
                f"| {name} | `{row['call']}` | {fmt_seconds(row['median_s'])} | "
                f"{row['ratio']:.2f}x |"
            )
    m = data["machine"]
    md += [
        "",
        f"Within {LIMIT}x: {'yes' if ok else '**no**'}. Active history after the run: "
        + ", ".join(f"{k} {v['active_after']}" for k, v in results.items())
        + " messages.",
        "",
        f"Machine: {m.get('cpu', m['machine'])}, {m['cpus']} CPUs, "
        f"Python {m['python']}, SQLite {m['sqlite']}, load average at start "
        f"{m.get('loadavg_at_start')}.",
    ]
    (RESULTS / f"{stem}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
