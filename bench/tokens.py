"""Token estimates: accuracy against the real encodings, and what counting costs.

Claims checked:

* the default estimate (``HeuristicCounter``) never falls below 0.8x of
  ``o200k_base`` or ``cl100k_base`` on a mixed corpus (prose, code, JSON,
  base64, UUIDs, hex, CJK, emoji, numbers, URLs, mixed chat), per sample and in
  total; the ratio range per category shows how far it runs high;
* counting does not slow appends: ``count_message`` per message and a store
  append, with the previous heuristic (``heuristic-v1``, loaded from git at
  ``--baseline``) and the current one, measured side by side in interleaved
  rounds; medians.

The corpus is the one the test suite uses (``tests/context/token_corpus.py``),
made in code from a fixed seed. The real encodings come from the ``tokens``
extra (offline). Runs in the project's own virtualenv:

    .venv/bin/python bench/tokens.py            # full: 15 rounds
    .venv/bin/python bench/tokens.py --quick    # 3 rounds, fewer samples

Writes ``bench/results/tokens.md`` and ``tokens.json`` (``--quick`` writes
``tokens-quick.*``).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "context"))

from adapters.convostore_store import to_messages
from common import RESULTS, ROOT, items, machine, write_json
from token_corpus import CATEGORIES, corpus

from convostore import Message, open_store
from convostore.tokens import HEURISTIC, TiktokenCounter, TokenCounter

#: The last commit with the previous heuristic (``heuristic-v1``).
DEFAULT_BASELINE = "fc368f5~1"


def load_baseline(rev: str) -> TokenCounter:
    """The heuristic of ``rev``'s ``tokens.py``, as a module of its own."""
    source = subprocess.run(
        ["git", "show", f"{rev}:src/convostore/tokens.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "tokens_baseline.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("tokens_baseline", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    counter: TokenCounter = module.HEURISTIC
    return counter


def accuracy(
    counter: TokenCounter, samples: list[tuple[str, str]], real: dict[str, TiktokenCounter]
) -> dict[str, Any]:
    """Per encoding and category: min and max of estimate / real per sample,
    and the ratio of the totals."""
    out: dict[str, Any] = {}
    for name, enc in real.items():
        per: dict[str, list[float]] = defaultdict(list)
        totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for category, text in samples:
            e, x = counter.count_text(text), enc.count_text(text)
            per[category].append(e / max(x, 1))
            totals[category][0] += e
            totals[category][1] += x
        rows = {
            c: {"min": min(per[c]), "max": max(per[c]), "total": totals[c][0] / totals[c][1]}
            for c in CATEGORIES
        }
        all_e = sum(t[0] for t in totals.values())
        all_x = sum(t[1] for t in totals.values())
        rows["all"] = {
            "min": min(min(v) for v in per.values()),
            "max": max(max(v) for v in per.values()),
            "total": all_e / all_x,
        }
        out[name] = rows
    return out


def time_counting(
    counters: dict[str, TokenCounter], groups: dict[str, list[Message]], rounds: int, repeat: int
) -> dict[str, dict[str, float]]:
    """Median microseconds per ``count_message``, per group and counter."""
    seen: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for _ in range(rounds):
        for group, msgs in groups.items():
            for label, counter in counters.items():
                t0 = time.perf_counter()
                for _ in range(repeat):
                    for m in msgs:
                        counter.count_message(m)
                seen[group][label].append((time.perf_counter() - t0) / (repeat * len(msgs)) * 1e6)
    return {g: {k: statistics.median(v) for k, v in by.items()} for g, by in seen.items()}


def time_appends(
    counters: dict[str, TokenCounter], url_of: dict[str, str], n: int, rounds: int
) -> dict[str, dict[str, float]]:
    """Median microseconds per one-message append of the chat mix, per backend
    and counter (each store appends to its own thread, rounds interleaved)."""
    seen: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    stores = {
        (b, k): open_store(
            url_of[b] if b == "memory" else f"{url_of[b]}-{k}.db",
            token_counter=c,
            **({} if b == "memory" else {"synchronous": "normal"}),
        )
        for b in url_of
        for k, c in counters.items()
    }
    try:
        threads = {key: s.create_thread().id for key, s in stores.items()}
        for r in range(rounds):
            batch = items(n, start=r * n)
            for (backend, label), store in stores.items():
                msgs = to_messages(batch)  # fresh ids, built before the clock starts
                tid = threads[(backend, label)]
                for m in msgs:
                    t0 = time.perf_counter()
                    store.append(tid, m)
                    seen[backend][label].append((time.perf_counter() - t0) * 1e6)
    finally:
        for s in stores.values():
            s.close()
    return {b: {k: statistics.median(v) for k, v in by.items()} for b, by in seen.items()}


def fmt_ratio(row: dict[str, float]) -> str:
    return f"{row['min']:.2f}-{row['max']:.2f} ({row['total']:.2f})"


def report(result: dict[str, Any]) -> str:
    acc_new, acc_old = result["accuracy"]["new"], result["accuracy"]["old"]
    lines = [
        "# Token estimates: accuracy and cost",
        "",
        "Claim: the default estimate never falls below 0.8x of `o200k_base` or "
        "`cl100k_base` on a mixed corpus, per sample and in total, and counting "
        "does not slow appends.",
        "",
        f"{result['samples']} samples ({result['per_category']} per category) from "
        "`tests/context/token_corpus.py`; real counts from the packaged encodings. "
        f"Timing: {result['rounds']} interleaved rounds, medians. "
        "Generated by `bench/tokens.py`.",
        "",
        "## Estimate / real count, per category",
        "",
        "min-max over samples (ratio of the totals); `old` is `heuristic-v1`, `new` is "
        f"`{result['new_name']}`.",
        "",
        "| category | new / o200k_base | new / cl100k_base | old / o200k_base | "
        "old / cl100k_base |",
        "|---|---|---|---|---|",
    ]
    for c in [*CATEGORIES, "all"]:
        lines.append(
            f"| {c} | {fmt_ratio(acc_new['o200k_base'][c])} | "
            f"{fmt_ratio(acc_new['cl100k_base'][c])} | "
            f"{fmt_ratio(acc_old['o200k_base'][c])} | "
            f"{fmt_ratio(acc_old['cl100k_base'][c])} |"
        )
    lowest = min(acc_new[e]["all"]["min"] for e in acc_new)
    lines += [
        "",
        f"Lowest new ratio on any sample: {lowest:.2f} "
        f"({'meets' if lowest >= 0.8 else 'MISSES'} the 0.8 floor).",
        "",
        "## `count_message`, µs per message",
        "",
        "| messages | old | new | new / old |",
        "|---|---:|---:|---:|",
    ]
    for g, row in result["count_us"].items():
        lines.append(
            f"| {g} | {row['old']:.1f} | {row['new']:.1f} | {row['new'] / row['old']:.2f}x |"
        )
    lines += [
        "",
        "## One-message append (chat mix), µs",
        "",
        "| store | old counter | new counter | new / old |",
        "|---|---:|---:|---:|",
    ]
    for b, row in result["append_us"].items():
        lines.append(
            f"| {b} | {row['old']:.0f} | {row['new']:.0f} | {row['new'] / row['old']:.2f}x |"
        )
    m = result["machine"]
    lines += [
        "",
        f"Machine: {m.get('cpu', '?')}, {m.get('cpus')} CPUs, Python "
        f"{m.get('python')}, SQLite {m.get('sqlite')}, load average at start "
        f"{m.get('loadavg_at_start')}; commit {m.get('convostore_commit')}, baseline "
        f"`{result['baseline']}`.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--baseline", default=DEFAULT_BASELINE)
    args = ap.parse_args()
    per_category = 15 if args.quick else 40
    rounds = 3 if args.quick else 15
    old = load_baseline(args.baseline)
    counters = {"old": old, "new": HEURISTIC}
    samples = corpus(per_category=per_category)
    real = {e: TiktokenCounter.from_package(e) for e in ("o200k_base", "cl100k_base")}
    acc = {"old": accuracy(old, samples, real), "new": accuracy(HEURISTIC, samples, real)}

    groups: dict[str, list[Message]] = {
        "chat mix (user, tool call, result, reply)": to_messages(items(40))
    }
    by_cat: dict[str, list[Message]] = defaultdict(list)
    for c, text in samples:
        by_cat[c].append(Message.user(text))
    groups.update(by_cat)
    count_us = time_counting(counters, groups, rounds, repeat=5 if args.quick else 20)

    with tempfile.TemporaryDirectory() as tmp:
        urls = {"memory": "memory://", "sqlite file (synchronous=normal)": f"sqlite:///{tmp}/bench"}
        append_us = time_appends(counters, urls, 100 if args.quick else 200, rounds)

    result = {
        "machine": machine(),
        "baseline": args.baseline,
        "new_name": HEURISTIC.name,
        "samples": len(samples),
        "per_category": per_category,
        "rounds": rounds,
        "accuracy": acc,
        "count_us": count_us,
        "append_us": append_us,
    }
    stem = "tokens-quick" if args.quick else "tokens"
    write_json(RESULTS / f"{stem}.json", result)
    (RESULTS / f"{stem}.md").write_text(report(result))
    print(report(result))


if __name__ == "__main__":
    main()
