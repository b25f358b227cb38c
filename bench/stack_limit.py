"""The limit of the stack: the battery's load against a minimal FastAPI app.

The app has the routes the battery's load phase uses and nothing else: no API
keys, no middleware, no models beyond a dict body. An append is what
convostore's append boils down to, done with the raw driver: one transaction
that bumps the thread's counter and inserts the message row, at the same
durability as the store's defaults (SQLite in WAL mode with
``synchronous=FULL``, on a thread of the app's pool under one in-process write
lock; PostgreSQL through a psycopg ``AsyncConnectionPool`` of 10 connections,
``synchronous_commit=on``). Readers get the last 50 rows of a thread.

What it measures is the ceiling this machine puts on the battery's numbers
with this HTTP stack (uvicorn, FastAPI, httpx as the client, all sharing the
cores): a convostore server cannot acknowledge more appends per second than an
app that does nothing else.

    .venv/bin/python bench/stack_limit.py --backends sqlite,postgres --duration 20

Run as ``stack_limit.py serve --store URL --port N`` it is the server itself
(what the load runner starts as a subprocess).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
import tempfile
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import battery  # noqa: E402

SQLITE_DDL = """
CREATE TABLE IF NOT EXISTS threads (
    id TEXT PRIMARY KEY, message_count INTEGER NOT NULL DEFAULT 0, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    thread_id TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL,
    PRIMARY KEY (thread_id, seq));
"""
PG_DDL = """
CREATE TABLE IF NOT EXISTS threads (
    id TEXT PRIMARY KEY, message_count BIGINT NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    thread_id TEXT NOT NULL, seq BIGINT NOT NULL, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL,
    PRIMARY KEY (thread_id, seq));
