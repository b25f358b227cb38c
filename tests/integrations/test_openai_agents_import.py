"""``convostore import --from openai-agents-sqlite | openai-agents-sqlalchemy``:
sessions written by the SDK's own ``SQLiteSession`` and ``SQLAlchemySession``
(SQLite, and PostgreSQL in a database of the test's own) come into a store item
by item, read back through ``ConvostoreSession`` exactly as the SDK reads
them, idempotently and resumably."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agents import SQLiteSession
from agents.extensions.memory.sqlalchemy_session import SQLAlchemySession
from click.testing import CliRunner, Result
from tests._harness import require_pg
from tests.integrations.test_openai_agents import ITEMS

from convostore import open_store
from convostore.cli import cli
from convostore.errors import ValidationError
from convostore.importers import open_source
from convostore.integrations.openai_agents import ConvostoreSession

#: The item types the SDK's own sessions hold (JSON-valid ones: the SDK stores
#: ``json.dumps`` of each).
SESSIONS: dict[str, list[dict[str, Any]]] = {
    "alpha": ITEMS[:12],
    "beta": ITEMS[12:],
    "gamma": [{"role": "user", "content": "only one"}],
}


def invoke(*args: object) -> Result:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), repr(result.exception)
    return result


async def _fill(sessions: list[Any]) -> None:
    for session in sessions:
        await session.add_items(SESSIONS[session.session_id])


def _sdk_items(make: Any) -> dict[str, list[Any]]:
    """Every session's items as the SDK itself reads them."""

    async def read() -> dict[str, list[Any]]:
        out = {}
        for sid in SESSIONS:
            session = make(sid)
            out[sid] = await session.get_items()
            await _close(session)
        return out

    return asyncio.run(read())


async def _close(session: Any) -> None:
    if isinstance(session, SQLAlchemySession):
        await session.engine.dispose()
    else:
        session.close()


