"""``convostore import --from adk-database``: sessions written by ADK's own
DatabaseSessionService and SqliteSessionService, imported through the CLI,
read back through ConvostoreSessionService as ADK reads them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from google.adk.events.event import Event
from google.adk.events.event_actions import EventActions
from google.adk.sessions.database_session_service import DatabaseSessionService
from google.adk.sessions.sqlite_session_service import SqliteSessionService
from google.genai import types

from convostore.cli import cli
from convostore.errors import ValidationError
from convostore.importers import adk as adk_importer
from convostore.importers import open_source
from convostore.integrations.adk import ConvostoreSessionService

SESSIONS = [("ada", "s1"), ("ada", "s2"), ("bob", "s1")]


def _event(i: int, user: str) -> Event:
    role, author = ("user", "user") if i % 2 == 0 else ("model", "helper")
    return Event(
        invocation_id=f"inv-{i // 2}",
        author=author,
        content=types.Content(role=role, parts=[types.Part(text=f"{user} message {i}")]),
        actions=EventActions(state_delta={"turn": i, "user:seen": i}),
        timestamp=1_700_000_000 + i,
    )


def _make(kind: str, path: Path) -> Any:
    if kind == "database":
        return DatabaseSessionService(f"sqlite+aiosqlite:///{path}")
    return SqliteSessionService(str(path))


async def _build(kind: str, path: Path, events: int, start: int = 0) -> None:
    service = _make(kind, path)
    try:
        for user, sid in SESSIONS:
            session = await service.get_session(app_name="app", user_id=user, session_id=sid)
            if session is None:
                session = await service.create_session(
                    app_name="app", user_id=user, session_id=sid, state={"origin": sid}
                )
            for i in range(start, start + events):
                await service.append_event(session, _event(i, user))
    finally:
        if isinstance(service, DatabaseSessionService):
            await service.close()


async def _read(kind: str, path: Path) -> dict[tuple[str, str], Any]:
    service = _make(kind, path)
    try:
        return {
            key: await service.get_session(app_name="app", user_id=key[0], session_id=key[1])
            for key in SESSIONS
        }
    finally:
        if isinstance(service, DatabaseSessionService):
            await service.close()


async def _read_ours(url: str) -> dict[tuple[str, str], Any]:
    async with ConvostoreSessionService(url) as service:
        return {
            key: await service.get_session(app_name="app", user_id=key[0], session_id=key[1])
            for key in SESSIONS
        }


def _import(source: Path, store: str, *extra: str) -> Result:
    args = ["import", "--from", "adk-database", str(source), "--store", store, "--tenant", "app"]
    result = CliRunner().invoke(cli, [*args, *extra])
    assert "Traceback" not in result.output, result.output
    return result


@pytest.fixture(params=["database", "sqlite"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def source(kind: str, tmp_path: Path) -> Path:
    path = tmp_path / f"adk-{kind}.db"
    asyncio.run(_build(kind, path, 4))
    return path


def _same(ours: dict[tuple[str, str], Any], theirs: dict[tuple[str, str], Any]) -> None:
    for key, session in theirs.items():
        mine = ours[key]
        assert mine is not None, key
        assert mine.events == session.events
        assert mine.last_update_time == pytest.approx(session.last_update_time, abs=1e-6)
        # app: and user: state are not imported (they belong to no session).
        assert mine.state == {k: v for k, v in session.state.items() if not k.startswith("user:")}
        assert (mine.id, mine.user_id, mine.app_name) == (session.id, session.user_id, "app")


def test_import_reads_back_as_adk_stored_it(kind: str, source: Path, tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'target.db'}"
    dry = _import(source, store, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "3 threads, 12 messages (nothing written)" in dry.output
    assert not (tmp_path / "target.db").exists()

    first = _import(source, store)
    assert first.exit_code == 0, first.output
    assert "3 threads from adk-database: 12 messages, 12 newly stored" in first.output
    _same(asyncio.run(_read_ours(store)), asyncio.run(_read(kind, source)))

    again = _import(source, store)
    assert again.exit_code == 0 and "12 messages, 0 newly stored" in again.output

    # The source gains events: a rerun appends only them.
    asyncio.run(_build(kind, source, 2, start=4))
    more = _import(source, store, "--json")
    assert more.exit_code == 0, more.output
    assert json.loads(more.output)["appended"] == 6
    ours, theirs = asyncio.run(_read_ours(store)), asyncio.run(_read(kind, source))
    for key, session in theirs.items():
        assert ours[key].events == session.events
        # import_source appends a known thread's new messages but does not
        # rewrite its state: the session state stays as first imported.
        assert ours[key].state == {"origin": key[1], "turn": 3}


def test_interrupted_import_resumes(
    source: Path, kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = f"sqlite:///{tmp_path / 'target.db'}"
    real = adk_importer._AdkSource._messages

    def stops(self: Any, keys: Any) -> Iterator[Any]:
        for n, message in enumerate(real(self, keys)):
            if keys["user"] == "ada" and keys["session"] == "s2" and n == 2:
                raise KeyboardInterrupt
            yield message

    monkeypatch.setattr(adk_importer._AdkSource, "_messages", stops)
    stopped = _import(source, store, "--batch", "1")
    assert stopped.exit_code != 0
    monkeypatch.setattr(adk_importer._AdkSource, "_messages", real)
    # The stopped session stays hidden until it is whole.
    partial = asyncio.run(_read_ours(store))
    assert partial[("ada", "s1")] is not None and partial[("ada", "s2")] is None
    resumed = _import(source, store)
    assert resumed.exit_code == 0, resumed.output
    assert "12 messages, 6 newly stored" in resumed.output
    _same(asyncio.run(_read_ours(store)), asyncio.run(_read(kind, source)))


def test_several_apps_need_a_choice(tmp_path: Path) -> None:
    path = tmp_path / "apps.db"

    async def build() -> None:
        service = SqliteSessionService(str(path))
        await service.create_session(app_name="one", user_id="u", session_id="a")
        await service.create_session(app_name="two", user_id="u", session_id="b")

    asyncio.run(build())
    with pytest.raises(ValidationError, match="several apps"):
        open_source("adk-database", str(path), {})
    opened = open_source("adk-database", str(path), {"app_name": "two"})
    try:
        assert [t.thread.id for t in opened.threads()] == ["u:b"]
    finally:
        opened.close()
    with pytest.raises(ValidationError, match="unknown option"):
        open_source("adk-database", str(path), {"table": "x"})


def test_not_an_adk_database(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "other.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(ValidationError, match="not an ADK session database"):
        open_source("adk-database", str(path), {})
