"""Messages read back without metadata share one empty metadata instance.

A message's metadata is left out of its stored JSON while it is empty, and the
model's default is one frozen instance that pydantic does not copy: a typed
read of a thread then builds no metadata object per message (about a sixth of
a typed message's memory, and a tenth of its decode). Given metadata is still
decoded into an object of its own. (The memory and JSON-file backends hand out
copies, each with metadata of its own.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from convostore import Message, MessageMetadata, TokenUsage, open_store
from convostore.model import _NO_METADATA


@pytest.mark.parametrize("where", ["file", "memory-db"])
def test_reads_share_the_empty_metadata(tmp_path: Path, where: str) -> None:
    url = f"sqlite:///{tmp_path}/m.db" if where == "file" else "sqlite:///:memory:"
    meta = MessageMetadata(model="m", token_usage=TokenUsage.of(3, 4))
    with open_store(url) as store:
        store.create_thread(id="t")
        store.append(
            "t", [Message.user("a"), Message.assistant("b").with_metadata(meta), Message.user("c")]
        )
        reads = [
            store.load_messages("t"),
            store.recent("t", 3),
            store.list_messages("t").items,
            store.export_thread("t").messages,
            store.context("t", max_tokens=1000).messages,
        ]
        for read in reads:
            plain = [m for m in read if m.content != "b"]
            given = [m for m in read if m.content == "b"]
            assert len(plain) == 2 and len(given) == 1
            assert all(m.metadata is _NO_METADATA for m in plain)
            assert given[0].metadata == meta and given[0].metadata is not _NO_METADATA
        single = store.get_message(reads[0][0].id)
        assert single.metadata is _NO_METADATA
