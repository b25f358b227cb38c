"""Token estimates: accuracy against the real encodings, and what counting costs.

Claims checked:

* the default estimate (``HeuristicCounter``) never falls below 0.8x of
  ``o200k_base`` or ``cl100k_base`` on a mixed corpus (prose, code, JSON,
  base64, UUIDs, hex, CJK, emoji, numbers, URLs, mixed chat), per sample and in
  total; the ratio range per category shows how far it runs high;
* counting adds no more than 10% to an append of the benchmark's chat mix:
  an append (one message per call, and one four-item turn per call) on
  memory and SQLite (``synchronous=normal`` and ``full``) with the store
  counting, against the same messages already carrying their count (nothing
  left to count). The count is taken by the current heuristic and by the
  same heuristic as implemented at ``--previous`` (loaded from git), side by
  side in interleaved rounds; medians. ``count_message`` per message is timed
  the same way.

The corpus is the one the test suite uses (``tests/context/token_corpus.py``),
made in code from a fixed seed. The real encodings come from the ``tokens``
extra (offline). Runs in the project's own virtualenv:

    .venv/bin/python bench/tokens.py            # full: 15 rounds (25 of appends)
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
#: The last commit with the first implementation of ``heuristic-v2`` (same
#: counts, a pass over the text per pattern).
DEFAULT_PREVIOUS = "6296c81"


def _git_show(rev: str, path: str) -> str:
    return subprocess.run(
        ["git", "show", f"{rev}:{path}"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout


def _load(name: str, source: str) -> Any:
    file = Path(tempfile.mkdtemp()) / f"{name}.py"
    file.write_text(source)
    spec = importlib.util.spec_from_file_location(name, file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_baseline(rev: str) -> TokenCounter:
    """The heuristic of ``rev``'s ``tokens.py``, as a module of its own."""
    counter: TokenCounter = _load(
        "tokens_baseline", _git_show(rev, "src/convostore/tokens.py")
    ).HEURISTIC
    return counter


def load_previous(rev: str) -> TokenCounter:
    """The heuristic of ``rev``'s ``tokens`` package (``heuristic.py`` with the
    ``counter.py`` it builds on), as modules of their own."""
    _load("tokens_previous_counter", _git_show(rev, "src/convostore/tokens/counter.py"))
    source = _git_show(rev, "src/convostore/tokens/heuristic.py").replace(
        "from convostore.tokens.counter import", "from tokens_previous_counter import"
    )
    counter: TokenCounter = _load("tokens_previous_heuristic", source).HEURISTIC
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


#: Per call: one message, or one turn (user, tool call, tool result, answer).
GRANULARITY = {"one message": 1, "one 4-item turn": 4}
#: The messages carry their count: the store has nothing to count.
FREE = "free"


def precounted(msgs: list[Message]) -> list[Message]:
    """``msgs`` carrying the count the store would give them."""
    return [
        m.model_copy(
            update={"token_count": HEURISTIC.count_message(m), "token_counter": HEURISTIC.name}
        )
        for m in msgs
    ]


