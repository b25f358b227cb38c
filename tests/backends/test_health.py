"""Honest health: a store that cannot take writes or whose data is damaged says so,
names the problem, and every surface (health_check, /readyz, doctor, serve) agrees."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from convostore import Message, open_store
from convostore.store import _health


def _damaged(tmp_path: Path) -> str:
    """A SQLite store whose middle pages were overwritten with garbage."""
    url = f"sqlite:///{tmp_path}/damaged.db"
    with open_store(url) as store:
        store.create_thread(id="t")
        store.append("t", [Message.user("x" * 2000) for _ in range(300)])
    path = tmp_path / "damaged.db"
    with path.open("r+b") as f:
        f.seek(path.stat().st_size // 2)
        f.write(os.urandom(8192))
    return url


def test_a_sound_store_reports_every_check_ok(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path}/ok.db") as store:
        report = store.health_check(full=True)
    assert report.ok and report.problems == []
    assert {c.name for c in report.checks} >= {"open", "writable", "disk-space", "integrity"}


def test_a_damaged_database_is_not_healthy_and_says_why(tmp_path: Path) -> None:
    url = _damaged(tmp_path)
    with open_store(url) as store:
        for full in (False, True):
            report = store.health_check(full=full)
            assert not report.ok
            assert [c.name for c in report.problems] == ["integrity"]
    doctor = subprocess.run(
        [sys.executable, "-m", "convostore", "doctor", "--store", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert doctor.returncode == 5
    assert any(line.startswith("integrity\tfail") for line in doctor.stdout.splitlines())


async def test_readyz_answers_503_naming_the_problem(tmp_path: Path) -> None:
    import httpx

    from convostore.server import create_app

    app = create_app(_damaged(tmp_path))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client,
    ):
        r = await client.get("/readyz")
        assert r.status_code == 503 and "integrity" in r.json()["detail"]
        assert (await client.get("/healthz")).status_code == 200  # alive, not ready


def test_a_disk_without_room_fails_the_disk_space_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.statvfs

    def full(path: str) -> os.statvfs_result:
        st = real(path)
        values = list(st)
        values[4] = 10  # f_bavail: ten blocks left
        return os.statvfs_result(values)

    with open_store(f"sqlite:///{tmp_path}/full.db") as store:
        monkeypatch.setattr(_health.os, "statvfs", full)
        report = store.health_check()
    assert not report.ok and [c.name for c in report.problems] == ["disk-space"]


def test_serve_on_a_store_it_cannot_open_prints_one_line_and_exits_5(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-database.db"
    bad.write_bytes(b"garbage" * 2000)
    result = subprocess.run(
        [sys.executable, "-m", "convostore", "serve", "--store", f"sqlite:///{bad}", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 5
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "not a database" in lines[0]
    assert "Traceback" not in result.stderr


pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
