"""The quick start of the Pydantic AI page runs as written."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

pytest.importorskip("pydantic_ai")

PAGE = Path(__file__).resolve().parents[2] / "docs" / "integrations" / "pydantic-ai.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def test_the_quick_start_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    blocks = BLOCK.findall(PAGE.read_text(encoding="utf-8"))
    assert blocks
    namespace: dict[str, object] = {"__name__": "__doc__"}
    try:
        exec(compile(blocks[0], f"{PAGE.name}[quick start]", "exec"), namespace)
    finally:
        # Agent.run_sync leaves the event loop it made as this thread's current
        # one; close it here rather than let a later test's collector find it.
        policy = asyncio.get_event_loop_policy()
        loop = policy.get_event_loop()
        loop.close()
        policy.set_event_loop(None)
    assert (tmp_path / "chats.db").exists()
