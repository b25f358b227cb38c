"""The command tree as a whole: entry points, exit codes, error output, the docs."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import click
import pytest

from convostore.__main__ import main
from convostore.cli import cli, errors, threads
from convostore.cli._docs import render
from convostore.errors import (
    BackendUnavailableError,
    DuplicateMessageError,
    MissingDependencyError,
    RevisionConflictError,
    SchemaTooNewError,
    SchemaTooOldError,
    StoreLockedError,
    StoreNotFoundError,
    ThreadNotFoundError,
    UnsupportedSnapshotVersionError,
    ValidationError,
)

from ._helpers import Run, seed

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"

COMMANDS = {
    "threads",
    "messages",
    "state",
    "search",
    "export",
    "import",
    "keys",
    "db",
    "prune",
    "doctor",
    "serve",
    "demo",
}


def test_the_reference_in_docs_is_generated_from_help() -> None:
    assert DOCS.read_text(encoding="utf-8") == render(cli), (
        "docs/cli.md is out of date: run python scripts/gen_cli_docs.py"
    )


def test_the_reference_documents_every_command_and_exit_code() -> None:
    text = render(cli)
    for name in COMMANDS:
        assert f"### convostore {name}\n" in text
    for code, _ in errors.EXIT_CODES:
        assert f"\n| {int(code)} | " in text


def test_top_level_help_lists_every_command(run: Run) -> None:
    result = run("--help")
    assert result.exit_code == 0
    listed = {
        line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line.strip()
    }
    assert listed == COMMANDS


def _paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for name, cmd in group.commands.items():
        out.append((*prefix, name))
        if isinstance(cmd, click.Group):
            out += _paths(cmd, (*prefix, name))
    return out


@pytest.mark.parametrize("path", _paths(cli), ids=" ".join)
def test_every_command_has_help(run: Run, path: tuple[str, ...]) -> None:
    result = run(*path, "-h")
    assert result.exit_code == 0
    assert result.output.startswith(f"Usage: cli {' '.join(path)}")


def test_main_returns_the_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert "convostore" in capsys.readouterr().out
    assert main(["no-such-command"]) == 2


def test_demo_passes_the_store_through(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    import convostore.demo

    seen: list[list[str]] = []
    monkeypatch.setattr(convostore.demo, "run", lambda argv: seen.append(argv) or 3)
    result = run("demo", "--store", "memory://")
    assert seen == [["memory://"]]
    assert result.exit_code == 3
    run("demo", "sqlite:///x.db")
    run("demo")
    assert seen[1:] == [["sqlite:///x.db"], []]


def test_demo_uses_a_temporary_store_by_default(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    real = tmp_path / "real.db"
    result = run("demo", env={"CONVOSTORE_URL": f"sqlite:///{real}"})
    assert result.exit_code == 0, result.output
    assert "What's the weather in Paris?" in result.output
    assert "temporary" in result.output
    assert list(tmp_path.iterdir()) == []  # neither convostore.db nor the URL's file


def test_demo_keeps_its_thread_in_a_store_it_is_given(run: Run, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    assert run("demo", "--store", url).exit_code == 0
    listed = json.loads(run("threads", "list", "--store", url, "--json").stdout)
    assert [t["title"] for t in listed["items"]] == ["What's the weather?"]


def test_store_defaults_to_sqlite_file_in_working_directory(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    missing = run("threads", "list")
    assert missing.exit_code == 3
    assert "convostore.db" in missing.stderr
    assert run("db", "upgrade").exit_code == 0
    assert (tmp_path / "convostore.db").exists()
    assert run("threads", "list").exit_code == 0


def test_store_comes_from_the_environment(run: Run, sqlite_url: str) -> None:
    thread = seed(sqlite_url)
    result = run("threads", "show", thread.id, "--json", env={"CONVOSTORE_URL": sqlite_url})
    assert result.exit_code == 0
    assert json.loads(result.stdout)["id"] == thread.id


# --- failures -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (ThreadNotFoundError("t"), 3),
        (StoreNotFoundError("sqlite:///x.db", "x.db"), 3),
        (DuplicateMessageError("m"), 4),
        (RevisionConflictError("t", 1, 2), 4),
        (ValidationError("bad", field="cursor"), 2),
        (UnsupportedSnapshotVersionError(9, (1,)), 2),
        (SchemaTooOldError("old", found=1, expected=2), 5),
        (SchemaTooNewError("new", found=3, expected=2), 5),
        (BackendUnavailableError("down"), 5),
        (StoreLockedError("locked"), 5),
        (MissingDependencyError("psycopg", "postgres"), 5),
        (FileNotFoundError(2, "No such file or directory", "x.json"), 1),
        (KeyboardInterrupt(), 130),
        (BrokenPipeError(32, "Broken pipe"), 141),
        (RuntimeError("boom"), 1),
    ],
)
def test_each_exception_has_a_documented_exit_code(exc: BaseException, code: int) -> None:
    failure = errors.classify(exc)
    assert failure.code == code
    assert code in {int(c) for c, _ in errors.EXIT_CODES}


@pytest.mark.parametrize(("exc", "code"), [(RuntimeError("boom"), 1), (KeyboardInterrupt(), 130)])
def test_unexpected_failures_print_one_line_and_no_traceback(
    run: Run, monkeypatch: pytest.MonkeyPatch, sqlite_url: str, exc: BaseException, code: int
) -> None:
    def explode(*_: Any, **__: Any) -> Any:
        raise exc

    monkeypatch.setattr(threads, "opened_store", explode)
    result = run("threads", "list", "--store", sqlite_url)
    assert result.exit_code == code
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("Error: ")


def test_unknown_url_scheme_is_a_usage_error(run: Run) -> None:
    result = run("threads", "list", "--store", "ftp://example.org/x")
    assert result.exit_code == 2
    assert "unknown store URL scheme 'ftp'" in result.stderr


def test_errors_are_json_when_json_was_asked_for(run: Run) -> None:
    result = run("threads", "list", "--store", "ftp://example.org/x", "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    error = json.loads(result.stderr)["error"]
    assert error["exit_code"] == 2
    assert error["kind"] == "invalid"
    assert "ftp" in error["message"]


def test_unreachable_store_exits_5(run: Run, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    result = run(
        "keys", "create", "--tenant", "a", "--store", f"sqlite:///{tmp_path / 'file' / 'x.db'}"
    )
    assert result.exit_code == 5
    assert result.stderr.startswith("Error: ")


def test_store_written_by_a_newer_version_exits_5(run: Run, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    assert run("db", "upgrade", "--store", url).exit_code == 0
    with sqlite3.connect(tmp_path / "new.db") as conn:
        conn.execute(
            "INSERT INTO convostore_migrations (version, name, applied_at) "
            "VALUES (999, 'future', '2100-01-01')"
        )
    result = run("threads", "list", "--store", url)
    assert result.exit_code == 5
    assert "newer" in result.stderr


def test_click_usage_errors_exit_2(run: Run) -> None:
    assert run("threads", "list", "--no-such-option").exit_code == 2
    assert run("threads", "show").exit_code == 2
    assert run("threads", "list", "--limit", "0").exit_code == 2


def test_a_closed_pipe_ends_quietly(
    run: Run, monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    def closed(*_: Any, **__: Any) -> Any:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(threads, "opened_store", closed)
    result = run("threads", "list", "--store", sqlite_url)
    assert (result.exit_code, result.output) == (141, "")


def test_tables_are_drawn_with_rich_on_a_terminal(
    run: Run, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from convostore.cli import _common

    thread = seed(sqlite_url, title="hello")
    monkeypatch.setattr(_common, "stdout_is_terminal", lambda: True)
    monkeypatch.setenv("COLUMNS", "200")
    out = run("threads", "list", "--store", sqlite_url).stdout
    assert "\t" not in out
    assert thread.id in out and "hello" in out
    assert "┃" in out or "|" in out


# --- a store that does not exist ------------------------------------------------------

# Commands that only read or change what is already stored: none may create a store.
EXISTING_ONLY = [
    ("threads", "list"),
    ("threads", "show", "th_1"),
    ("threads", "rm", "th_1"),
    ("threads", "restore", "th_1"),
    ("threads", "purge", "th_1", "--yes"),
    ("messages", "tail", "th_1"),
    ("export", "th_1"),
    ("keys", "list"),
    ("keys", "revoke", "01ARZ3NDEKTSV4RRFFQ69G5FAV"),
    ("db", "status"),
    ("db", "ddl"),
    ("prune", "--keep", "1", "--yes"),
]


def _missing_stores(tmp_path: Path) -> list[tuple[str, Path]]:
    return [
        (f"sqlite:///{tmp_path / 'nonexist' / 'dir' / 'x.db'}", tmp_path / "nonexist"),
        (f"sqlite:///{tmp_path / 'x.db'}", tmp_path / "x.db"),
        (f"json:///{tmp_path / 'nonexist' / 'store'}", tmp_path / "nonexist"),
    ]


@pytest.mark.parametrize("args", EXISTING_ONLY, ids=" ".join)
def test_commands_on_existing_data_do_not_create_a_store(
    run: Run, tmp_path: Path, args: tuple[str, ...]
) -> None:
    for url, made in _missing_stores(tmp_path):
        result = run(*args, "--store", url)
        assert result.exit_code == 3, (url, result.output)
        assert "does not exist" in result.stderr and "store" in result.stderr
        assert not made.exists(), url
        assert result.stdout == ""


def test_a_missing_store_is_a_json_error_with_json(run: Run, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    result = run("threads", "list", "--store", url, "--json")
    assert json.loads(result.stderr)["error"]["kind"] == "not_found"
    assert not (tmp_path / "x.db").exists()


def test_doctor_reports_a_missing_store_without_creating_it(run: Run, tmp_path: Path) -> None:
    result = run("doctor", "--store", f"json:///{tmp_path / 'nope'}", "--json")
    assert result.exit_code == 5
    backend = [c for c in json.loads(result.stdout)["checks"] if c["name"] == "backend"]
    assert backend[0]["status"] == "fail" and "does not exist" in backend[0]["detail"]
    assert not (tmp_path / "nope").exists()


@pytest.mark.parametrize(
    "args", [("keys", "create", "--tenant", "acme"), ("db", "upgrade")], ids=" ".join
)
def test_commands_that_make_data_create_the_store(
    run: Run, tmp_path: Path, args: tuple[str, ...]
) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'x.db'}"
    assert run(*args, "--store", url).exit_code == 0
    assert (tmp_path / "new" / "x.db").exists()
    assert run("threads", "list", "--store", url).exit_code == 0


def test_import_creates_the_store(run: Run, tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'a.db'}"
    thread = seed(source)
    path = tmp_path / "t.json"
    assert run("export", thread.id, "-o", path, "--store", source).exit_code == 0
    target = f"json:///{tmp_path / 'new' / 'store'}"
    assert run("import", path, "--store", target).exit_code == 0
    assert run("threads", "show", thread.id, "--store", target).exit_code == 0
