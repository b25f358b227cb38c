"""Full-text search at scale: query latency on 1,000,000 messages, and what the
index costs an append.

Claims checked, on SQLite and on PostgreSQL:

* a two-word query returning the top 20 takes under 50 ms (median and p95 over
  many queries of different word pairs, common and rare words);
* an append is no more than 20% slower with the search index than without it
  (single-message appends and 4-message turns).

The data: messages of 5-60 words drawn from a vocabulary of 30,000 made-up
words with Zipf-distributed frequencies (s = 1.1, so the commonest words are
in most messages, like "the"), with a tool call and a JSON tool result in
every fifth message, over 20,000 threads (50 messages each) of 4 tenants and
400 users. They are written through the store (``append`` of 50 messages per
thread, so the index is built by the triggers and the generated column, as in
use).

Queries: word pairs of four kinds, drawn by frequency rank: ``stopword`` (both
among the 20 commonest words), ``common`` (ranks 20-500), ``mid`` (500-5,000)
and ``rare`` (5,000-30,000), plus ``mixed`` (one common, one rare), each run
through ``store.search(q, limit=20)`` on one tenant; the median and p95 of all
of them, and per kind.

Appends: the loaded store against a copy without the index (SQLite: the file
copied and its search triggers and tables dropped; PostgreSQL: a second schema
filled from the first by ``INSERT ... SELECT`` and its search column dropped),
in one process, interleaved: each round runs a block of appends on each, in
alternating order.

    .venv/bin/python bench/search.py                 # 1,000,000 messages, both engines
    .venv/bin/python bench/search.py --quick         # 20,000 messages
    .venv/bin/python bench/search.py --engines sqlite

Writes ``bench/results/search.md`` and ``.json`` (``--quick``: ``search-quick.*``).
Building is in a temporary directory (and schemas dropped afterwards).
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PG_URL, RESULTS, machine, write_json

GOAL_MS = 50.0
GOAL_APPEND = 1.20
VOCAB = 30_000
ZIPF_S = 1.1
TENANTS = 4
USERS = 400
PER_THREAD = 50
_SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"] + ["qu", "th", "sh", "ch"]


def vocabulary(n: int, rng: random.Random) -> list[str]:
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < n:
        w = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words


class Corpus:
    """Zipf-distributed words and messages built from them."""

    def __init__(self, seed: int = 11) -> None:
        self.rng = random.Random(seed)
        self.words = vocabulary(VOCAB, self.rng)
        weights = [1 / (r + 1) ** ZIPF_S for r in range(VOCAB)]
        self.cum = list(itertools.accumulate(weights))

    def text(self, n: int) -> str:
        return " ".join(self.rng.choices(self.words, cum_weights=self.cum, k=n)).capitalize()

    def message(self, i: int) -> dict[str, Any]:
        rng = self.rng
        if i % 5 == 3:  # an assistant tool call
            return {
                "role": "assistant",
                "parts": [
                    {
                        "type": "tool-call",
                        "tool_call_id": f"c{i}",
                        "tool_name": rng.choice(("search_docs", "get_order", "run_query")),
                        "args": {"q": self.text(rng.randint(2, 6))},
                    }
                ],
            }
        if i % 5 == 4:
            return {
                "role": "tool",
                "name": "search_docs",
                "tool_call_id": f"c{i - 1}",
                "content": '{"rows": ["' + self.text(rng.randint(10, 40)) + '"]}',
            }
        role = "user" if i % 5 in (0, 2) else "assistant"
        return {"role": role, "content": self.text(rng.randint(5, 60))}

    def thread(self) -> list[dict[str, Any]]:
        return [self.message(i) for i in range(PER_THREAD)]

    def pairs(self, kind: str, n: int, rng: random.Random, texts: list[str]) -> list[str]:
        """``n`` word pairs of ``kind`` that occur together in one of ``texts``
        (messages that were stored), so that each query finds something."""
        ranges = {
            "stopword": ((0, 20), (0, 20)),
            "common": ((20, 500), (20, 500)),
            "mid": ((500, 5000), (500, 5000)),
            "rare": ((5000, VOCAB), (5000, VOCAB)),
            "mixed": ((20, 500), (5000, VOCAB)),
        }[kind]
        rank = {w: r for r, w in enumerate(self.words)}
        (a0, a1), (b0, b1) = ranges
        out: list[str] = []
        for text in rng.sample(texts, len(texts)):
            words = sorted(set(text.lower().split()), key=rank.__getitem__)
            first = [w for w in words if a0 <= rank[w] < a1]
            second = [w for w in words if b0 <= rank[w] < b1]
            pair = next(((a, b) for a in first for b in second if a != b), None)
            if pair is not None:
                out.append(" ".join(pair))
                if len(out) == n:
                    break
        return out


KINDS = ("stopword", "common", "mid", "rare", "mixed")


def build(store: Any, corpus: Corpus, n: int, log: Callable[[str], None]) -> float:
    """Store ``n`` messages through the store."""
    t0 = time.perf_counter()
    threads = n // PER_THREAD
    for i in range(threads):
        tenant = store.tenant(f"tenant-{i % TENANTS}")
        t = tenant.create_thread(user_id=f"user-{i % USERS}", agent_name="bench")
        tenant.append(t.id, corpus.thread())
        if (i + 1) % 2000 == 0:
            log(f"  {(i + 1) * PER_THREAD:,} messages, {time.perf_counter() - t0:.0f} s")
    return time.perf_counter() - t0


def sample_texts(store: Any) -> list[str]:
    """Texts of stored messages of tenant-1, to draw query pairs from."""
    tenant = store.tenant("tenant-1")
    out: list[str] = []
    for t in tenant.list_threads(limit=1000).items:
        out += [m.content for m in tenant.recent(t.id, 3) if m.role == "user"]
    return out


def stored_messages(store: Any) -> int:
    return sum(
        s.message_count
        for k in range(TENANTS)
        for s in store.tenant(f"tenant-{k}").summaries(limit=None)
    )


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p * (len(s) - 1)))]


def queries(
    store: Any, corpus: Corpus, per_kind: int, reps: int, texts: list[str]
) -> dict[str, Any]:
    rng = random.Random(5)
    tenant = store.tenant("tenant-1")
    out: dict[str, Any] = {}
    every: list[float] = []
    for kind in KINDS:
        times: list[float] = []
        hits: list[int] = []
        for q in corpus.pairs(kind, per_kind, rng, texts):
            tenant.search(q, limit=20)  # warm
            best = []
            for _ in range(reps):
                t0 = time.perf_counter()
                page = tenant.search(q, limit=20)
                best.append(time.perf_counter() - t0)
            times.append(statistics.median(best) * 1000)
            hits.append(len(page.items))
        every += times
        out[kind] = {
            "queries": len(times),
            "median_ms": statistics.median(times),
            "p95_ms": pct(times, 0.95),
            "full_pages": sum(h == 20 for h in hits),
        }
    out["all"] = {
        "queries": len(every),
        "median_ms": statistics.median(every),
        "p95_ms": pct(every, 0.95),
    }
    return out


def appends(stores: dict[str, Any], corpus: Corpus, rounds: int, block: int) -> dict[str, Any]:
    """Single appends and 4-message turns on each store, interleaved."""
    threads = {}
    for name, store in stores.items():
        t = store.tenant("tenant-0").create_thread(user_id="user-append")
        threads[name] = t.id
    times: dict[tuple[str, str], list[float]] = {}
    for r in range(rounds):
        order = list(stores) if r % 2 == 0 else list(reversed(stores))
        for name in order:
            s = stores[name].tenant("tenant-0")
            for kind in ("single", "turn"):
                bucket = times.setdefault((name, kind), [])
                for i in range(block):
                    msgs = [corpus.message(0)] if kind == "single" else corpus.thread()[:4]
                    t0 = time.perf_counter()
                    s.append(threads[name], msgs)
                    bucket.append(time.perf_counter() - t0)
                    del i
    out: dict[str, Any] = {}
    for kind in ("single", "turn"):
        w = statistics.median(times[("with", kind)]) * 1000
        wo = statistics.median(times[("without", kind)]) * 1000
        out[kind] = {"with_ms": w, "without_ms": wo, "ratio": w / wo}
    return out


@contextmanager
def sqlite_stores(workdir: Path) -> Iterator[Callable[[], dict[str, Any]]]:
    from convostore import open_store

    path = workdir / "search.db"
    store = open_store(f"sqlite:///{path}")
    opened: list[Any] = [store]

    def without() -> dict[str, Any]:
        store.close()
        copy = workdir / "search-noindex.db"
        for suffix in ("", "-wal", "-shm"):
            src = Path(str(path) + suffix)
            if src.exists():
                shutil.copyfile(src, str(copy) + suffix)
        con = sqlite3.connect(copy)
        for trig in ("insert", "delete", "update"):
            con.execute(f"DROP TRIGGER messages_search_{trig}")
        con.execute("DROP TABLE messages_fts")
        con.execute("DROP TABLE message_search_keys")
        con.commit()
        con.close()
        again = open_store(f"sqlite:///{path}")
        bare = open_store(f"sqlite:///{copy}")
        opened.extend([again, bare])
        return {"with": again, "without": bare}

    try:
        yield lambda: {"store": store, "without": without, "prepare": lambda: None}
    finally:
        for s in opened:
            s.close()


@contextmanager
def pg_stores(url: str) -> Iterator[Callable[[], dict[str, Any]]]:
    import psycopg

    from convostore import open_store
    from convostore.store.postgres import drop_schema

    schema = f"bench_search_{uuid.uuid4().hex[:8]}"
    bare_schema = schema + "_bare"
    store = open_store(url, schema=schema, auto_migrate=True)
    opened: list[Any] = [store]

    def without() -> dict[str, Any]:
        bare = open_store(url, schema=bare_schema, auto_migrate=True)
        opened.append(bare)
        with psycopg.connect(url, autocommit=True) as con:
            con.execute(f'ALTER TABLE "{bare_schema}".convostore_messages DROP COLUMN search')
            con.execute(
                f'INSERT INTO "{bare_schema}".convostore_threads '
                f'SELECT * FROM "{schema}".convostore_threads'
            )
            cols = (
                "tenant_id, thread_id, seq, id, role, execution_id, created_at, body, "
                "pinned, deleted, archived"
            )
            con.execute(
                f'INSERT INTO "{bare_schema}".convostore_messages ({cols}) '
                f'SELECT {cols} FROM "{schema}".convostore_messages'
            )
            con.execute(f'VACUUM ANALYZE "{bare_schema}".convostore_messages')
        return {"with": store, "without": bare}

    def prepare() -> None:
        with psycopg.connect(url, autocommit=True) as con:
            con.execute(f'VACUUM ANALYZE "{schema}".convostore_messages')
            con.execute(f'VACUUM ANALYZE "{schema}".convostore_threads')

    try:
        yield lambda: {"store": store, "without": without, "prepare": prepare}
    finally:
        for s in opened:
            s.close()
        drop_schema(url, schema)
        drop_schema(url, bare_schema)


def run_engine(
    engine: str, args: argparse.Namespace, workdir: Path, log: Callable[[str], None]
) -> dict[str, Any]:
    corpus = Corpus()
    ctx = sqlite_stores(workdir) if engine == "sqlite" else pg_stores(args.pg_url)
    with ctx as get:
        parts = get()
        have = stored_messages(parts["store"])
        if have >= args.messages:  # a kept work directory already holds them
            built = float("nan")
            log(f"{engine}: reusing {have:,} stored messages")
        else:
            log(f"{engine}: building {args.messages:,} messages")
            built = build(parts["store"], corpus, args.messages, log)
            log(f"{engine}: built in {built:.0f} s")
        parts["prepare"]()
        q: dict[str, Any] = {}
        if not args.skip_queries:
            texts = sample_texts(parts["store"])
            q = queries(parts["store"], corpus, args.per_kind, args.reps, texts)
            log(f"{engine}: {q['all']}")
        stores = parts["without"]()
        a = appends(stores, corpus, args.rounds, args.block)
        log(f"{engine}: appends {a}")
    return {"build_s": built, "queries": q, "appends": a}


def report(data: dict[str, Any]) -> str:
    lines = [
        "# Full-text search on 1,000,000 messages"
        if not data["quick"]
        else "# Full-text search (quick run)",
        "",
        f"{data['messages']:,} messages, {data['messages'] // PER_THREAD:,} threads, "
        f"{TENANTS} tenants, {USERS} users; vocabulary of {VOCAB:,} words, Zipf s={ZIPF_S}. "
        "Commands: "
        + "; ".join(
            f"{e}: `{r.get('command', data['command'])}`" for e, r in data["engines"].items()
        )
        + ".",
        "",
        "## Two-word queries, top 20 (ms; each query the median of "
        f"{data['reps']} runs after a warm-up)",
        "",
        "| engine | kind | queries | median | p95 | full pages | goal < 50 ms |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for engine, res in data["engines"].items():
        for kind in (*KINDS, "all"):
            q = res["queries"][kind]
            ok = (
                "yes"
                if q["p95_ms"] < GOAL_MS
                else ("median only" if q["median_ms"] < GOAL_MS else "no")
            )
            full = q.get("full_pages", "")
            lines.append(
                f"| {engine} | {kind} | {q['queries']} | {q['median_ms']:.1f} | "
                f"{q['p95_ms']:.1f} | {full} | {ok} |"
            )
    lines += [
        "",
        f"## Appends with and without the index (ms, medians of {data['rounds']} interleaved "
        f"rounds of {data['block']} appends each)",
        "",
        "| engine | append | with index | without | ratio | goal <= 1.20 |",
        "|---|---|---:|---:|---:|---|",
    ]
    for engine, res in data["engines"].items():
        for kind, a in res["appends"].items():
            ok = "yes" if a["ratio"] <= GOAL_APPEND else "no"
            lines.append(
                f"| {engine} | {kind} | {a['with_ms']:.3f} | {a['without_ms']:.3f} | "
                f"{a['ratio']:.2f} | {ok} |"
            )
    lines += ["", "Build times (through the store, index included): "]
    lines += [
        f"{e}: {r['build_s']:.0f} s."
        for e, r in data["engines"].items()
        if r["build_s"] == r["build_s"]
    ]
    m = data["machine"]
    lines += [
        "",
        f"Machine: {m.get('cpu', '')}, {m.get('cpus', '')} CPUs, Python {m.get('python', '')}, "
        f"SQLite {m.get('sqlite', '')}.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--messages", type=int)
    ap.add_argument("--engines", default="sqlite,postgres")
    ap.add_argument("--per-kind", type=int, default=20)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument(
        "--skip-queries",
        action="store_true",
        help="Measure appends only; keep the recorded query figures of the engine.",
    )
    ap.add_argument(
        "--workdir", type=Path, help="Build SQLite here and keep it (reused when complete)."
    )
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--block", type=int, default=50)
    ap.add_argument("--pg-url", default=PG_URL)
    args = ap.parse_args()
    if args.messages is None:
        args.messages = 20_000 if args.quick else 1_000_000
    name = "search-quick" if args.quick else "search"

    def log(msg: str) -> None:
        print(time.strftime("%H:%M:%S"), msg, flush=True)

    data: dict[str, Any] = {
        "quick": args.quick,
        "messages": args.messages,
        "reps": args.reps,
        "rounds": args.rounds,
        "block": args.block,
        "command": "python bench/search.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "engines": {},
    }
    with tempfile.TemporaryDirectory(prefix="convostore-search-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        old = RESULTS / f"{name}.json"
        if old.exists():  # engines not run now keep their recorded figures
            data["engines"] = json.loads(old.read_text()).get("engines", {})
        for engine in args.engines.split(","):
            res = run_engine(engine, args, workdir, log)
            if args.skip_queries:
                kept = data["engines"].get(engine, {})
                res["queries"] = kept["queries"]
                res["build_s"] = kept.get("build_s", res["build_s"])
                res["queries_command"] = kept.get("queries_command", kept.get("command"))
            res["command"] = data["command"]
            data["engines"][engine] = res
            write_json(RESULTS / f"{name}.json", data)
            (RESULTS / f"{name}.md").write_text(report(data))
    print(report(data))


if __name__ == "__main__":
    main()