def _ours(url: str) -> dict[str, list[Any]]:
    with open_store(url) as store:
        return {sid: asyncio.run(ConvostoreSession(sid, store).get_items()) for sid in SESSIONS}


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database (a SQLAlchemy ``postgresql+psycopg`` URL), dropped after."""
    import psycopg

    server = require_pg()
    name = f"oai_import_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    info = psycopg.conninfo.conninfo_to_dict(server)
    user = info.get("user", "postgres")
    password = f":{info['password']}" if info.get("password") else ""
    host, port = info.get("host", "127.0.0.1"), info.get("port", "5432")
    try:
        yield f"postgresql+psycopg://{user}{password}@{host}:{port}/{name}"
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _sqlite_source(tmp_path: Path, **tables: str) -> tuple[Path, Any]:
    path = tmp_path / "agents.db"

    def make(sid: str) -> SQLiteSession:
        return SQLiteSession(sid, str(path), **tables)

    async def fill() -> None:
        sessions = [make(sid) for sid in SESSIONS]
        await _fill(sessions)
        for s in sessions:
            s.close()

    asyncio.run(fill())
    return path, make


def _sqlalchemy_source(url: str, **tables: str) -> Any:
    def make(sid: str) -> SQLAlchemySession:
        return SQLAlchemySession.from_url(sid, url=url, create_tables=True, **tables)

    async def fill() -> None:
        for sid in SESSIONS:
            session = make(sid)
            await _fill([session])
            await session.engine.dispose()

    asyncio.run(fill())
    return make


@pytest.fixture(params=["sqlite", "sqlalchemy-sqlite", "sqlalchemy-postgres"])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str, Any]:
    """(importer name, SOURCE, a maker of the SDK's own session) for each kind."""
    if request.param == "sqlite":
        path, make = _sqlite_source(tmp_path)
        return "openai-agents-sqlite", str(path), make
    if request.param == "sqlalchemy-sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'sa.db'}"
        return "openai-agents-sqlalchemy", url, _sqlalchemy_source(url)
    url = request.getfixturevalue("pg_database")
    return "openai-agents-sqlalchemy", url, _sqlalchemy_source(url)


def test_import_reads_back_exactly_as_the_sdk_reads(
    source: tuple[str, str, Any], tmp_path: Path
) -> None:
    name, src, make = source
    url = f"sqlite:///{tmp_path / 'c.db'}"
    result = invoke("import", "--store", url, "--from", name, src, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    total = sum(len(v) for v in SESSIONS.values())
    assert report["appended"] == report["messages"] == total
    theirs = _sdk_items(make)
    assert theirs == SESSIONS
    ours = _ours(url)
    for sid in SESSIONS:
        assert len(ours[sid]) == len(theirs[sid])
        for mine, sdk in zip(ours[sid], theirs[sid], strict=True):
            assert mine == sdk
    with open_store(url) as store:
        msgs = store.load_messages("alpha")
        assert msgs[0].id.startswith("openai-agents:agent_messages:")
        assert all(m.created_at.tzinfo is not None for m in msgs)
        thread = store.get_thread("alpha")
        assert thread.created_at <= thread.updated_at
        parts = {p.type for m in msgs for p in m.parts}
        assert {"text", "image", "reasoning", "tool-call", "tool-result"} <= parts


def test_rerun_is_idempotent_and_appends_new_rows(
    source: tuple[str, str, Any], tmp_path: Path
) -> None:
    name, src, make = source
    url = f"sqlite:///{tmp_path / 'c.db'}"
    assert invoke("import", "--store", url, "--from", name, src).exit_code == 0
    again = invoke("import", "--store", url, "--from", name, src)
    assert again.exit_code == 0, again.output
    assert "0 newly stored" in again.output

    async def grow() -> None:
        session = make("gamma")
        await session.add_items([{"role": "assistant", "content": "and more"}])
        await _close(session)

    asyncio.run(grow())
    grown = invoke("import", "--store", url, "--from", name, src, "--json")
    assert json.loads(grown.output)["appended"] == 1
    assert _ours(url)["gamma"] == _sdk_items(make)["gamma"]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sqlite_source_is_read_only_and_dry_run_writes_nothing(tmp_path: Path) -> None:
    path, _ = _sqlite_source(tmp_path)
    before = _digest(path)
    target = tmp_path / "c.db"
    args = ("import", "--store", f"sqlite:///{target}", "--from", "openai-agents-sqlite", path)
    result = invoke(*args, "--dry-run")
    assert result.exit_code == 0, result.output
    total = sum(len(v) for v in SESSIONS.values())
    assert f"3 threads, {total} messages (nothing written)" in result.output
    assert not target.exists()
    assert invoke(*args).exit_code == 0
    assert _digest(path) == before


def test_an_interrupted_import_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = _sqlite_source(tmp_path)
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
    args = ("import", "--store", url, "--from", "openai-agents-sqlite", path, "--batch", "2")
    stopped = invoke(*args)
    assert stopped.exit_code != 0
    monkeypatch.setattr(Store, "import_append", real)
    with open_store(url) as cs:
        assert cs.list_threads(limit=10).items == []  # nothing half-visible
    resumed = invoke(*args, "--json")
    assert resumed.exit_code == 0, resumed.output
    report = json.loads(resumed.output)
    total = sum(len(v) for v in SESSIONS.values())
    assert report["messages"] == total and report["appended"] == total - 2
    assert _ours(url) == SESSIONS


@pytest.mark.parametrize("kind", ["sqlite", "sqlalchemy"])
def test_custom_table_names(kind: str, tmp_path: Path) -> None:
    tables = {"sessions_table": "my_sessions", "messages_table": "my_items"}
    if kind == "sqlite":
        path, _ = _sqlite_source(tmp_path, **tables)
        name, src = "openai-agents-sqlite", str(path)
    else:
        src = f"sqlite+aiosqlite:///{tmp_path / 'sa.db'}"
        _sqlalchemy_source(src, **tables)
        name = "openai-agents-sqlalchemy"
    url = f"sqlite:///{tmp_path / 'c.db'}"
    missing = invoke("import", "--store", url, "--from", name, src)
    assert missing.exit_code != 0 and "agent_sessions" in missing.output
    opts = [a for k, v in tables.items() for a in ("--option", f"{k}={v}")]
    result = invoke("import", "--store", url, "--from", name, src, *opts)
    assert result.exit_code == 0, result.output
    assert _ours(url) == SESSIONS
    with open_store(url) as store:
        assert store.load_messages("gamma")[0].id.startswith("openai-agents:my_items:")


def test_malformed_rows_and_bad_sources_are_typed_errors(tmp_path: Path) -> None:
    path, _ = _sqlite_source(tmp_path)
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO agent_messages (session_id, message_data) VALUES ('gamma', '{broken')"
        )
        row = conn.execute("SELECT MAX(id) FROM agent_messages").fetchone()[0]
    source = open_source("openai-agents-sqlite", str(path))
    try:
        gamma = next(t for t in source.threads() if t.thread.id == "gamma")
        with pytest.raises(ValidationError, match=f"row {row} of 'agent_messages'"):
            list(gamma.messages())
    finally:
        source.close()
    with pytest.raises(ValidationError, match="no SQLite file"):
        open_source("openai-agents-sqlite", str(tmp_path / "missing.db"))
    with pytest.raises(ValidationError, match="unknown option"):
        open_source("openai-agents-sqlite", str(path), {"table": "x"})
    with pytest.raises(ValidationError, match="not a table name"):
        open_source("openai-agents-sqlite", str(path), {"messages_table": "x; drop"})
    with pytest.raises(ValidationError, match="database URL"):
        open_source("openai-agents-sqlite", "postgresql://h/db")
