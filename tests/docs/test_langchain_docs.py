"""The Python examples of docs/integrations/langchain.md run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "integrations" / "langchain.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
EXAMPLES = list(enumerate(BLOCK.findall(PAGE.read_text(encoding="utf-8"))))


def test_the_page_starts_with_a_quick_start() -> None:
    assert len(EXAMPLES) >= 2
    assert len(EXAMPLES[0][1].strip().splitlines()) <= 7


@pytest.mark.parametrize(
    ("index", "code"), EXAMPLES, ids=[f"langchain.md[{i}]" for i, _ in EXAMPLES]
)
def test_example_runs(
    index: int, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"langchain.md[python block {index}]", "exec"), {"__name__": "__doc__"})
