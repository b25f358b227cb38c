"""Honest health, continued: a store that cannot take writes says so on every surface.

Read-only is made real even when the tests run as root (where mode bits stop
nothing): as root the file or directory is made immutable (``chattr +i``),
which refuses writes to root too; elsewhere ``chmod`` does. A full disk is
simulated portably with SQLite's ``max_page_count`` (a write then finds no
page, as on a full disk) or a ``statvfs`` that reports no space, and for real
on a small tmpfs where mounting is allowed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from tests._harness import need_module, unavailable

from convostore import BackendUnavailableError, Message, open_store
from convostore.cli import cli
from convostore.store import sqlite as sqlite_module

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# --- helpers -------------------------------------------------------------------------


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """``path`` (a file or a directory) refuses writes, to this process too."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        try:
            yield
        finally:
            path.chmod(mode)
        return
    chattr = shutil.which("chattr")
    done = (
        chattr
        and subprocess.run([chattr, "+i", str(path)], capture_output=True, check=False).returncode
        == 0
    )
    if not done:
        unavailable(
            "running as root, where mode bits do not stop writes, and chattr +i is "
            "not available here (needs CAP_LINUX_IMMUTABLE and a file system that "
            "supports it)"
        )
    try:
        yield
    finally:
        subprocess.run([str(chattr), "-i", str(path)], check=True)


def doctor(url: str) -> tuple[Result, dict[str, dict[str, str]]]:
    result = CliRunner().invoke(cli, ["doctor", "--store", url, "--json"])
    assert "Traceback" not in result.output
    return result, {c["name"]: c for c in json.loads(result.stdout)["checks"]}


@contextlib.asynccontextmanager
async def client(url: str) -> AsyncIterator[httpx.AsyncClient]:
    from convostore.server import create_app

    app = create_app(url)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c,
    ):
        yield c


def assert_not_ready(r: httpx.Response, check: str) -> None:
    assert r.status_code == 503, r.text
    body = r.json()
    assert check in body["detail"]
    assert check in [e["check"] for e in body["errors"]]
    assert r.headers["retry-after"]


def _store(tmp_path: Path) -> tuple[str, Path]:
    path = tmp_path / "db" / "x.db"
    url = f"sqlite:///{path}"
    with open_store(url) as store:
        store.create_thread(id="t")
        store.append("t", [Message.user("hello")])
    return url, path


# --- read-only -----------------------------------------------------------------------


@pytest.mark.parametrize("what", ["file", "directory"])
async def test_a_read_only_database_is_not_ready_anywhere(tmp_path: Path, what: str) -> None:
    url, path = _store(tmp_path)
    target = path if what == "file" else path.parent
    with open_store(url) as store:
        assert store.health_check().ok
        async with client(url) as c:
            assert (await c.get("/readyz")).status_code == 200
            with read_only(target):
                report = store.health_check()
                assert not report.ok
                assert [p.name for p in report.problems] == ["writable"]
                assert "not writable" in report.problems[0].detail
                assert "writable" in report.detail["error"]
                assert_not_ready(await c.get("/readyz"), "writable")
                result, checks = doctor(url)
            assert result.exit_code == 5
            assert checks["writable"]["status"] == "fail"
            assert (await c.get("/readyz")).status_code == 200  # writable again: ready
        assert store.health_check().ok


# --- full disk -----------------------------------------------------------------------


def test_a_database_with_no_page_left_fails_the_disk_space_check(tmp_path: Path) -> None:
    url, _ = _store(tmp_path)
    with open_store(url) as store:
        conn = store.backend._conn()  # the connection of this thread, which the check uses
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(BackendUnavailableError, match="full"):
            store.append("t", [Message.user("x" * 20_000)])  # a real write fails alike
        report = store.health_check()
        assert not report.ok and [p.name for p in report.problems] == ["disk-space"]
        assert "full" in report.problems[0].detail


