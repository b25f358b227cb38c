"""No read shares one metadata object between messages.

A message's metadata is left out of its stored JSON while it is empty; every
message read back without it gets empty metadata of its own, whose ``extra``
map is a plain dict that changes like any other. Given metadata reads back
equal to what was stored.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from convostore import Message, MessageMetadata, TokenUsage, open_store


@pytest.mark.parametrize("where", ["file", "memory-db"])
def test_reads_give_each_message_metadata_of_its_own(tmp_path: Path, where: str) -> None:
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
            assert all(m.metadata == MessageMetadata() for m in plain)
            assert given[0].metadata == meta
            first, second = plain
            assert first.metadata is not second.metadata
            first.metadata.extra["k"] = "v"
            assert first.metadata.extra == {"k": "v"} and second.metadata.extra == {}
        single = store.get_message(reads[0][0].id)
        assert single.metadata == MessageMetadata()
        single.metadata.extra["k"] = "v"
        assert store.get_message(single.id).metadata.extra == {}
