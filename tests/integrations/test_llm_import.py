"""``convostore import --from llm``: a logs database written by the real ``llm``
package (through a model of the test's own, since no network is used) comes
into a store message by message, idempotently and resumably."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import llm
import pytest
import sqlite_utils
from click.testing import CliRunner, Result
from llm.logs import LogStore
from llm.parts import Message as LLMMessage
from llm.parts import TextPart as LLMText
from llm.parts import ToolCallPart as LLMToolCall
from llm.parts import ToolResultPart as LLMToolResult

from convostore import open_store
from convostore.cli import cli
from convostore.errors import ValidationError
from convostore.importers import open_source
from convostore.model import Role


def invoke(*args: object) -> Result:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), repr(result.exception)
    return result


class Echo(llm.Model):
    """A model that answers with its prompt, and reports usage."""

    model_id = "echo"
    can_stream = True

    def execute(self, prompt: Any, stream: bool, response: Any, conversation: Any) -> Iterator[str]:
        response.set_usage(input=len(prompt.prompt or ""), output=7)
        yield f"echo: {prompt.prompt}"


def _log(path: Path, prompts: list[str], system: str | None = None) -> None:
    """One conversation of ``prompts``, logged by llm."""
    db = sqlite_utils.Database(path)
    conv = Echo().conversation()
    for i, text in enumerate(prompts):
        r = conv.prompt(text, system=system if i == 0 else None)
        r.text()
        r.log_to_db(db)
    db.conn.close()


def _logs_db(tmp_path: Path) -> Path:
    path = tmp_path / "logs.db"
    _log(path, ["hello", "and again"], system="be brief")
    _log(path, ["solo"])
    # A thread with tool calls and a reasoning part, written through llm's own store.
    db = sqlite_utils.Database(path)
    store = LogStore(db)
    thread = store.create_thread(name="tools")
    store.append(
        thread,
        [
            LLMMessage(role="user", parts=[LLMText(text="weather?")]),
            LLMMessage(
                role="assistant",
                parts=[LLMToolCall(name="weather", arguments={"city": "Porto"}, tool_call_id="c1")],
                provider_metadata={"openai": {"id": "resp_1"}},
            ),
            LLMMessage(
                role="tool",
                parts=[LLMToolResult(name="weather", output="sunny", tool_call_id="c1")],
            ),
            LLMMessage(role="assistant", parts=[LLMText(text="It is sunny.")]),
        ],
    )
    db.conn.close()
    return path


def _llm_threads(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Every thread's messages as llm itself reads them."""
    db = sqlite_utils.Database(path)
    store = LogStore(db)
    out = {
        t["id"]: [m.to_dict() for m in store.thread_messages(t["id"])] for t in db["threads"].rows
    }
    db.conn.close()
    return out


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_import_is_lossless_and_leaves_the_log_untouched(tmp_path: Path) -> None:
    logs = _logs_db(tmp_path)
    before = _digest(logs)
    url = f"sqlite:///{tmp_path / 'c.db'}"
    result = invoke("import", "--store", url, "--from", "llm", logs, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["appended"] == report["messages"] == 5 + 2 + 4
    assert _digest(logs) == before  # read-only
    expected = _llm_threads(logs)
    with open_store(url) as store:
        assert {t.id for t in store.list_threads(limit=10).items} == set(expected)
        for thread_id, theirs in expected.items():
            ours = store.load_messages(thread_id)
            assert [m.native.data for m in ours if m.native] == theirs
            assert [m.role.value for m in ours] == [m["role"] for m in theirs]
        chat = next(t for t in expected if expected[t][0]["role"] == "system")
        msgs = store.load_messages(chat)
        assert [m.content for m in msgs] == [
            "be brief",
            "hello",
            "echo: hello",
            "and again",
            "echo: and again",
        ]
        answer = msgs[2]
        assert answer.metadata.model == "echo"
        assert answer.metadata.token_usage is not None
        assert answer.metadata.token_usage.completion_tokens == 7
        assert store.get_thread(chat).turn_count == 2
        assert store.get_thread(chat).model == "echo"
        tools = next(t for t in store.list_threads(limit=10).items if t.title == "tools")
        call, result_msg = store.load_messages(tools.id)[1:3]
        assert call.parts[0].type == "tool-call" and call.parts[0].args == {"city": "Porto"}
        assert result_msg.role is Role.TOOL and result_msg.tool_call_id == "c1"
        assert store.get_thread(tools.id).tool_call_count == 1
        hits = store.search("sunny")
        assert {h.message.thread_id for h in hits.items} == {tools.id}


def test_rerun_is_idempotent_and_appends_what_the_log_gained(tmp_path: Path) -> None:
    logs = _logs_db(tmp_path)
    url = f"sqlite:///{tmp_path / 'c.db'}"
    assert invoke("import", "--store", url, "--from", "llm", logs).exit_code == 0
    again = invoke("import", "--store", url, "--from", "llm", logs)
    assert again.exit_code == 0, again.output
    assert "0 newly stored" in again.output
    # llm continues a thread: the rerun stores the new messages only
    db = sqlite_utils.Database(logs)
    store = LogStore(db)
    solo = next(t["id"] for t in db["threads"].rows if t["name"] == "solo")
    store.append(solo, [LLMMessage(role="user", parts=[LLMText(text="more")])])
    db.conn.close()
    grown = invoke("import", "--store", url, "--from", "llm", logs, "--json")
    assert json.loads(grown.output)["appended"] == 1
    with open_store(url) as cs:
        assert cs.load_messages(solo)[-1].content == "more"


def test_an_interrupted_import_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    logs = _logs_db(tmp_path)
    url = f"sqlite:///{tmp_path / 'c.db'}"
    from convostore.store import Store

    real = Store.import_append
    calls = {"n": 0}

    def failing(self: Store, thread_id: str, messages: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk went away")
        return real(self, thread_id, messages)

    monkeypatch.setattr(Store, "import_append", failing)
    stopped = invoke("import", "--store", url, "--from", "llm", logs, "--batch", "2")
    assert stopped.exit_code != 0
    monkeypatch.setattr(Store, "import_append", real)
    with open_store(url) as cs:
        assert cs.list_threads(limit=10).items == []  # nothing half-visible
    resumed = invoke("import", "--store", url, "--from", "llm", logs, "--batch", "2", "--json")
    assert resumed.exit_code == 0, resumed.output
    report = json.loads(resumed.output)
    assert report["messages"] == 11 and report["appended"] == 9  # 2 were stored before the stop
    with open_store(url) as cs:
        assert len(cs.list_threads(limit=10).items) == 3


def test_progress_counts_the_messages_of_the_whole_run(tmp_path: Path) -> None:
    logs = _logs_db(tmp_path)
    url = f"sqlite:///{tmp_path / 'c.db'}"
    result = invoke("import", "--store", url, "--from", "llm", logs, "--progress")
    assert result.exit_code == 0, result.output
    assert "11 messages" in result.stderr


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    logs = _logs_db(tmp_path)
    target = tmp_path / "c.db"
    result = invoke("import", "--store", f"sqlite:///{target}", "--from", "llm", logs, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "3 threads, 11 messages (nothing written)" in result.output
    assert not target.exists()


def test_legacy_responses_become_threads(tmp_path: Path) -> None:
    """History of llm releases before threads: rows of the legacy tables only
    (llm still creates and reads them)."""
    logs = _logs_db(tmp_path)
    with sqlite3.connect(logs) as conn:
        conn.execute(
            "insert into conversations (id, name, model) values ('old1', 'old chat', 'gpt')"
        )
        for rid, prompt, system in (("r1", "hi", "be kind"), ("r2", "bye", "be kind")):
            conn.execute(
                "insert into responses (id, model, prompt, system, response, conversation_id, "
                "duration_ms, datetime_utc, input_tokens, output_tokens) "
                "values (?, 'gpt', ?, ?, ?, 'old1', 5, ?, 2, 3)",
                (rid, prompt, system, f"re: {prompt}", f"2024-01-01T00:00:0{rid[1]}"),
            )
    url = f"sqlite:///{tmp_path / 'c.db'}"
    assert invoke("import", "--store", url, "--from", "llm", logs).exit_code == 0
    with open_store(url) as cs:
        old = cs.get_thread("old1")
        assert old.title == "old chat"
        msgs = cs.load_messages("old1")
        assert [(m.role.value, m.content) for m in msgs] == [
            ("system", "be kind"),
            ("user", "hi"),
            ("assistant", "re: hi"),
            ("user", "bye"),
            ("assistant", "re: bye"),
        ]
        assert msgs[2].metadata.token_usage is not None
        assert msgs[2].metadata.token_usage.total_tokens == 5


def test_bad_sources_are_typed_errors(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="not a file"):
        open_source("llm", str(tmp_path / "missing.db"))
    other = tmp_path / "other.db"
    sqlite3.connect(other).close()
    with pytest.raises(ValidationError, match="not an llm logs database"):
        open_source("llm", str(other))
    with pytest.raises(ValidationError, match="unknown source format"):
        open_source("nope", str(other))
    with pytest.raises(ValidationError, match="takes no options"):
        open_source("llm", str(other), {"table": "x"})
    result = invoke("import", "--from", "llm", other, "--option", "novalue")
    assert result.exit_code != 0 and "KEY=VALUE" in result.output