def no_space_under(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on the file system reports no space left under ``root``."""
    real = os.statvfs

    def statvfs(path: Any) -> os.statvfs_result:
        st = list(real(path))
        if str(path).startswith(str(root)):
            st[3] = st[4] = 0  # f_bfree, f_bavail
        return os.statvfs_result(st)

    monkeypatch.setattr(os, "statvfs", statvfs)


async def test_a_full_disk_is_not_ready_and_doctor_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = _store(tmp_path)
    async with client(url) as c:
        assert (await c.get("/readyz")).status_code == 200
        no_space_under(tmp_path, monkeypatch)
        assert_not_ready(await c.get("/readyz"), "disk-space")
    result, checks = doctor(url)
    assert result.exit_code == 5
    assert checks["disk-space"]["status"] == "fail" and "free" in checks["disk-space"]["detail"]


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A real 24 MiB tmpfs, where this process may mount one."""
    where = tmp_path / "fs"
    where.mkdir()
    mount = shutil.which("mount")
    if (
        os.geteuid() != 0
        or mount is None
        or subprocess.run(
            [mount, "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(where)],
            capture_output=True,
            check=False,
        ).returncode
        != 0
    ):
        unavailable(
            "mounting a tmpfs is not allowed here (needs root and CAP_SYS_ADMIN); "
            "the portable tests above simulate a full disk"
        )
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_really_full_disk_fails_the_check_and_the_writes(small_fs: Path) -> None:
    url = f"sqlite:///{small_fs / 'x.db'}"
    with open_store(url) as store:
        store.create_thread(id="t")
        assert store.health_check().ok
        filler = small_fs / "filler"
        with filler.open("wb") as f, contextlib.suppress(OSError):
            while True:
                f.write(b"\0" * 2**20)
                f.flush()
        report = store.health_check()
        assert not report.ok and [p.name for p in report.problems] == ["disk-space"]
        with pytest.raises(BackendUnavailableError, match="full"):
            store.append("t", [Message.user("x" * 4000) for _ in range(200)])
        doctor_run = subprocess.run(
            [sys.executable, "-m", "convostore", "doctor", "--store", url, "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert doctor_run.returncode == 5
        checks = {c["name"]: c for c in json.loads(doctor_run.stdout)["checks"]}
        assert checks["disk-space"]["status"] == "fail"
        filler.unlink()
        assert store.health_check().ok
        store.append("t", [Message.user("room again")])


# --- damage --------------------------------------------------------------------------


def test_a_large_database_reports_the_damage_a_query_ran_into(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over the quick-check size only the header, schema and roots are read; a
    damaged page a request stumbled on is reported until a full check passes."""
    monkeypatch.setattr(sqlite_module, "QUICK_CHECK_MAX_BYTES", 0)
    url, path = _store(tmp_path)
    with open_store(url) as store:
        store.append("t", [Message.user("x" * 2000) for _ in range(300)])
    # A leaf page of the messages table, not the root: where the file's other
    # tables (the search index) put the pages in between is no concern.
    with sqlite3.connect(path) as con:
        leaves = [
            n
            for (n,) in con.execute(
                "SELECT pageno FROM dbstat WHERE name = 'messages' AND pagetype = 'leaf' "
                "ORDER BY pageno"
            )
        ]
        page_size = con.execute("PRAGMA page_size").fetchone()[0]
    with path.open("r+b") as f:
        f.seek((leaves[len(leaves) // 2] - 1) * page_size)
        f.write(os.urandom(page_size))
    with open_store(url) as store:
        # Random bytes land in the b-tree or in a row's text, whichever the page holds.
        with pytest.raises(BackendUnavailableError, match=r"malformed|decode to UTF-8"):
            store.load_messages("t")
        report = store.health_check()
        assert not report.ok and [p.name for p in report.problems] == ["integrity"]
        assert "damaged page" in report.problems[0].detail
        assert not store.health_check(full=True).ok


def test_a_json_file_that_does_not_parse_fails_the_full_check(tmp_path: Path) -> None:
    url = f"json:///{tmp_path / 'store'}"
    with open_store(url) as store:
        store.create_thread(id="good")
        store.create_thread(id="bad")
    (tmp_path / "store" / "default" / "bad.json").write_text("{not json")
    with open_store(url) as store:
        cheap = store.health_check()
        assert cheap.ok  # the other threads are served, as documented
        assert "could not be loaded" in next(
            c.detail for c in cheap.checks if c.name == "integrity"
        )
        full = store.health_check(full=True)
        assert not full.ok and [p.name for p in full.problems] == ["integrity"]
        assert "bad.json" in full.problems[0].detail
    result, checks = doctor(url)
    assert result.exit_code == 5 and checks["integrity"]["status"] == "fail"


# --- serve ---------------------------------------------------------------------------


def _newer_schema(tmp_path: Path) -> str:
    url, path = _store(tmp_path)
    import sqlite3

    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("INSERT INTO convostore_migrations VALUES (99, 'future', 'x')")
    return url


def _under_a_file(tmp_path: Path) -> str:
    (tmp_path / "file").write_text("")
    return f"sqlite:///{tmp_path / 'file' / 'sub' / 'x.db'}"


def _damaged_header(tmp_path: Path) -> str:
    (tmp_path / "bad.db").write_bytes(os.urandom(8192))
    return f"sqlite:///{tmp_path / 'bad.db'}"


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (_under_a_file, "cannot create"),
        (_damaged_header, "not a database"),
        (_newer_schema, "newer"),
        (lambda _: "postgresql://convostore@127.0.0.1:1/none", "unavailable"),
    ],
    ids=["unwritable-directory", "damaged-file", "newer-schema", "refused-connection"],
)
def test_serve_on_a_store_it_cannot_open_says_why_in_one_line_and_exits_5(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make: Any, says: str
) -> None:
    import uvicorn

    url = make(tmp_path)
    if url.startswith("postgresql"):
        need_module("psycopg", "the postgres extra")

    def started(*args: object, **kwargs: object) -> None:
        raise AssertionError("the server was started on a store that cannot be opened")

    monkeypatch.setattr(uvicorn, "run", started)
    result = CliRunner().invoke(cli, ["serve", "--store", url, "--port", "0"])
    assert result.exit_code == 5, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and says in lines[0], lines
    assert result.stdout == ""  # no banner for a server that does not start
