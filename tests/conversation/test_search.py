"""``conv.search``: the store's search within one conversation."""

from __future__ import annotations

from convostore.model import Role

from .conftest import Env


def test_search_stays_in_its_conversation(env: Env) -> None:
    manager = env.manager()
    a, b = manager.create("a"), manager.create("b")
    a.add(Role.USER, "where is my parcel")
    a.add(Role.ASSISTANT, "your parcel left the depot")
    b.add(Role.USER, "my parcel is late too")
    hits = a.search("parcel")
    assert {h.thread_id for h in hits} == {"a"} and len(hits) == 2
    assert [h.message.role for h in a.search("parcel", role="user")] == [Role.USER]
    assert len(a.search("parcel", limit=1)) == 1
    assert [h.thread_id for h in b.search("parcel late")] == ["b"]
