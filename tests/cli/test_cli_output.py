"""What people see: user data printed as plain text, and every kind of message part
shown by ``messages tail``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from convostore.cli import _common
from convostore.model import (
    FilePart,
    ImagePart,
    Message,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)

from ._helpers import Run, seed, with_store

# Text that rich would read as markup if it were handed over as markup.
HOSTILE = [
    "[red]x[/red]",
    "[x]",
    "[/x]",
    "[link=https://evil.example]click[/link]",
    "[bold",
    "a [/] b",
    "\\[x]",
]


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the commands draw rich tables, wide enough not to wrap."""
    monkeypatch.setattr(_common, "stdout_is_terminal", lambda: True)
    monkeypatch.setenv("COLUMNS", "250")


@pytest.mark.parametrize("text", HOSTILE)
def test_titles_are_printed_as_written_on_a_terminal(
    run: Run, store_url: str, text: str, terminal: None
) -> None:
    thread = seed(store_url, title=text, user_id="u1")
    result = run("threads", "list", "--store", store_url)
    assert result.exit_code == 0, result.output
    assert text in result.stdout
    shown = run("threads", "show", thread.id, "--store", store_url)
    assert shown.exit_code == 0, shown.output
    assert text in shown.stdout


def test_one_hostile_title_does_not_hide_the_other_threads(
    run: Run, store_url: str, terminal: None
) -> None:
    good = seed(store_url, title="fine")
    seed(store_url, title="[/x]")
    result = run("threads", "list", "--store", store_url)
    assert result.exit_code == 0, result.output
    assert good.id in result.stdout and "fine" in result.stdout


@pytest.mark.parametrize("text", HOSTILE)
def test_message_text_is_printed_as_written_on_a_terminal(
    run: Run, store_url: str, text: str, terminal: None
) -> None:
    thread = seed(store_url, messages=0)
    with_store(store_url, lambda s: s.append(thread.id, Message.user(text)))
    result = run("messages", "tail", thread.id, "--store", store_url)
    assert result.exit_code == 0, result.output
    assert text in result.stdout


@pytest.mark.parametrize("text", HOSTILE)
def test_user_data_is_printed_as_written_in_a_pipe(run: Run, store_url: str, text: str) -> None:
    thread = seed(store_url, title=text, messages=0)
    with_store(store_url, lambda s: s.append(thread.id, Message.user(text)))
    assert text in run("threads", "list", "--store", store_url).stdout
    assert text in run("messages", "tail", thread.id, "--store", store_url).stdout


# --- messages tail: every kind of part ----------------------------------------------


def _tool_exchange(store_url: str) -> str:
    thread = seed(store_url, messages=0)

    def fill(s: Any) -> None:
        s.append(
            thread.id,
            [
                Message.user("weather in Oslo?"),
                Message.assistant("").with_parts(
                    ReasoningPart(text="The user wants the forecast."),
                    ToolCallPart(
                        tool_call_id="c1",
                        tool_name="get_weather",
                        args={"city": "Oslo", "days": [1, 2]},
                    ),
                ),
                Message.tool("", "c1", tool_name="get_weather").with_parts(
                    ToolResultPart(
                        tool_call_id="c1",
                        tool_name="get_weather",
                        result={"temp_c": 18, "sky": "clear"},
                    )
                ),
                Message.assistant("").with_parts(
                    TextPart(text="Here is a chart."),
                    ImagePart(image_id="img_1", alt_text="forecast chart"),
                    FilePart(
                        file_id="f_1", filename="oslo.csv", mime_type="text/csv", size_bytes=120
                    ),
                ),
            ],
        )

    with_store(store_url, fill)
    return thread.id


def _bodies(out: str) -> list[str]:
    return [line.split("\t")[-1] for line in out.splitlines()[1:]]


