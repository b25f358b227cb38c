"""The limit: hand-written stores on the stdlib ``sqlite3`` module and on psycopg 3.

One row per message keyed by (thread, seq), one row per thread with a (user,
activity) index; the message body is the neutral item as JSON text. An append
is one transaction (read max seq, insert the rows, touch the thread row). This
is the least work a store can do for these calls, so it is what the libraries
are measured against.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any, ClassVar

from common import estimate_tokens, item_text

from adapters.base import Adapter, Unavailable


def _trim(rows_newest_first: Any, max_tokens: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    used = 0
    for (body,) in rows_newest_first:
        item = json.loads(body)
        cost = estimate_tokens(item_text(item))
        if used + cost > max_tokens and out:
            break
        out.append(item)
        used += cost
    out.reverse()
    return out


class RawSQLite(Adapter):
    label = "sqlite3 raw (NORMAL)"
    packages = ()
    raw = True
    durability = "WAL, synchronous=NORMAL"
    synchronous: ClassVar[str] = "NORMAL"
    notes = {"context": "reads newest-first with a cursor and stops at the budget"}

    def open(self) -> None:
        self.conn = sqlite3.connect(
            self.workdir / "raw.db", isolation_level=None, check_same_thread=False
        )
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(f"PRAGMA synchronous={self.synchronous}")
        self.conn.executescript("""
            CREATE TABLE IF NOT EXISTS threads (
                id TEXT PRIMARY KEY, user_id TEXT, updated REAL NOT NULL);
            CREATE INDEX IF NOT EXISTS threads_by_user ON threads (user_id, updated);
            CREATE TABLE IF NOT EXISTS messages (
                thread_id TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL,
                PRIMARY KEY (thread_id, seq));
        """)

    def close(self) -> None:
        self.conn.close()

    def convert(self, items: list[dict[str, Any]]) -> list[Any]:
        return [dict(it) for it in items]

    def create_thread(self, thread_id: str, user_id: str) -> Any:
        self.conn.execute("INSERT INTO threads VALUES (?, ?, ?)", (thread_id, user_id, time.time()))

    def append(self, thread_id: str, batch: list[Any]) -> Any:
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            last = (
                c.execute(
                    "SELECT max(seq) FROM messages WHERE thread_id = ?", (thread_id,)
                ).fetchone()[0]
                or 0
            )
            c.executemany(
                "INSERT INTO messages VALUES (?, ?, ?)",
                [(thread_id, last + i, json.dumps(m)) for i, m in enumerate(batch, 1)],
            )
            c.execute("UPDATE threads SET updated = ? WHERE id = ?", (time.time(), thread_id))
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise

    def load(self, thread_id: str) -> Any:
        return [
            json.loads(b)
            for (b,) in self.conn.execute(
                "SELECT body FROM messages WHERE thread_id = ? ORDER BY seq", (thread_id,)
            )
        ]

    def recent(self, thread_id: str, n: int) -> Any:
        rows = self.conn.execute(
            "SELECT body FROM messages WHERE thread_id = ? ORDER BY seq DESC LIMIT ?",
            (thread_id, n),
        ).fetchall()
        return [json.loads(b) for (b,) in reversed(rows)]

    def context(self, thread_id: str, max_tokens: int) -> Any:
        cur = self.conn.execute(
            "SELECT body FROM messages WHERE thread_id = ? ORDER BY seq DESC", (thread_id,)
        )
        try:
            return _trim(cur, max_tokens)
        finally:
            cur.close()

    def list_threads(self, user_id: str, limit: int) -> Any:
        return self.conn.execute(
            "SELECT id, updated FROM threads WHERE user_id = ? ORDER BY updated DESC LIMIT ?",
            (user_id, limit),
        ).fetchall()

    def bulk_import(self, thread_id: str, user_id: str, batch: list[Any]) -> Any:
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        c.execute("INSERT INTO threads VALUES (?, ?, ?)", (thread_id, user_id, time.time()))
        c.executemany(
            "INSERT INTO messages VALUES (?, ?, ?)",
            [(thread_id, i, json.dumps(m)) for i, m in enumerate(batch, 1)],
        )
        c.execute("COMMIT")


class RawSQLiteFull(RawSQLite):
    label = "sqlite3 raw (FULL)"
    durability = "WAL, synchronous=FULL"
    synchronous = "FULL"


class RawPsycopg(Adapter):
    label = "psycopg raw"
    packages = ("psycopg",)
    backend = "postgres"
    raw = True
    durability = "PostgreSQL defaults (synchronous_commit=on, fsync)"
    notes = {"context": "reads newest-first in pages of 64 and stops at the budget"}

    def open(self) -> None:
        try:
            import psycopg
        except ImportError as exc:
            raise Unavailable(f"psycopg not installed ({exc})") from None
        assert self.pg_url
        self.conn = psycopg.connect(self.pg_url, autocommit=True)
        self.conn.execute("""
            CREATE TABLE IF NOT EXISTS threads (
                id TEXT PRIMARY KEY, user_id TEXT, updated DOUBLE PRECISION NOT NULL);
            CREATE INDEX IF NOT EXISTS threads_by_user ON threads (user_id, updated);
            CREATE TABLE IF NOT EXISTS messages (
                thread_id TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL,
                PRIMARY KEY (thread_id, seq));
        """)

    def close(self) -> None:
        self.conn.close()

    def convert(self, items: list[dict[str, Any]]) -> list[Any]:
        return [dict(it) for it in items]

    def create_thread(self, thread_id: str, user_id: str) -> Any:
        self.conn.execute(
            "INSERT INTO threads VALUES (%s, %s, %s)", (thread_id, user_id, time.time())
        )

    def append(self, thread_id: str, batch: list[Any]) -> Any:
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute("SELECT updated FROM threads WHERE id = %s FOR UPDATE", (thread_id,))
            cur.execute(
                "SELECT coalesce(max(seq), 0) FROM messages WHERE thread_id = %s", (thread_id,)
            )
            last = cur.fetchone()[0]  # type: ignore[index]
            cur.executemany(
                "INSERT INTO messages VALUES (%s, %s, %s)",
                [(thread_id, last + i, json.dumps(m)) for i, m in enumerate(batch, 1)],
            )
            cur.execute("UPDATE threads SET updated = %s WHERE id = %s", (time.time(), thread_id))

    def load(self, thread_id: str) -> Any:
        rows = self.conn.execute(
            "SELECT body FROM messages WHERE thread_id = %s ORDER BY seq", (thread_id,)
        ).fetchall()
        return [json.loads(b) for (b,) in rows]

    def recent(self, thread_id: str, n: int) -> Any:
        rows = self.conn.execute(
            "SELECT body FROM messages WHERE thread_id = %s ORDER BY seq DESC LIMIT %s",
            (thread_id, n),
        ).fetchall()
        return [json.loads(b) for (b,) in reversed(rows)]

    def context(self, thread_id: str, max_tokens: int) -> Any:
        out: list[dict[str, Any]] = []
        used, before = 0, 2**31 - 1
        while True:
            rows = self.conn.execute(
                "SELECT seq, body FROM messages WHERE thread_id = %s AND seq < %s "
                "ORDER BY seq DESC LIMIT 64",
                (thread_id, before),
            ).fetchall()
            for seq, body in rows:
                item = json.loads(body)
                cost = estimate_tokens(item_text(item))
                if used + cost > max_tokens and out:
                    out.reverse()
                    return out
                out.append(item)
                used += cost
                before = seq
            if len(rows) < 64:
                out.reverse()
                return out

    def list_threads(self, user_id: str, limit: int) -> Any:
        return self.conn.execute(
            "SELECT id, updated FROM threads WHERE user_id = %s ORDER BY updated DESC LIMIT %s",
            (user_id, limit),
        ).fetchall()

    def bulk_import(self, thread_id: str, user_id: str, batch: list[Any]) -> Any:
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(
                "INSERT INTO threads VALUES (%s, %s, %s)", (thread_id, user_id, time.time())
            )
            with cur.copy("COPY messages (thread_id, seq, body) FROM STDIN") as copy:
                for i, m in enumerate(batch, 1):
                    copy.write_row((thread_id, i, json.dumps(m)))
