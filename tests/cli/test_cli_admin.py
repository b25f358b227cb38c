"""``keys``, ``db``, ``doctor``, ``prune`` and ``serve``."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from convostore.cli._common import redact

from ._helpers import Run, seed, with_store

# --- keys ---------------------------------------------------------------------------


def test_keys_create_list_revoke(run: Run, store_url: str) -> None:
    created = run(
        "keys",
        "create",
        "--tenant",
        "acme",
        "--read-only",
        "--label",
        "ci",
        "--store",
        store_url,
        "--json",
    )
    assert created.exit_code == 0, created.output
    key = json.loads(created.stdout)
    assert key["key"].startswith("cs_")
    assert (key["tenant"], key["read_only"], key["label"]) == ("acme", True, "ci")

    listed = run("keys", "list", "--store", store_url, "--json")
    items = json.loads(listed.stdout)["items"]
    assert [k["id"] for k in items] == [key["id"]]
    assert key["key"] not in listed.stdout
    assert (
        json.loads(run("keys", "list", "--tenant", "other", "--store", store_url, "--json").stdout)[
            "items"
        ]
        == []
    )

    revoked = run("keys", "revoke", key["id"], "--store", store_url, "--json")
    assert json.loads(revoked.stdout)["revoked_at"] is not None
    table = run("keys", "list", "--store", store_url).stdout.splitlines()
    assert table[0].split("\t") == ["id", "tenant", "read-only", "label", "created", "revoked"]
    assert table[1].split("\t")[:4] == [key["id"], "acme", "yes", "ci"]


def test_keys_create_prints_only_the_token_in_a_pipe(run: Run, store_url: str) -> None:
    from convostore.keys import KeyManager

    result = run("keys", "create", "--tenant", "acme", "--store", store_url)
    token = result.stdout.strip()
    assert result.stdout == token + "\n"
    found = with_store(store_url, lambda s: KeyManager(s).verify(token))
    assert found is not None and found.tenant == "acme"


def test_keys_errors(run: Run, store_url: str) -> None:
    assert run("keys", "create", "--store", store_url).exit_code == 2  # --tenant required
    assert run("keys", "create", "--tenant", "_keys", "--store", store_url).exit_code == 2
    assert run("keys", "revoke", "not-a-key-id", "--store", store_url).exit_code == 2
    missing = run("keys", "revoke", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "--store", store_url)
    assert missing.exit_code == 3


# --- db -----------------------------------------------------------------------------


def test_db_status_and_upgrade_on_sqlite(run: Run, sqlite_url: str) -> None:
    upgraded = json.loads(run("db", "upgrade", "--store", sqlite_url, "--json").stdout)
    assert upgraded["applied"] == []  # SQLite migrates when opened (here: created)
    status = json.loads(run("db", "status", "--store", sqlite_url, "--json").stdout)
    assert status["backend"] == "sqlite"
    assert status["schema_version"] == status["latest_version"] >= 1
    assert status["up_to_date"] is True
    assert run("db", "status", "--check", "--store", sqlite_url).exit_code == 0
    assert "CREATE TABLE" in run("db", "ddl", "--store", sqlite_url).stdout


def test_db_status_check_fails_on_a_pending_migration(
    run: Run, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from convostore.store.sqlite import SQLiteBackend

    assert run("db", "upgrade", "--store", sqlite_url).exit_code == 0
    monkeypatch.setattr(SQLiteBackend, "latest_version", SQLiteBackend.latest_version + 1)
    result = run("db", "status", "--check", "--store", sqlite_url)
    assert result.exit_code == 5
    assert "1 migration(s) pending" in result.stdout
    assert "db upgrade" in result.stderr


@pytest.mark.parametrize("url", ["memory://", "json"])
def test_db_on_backends_without_schema(run: Run, tmp_path: Path, url: str) -> None:
    url = f"json:///{tmp_path / 'j'}" if url == "json" else url
    upgrade = run("db", "upgrade", "--store", url)
    assert upgrade.exit_code == 0
    assert "no schema (memory/json backend)" in upgrade.stderr
    status = run("db", "status", "--store", url)
    assert status.exit_code == 0
    assert "no schema (memory/json backend)" in status.stdout


# --- doctor -------------------------------------------------------------------------


def test_doctor_reports_store_schema_fts_and_tokenizer(run: Run, sqlite_url: str) -> None:
    seed(sqlite_url, messages=0)
    result = run("doctor", "--store", sqlite_url, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert report["ok"] is True
    assert checks["store"]["detail"] == sqlite_url
    assert checks["backend"]["detail"].startswith("sqlite")
    assert checks["schema"]["status"] == "ok"
    assert "FTS5" in checks["sqlite fts5"]["detail"]
    assert checks["tokenizer"]["detail"]


def test_doctor_on_an_unusable_store_still_reports_and_exits_5(run: Run, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    result = run("doctor", "--store", f"sqlite:///{tmp_path / 'file' / 'x.db'}", "--json")
    assert result.exit_code == 5
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["backend"]["status"] == "fail"
    assert "sqlite fts5" in checks and "tokenizer" in checks


def test_passwords_never_reach_the_output() -> None:
    assert redact("postgresql://app:s3cret@db:5432/x") == "postgresql://app:***@db:5432/x"
    assert redact("sqlite:///a.db") == "sqlite:///a.db"


# --- prune --------------------------------------------------------------------------


def _live(run: Run, store_url: str, *extra: str) -> set[str]:
    listed = run("threads", "list", *extra, "--store", store_url, "--json")
    return {t["id"] for t in json.loads(listed.stdout)["items"]}


def test_prune_keeps_n_sessions_per_user(run: Run, store_url: str) -> None:
    alice = [seed(store_url, user_id="alice", messages=0).id for _ in range(3)]
    bob = seed(store_url, user_id="bob", messages=0).id
    result = run("prune", "--keep", "2", "--yes", "--store", store_url, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["expired"], report["over_limit"], report["purged"], report["dry_run"]) == (
        0,
        1,
        True,
        False,
    )
    assert [(t["id"], t["user_id"], t["reason"]) for t in report["threads"]] == [
        (alice[0], "alice", "over-limit")
    ]
    assert _live(run, store_url, "--deleted") == {*alice[1:], bob}


def test_prune_soft_deletes_when_asked(run: Run, store_url: str) -> None:
    old, new = (seed(store_url, user_id="u", messages=0).id for _ in range(2))
    # soft deletion can be undone, so it needs no confirmation
    assert run("prune", "--keep", "1", "--soft", "--store", store_url).exit_code == 0
    assert run("threads", "restore", old, "--store", store_url).exit_code == 0
    assert new


def test_prune_removes_idle_sessions(run: Run, store_url: str) -> None:
    idle = seed(store_url, messages=0, ago=3600).id  # seeded an hour in the past
    active = seed(store_url, messages=0).id
    result = run("prune", "--idle", "30m", "--yes", "--store", store_url, "--json")
    assert json.loads(result.stdout)["expired"] == 1
    assert run("threads", "show", idle, "--store", store_url).exit_code == 3
    assert run("threads", "show", active, "--store", store_url).exit_code == 0


def test_prune_dry_run_lists_what_would_go_and_changes_nothing(run: Run, store_url: str) -> None:
    made = [seed(store_url, user_id="u", messages=0).id for _ in range(3)]
    before = _live(run, store_url)
    result = run("prune", "--keep", "1", "--dry-run", "--store", store_url, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["dry_run"] is True and report["over_limit"] == 2
    assert sorted(t["id"] for t in report["threads"]) == sorted(made[:2])
    assert _live(run, store_url) == before
    human = run("prune", "--keep", "1", "--dry-run", "--store", store_url)
    assert human.exit_code == 0
    assert "would purge 2 thread(s)" in human.stderr
    assert {line.split("\t")[0] for line in human.stdout.splitlines()[1:]} == set(made[:2])
    assert _live(run, store_url) == before


def test_prune_dry_run_counts_each_thread_once(run: Run, store_url: str) -> None:
    made = [seed(store_url, user_id="u", messages=0, ago=3600).id for _ in range(3)]
    report = json.loads(
        run(
            "prune", "--idle", "30m", "--keep", "1", "--dry-run", "--store", store_url, "--json"
        ).stdout
    )
    assert (report["expired"], report["over_limit"]) == (3, 0)
    assert sorted(t["id"] for t in report["threads"]) == sorted(made)


def test_prune_without_yes_off_a_terminal_refuses_and_changes_nothing(
    run: Run, store_url: str
) -> None:
    made = {seed(store_url, user_id="u", messages=0).id for _ in range(2)}
    result = run("prune", "--keep", "1", "--store", store_url, input="y\n")
    assert result.exit_code == 2
    assert "--yes" in result.stderr and "1 thread(s)" in result.stderr
    assert _live(run, store_url) == made


def test_prune_asks_on_a_terminal(
    run: Run, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from convostore.cli import prune

    monkeypatch.setattr(prune, "stdin_is_terminal", lambda: True)
    old, new = (seed(store_url, user_id="u", messages=0).id for _ in range(2))
    declined = run("prune", "--keep", "1", "--store", store_url, input="n\n")
    assert declined.exit_code == 1
    assert "Purge 1 thread(s)" in declined.stderr
    assert _live(run, store_url) == {old, new}
    accepted = run("prune", "--keep", "1", "--store", store_url, input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert "purged 1 thread(s)" in accepted.stderr
    assert old in accepted.stdout
    assert _live(run, store_url, "--deleted") == {new}


def test_prune_with_nothing_to_remove_asks_nothing(run: Run, store_url: str) -> None:
    seed(store_url, user_id="u", messages=0)
    result = run("prune", "--keep", "1", "--store", store_url)
    assert result.exit_code == 0
    assert "nothing to prune" in result.stderr


@pytest.mark.parametrize("args", [[], ["--idle", "soon"], ["--idle", "0"], ["--keep", "0"]])
def test_prune_usage_errors(run: Run, store_url: str, args: list[str]) -> None:
    assert run("prune", *args, "--store", store_url).exit_code == 2


# --- serve --------------------------------------------------------------------------


def test_serve_hands_store_host_and_port_to_the_server(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, ...]] = []
    fake = types.ModuleType("convostore.server")
    fake.serve = lambda *args: calls.append(args)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "convostore.server", fake)
    assert run("serve", "--store", "memory://", "--port", "9001").exit_code == 0
    assert calls == [("memory://", "127.0.0.1", 9001)]
    run("serve", env={"CONVOSTORE_URL": "sqlite:///x.db", "CONVOSTORE_PORT": "7000"})
    assert calls[-1] == ("sqlite:///x.db", "127.0.0.1", 7000)


def test_serve_without_the_server_extra_exits_5(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m.startswith(("convostore.server", "fastapi"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "fastapi", None)
    result = run("serve", "--store", "memory://")
    assert result.exit_code == 5
    assert "pip install 'convostore[server]'" in result.stderr
