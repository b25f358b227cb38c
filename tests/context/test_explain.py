"""explain_window: every message given is in the window or has a reason to be out."""

from __future__ import annotations

import datetime as dt

from convostore.context import explain_window, select_messages
from convostore.model import Message, ToolCallPart, ToolResultPart

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def test_old_messages_over_the_budget_are_out_for_budget() -> None:
    ms = [
        Message(role="system", content="sys"),
        Message(role="user", content="hi " * 100),
        Message(role="assistant", content="yo"),
        Message(role="user", content="q"),
    ]
    e = explain_window(ms, max_tokens=30)
    assert [x.reason for x in e.entries] == [None, "budget", None, None]
    assert [x.message.id for x in e.included] == e.window.ids
    assert e.window.ids == select_messages(ms, max_tokens=30).ids
    assert sum(x.tokens for x in e.included) == e.window.tokens


def test_deleted_archived_and_unpaired_messages_are_named() -> None:
    ms = [
        Message(role="user", content="a"),
        Message(role="user", content="gone", deleted_at=NOW),
        Message(role="user", content="old", archived_at=NOW),
        Message(
            role="tool", parts=[ToolResultPart(tool_call_id="c1", result=1)], tool_call_id="c1"
        ),
        Message(role="assistant", parts=[ToolCallPart(tool_call_id="c2", tool_name="t")]),
        Message(role="user", content="z"),
    ]
    reasons = [x.reason for x in explain_window(ms, max_tokens=10_000).entries]
    assert reasons[:3] == [None, "deleted", "archived"]
    assert reasons[3:5] == ["unpaired", "unpaired"]
    assert reasons[5] is None


def test_a_format_that_wants_a_user_first_start_drops_a_leading_reply() -> None:
    ms = [
        Message(role="system", content="sys"),
        Message(role="assistant", content="hello"),
        Message(role="user", content="q"),
    ]
    assert explain_window(ms, max_tokens=1000).entries[1].included
    framed = explain_window(ms, max_tokens=1000, format="anthropic")
    assert framed.entries[1].reason == "budget"
    assert framed.entries[2].included


def test_the_docs_example_runs() -> None:
    """docs/context-windows.md's "Explaining a window" example runs as written."""
    import re
    from pathlib import Path

    page = Path(__file__).resolve().parents[2] / "docs" / "context-windows.md"
    section = page.read_text(encoding="utf-8").split("## Explaining a window", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    exec(compile(code.group(1), "context-windows.md[explain]", "exec"), {"__name__": "__doc__"})
