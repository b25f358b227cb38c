"""Store.context reads in O(window): pages newest-first, decoding lazily."""

from __future__ import annotations

from pathlib import Path

import pytest

from convostore import Message, open_store
from convostore.model import utcnow
from convostore.store.rules import window as _context


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every stored body the context plan decodes."""
    seen: list[str] = []
    real = _context._decode

    def counting(body: str | bytes) -> Message:
        m = real(body)
        seen.append(m.id)
        return m

    monkeypatch.setattr(_context, "_decode", counting)
    return seen


def test_only_the_messages_a_window_looks_at_are_decoded(
    tmp_path: Path, decoded: list[str]
) -> None:
    with open_store(f"sqlite:///{tmp_path / 'c.db'}") as store:
        t = store.create_thread()
        store.append(t.id, [Message.system("be brief", token_count=3, token_counter="t")])
        store.append(
            t.id, [Message.user(f"m{i}", token_count=10, token_counter="t") for i in range(300)]
        )
        w = store.context(t.id, max_tokens=103)
        # the system prompt and the newest 10 messages fit; the 11th decides the cut
        assert [m.content for m in w.messages] == ["be brief"] + [f"m{i}" for i in range(290, 300)]
        assert len(decoded) == 11  # not the whole first page of 64

        decoded.clear()
        w = store.context(t.id, max_tokens=3 + 10 * 150)  # spans three pages
        assert len(w.messages) == 151
        assert len(decoded) == 151


def test_archived_messages_are_skipped_and_the_start_is_found(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'c.db'}") as store:
        t = store.create_thread()
        stored = store.append(t.id, [Message.user(f"m{i}") for i in range(100)])
        for m in stored[90:]:
            store.update_message(m.id, archived_at=utcnow())
        w = store.context(t.id, max_tokens=100_000)
        assert [m.content for m in w.messages] == [f"m{i}" for i in range(90)]
        assert not w.truncated
        assert store.context(store.create_thread().id, max_tokens=10).messages == []
