"""The Python examples of the format and attachment pages run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
PAGES = [*sorted((ROOT / "docs" / "formats").glob("*.md")), ROOT / "docs" / "attachments.md"]
EXAMPLES = [
    (page, i, code)
    for page in PAGES
    for i, code in enumerate(BLOCK.findall(page.read_text(encoding="utf-8")))
]


def test_every_format_page_has_a_runnable_example() -> None:
    from convostore.formats import FORMATS

    for name in FORMATS:
        page = ROOT / "docs" / "formats" / f"{name}.md"
        assert BLOCK.findall(page.read_text(encoding="utf-8")), page.name


@pytest.mark.parametrize(
    ("page", "index", "code"), EXAMPLES, ids=[f"{p.name}[{i}]" for p, i, _ in EXAMPLES]
)
def test_example_runs(
    page: Path, index: int, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"{page.name}[python block {index}]", "exec"), {"__name__": "__doc__"})