def test_tail_shows_tool_calls_reasoning_and_results_in_a_pipe(run: Run, store_url: str) -> None:
    thread_id = _tool_exchange(store_url)
    result = run("messages", "tail", thread_id, "--store", store_url)
    assert result.exit_code == 0, result.output
    user, call, tool, reply = _bodies(result.stdout)
    assert user == "weather in Oslo?"
    assert "reasoning: The user wants the forecast." in call
    assert 'get_weather({"city": "Oslo", "days": [1, 2]})' in call
    assert "{'" not in call  # JSON, not a Python repr
    assert 'get_weather: {"temp_c": 18, "sky": "clear"}' in tool
    assert "Here is a chart." in reply
    assert "image: forecast chart" in reply
    assert "file: oslo.csv" in reply


def test_tail_shows_tool_calls_on_a_terminal(run: Run, store_url: str, terminal: None) -> None:
    thread_id = _tool_exchange(store_url)
    out = run("messages", "tail", thread_id, "--store", store_url).stdout
    assert 'get_weather({"city": "Oslo", "days": [1, 2]})' in out
    assert "reasoning: The user wants the forecast." in out
    assert '"temp_c": 18' in out
    assert "image: forecast chart" in out


def test_tail_shows_a_string_tool_result_once(run: Run, store_url: str) -> None:
    thread = seed(store_url, messages=0)
    with_store(
        store_url,
        lambda s: s.append(
            thread.id,
            [
                Message.assistant("").with_parts(ToolCallPart(tool_call_id="c1", tool_name="now")),
                Message.tool("12:00", "c1", tool_name="now"),
            ],
        ),
    )
    call, tool = _bodies(run("messages", "tail", thread.id, "--store", store_url).stdout)
    assert call.endswith("now()")
    assert tool.count("12:00") == 1 and "now" in tool


def test_tail_previews_long_tool_results(run: Run, store_url: str) -> None:
    thread = seed(store_url, messages=0)
    big = {"rows": list(range(5000))}
    with_store(
        store_url,
        lambda s: s.append(
            thread.id,
            [
                Message.assistant("").with_parts(ToolCallPart(tool_call_id="c1", tool_name="q")),
                Message.tool("", "c1").with_parts(ToolResultPart(tool_call_id="c1", result=big)),
            ],
        ),
    )
    (_, tool) = _bodies(run("messages", "tail", thread.id, "--store", store_url).stdout)
    assert '{"rows": [0, 1, 2' in tool
    assert len(tool) < 600
    assert tool.endswith("\u2026")


def test_truncate_clips_each_message(run: Run, store_url: str) -> None:
    thread = seed(store_url, messages=0)
    text = " ".join(["word"] * 200)
    with_store(store_url, lambda s: s.append(thread.id, Message.user(text)))
    full = _bodies(run("messages", "tail", thread.id, "--store", store_url).stdout)[0]
    assert full == text
    for flag in ("-t", "--truncate"):
        short = _bodies(run("messages", "tail", thread.id, flag, "--store", store_url).stdout)[0]
        assert short.startswith("word word") and short.endswith("\u2026")
        assert len(short) <= 100


def test_json_output_keeps_the_parts(run: Run, store_url: str) -> None:
    thread_id = _tool_exchange(store_url)
    result = run("messages", "tail", thread_id, "--store", store_url, "--json")
    items = json.loads(result.stdout)["items"]
    assert items[1]["parts"][1] == {
        "type": "tool-call",
        "tool_call_id": "c1",
        "tool_name": "get_weather",
        "args": {"city": "Oslo", "days": [1, 2]},
    }


def test_progress_labels_show_file_names_as_written(
    run: Run, store_url: str, tmp_path: Any
) -> None:
    thread = seed(store_url, messages=2)
    path = tmp_path / "a[x]b.jsonl"
    assert run("export", thread.id, "-o", path, "--store", store_url).exit_code == 0
    result = run("import", path, "--progress", "--tenant", "b", "--store", store_url)
    assert result.exit_code == 0, result.output
    assert "import a[x]b.jsonl" in result.stderr
