"""The quick start of docs/integrations/openai-agents.md runs as written."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "integrations" / "openai-agents.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def test_the_quick_start_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code = BLOCK.findall(PAGE.read_text(encoding="utf-8"))[0]
    scope: dict[str, object] = {"__name__": "__doc__"}
    exec(compile(code, "openai-agents.md[quick start]", "exec"), scope)
    session = scope["session"]

    async def use() -> None:
        await session.add_items([{"role": "user", "content": "Hi"}])  # type: ignore[attr-defined]
        assert await session.get_items() == [{"role": "user", "content": "Hi"}]  # type: ignore[attr-defined]
        await session.close()  # type: ignore[attr-defined]

    asyncio.run(use())
    assert (tmp_path / "chat.db").exists()
