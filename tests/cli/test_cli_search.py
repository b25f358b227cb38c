"""``convostore search QUERY``: hits best first, filters, pages, output forms."""

from __future__ import annotations

import json

from ._helpers import Run, seed


def _ids(result: object) -> list[str]:
    return [h["message"]["id"] for h in json.loads(result.stdout)["items"]]  # type: ignore[attr-defined]


def test_search_finds_messages_best_first(run: Run, store_url: str) -> None:
    seed(store_url, messages=6, user_id="ana")
    result = run("search", "question", "--store", store_url, "--json")
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)["items"]
    assert [h["message"]["role"] for h in hits] == ["user"] * 3
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    assert json.loads(result.stdout)["next_cursor"] is None


def test_table_shows_snippets_with_the_matches_marked(run: Run, store_url: str) -> None:
    seed(store_url, messages=2)
    lines = run("search", "answer", "--store", store_url).stdout.splitlines()
    assert lines[0].split("\t") == ["score", "thread", "seq", "role", "created", "id", "snippet"]
    assert lines[1].split("\t")[-1] == "[answer] 1" and len(lines) == 2


def test_filters_and_paging(run: Run, store_url: str) -> None:
    seed(store_url, messages=6, user_id="ana")
    seed(store_url, messages=6, user_id="bo")
    ana = run("search", "question", "--user", "ana", "--store", store_url, "--json")
    assert len(_ids(ana)) == 3
    assert _ids(run("search", "answer", "--role", "user", "--store", store_url, "--json")) == []
    first = json.loads(run("search", "question", "-n", "4", "--store", store_url, "--json").stdout)
    assert len(first["items"]) == 4 and first["next_cursor"]
    rest = run(
        "search",
        "question",
        "-n",
        "4",
        "--cursor",
        first["next_cursor"],
        "--store",
        store_url,
        "--json",
    )
    every = run("search", "question", "-n", "1", "--all", "--store", store_url, "--json")
    assert _ids(every) == [h["message"]["id"] for h in first["items"]] + _ids(rest)
    assert len(set(_ids(every))) == 6
    lines = run("search", "question", "-n", "1", "--all", "--jsonl", "--store", store_url)
    assert len(lines.stdout.splitlines()) == 6


def test_bad_queries_and_times_are_usage_errors(run: Run, store_url: str) -> None:
    seed(store_url, messages=1)
    bad = run("search", '"open', "--store", store_url)
    assert bad.exit_code != 0 and "quote" in bad.output
    when = run("search", "x", "--since", "yesterday", "--store", store_url)
    assert when.exit_code == 2 and "ISO 8601" in when.output
    empty = run("search", "nothing-here", "--store", store_url)
    assert empty.exit_code == 0 and "no messages" in empty.stderr
