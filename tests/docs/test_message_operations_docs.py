"""The Python examples of docs/message-operations.md run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "message-operations.md"
BLOCKS = re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S)


def test_the_page_shows_every_operation() -> None:
    text = "\n".join(BLOCKS)
    for call in ("purge_message", "pop_message", "clear_messages", "replace_messages",
                 "restore_message", "trim_messages", "conv.clear", "conv.pop"):  # fmt: skip
        assert call in text, call


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_example_runs(index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code = compile(BLOCKS[index], f"{PAGE.name}[python block {index}]", "exec")
    exec(code, {"__name__": "__doc__"})
