"""docs/server.md cannot drift: its examples run and its route table is the app's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from convostore.server import create_app

DOC = Path(__file__).resolve().parents[2] / "docs" / "server.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
ROW = re.compile(r"^\| (GET|POST|PUT|PATCH|DELETE) \| `([^`]+)` \| `?(\w*)`? \|", re.M)


def blocks() -> list[str]:
    return BLOCK.findall(DOC.read_text(encoding="utf-8"))


@pytest.mark.parametrize("index", range(len(blocks())))
def test_example_runs(index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code = blocks()[index]
    exec(compile(code, f"docs/server.md[python block {index}]", "exec"), {"__name__": "__doc__"})


def test_route_table_matches_the_app() -> None:
    documented = {(m, p, op) for m, p, op in ROW.findall(DOC.read_text(encoding="utf-8")) if op}
    spec = create_app("memory://").openapi()
    actual = {
        (method.upper(), path, op["operationId"])
        for path, item in spec["paths"].items()
        for method, op in item.items()
    }
    assert actual <= documented, f"undocumented: {actual - documented}"
    assert documented - actual <= {("GET", "/v1/threads/{thread_id}/context", "getContext")}
