"""``convostore import --from llama-index-sql``: a chat store table written by
LlamaIndex's own ``SQLAlchemyChatStore``, imported through the CLI and read
back through the adapter message by message."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from click.testing import CliRunner, Result
from llama_index.core.base.llms.types import ChatMessage, ImageBlock, TextBlock, ToolCallBlock
from llama_index.core.storage.chat_store.base_db import MessageStatus
from llama_index.core.storage.chat_store.sql import SQLAlchemyChatStore
from tests._harness import pg_url, require_pg

import convostore
from convostore.cli import cli
from convostore.importers import llama_index as importer
from convostore.integrations.llama_index import ConvostoreChatStore


def conversation(n: int, tag: str) -> list[ChatMessage]:
    out = [ChatMessage(role="system", content=f"{tag}: be brief")]
    for i in range(n):
        out.append(ChatMessage(role="user", content=f"{tag} question {i}"))
        out.append(
            ChatMessage(
                role="assistant",
                blocks=[
                    TextBlock(text=f"{tag} answer {i}"),
                    ToolCallBlock(tool_call_id=f"c{i}", tool_name="look", tool_kwargs={"i": i}),
                ],
                additional_kwargs={"i": i},
            )
        )
    out.append(ChatMessage(role="user", blocks=[ImageBlock(image=b"\x89PNG\r\n\x1a\n1234")]))
    return out


async def _write(path: Path, table: str, keys: dict[str, list[ChatMessage]], archive: int) -> None:
    store = SQLAlchemyChatStore(table_name=table, async_database_uri=f"sqlite+aiosqlite:///{path}")
    try:
        for key, messages in keys.items():
            await store.add_messages(key, messages)
            await store.archive_oldest_messages(key, archive)
    finally:
        assert store._async_engine is not None
        await store._async_engine.dispose()


async def _read(url: str, table: str, keys: list[str]) -> dict[str, Any]:
    """Every key's messages by status, as a store returns them."""
    if url.startswith("sqlite+aiosqlite"):
        source: Any = SQLAlchemyChatStore(table_name=table, async_database_uri=url)
    else:
        source = ConvostoreChatStore(url=url)
    out = {key: [await source.get_messages(key, status=s) for s in MessageStatus] for key in keys}
    if isinstance(source, ConvostoreChatStore):
        out["keys"] = sorted(await source.get_keys())
        await source.aclose()
    else:
        out["keys"] = sorted(await source.get_keys())
        await source._async_engine.dispose()
    return out


def run_import(store: str, source: str, *extra: str) -> Result:
    result = CliRunner().invoke(
        cli, ["import", "--store", store, "--from", "llama-index-sql", source, *extra]
    )
    assert "Traceback" not in result.output, result.output
    return result


