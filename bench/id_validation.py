"""Id validation: what checking the wider id rule costs on every read.

Claim checked: validating ids with the current rule (any text of 1-255
characters without control characters, one pydantic-core string check with a
custom error) costs within 1.2x of the ASCII-only pattern it replaced, for the
ids stores actually hold (``msg_01J...``-style ULIDs) and for non-ASCII ids.

Both rules are built side by side in this process and measured in interleaved
rounds (validate a JSON list of 10,000 ids), so machine noise hits both alike;
medians over all rounds are reported with the new/old ratio.

    .venv/bin/python bench/id_validation.py

Writes ``bench/results/id_validation.md`` and ``.json``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

from pydantic import StringConstraints, TypeAdapter

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, machine, median, write_json

from convostore._ids import new_id
from convostore.model import Identifier

OLD_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9._:@+=-]*$"
Old = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=OLD_PATTERN)]
LIMIT = 1.2
ROUNDS = 41
N = 10_000


def measure(adapter: TypeAdapter[Any], payload: bytes) -> float:
    t0 = time.perf_counter()
    adapter.validate_json(payload)
    return (time.perf_counter() - t0) / N


def main() -> int:
    old, new = TypeAdapter(list[Old]), TypeAdapter(list[Identifier])
    ulids = json.dumps([new_id("msg") for _ in range(N)]).encode()
    others = json.dumps([f"auth0|{i:08x}-José-😀" for i in range(N)]).encode()
    cases = {
        "ulid ids, old rule": (old, ulids),
        "ulid ids, new rule": (new, ulids),
        "non-ASCII ids, new rule": (new, others),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(ROUNDS):
        for name, (adapter, payload) in cases.items():
            times[name].append(measure(adapter, payload))
    medians = {name: median(values) or 0.0 for name, values in times.items()}
    info = machine()
    ratio = medians["ulid ids, new rule"] / medians["ulid ids, old rule"]
    lines = [
        "# Id validation: the wider id rule against the ASCII pattern",
        "",
        f"Measured on {info.get('cpu', info['machine'])}, {info['cpus']} CPUs, "
        f"Python {info['python']}, commit {info.get('convostore_commit', '?')}, "
        f"load average at start {info.get('loadavg_at_start')}.",
        "",
        f"Median per id over {ROUNDS} interleaved rounds of {N:,} ids "
        "(`TypeAdapter(list[...]).validate_json`).",
        "",
        "| case | ns per id |",
        "|---|---|",
    ]
    lines += [f"| {name} | {value * 1e9:.1f} |" for name, value in medians.items()]
    verdict = "within" if ratio <= LIMIT else "OVER"
    lines += ["", f"New/old on ULID ids: {ratio:.2f}x ({verdict} the {LIMIT}x claim).", ""]
    (RESULTS / "id_validation.md").write_text("\n".join(lines))
    write_json(
        RESULTS / "id_validation.json",
        {
            "machine": info,
            "medians_ns": {k: v * 1e9 for k, v in medians.items()},
            "ratio": ratio,
            "limit": LIMIT,
        },
    )
    print("\n".join(lines))
    return 0 if ratio <= LIMIT else 1


if __name__ == "__main__":
    raise SystemExit(main())
