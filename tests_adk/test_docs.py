"""The Python examples of docs/integrations/adk.md run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[1] / "docs" / "integrations" / "adk.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
EXAMPLES = list(enumerate(BLOCK.findall(PAGE.read_text(encoding="utf-8"))))


def test_the_page_starts_with_a_quick_start() -> None:
    assert EXAMPLES and PAGE.read_text(encoding="utf-8").index("```python") < 400


@pytest.mark.parametrize(("index", "code"), EXAMPLES, ids=[f"adk.md[{i}]" for i, _ in EXAMPLES])
def test_example_runs(
    index: int, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"adk.md[python block {index}]", "exec"), {"__name__": "__doc__"})
