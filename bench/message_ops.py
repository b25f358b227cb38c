"""What purge, pop, clear and replace cost, against an append, by thread length.

Claims checked (docs/message-operations.md, "Costs and how it works"):

* a pop costs about what an append costs, whatever the thread's length;
* a purge costs in proportion to the messages after the purged one (the newest
  is as cheap as a pop, the first rewrites the whole thread);
* clear (archive) rewrites the active messages, replace the whole thread.

For each backend and length a thread of realistic messages is built with one
``import_thread``; each operation runs ``--repeats`` times and the median is
reported. ``pop`` and the purges are measured on the same thread, each followed by
an untimed append that puts a message back, so the length stays the same;
``clear`` and ``replace`` run on a fresh copy of the thread each time::

    .venv/bin/python bench/message_ops.py            # 1,000 and 10,000 messages
    .venv/bin/python bench/message_ops.py --quick    # 1,000 only

Writes ``bench/results/message_ops.md`` and ``.json`` (``--quick``: ``message_ops-quick.*``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from adapters.convostore_store import to_messages
from common import PG_URL, RESULTS, fmt_seconds, items, machine, median, timed, write_json

from convostore import Message, open_store
from convostore.model import ConversationSnapshot, Thread

OPS = ("append", "pop", "purge newest", "purge middle", "purge first", "clear", "replace")


@contextmanager
def _store(backend: str, tmp: Path) -> Iterator[Any]:
    if backend == "postgres":
        from convostore.store.postgres import drop_schema

        schema = f"bench_msgops_{uuid.uuid4().hex[:8]}"
        try:
            with open_store(PG_URL, schema=schema, auto_migrate=True) as store:
                yield store
        finally:
            drop_schema(PG_URL, schema)
    elif backend == "sqlite":
        with open_store(f"sqlite:///{tmp / f'{uuid.uuid4().hex}.db'}") as store:
            yield store
    else:
        with open_store("memory://") as store:
            yield store


def _snapshot(n: int) -> ConversationSnapshot:
    msgs = [m.model_copy(update={"token_count": 12}) for m in to_messages(items(n))]
    return ConversationSnapshot(thread=Thread(id="src"), messages=msgs)


def _measure(store: Any, snap: ConversationSnapshot, repeats: int) -> dict[str, float | None]:
    n = len(snap.messages)
    tid = store.import_thread(snap, thread_id="main", new_ids=True).id
    times: dict[str, list[float]] = {op: [] for op in OPS}

    def refill() -> None:
        store.append(tid, Message.assistant("refill"))

    steps: dict[str, Callable[[], Any]] = {
        "append": lambda: store.append(tid, Message.user("one more question")),
        "pop": lambda: store.pop_message(tid),
    }
    for _ in range(repeats):
        for op, call in steps.items():
            t, _ = timed(call)
            times[op].append(t)
            if op == "append":
                store.pop_message(tid)
            else:
                refill()
        for op, seq in (("purge newest", n), ("purge middle", n // 2), ("purge first", 1)):
            mid = [m.id for m in store.iter_messages(tid, batch=1000)][seq - 1]  # untimed
            t, _ = timed(lambda mid=mid: store.purge_message(mid))
            times[op].append(t)
            refill()
        for op in ("clear", "replace"):
            copy = store.import_thread(snap, new_ids=True).id
            replacement = [Message.user("a summary of it all")]
            if op == "clear":
                t, _ = timed(lambda copy=copy: store.clear_messages(copy))
            else:
                t, _ = timed(lambda copy=copy: store.replace_messages(copy, replacement))
            times[op].append(t)
            store.purge_thread(copy)
    return {op: median(v) for op, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backends", default="memory,sqlite,postgres")
    args = parser.parse_args()
    sizes = [1000] if args.quick else [1000, 10_000]
    results: dict[str, dict[str, dict[str, float | None]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            for n in sizes:
                snap = _snapshot(n)
                with _store(backend, Path(tmp)) as store:
                    results.setdefault(backend, {})[str(n)] = _measure(store, snap, args.repeats)
                print(backend, n, {k: fmt_seconds(v) for k, v in results[backend][str(n)].items()})
    name = "message_ops-quick" if args.quick else "message_ops"
    write_json(RESULTS / f"{name}.json", {"machine": machine(), "results": results})
    lines = [
        "# Message operations: cost by thread length",
        "",
        f"Medians of {args.repeats} runs; `.venv/bin/python bench/message_ops.py"
        f"{' --quick' if args.quick else ''}`. `purge middle` purges the message at seq",
        "n/2; `clear` archives every message of a fresh copy of the thread,",
        "`replace` swaps it for one message.",
        "",
        "| backend | messages | " + " | ".join(OPS) + " |",
        "|---|---:|" + "---:|" * len(OPS),
    ]
    for backend, by_size in results.items():
        for n, row in by_size.items():
            cells = " | ".join(fmt_seconds(row[op]) for op in OPS)
            lines.append(f"| {backend} | {int(n):,} | {cells} |")
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