def time_appends(
    counters: dict[str, TokenCounter],
    stores_of: dict[str, tuple[str, dict[str, Any]]],
    n: int,
    rounds: int,
) -> dict[str, dict[str, dict[str, float]]]:
    """Median microseconds per append call of the chat mix, per backend,
    granularity and counter (``free``: the messages carry their count).

    Each (backend, granularity, counter) appends to a store and thread of its
    own. A round takes ``n`` new items (whole turns) and appends them call by
    call, each call through every store in turn, the order rotating from call
    to call, so the stores see the same messages at the same moment. One
    message per call: the median per kind of message (user text, tool call,
    tool result, answer), averaged over the four kinds; one turn per call: the
    median.
    """
    labels = [*counters, FREE]
    seen: dict[tuple[str, str, str, int], list[float]] = defaultdict(list)
    stores = {}
    for b, (url, options) in stores_of.items():
        for g in GRANULARITY:
            for k in labels:
                u = url if url == "memory://" else f"{url}-{g.split()[1]}-{k}.db"
                counter = counters.get(k, HEURISTIC)
                stores[(b, g, k)] = open_store(u, token_counter=counter, **options)
    try:
        threads = {key: s.create_thread().id for key, s in stores.items()}
        for r in range(rounds):
            batch = items(n, start=r * n)
            for b in stores_of:
                for g, size in GRANULARITY.items():
                    calls: dict[str, list[Any]] = {}
                    for k in labels:
                        msgs = to_messages(batch)  # fresh ids, built before the clock starts
                        if k == FREE:
                            msgs = precounted(msgs)
                        calls[k] = (
                            msgs
                            if size == 1
                            else [msgs[i : i + size] for i in range(0, len(msgs), size)]
                        )
                    for i in range(len(calls[FREE])):
                        kind = i % (4 // size)
                        for k in labels[i % len(labels) :] + labels[: i % len(labels)]:
                            store, tid, call = stores[(b, g, k)], threads[(b, g, k)], calls[k][i]
                            t0 = time.perf_counter()
                            store.append(tid, call)
                            seen[(b, g, k, kind)].append((time.perf_counter() - t0) * 1e6)
    finally:
        for s in stores.values():
            s.close()
    out: dict[str, dict[str, dict[str, float]]] = {}
    for b in stores_of:
        out[b] = {}
        for g, size in GRANULARITY.items():
            out[b][g] = {
                k: statistics.mean(
                    statistics.median(seen[(b, g, k, kind)]) for kind in range(4 // size)
                )
                for k in labels
            }
    return out


def share(row: dict[str, float], label: str) -> float:
    """What counting adds to an append, as a share of the append without it."""
    return (row[label] - row[FREE]) / row[FREE]


def fmt_ratio(row: dict[str, float]) -> str:
    return f"{row['min']:.2f}-{row['max']:.2f} ({row['total']:.2f})"


def report(result: dict[str, Any]) -> str:
    acc_new, acc_old = result["accuracy"]["new"], result["accuracy"]["old"]
    lines = [
        "# Token estimates: accuracy and cost",
        "",
        "Claim: the default estimate never falls below 0.8x of `o200k_base` or "
        "`cl100k_base` on a mixed corpus, per sample and in total, and counting "
        "adds no more than 10% to an append of the chat mix.",
        "",
        f"{result['samples']} samples ({result['per_category']} per category) from "
        "`tests/context/token_corpus.py`; real counts from the packaged encodings. "
        f"Timing: {result['rounds']} interleaved rounds ({result['append_rounds']} for "
        "appends), medians. "
        "Generated by `bench/tokens.py`.",
        "",
        "## Estimate / real count, per category",
        "",
        "min-max over samples (ratio of the totals); `old` is `heuristic-v1` (at "
        f"`{result['baseline']}`), `new` is `{result['new_name']}`.",
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
        "## Counting share of an append (chat mix)",
        "",
        "µs per append call: the store counting with `heuristic-v2` as implemented at "
        f"`{result['previous']}` (`before`) and now (`now`), and the same messages "
        "carrying their count (`free`, nothing to count). Share: what counting adds to "
        "the `free` append. Same counts either way.",
        "",
        "| store | per call | free | before | now | share before | share now |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    worst = 0.0
    for b, by in result["append_us"].items():
        for g, row in by.items():
            worst = max(worst, share(row, "new"))
            lines.append(
                f"| {b} | {g} | {row[FREE]:.0f} | {row['old']:.0f} | {row['new']:.0f} | "
                f"{share(row, 'old'):.0%} | {share(row, 'new'):.0%} |"
            )
    lines += [
        "",
        f"Largest share now: {worst:.0%} ({'meets' if worst <= 0.10 else 'MISSES'} the 10% goal).",
        "",
        "## `count_message`, µs per message",
        "",
        "| messages | before | now | now / before |",
        "|---|---:|---:|---:|",
    ]
    for g, row in result["count_us"].items():
        lines.append(
            f"| {g} | {row['old']:.1f} | {row['new']:.1f} | {row['new'] / row['old']:.2f}x |"
        )
    m = result["machine"]
    lines += [
        "",
        f"Machine: {m.get('cpu', '?')}, {m.get('cpus')} CPUs, Python "
        f"{m.get('python')}, SQLite {m.get('sqlite')}, load average at start "
        f"{m.get('loadavg_at_start')}; commit {m.get('convostore_commit')}, baseline "
        f"`{result['baseline']}`, previous `{result['previous']}`.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--baseline", default=DEFAULT_BASELINE, help="commit with heuristic-v1")
    ap.add_argument(
        "--previous", default=DEFAULT_PREVIOUS, help="commit with the first heuristic-v2 code"
    )
    args = ap.parse_args()
    per_category = 15 if args.quick else 40
    rounds = 3 if args.quick else 15
    append_rounds = 3 if args.quick else 25
    v1 = load_baseline(args.baseline)
    before = load_previous(args.previous)
    counters = {"old": before, "new": HEURISTIC}
    samples = corpus(per_category=per_category)
    real = {e: TiktokenCounter.from_package(e) for e in ("o200k_base", "cl100k_base")}
    acc = {"old": accuracy(v1, samples, real), "new": accuracy(HEURISTIC, samples, real)}

    groups: dict[str, list[Message]] = {
        "chat mix (user, tool call, result, reply)": to_messages(items(40))
    }
    by_cat: dict[str, list[Message]] = defaultdict(list)
    for c, text in samples:
        by_cat[c].append(Message.user(text))
    groups.update(by_cat)
    differ = [
        m
        for msgs in groups.values()
        for m in msgs
        if before.count_message(m) != HEURISTIC.count_message(m)
    ]
    if differ:
        raise SystemExit(f"{len(differ)} messages counted differently than at {args.previous}")
    count_us = time_counting(counters, groups, rounds, repeat=5 if args.quick else 20)

    with tempfile.TemporaryDirectory() as tmp:
        stores_of: dict[str, tuple[str, dict[str, Any]]] = {
            "memory": ("memory://", {}),
            "sqlite (synchronous=normal)": (f"sqlite:///{tmp}/normal", {"synchronous": "normal"}),
            "sqlite (synchronous=full)": (f"sqlite:///{tmp}/full", {"synchronous": "full"}),
        }
        append_us = time_appends(counters, stores_of, 20 if args.quick else 40, append_rounds)

    result = {
        "machine": machine(),
        "baseline": args.baseline,
        "previous": args.previous,
        "new_name": HEURISTIC.name,
        "samples": len(samples),
        "per_category": per_category,
        "rounds": rounds,
        "append_rounds": append_rounds,
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
