"""Servers the tests start for themselves: PgBouncer, and a PostgreSQL primary
with a streaming standby.

Each runs on a free port with its files in a temporary directory, as the
``postgres`` OS user when the tests run as root (neither server runs as root),
and is stopped and removed by ``stop()`` whatever happened. Binaries are looked
up on ``PATH``, then in ``/usr/sbin`` and the newest ``/usr/lib/postgresql/*/bin``;
a missing one is reported through :func:`tests._harness.unavailable` (a skip,
or a failure under ``CI=true``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from tests._harness import unavailable

__all__ = ["PgBouncer", "PgPair", "find_binary", "free_port"]

_SERVER_USER = "postgres"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_binary(name: str, hint: str) -> str:
    """The path of ``name``, or :func:`unavailable` saying how to install it."""
    found = shutil.which(name)
    if found:
        return found
    candidates = [f"/usr/sbin/{name}", *sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))]
    for path in reversed(candidates):
        if os.access(path, os.X_OK):
            return path
    unavailable(f"{name} is not installed ({hint})")


def _as_server_user() -> dict[str, Any]:
    """Popen arguments that drop root to the server user (none otherwise)."""
    if os.geteuid() != 0:
        return {}
    return {"user": _SERVER_USER, "group": _SERVER_USER, "extra_groups": []}


def _own(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, _SERVER_USER, _SERVER_USER)


def _run(cmd: list[str], log: Path) -> None:
    with log.open("ab") as out:
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, **_as_server_user())
    if done.returncode:
        logs = "".join(
            p.read_text()[-2000:] for p in (log, log.with_suffix(".server.log")) if p.exists()
        )
        raise RuntimeError(f"{cmd[0]} failed ({done.returncode}): {logs}")


def _wait_for(url: str, timeout: float = 30.0) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(url, connect_timeout=2, prepare_threshold=None) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.Error:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


class _TempDir:
    def __init__(self, prefix: str) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=prefix))
        self.root.chmod(0o755)
        _own(self.root)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class PgBouncer(_TempDir):
    """A PgBouncer in transaction pooling mode in front of ``host:port``."""

    def __init__(self, host: str, port: int, *, pool_size: int = 4) -> None:
        super().__init__("convostore-pgbouncer-")
        binary = find_binary("pgbouncer", "apt-get install pgbouncer, or `make pgbouncer`")
        self.port = free_port()
        ini = self.root / "pgbouncer.ini"
        # ``options`` (a startup parameter some tests pass for synchronous_commit)
        # and ``extra_float_digits`` are not supported by PgBouncer: ignored.
        ini.write_text(
            "[databases]\n"
            f"* = host={host} port={port}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            f"unix_socket_dir = {self.root}\n"
            "auth_type = trust\n"
            f"auth_file = {self.root / 'users.txt'}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {pool_size}\n"
            "max_client_conn = 1000\n"
            "ignore_startup_parameters = extra_float_digits,options\n"
            f"logfile = {self.root / 'pgbouncer.log'}\n"
        )
        (self.root / "users.txt").write_text('"postgres" ""\n')
        for path in self.root.iterdir():
            _own(path)
        self.proc = subprocess.Popen(
            [binary, str(ini)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            **_as_server_user(),
        )
        try:
            _wait_for(self.url("postgres"))
        except BaseException:
            self.stop()
            raise

    def url(self, database: str, user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def log(self) -> str:
        path = self.root / "pgbouncer.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        try:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        finally:
            self.remove()


class _Server:
    """One PostgreSQL server in a data directory of its own."""

    def __init__(self, bindir: Path, data: Path, port: int, log: Path) -> None:
        self.bindir, self.data, self.port, self.log = bindir, data, port, log
        self.server_log = log.with_suffix(".server.log")  # written by the server user

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        _run([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60",
              "-l", str(self.server_log), "-o", opts, "start"], self.log)  # fmt: skip
        _wait_for(self.url)

    def kill(self) -> None:
        """Stop at once, as a crash would (SIGKILL to the postmaster)."""
        pidfile = self.data / "postmaster.pid"
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError):
            os.kill(int(pidfile.read_text().split()[0]), signal.SIGKILL)
        time.sleep(0.2)
        with contextlib.suppress(FileNotFoundError):
            pidfile.unlink()  # the orphaned backends exit on their own

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                _run([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                      "-w", "stop"], self.log)  # fmt: skip
            except RuntimeError:
                self.kill()


class PgPair(_TempDir):
    """A primary (``wal_level=replica``) and a streaming standby made by
    ``pg_basebackup -R``, each on a free port, data directories in one temp dir."""

    def __init__(self) -> None:
        super().__init__("convostore-pgpair-")
        initdb = Path(find_binary("initdb", "the PostgreSQL server package"))
        bindir = initdb.resolve().parent  # pg_basebackup and pg_ctl sit beside it
        self.primary = _Server(bindir, self.root / "primary", free_port(), self.root / "p.log")
        self.standby = _Server(bindir, self.root / "standby", free_port(), self.root / "s.log")
        try:
            _run([str(initdb), "-D", str(self.primary.data), "-U", "postgres", "--auth=trust",
                  "--no-sync", "-E", "UTF8"], self.primary.log)  # fmt: skip
            with (self.primary.data / "postgresql.conf").open("a") as conf:
                conf.write("wal_level = replica\nmax_wal_senders = 5\nsynchronous_commit = off\n")
            self.primary.start()
            _run([str(bindir / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.primary.port),
                  "-U", "postgres", "-D", str(self.standby.data), "-R", "-X", "stream",
                  "--no-sync"], self.standby.log)  # fmt: skip
            self.standby.data.chmod(0o700)
            self.standby.start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        try:
            for server in (self.standby, self.primary):
                with contextlib.suppress(Exception):
                    server.stop()
        finally:
            self.remove()