@pytest.fixture
def paths(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    yield tmp_path / "llama.db", f"sqlite:///{tmp_path / 'convo.db'}"


@pytest.mark.parametrize("table", [importer.DEFAULT_TABLE, "my_chats"])
def test_import_reads_back_as_llama_index_stored_it(
    paths: tuple[Path, str], table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, store = paths
    keys = {"alice": conversation(3, "a"), "bob": conversation(5, "b")}
    asyncio.run(_write(db, table, keys, archive=2))
    source_url = f"sqlite+aiosqlite:///{db}"
    options = [] if table == importer.DEFAULT_TABLE else ["--option", f"table_name={table}"]

    dry = run_import(store, str(db), "--dry-run", *options)
    assert dry.exit_code == 0, dry.output
    assert "2 threads, 20 messages (nothing written)" in dry.output
    assert not Path(store.removeprefix("sqlite:///")).exists()

    # A run stopped after a few stored messages, then resumed.
    real = importer.LlamaIndexSource._messages

    def stops(self: Any, key: str, blobs: Any = None) -> Iterator[Any]:
        for i, msg in enumerate(real(self, key, blobs)):
            if key == "bob" and blobs is None and i == 4:
                raise RuntimeError("interrupted")
            yield msg

    monkeypatch.setattr(importer.LlamaIndexSource, "_messages", stops)
    stopped = run_import(store, source_url, "--batch", "2", *options)
    assert stopped.exit_code != 0
    monkeypatch.setattr(importer.LlamaIndexSource, "_messages", real)
    with convostore.open_store(store) as s:
        assert [t.id for t in s.list_threads().items] == ["alice"]  # bob is hidden

    done = run_import(store, source_url, *options)
    assert done.exit_code == 0, done.output
    assert "imported 2 threads from llama-index-sql: 20 messages" in done.output
    theirs = asyncio.run(_read(source_url, table, list(keys)))
    ours = asyncio.run(_read(store, table, list(keys)))
    assert ours == theirs
    with convostore.open_store(store) as s:
        bob = s.load_messages("bob")
        assert [m.id for m in bob][:2] != [m.id for m in s.load_messages("alice")][:2]
        assert s.get_thread("bob").tool_call_count == 5

    again = run_import(store, source_url, *options)
    assert again.exit_code == 0 and "0 newly stored" in again.output

    # New rows in the source: a rerun appends them (and a new key's thread).
    more = {"bob": [ChatMessage(role="user", content="one more")], "carol": conversation(1, "c")}
    asyncio.run(_write(db, table, more, archive=0))
    grown = run_import(store, source_url, *options, "--json")
    assert grown.exit_code == 0, grown.output
    report = json.loads(grown.output)
    assert report["appended"] == 1 + len(more["carol"])
    all_keys = ["alice", "bob", "carol"]
    assert asyncio.run(_read(store, table, all_keys)) == asyncio.run(
        _read(source_url, table, all_keys)
    )


def test_bad_sources_and_options(paths: tuple[Path, str]) -> None:
    db, store = paths
    missing = run_import(store, str(db))
    assert missing.exit_code != 0 and "no SQLite file" in missing.output
    asyncio.run(_write(db, importer.DEFAULT_TABLE, {"k": conversation(1, "k")}, archive=0))
    wrong = run_import(store, str(db), "--option", "table_name=nope")
    assert wrong.exit_code != 0 and "no table 'nope'" in wrong.output
    unknown = run_import(store, str(db), "--option", "colour=red")
    assert unknown.exit_code != 0 and "unknown option 'colour'" in unknown.output
    bad = run_import(store, str(db), "--option", "table_name=x; DROP")
    assert bad.exit_code != 0 and "not a table or schema name" in bad.output


@pytest.mark.postgres
def test_import_from_postgresql(paths: tuple[Path, str]) -> None:
    """A chat store in a PostgreSQL schema, read through SQLAlchemy."""
    require_pg()
    _, store = paths
    schema = f"li_{uuid.uuid4().hex[:12]}"
    url = pg_url().replace("postgresql://", "postgresql+psycopg://", 1)
    keys = {"alice": conversation(2, "a"), "bob": conversation(1, "b")}

    async def write() -> dict[str, Any]:
        ref = SQLAlchemyChatStore(table_name="chats", async_database_uri=url, db_schema=schema)
        try:
            for key, messages in keys.items():
                await ref.add_messages(key, messages)
            await ref.archive_oldest_messages("alice", 2)
            return {
                key: [await ref.get_messages(key, status=s) for s in MessageStatus] for key in keys
            }
        finally:
            assert ref._async_engine is not None
            await ref._async_engine.dispose()

    try:
        theirs = asyncio.run(write())
        options = ["--option", "table_name=chats", "--option", f"db_schema={schema}"]
        done = run_import(store, pg_url(), *options)
        assert done.exit_code == 0, done.output
        assert "imported 2 threads from llama-index-sql: 10 messages" in done.output
        ours = asyncio.run(_read(store, "chats", list(keys)))
        assert ours.pop("keys") == sorted(keys)
        assert ours == theirs
        again = run_import(store, pg_url(), *options)
        assert again.exit_code == 0 and "0 newly stored" in again.output
    finally:
        engine = sqlalchemy.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()