"""


def sqlite_app(path: str) -> Any:
    """The app on a SQLite file: sync endpoints, so FastAPI runs them on its thread pool."""

    from fastapi import Body, FastAPI, Header, HTTPException, Response

    local = threading.local()
    write_lock = threading.Lock()

    def conn() -> sqlite3.Connection:
        c: sqlite3.Connection | None = getattr(local, "conn", None)
        if c is None:
            c = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
            c.execute("PRAGMA journal_mode = WAL")
            c.execute("PRAGMA synchronous = FULL")
            local.conn = c
        return c

    conn().executescript(SQLITE_DDL)
    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/threads", status_code=201)
    def create(body: dict[str, Any] = Body()) -> dict[str, Any]:  # noqa: B008
        with write_lock:
            c = conn()
            try:
                c.execute(
                    "INSERT INTO threads (id, updated_at) VALUES (?, datetime('now'))",
                    (body["id"],),
                )
            except sqlite3.IntegrityError:
                raise HTTPException(409) from None
        return {"id": body["id"]}

    @app.post("/v1/threads/{tid}/messages", status_code=201)
    def append(
        tid: str,
        body: dict[str, Any] = Body(),  # noqa: B008
        key: str | None = Header(None, alias="Idempotency-Key"),
    ) -> dict[str, Any]:
        mid = f"msg_{key}"
        text = json.dumps(body["messages"][0])
        with write_lock:
            c = conn()
            c.execute("BEGIN IMMEDIATE")
            try:
                if c.execute("SELECT 1 FROM messages WHERE id = ?", (mid,)).fetchone() is None:
                    (seq,) = c.execute(
                        "UPDATE threads SET message_count = message_count + 1, "
                        "updated_at = datetime('now') WHERE id = ? RETURNING message_count",
                        (tid,),
                    ).fetchone()
                    c.execute(
                        "INSERT INTO messages (thread_id, seq, id, body) VALUES (?, ?, ?, ?)",
                        (tid, seq, mid, text),
                    )
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        return {"messages": [{"id": mid}]}

    @app.get("/v1/threads/{tid}/{what}")
    def read(tid: str, what: str) -> Response:
        rows = (
            conn()
            .execute(
                "SELECT body FROM messages WHERE thread_id = ? ORDER BY seq DESC LIMIT 50", (tid,)
            )
            .fetchall()
        )
        return Response("[" + ",".join(r[0] for r in rows) + "]", media_type="application/json")

    return app


def postgres_app(url: str) -> Any:
    """The app on PostgreSQL: async endpoints on a psycopg async pool."""

    import psycopg
    import psycopg_pool
    from fastapi import Body, FastAPI, Header, HTTPException, Response

    pool = psycopg_pool.AsyncConnectionPool(url, min_size=1, max_size=10, open=False)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await pool.open()
        async with pool.connection() as c:
            await c.execute(PG_DDL)
        yield
        await pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/threads", status_code=201)
    async def create(body: dict[str, Any] = Body()) -> dict[str, Any]:  # noqa: B008
        try:
            async with pool.connection() as c:
                await c.execute(
                    "INSERT INTO threads (id, updated_at) VALUES (%s, now())", (body["id"],)
                )
        except psycopg.errors.UniqueViolation:
            raise HTTPException(409) from None
        return {"id": body["id"]}

    @app.post("/v1/threads/{tid}/messages", status_code=201)
    async def append(
        tid: str,
        body: dict[str, Any] = Body(),  # noqa: B008
        key: str | None = Header(None, alias="Idempotency-Key"),
    ) -> dict[str, Any]:
        mid = f"msg_{key}"
        text = json.dumps(body["messages"][0])
        async with pool.connection() as c, c.transaction():
            cur = await c.execute(
                "UPDATE threads SET message_count = message_count + 1, updated_at = now() "
                "WHERE id = %s RETURNING message_count",
                (tid,),
            )
            row = await cur.fetchone()
            assert row is not None
            await c.execute(
                "INSERT INTO messages (thread_id, seq, id, body) VALUES (%s, %s, %s, %s)",
                (tid, row[0], mid, text),
            )
        return {"messages": [{"id": mid}]}

    @app.get("/v1/threads/{tid}/{what}")
    async def read(tid: str, what: str) -> Response:
        async with pool.connection() as c:
            cur = await c.execute(
                "SELECT body FROM messages WHERE thread_id = %s ORDER BY seq DESC LIMIT 50",
                (tid,),
            )
            rows = await cur.fetchall()
        return Response("[" + ",".join(r[0] for r in rows) + "]", media_type="application/json")

    return app


def serve(store: str, port: int) -> None:
    import uvicorn

    if store.startswith("sqlite:///"):
        app = sqlite_app(store.removeprefix("sqlite:///"))
    else:
        app = postgres_app(store)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def stored_rows(store: str) -> int:
    if store.startswith("sqlite:///"):
        with sqlite3.connect(store.removeprefix("sqlite:///")) as c:
            return int(c.execute("SELECT count(*) FROM messages").fetchone()[0])
    import psycopg

    with psycopg.connect(store) as c:
        row = c.execute("SELECT count(*) FROM messages").fetchone()
        return int(row[0]) if row else 0


def run(
    backend: str, writers: int, duration: float, workdir: Path, shared_client: bool = False
) -> battery.PhaseStats:
    """The battery's load phase against the minimal app; checks that every ack is stored."""
    db = None
    if backend == "sqlite":
        url = f"sqlite:///{workdir}/limit.db"
    else:
        db = f"convostore_limit_{os.getpid()}"
        url = battery.pg_create_db(battery.PG_ADMIN_URL, db)
    try:
        server = battery.Server(
            url,
            battery.free_port(),
            workdir / f"limit-{backend}.log",
            command=[sys.executable, str(Path(__file__).resolve()), "serve", "--store", url],
        )
        server.start()
        try:
            stats = battery.PhaseStats(backend, "load")
            load = battery.Load(server, "-", stats, writers, duration, shared_client=shared_client)
            asyncio.run(battery.run_load(load))
        finally:
            server.stop()
        stats.stored = stored_rows(url)
        stats.lost = max(0, stats.acknowledged - stats.stored)
        stats.duplicated = stats.seq_gaps = 0
    finally:
        if db is not None:
            battery.pg_drop_db(battery.PG_ADMIN_URL, db)
    return stats


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd")
    s = sub.add_parser("serve")
    s.add_argument("--store", required=True)
    s.add_argument("--port", type=int, required=True)
    p.add_argument("--backends", default="sqlite,postgres")
    p.add_argument("--duration", type=float, default=20.0)
    p.add_argument("--writers", type=int, default=50)
    p.add_argument("--shared-client", action="store_true", help="see battery.py")
    p.add_argument("--json", type=Path, default=None, help="write the phases' summaries here")
    args = p.parse_args(argv)
    if args.cmd == "serve":
        serve(args.store, args.port)
        return 0
    summaries = []
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        with tempfile.TemporaryDirectory(prefix=f"convostore_limit_{backend}_") as tmp:
            stats = run(backend, args.writers, args.duration, Path(tmp), args.shared_client)
        battery.print_row(stats)
        summaries.append(stats.summary())
    if args.json is not None:
        args.json.write_text(json.dumps({"phases": summaries}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
