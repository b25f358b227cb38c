"""The Python examples of the branches page run as written, in order, as one
session (each block goes on from the previous ones)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "branches.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def test_the_branches_page_runs_as_one_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    blocks = BLOCK.findall(PAGE.read_text(encoding="utf-8"))
    assert len(blocks) >= 5
    namespace: dict[str, object] = {"__name__": "__doc__"}
    for i, code in enumerate(blocks):
        exec(compile(code, f"{PAGE.name}[python block {i}]", "exec"), namespace)
