"""``convostore import --from langchain-sql``: a history written by LangChain's
own SQLChatMessageHistory, imported through the CLI, reads back through the
adapter message for message."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

import convostore
from convostore.cli import cli
from convostore.importers import langchain as importer
from convostore.integrations.langchain import ConvostoreChatMessageHistory

from .test_langchain import rich_messages

with warnings.catch_warnings():
    # langchain-community warns on import that it is being sunset; its SQL
    # history is still what LangChain users have their conversations in.
    warnings.filterwarnings("ignore", "`langchain-community` is being sunset", DeprecationWarning)
    from langchain_community.chat_message_histories import SQLChatMessageHistory


def run(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def written(source: Path, session: str, msgs: list[BaseMessage], **kw: Any) -> None:
    history = SQLChatMessageHistory(session, connection=f"sqlite:///{source}", **kw)
    history.add_messages(msgs)
    history.engine.dispose()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "langchain.db"
    written(path, "alpha", rich_messages())
    written(path, "beta", [HumanMessage("b1"), AIMessage("b2")])
    return path


@pytest.fixture
def target(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'convostore.db'}"


def read_back(target: str, session: str) -> list[BaseMessage]:
    with convostore.open_store(target) as store:
        return ConvostoreChatMessageHistory(session, store).messages


def lc_messages(source: Path, session: str, **kw: Any) -> list[BaseMessage]:
    history = SQLChatMessageHistory(session, connection=f"sqlite:///{source}", **kw)
    try:
        return history.messages
    finally:
        history.engine.dispose()


def imported(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output)
    return data


def test_import_reads_back_as_langchain_wrote_it(source: Path, target: str) -> None:
    dry = run("import", "--from", "langchain-sql", source, "--store", target, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "2 threads" in dry.output and "nothing written" in dry.output
    with convostore.open_store(target) as store:
        assert store.count_threads() == 0

    first = imported(run("import", "--from", "langchain-sql", source, "--store", target, "--json"))
    assert [(t["thread_id"], t["appended"]) for t in first["threads"]] == [
        ("alpha", len(rich_messages())),
        ("beta", 2),
    ]
    for session in ("alpha", "beta"):
        assert read_back(target, session) == lc_messages(source, session)
    assert read_back(target, "alpha") == rich_messages()
    with convostore.open_store(target) as store:
        ids = [m.id for m in store.load_messages("beta")]
    assert ids == [importer.message_id("message_store", n) for n in (12, 13)]

    again = run("import", "--from", "langchain-sql", source, "--store", target)
    assert again.exit_code == 0, again.output
    assert "0 newly stored" in again.output

    # New rows in the source are appended on the next run.
    written(source, "beta", [HumanMessage("b3")])
    written(source, "gamma", [HumanMessage("g1")])
    more = imported(run("import", "--from", "langchain-sql", source, "--store", target, "--json"))
    assert more["appended"] == 2
    assert read_back(target, "beta") == [HumanMessage("b1"), AIMessage("b2"), HumanMessage("b3")]
    assert read_back(target, "gamma") == [HumanMessage("g1")]


def test_an_interrupted_import_resumes(
    source: Path, target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importer.from_langchain
    calls = iter(range(10_000))

    def failing(msg: BaseMessage, **kw: Any) -> Any:
        if next(calls) == 5:  # stops at the sixth message
            raise RuntimeError("interrupted")
        return real(msg, **kw)

    monkeypatch.setattr(importer, "from_langchain", failing)
    stopped = run("import", "--from", "langchain-sql", source, "--store", target, "--batch", "2")
    assert stopped.exit_code != 0 and "interrupted" in stopped.output
    with convostore.open_store(target) as store:
        assert store.count_threads() == 0  # the partly stored thread stays hidden
    monkeypatch.setattr(importer, "from_langchain", real)
    done = imported(run("import", "--from", "langchain-sql", source, "--store", target, "--json"))
    assert done["appended"] == len(rich_messages()) + 2 - 4
    assert read_back(target, "alpha") == rich_messages()


def test_table_and_column_options(tmp_path: Path, target: str) -> None:
    path = tmp_path / "custom.db"
    msgs = [HumanMessage("q"), ToolMessage("r", tool_call_id="c")]
    written(path, "s", msgs, table_name="chats")
    result = run(
        "import", "--from", "langchain-sql", path, "--store", target,
        "--option", "table_name=chats", "--json",
    )  # fmt: skip
    assert imported(result)["appended"] == 2
    assert read_back(target, "s") == msgs
    missing = run("import", "--from", "langchain-sql", path, "--store", target)
    assert missing.exit_code != 0 and "message_store" in missing.output
    unknown = run(
        "import", "--from", "langchain-sql", path, "--store", target, "--option", "nope=1"
    )
    assert unknown.exit_code != 0 and "nope" in unknown.output


def test_sqlalchemy_url_source(source: Path, target: str) -> None:
    src = importer.open_source("langchain-sql", f"sqlite:///{source}", {})
    try:
        assert src.total_messages() == len(rich_messages()) + 2
        threads: Iterator[Any] = src.threads()
        assert [t.thread.id for t in threads] == ["alpha", "beta"]
    finally:
        src.close()
