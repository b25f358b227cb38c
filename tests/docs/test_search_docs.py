"""The Python examples of the search page run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
PAGE = ROOT / "docs" / "search.md"
EXAMPLES = list(enumerate(BLOCK.findall(PAGE.read_text(encoding="utf-8"))))


def test_the_page_has_examples() -> None:
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize(("index", "code"), EXAMPLES, ids=[f"search.md[{i}]" for i, _ in EXAMPLES])
def test_example_runs(
    index: int, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"search.md[python block {index}]", "exec"), {"__name__": "__doc__"})
