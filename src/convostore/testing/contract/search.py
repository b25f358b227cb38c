"""Full-text search: which messages a query finds, filters, tenant walls,
deletes and purges, paging, and refused queries.

What every backend must agree on is pinned here: the set of messages a
query of plain words, phrases and prefixes finds (for text of ASCII letters,
digits and punctuation), the filters, and that paging visits every hit once
in the documented order (score, then id, both descending). Scores
themselves are each backend's own and are only compared within one search.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from convostore.errors import ValidationError
from convostore.model import Message, MessageMetadata, TextPart, ToolCallPart, ToolResultPart
from convostore.store.rules.search import matches, parse_query
from convostore.testing.contract.base import PROPERTY_SETTINGS, ContractBase, StoreLike

__all__ = ["SearchContract", "every_hit"]

_T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
_VOCAB = ["ab", "abc", "cd", "cde", "ef", "gh"]


def every_hit(store: StoreLike, query: str, limit: int = 2, **filters: Any) -> list[Any]:
    """All hits of a search, page by page."""
    out: list[Any] = []
    cursor = None
    for _ in range(10_000):
        page = store.search(query, limit=limit, cursor=cursor, **filters)
        out.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return out
    raise AssertionError("paging did not end")


def found(store: StoreLike, query: str, **filters: Any) -> set[str]:
    """The ids of the messages a search finds."""
    return {h.message.id for h in every_hit(store, query, limit=50, **filters)}


def _corpus(store: StoreLike) -> None:
    store.create_thread(id="t1", user_id="ana", agent_name="helper")
    store.create_thread(id="t2", user_id="bo", agent_name="planner")
    store.append(
        "t1",
        [
            Message.user("The quick brown fox jumps over the lazy dog.", id="m1"),
            Message.assistant("A brown dog? Quick, tell me more!", id="m2"),
            Message(
                id="m3",
                role="assistant",
                parts=[
                    ToolCallPart(
                        tool_call_id="c1", tool_name="get_weather", args={"city": "Reykjavik"}
                    )
                ],
                execution_id="run-1",
                metadata=MessageMetadata(model="model-a"),
            ),
            Message(
                id="m4",
                role="tool",
                name="get_weather",
                tool_call_id="c1",
                parts=[
                    ToolResultPart(
                        tool_call_id="c1", tool_name="get_weather", result="Cold and windy"
                    )
                ],
                execution_id="run-1",
            ),
        ],
    )
    store.append(
        "t2",
        [
            Message.user("Plan a trip: brown bears and foxes in Alaska", id="m5"),
            Message(
                id="m6",
                role="assistant",
                parts=[TextPart(text="Foxhound tours are quick to book.")],
                metadata=MessageMetadata(model="model-b"),
            ),
        ],
    )


class SearchContract(ContractBase):
    """``store.search``: the same hits on every backend."""

    def test_words_are_anded_case_and_punctuation_ignored(self, store: StoreLike) -> None:
        _corpus(store)
        assert found(store, "brown") == {"m1", "m2", "m5"}
        assert found(store, "BROWN dog") == {"m1", "m2"}
        assert found(store, "quick, brown!") == {"m1", "m2"}
        assert found(store, "brown zebra") == set()
        assert found(store, "fox") == {"m1"}  # whole words: not foxes, not foxhound

    def test_phrases_and_prefixes(self, store: StoreLike) -> None:
        _corpus(store)
        assert found(store, '"brown dog"') == {"m2"}
        assert found(store, '"quick brown" fox') == {"m1"}
        assert found(store, '"dog brown"') == set()
        assert found(store, "fox*") == {"m1", "m5", "m6"}
        assert found(store, "get-weather") == {"m3", "m4"}  # a word with punctuation: a phrase

    def test_tool_names_arguments_and_results_are_found(self, store: StoreLike) -> None:
        _corpus(store)
        assert found(store, "reykjavik") == {"m3"}
        assert found(store, "weather") == {"m3", "m4"}
        assert found(store, "windy") == {"m4"}

    def test_filters(self, store: StoreLike) -> None:
        _corpus(store)
        assert found(store, "brown", user_id="ana") == {"m1", "m2"}
        assert found(store, "brown", thread_id="t2") == {"m5"}
        assert found(store, "brown", agent_name="planner") == {"m5"}
        assert found(store, "brown", role="user") == {"m1", "m5"}
        assert found(store, "quick", model="model-b") == {"m6"}
        assert found(store, "weather", tool_name="get_weather") == {"m3", "m4"}
        assert found(store, "cold", tool_name="other") == set()
        assert found(store, "weather", execution_id="run-1") == {"m3", "m4"}
        assert found(store, "brown", thread_id="nope") == set()
        assert found(store, "brown", user_id="nobody") == set()

    def test_time_range(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        times = [_T0, _T0 + dt.timedelta(microseconds=1), _T0 + dt.timedelta(seconds=1)]
        store.append(
            "t1", [Message.user("tick", id=f"m{i}", created_at=t) for i, t in enumerate(times)]
        )
        assert found(store, "tick", since=times[1]) == {"m1", "m2"}
        assert found(store, "tick", until=times[1]) == {"m0"}
        assert found(store, "tick", since=times[0], until=times[2]) == {"m0", "m1"}
        naive = times[1].replace(tzinfo=None)  # taken as UTC
        assert found(store, "tick", since=naive) == {"m1", "m2"}
        plus_one = dt.timezone(dt.timedelta(hours=1))
        assert found(store, "tick", until=times[2].astimezone(plus_one)) == {"m0", "m1"}

    def test_tenants_are_walls(self, store: StoreLike) -> None:
        a, b = store.tenant("acme"), store.tenant("globex")
        for s, mid in ((a, "a1"), (b, "b1")):
            s.create_thread(id="shared", user_id="u")
            s.append("shared", Message.user("secret launch plan", id=mid))
        assert found(a, "secret plan") == {"a1"}
        assert found(b, "secret plan") == {"b1"}
        assert found(a, "secret", thread_id="shared", user_id="u") == {"a1"}
        assert found(store, "secret") == set()
        b.purge_thread("shared")
        assert found(a, "secret") == {"a1"} and found(b, "secret") == set()

    def test_deleted_messages_and_threads(self, store: StoreLike) -> None:
        _corpus(store)
        store.delete_message("m1")
        assert found(store, "brown") == {"m2", "m5"}
        assert found(store, "brown", include_deleted=True) == {"m1", "m2", "m5"}
        store.restore_message("m1")
        assert found(store, "brown") == {"m1", "m2", "m5"}
        store.delete_thread("t2")
        assert found(store, "brown") == {"m1", "m2"}
        assert found(store, "brown", include_deleted=True) == {"m1", "m2", "m5"}
        store.restore_thread("t2")
        assert found(store, "brown") == {"m1", "m2", "m5"}

    def test_purged_threads_are_never_found(self, store: StoreLike) -> None:
        _corpus(store)
        store.purge_thread("t1")
        assert found(store, "brown", include_deleted=True) == {"m5"}
        assert found(store, "weather", include_deleted=True) == set()
        store.create_thread(id="t1")  # a new thread of the same id starts empty
        store.append("t1", Message.user("brown again", id="m9"))
        assert found(store, "brown") == {"m5", "m9"}

    def test_edits_are_searched_as_edited(self, store: StoreLike) -> None:
        _corpus(store)
        store.update_message("m1", content="A slow grey cat")
        assert found(store, "brown") == {"m2", "m5"}
        assert found(store, "grey cat") == {"m1"}

    def test_imports_are_searchable(self, store: StoreLike) -> None:
        _corpus(store)
        snapshot = store.export_thread("t1")
        store.import_thread(snapshot, thread_id="copy", new_ids=True)
        hits = every_hit(store, '"lazy dog"', limit=5)
        assert sorted(h.thread_id for h in hits) == ["copy", "t1"]

    def test_hits_carry_the_message_thread_and_a_safe_snippet(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        text = "<b>bold</b> claim: " + "filler " * 80 + "the needle is here " + "tail " * 80
        store.append("t1", Message.user(text, id="m1"))
        (hit,) = store.search("needle").items
        assert hit.thread_id == "t1" and hit.message == store.get_message("m1")
        snip = hit.snippet
        assert [snip.text[s:e] for s, e in snip.highlights] == ["needle"]
        assert snip.text.startswith("…") and snip.text.endswith("…")
        assert "[needle]" in snip.render() and "<mark>needle</mark>" in snip.render(
            "<mark>", "</mark>"
        )
        (first,) = store.search("bold claim").items
        assert first.snippet.text.startswith("<b>bold</b>")  # text, never markup
        assert [first.snippet.text[s:e] for s, e in first.snippet.highlights] == ["bold", "claim"]

    def test_paging_covers_every_hit_once_best_first(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        store.append(
            "t1",
            [Message.user(" ".join(["apple"] * (1 + i % 3) + ["pie"] * i)) for i in range(13)],
        )
        whole = store.search("apple", limit=100).items
        assert len(whole) == 13 and store.search("apple", limit=100).next_cursor is None
        keys = [(h.score, h.message.id) for h in whole]
        assert keys == sorted(keys, reverse=True)
        for size in (1, 4, 13):
            paged = every_hit(store, "apple", limit=size)
            assert [h.message.id for h in paged] == [h.message.id for h in whole]

    def test_a_cursor_belongs_to_its_search(self, store: StoreLike) -> None:
        _corpus(store)
        cursor = store.search("brown", limit=1).next_cursor
        assert cursor is not None
        with pytest.raises(ValidationError) as info:
            store.search("dog", limit=1, cursor=cursor)
        assert info.value.field == "cursor"
        with pytest.raises(ValidationError):
            store.search("brown", limit=1, cursor=cursor, role="user")
        threads = store.list_threads(limit=1).next_cursor
        with pytest.raises(ValidationError):
            store.search("brown", cursor=threads or "x")

    @pytest.mark.parametrize(
        ("query", "why"),
        [
            ("", "no word"),
            ("   ", "no word"),
            ("!!! ***", "no word"),
            ('"unbalanced', "unbalanced"),
            ("x" * 1001, "at most"),
            ("w" * 256, "characters, over"),
            (" ".join(f"w{i}" for i in range(17)), "more than"),
        ],
    )
    def test_malformed_queries_are_refused(self, store: StoreLike, query: str, why: str) -> None:
        with pytest.raises(ValidationError) as info:
            store.search(query)
        assert info.value.field == "query" and why in str(info.value)

    def test_engine_syntax_is_only_text(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        store.append("t1", Message.user("NEAR or AND not: a (b) c^d {col}", id="m1"))
        for q in ("NEAR(a b)", "or AND", "col:c", "a & !b", "'; DROP TABLE x; --", "c^d", "(b)"):
            assert store.search(q).items is not None
        assert found(store, "near OR and NOT") == {"m1"}
        assert found(store, "{col}") == {"m1"}

    @pytest.mark.parametrize(
        ("filters", "field"),
        [
            ({"role": "robot"}, "role"),
            ({"user_id": ""}, "user_id"),
            ({"thread_id": "a\x00b"}, "thread_id"),
            ({"model": "x" * 300}, "model"),
            ({"since": "yesterday"}, "since"),
            ({"limit": 0}, "limit"),
            ({"cursor": "garbage"}, "cursor"),
        ],
    )
    def test_bad_filters_are_refused(
        self, store: StoreLike, filters: dict[str, Any], field: str
    ) -> None:
        with pytest.raises(ValidationError) as info:
            store.search("word", **filters)
        assert info.value.field == field

    def test_search_survives_reopen(
        self, store: StoreLike, reopen: Callable[[], StoreLike] | None
    ) -> None:
        reopen = self.durable_reopen(store, reopen)
        _corpus(store)
        store.delete_message("m2")
        again = reopen()
        assert found(again, "brown") == {"m1", "m5"}
        again.append("t1", Message.user("brown after reopen", id="m7"))
        assert found(again, "brown") == {"m1", "m5", "m7"}

    @PROPERTY_SETTINGS
    @given(
        texts=st.lists(
            st.lists(st.sampled_from(_VOCAB), min_size=0, max_size=8).map(" ".join),
            min_size=1,
            max_size=12,
        ),
        query=st.lists(
            st.sampled_from([*_VOCAB, *(w[:2] + "*" for w in _VOCAB), '"ab cd"', '"cd ab"']),
            min_size=1,
            max_size=3,
        ).map(" ".join),
        limit=st.integers(1, 5),
    )
    def test_every_backend_finds_what_the_rule_says(
        self, store: StoreLike, texts: list[str], query: str, limit: int
    ) -> None:
        s = store.tenant(f"p-{uuid.uuid4().hex[:12]}")
        s.create_thread(id="t")
        stored = s.append("t", [Message.user(t.replace("cd", "CD,")) for t in texts])
        terms = parse_query(query)
        expected = {m.id for m in stored if matches(m, terms)[0]}
        hits = every_hit(s, query, limit=limit)
        ids = [h.message.id for h in hits]
        assert len(ids) == len(set(ids)) and set(ids) == expected
        keys = [(h.score, h.message.id) for h in hits]
        assert keys == sorted(keys, reverse=True)
