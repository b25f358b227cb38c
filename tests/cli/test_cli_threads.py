"""``threads`` and ``messages``: listings, paging, deletion, tails, tenants."""

from __future__ import annotations

import json
from typing import Any

import pytest

from convostore.cli import _common
from convostore.model import Message
from convostore.store import open_store
from convostore.store.settings import Limits

from ._helpers import Run, seed, with_store


def _ids(result: Any) -> list[str]:
    return [t["id"] for t in json.loads(result.stdout)["items"]]


def test_list_shows_threads_newest_activity_first(run: Run, store_url: str) -> None:
    first = seed(store_url, title="first")
    second = seed(store_url, title="second")
    result = run("threads", "list", "--store", store_url, "--json")
    assert result.exit_code == 0
    assert _ids(result) == [second.id, first.id]
    assert json.loads(result.stdout)["next_cursor"] is None


def test_list_prints_a_header_and_one_line_per_thread_in_a_pipe(run: Run, store_url: str) -> None:
    thread = seed(store_url, title="hello", user_id="u1")
    lines = run("threads", "list", "--store", store_url).stdout.splitlines()
    assert lines[0].split("\t")[:4] == ["id", "user", "agent", "title"]
    assert lines[1].split("\t")[:4] == [thread.id, "u1", "-", "hello"]
    assert len(lines) == 2


def test_list_pages_with_the_cursor(run: Run, store_url: str) -> None:
    made = [seed(store_url, messages=0).id for _ in range(3)]
    page1 = json.loads(run("threads", "list", "--store", store_url, "-n", "2", "--json").stdout)
    assert len(page1["items"]) == 2
    page2 = run(
        "threads",
        "list",
        "--store",
        store_url,
        "-n",
        "2",
        "--cursor",
        page1["next_cursor"],
        "--json",
    )
    seen = [t["id"] for t in page1["items"]] + _ids(page2)
    assert sorted(seen) == sorted(made)
    every = run("threads", "list", "--store", store_url, "-n", "1", "--all", "--jsonl")
    assert sorted(json.loads(line)["id"] for line in every.stdout.splitlines()) == sorted(made)


def test_the_next_cursor_is_shown_on_stderr(run: Run, store_url: str) -> None:
    seed(store_url, messages=0)
    seed(store_url, messages=0)
    result = run("threads", "list", "--store", store_url, "-n", "1")
    assert result.stderr.startswith("more threads: --cursor ")
    assert len(result.stdout.splitlines()) == 2


def test_list_filters_by_user_and_agent(run: Run, store_url: str) -> None:
    mine = seed(store_url, user_id="alice", agent_name="a")
    seed(store_url, user_id="bob", agent_name="a")
    assert _ids(run("threads", "list", "--store", store_url, "--user", "alice", "--json")) == [
        mine.id
    ]
    assert len(_ids(run("threads", "list", "--store", store_url, "--agent", "a", "--json"))) == 2


def test_tenants_do_not_see_each_other(run: Run, store_url: str) -> None:
    theirs = seed(store_url, tenant="acme")
    assert _ids(run("threads", "list", "--store", store_url, "--json")) == []
    assert _ids(run("threads", "list", "--store", store_url, "--tenant", "acme", "--json")) == [
        theirs.id
    ]
    result = run("threads", "show", theirs.id, "--store", store_url)
    assert result.exit_code == 3


def test_bad_cursor_is_a_usage_error(run: Run, store_url: str) -> None:
    result = run("threads", "list", "--store", store_url, "--cursor", "not-a-cursor")
    assert result.exit_code == 2
    assert "cursor" in result.stderr


def test_show_prints_the_thread(run: Run, store_url: str) -> None:
    thread = seed(store_url, title="hello", messages=4)
    data = json.loads(run("threads", "show", thread.id, "--store", store_url, "--json").stdout)
    assert (data["id"], data["title"], data["message_count"]) == (thread.id, "hello", 4)
    text = run("threads", "show", thread.id, "--store", store_url).stdout
    assert "title: hello" in text.splitlines()
    assert "messages: 4" in text.splitlines()


def test_unknown_and_malformed_ids(run: Run, store_url: str) -> None:
    missing = run("threads", "show", "th_missing", "--store", store_url)
    assert missing.exit_code == 3
    assert missing.stderr.startswith("Error: thread 'th_missing' not found in tenant 'default' of ")
    malformed = run("threads", "show", "bell\x07id", "--store", store_url)
    assert malformed.exit_code == 2
    assert "thread_id" in malformed.stderr


def test_rm_hides_and_restore_brings_back(run: Run, store_url: str) -> None:
    thread = seed(store_url)
    assert run("threads", "rm", thread.id, "--store", store_url).exit_code == 0
    assert _ids(run("threads", "list", "--store", store_url, "--json")) == []
    assert _ids(run("threads", "list", "--store", store_url, "--deleted", "--json")) == [thread.id]
    restored = run("threads", "restore", thread.id, "--store", store_url, "--json")
    assert [t["deleted_at"] for t in json.loads(restored.stdout)["items"]] == [None]
    assert _ids(run("threads", "list", "--store", store_url, "--json")) == [thread.id]


def test_purge_asks_first_and_removes_for_good(run: Run, store_url: str) -> None:
    thread = seed(store_url)
    declined = run("threads", "purge", thread.id, "--store", store_url, input="n\n")
    assert declined.exit_code == 1
    assert run("threads", "show", thread.id, "--store", store_url).exit_code == 0
    assert run("threads", "purge", thread.id, "--store", store_url, "--yes").exit_code == 0
    assert run("threads", "show", thread.id, "--store", store_url).exit_code == 3


def test_purge_of_a_missing_thread_deletes_nothing(run: Run, store_url: str) -> None:
    thread = seed(store_url)
    result = run("threads", "purge", thread.id, "th_missing", "--store", store_url, "--yes")
    assert result.exit_code == 3
    assert run("threads", "show", thread.id, "--store", store_url).exit_code == 0


def test_rm_with_a_missing_id_changes_nothing(run: Run, store_url: str) -> None:
    thread = seed(store_url)
    result = run("threads", "rm", thread.id, "th_missing", "--store", store_url)
    assert result.exit_code == 3
    assert _ids(run("threads", "list", "--store", store_url, "--json")) == [thread.id]


# --- messages tail ------------------------------------------------------------------


def _seqs(result: Any) -> list[int]:
    return [m["seq"] for m in json.loads(result.stdout)["items"]]


def test_tail_prints_the_newest_messages_oldest_first(run: Run, store_url: str) -> None:
    thread = seed(store_url, messages=7)
    result = run("messages", "tail", thread.id, "-n", "3", "--store", store_url, "--json")
    assert _seqs(result) == [5, 6, 7]
    lines = run("messages", "tail", thread.id, "-n", "2", "--store", store_url).stdout.splitlines()
    assert lines[0].split("\t") == ["seq", "turn", "role", "created", "id", "content"]
    assert [line.split("\t")[-1] for line in lines[1:]] == ["answer 5", "question 6"]


def test_tail_zero_prints_the_whole_thread(run: Run, store_url: str) -> None:
    thread = seed(store_url, messages=5)
    result = run("messages", "tail", thread.id, "-n", "0", "--store", store_url, "--jsonl")
    assert [json.loads(line)["seq"] for line in result.stdout.splitlines()] == [1, 2, 3, 4, 5]


def test_tail_hides_deleted_messages_unless_asked(run: Run, store_url: str) -> None:
    thread = seed(store_url, messages=3)
    with_store(store_url, lambda s: s.delete_message(s.recent(thread.id, 1)[0].id))
    assert _seqs(run("messages", "tail", thread.id, "--store", store_url, "--json")) == [1, 2]
    assert _seqs(
        run("messages", "tail", thread.id, "--deleted", "--store", store_url, "--json")
    ) == [1, 2, 3]


def test_tail_reads_past_the_per_call_list_limit(
    run: Run, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    thread = seed(sqlite_url, messages=12)
    monkeypatch.setattr(
        _common, "_open", lambda url, **kw: open_store(url, limits=Limits(max_list_limit=5))
    )
    result = run("messages", "tail", thread.id, "-n", "11", "--store", sqlite_url, "--json")
    assert _seqs(result) == list(range(2, 13))


def test_tail_of_an_unknown_thread_is_not_found(run: Run, store_url: str) -> None:
    result = run("messages", "tail", "th_missing", "--store", store_url, "--json")
    assert result.exit_code == 3
    assert json.loads(result.stderr)["error"]["kind"] == "not_found"


def test_tail_shows_tool_calls_without_text(run: Run, store_url: str) -> None:
    from convostore.model import ToolCallPart

    thread = seed(store_url, messages=0)
    with_store(
        store_url,
        lambda s: s.append(
            thread.id,
            Message.assistant("").with_parts(
                ToolCallPart(tool_call_id="c1", tool_name="get_weather", args={"city": "Oslo"})
            ),
        ),
    )
    out = run("messages", "tail", thread.id, "--store", store_url).stdout
    assert 'tool call (c1) get_weather({"city": "Oslo"})' in out


# --- which tenant -------------------------------------------------------------------


def test_the_tenant_comes_from_the_environment(run: Run, store_url: str) -> None:
    mine = seed(store_url, tenant="acme")
    seed(store_url)
    env = {"CONVOSTORE_TENANT": "acme"}
    assert _ids(run("threads", "list", "--store", store_url, "--json", env=env)) == [mine.id]
    assert run("threads", "show", mine.id, "--store", store_url, env=env).exit_code == 0
    assert run("messages", "tail", mine.id, "--store", store_url, env=env).exit_code == 0
    # --tenant still wins over the environment
    assert mine.id not in _ids(
        run("threads", "list", "--tenant", "default", "--store", store_url, "--json", env=env)
    )


def test_an_empty_listing_says_which_tenant_and_store_it_looked_in(
    run: Run, store_url: str
) -> None:
    seed(store_url, tenant="acme")
    result = run("threads", "list", "--store", store_url)
    assert result.exit_code == 0
    assert "no threads in tenant 'default'" in result.stderr
    assert store_url in result.stderr
    assert "CONVOSTORE_TENANT" in result.stderr
    other = run("threads", "list", "--store", store_url, env={"CONVOSTORE_TENANT": "nobody"})
    assert "no threads in tenant 'nobody'" in other.stderr
    # programs get an empty document and no remark
    quiet = run("threads", "list", "--store", store_url, "--json")
    assert json.loads(quiet.stdout)["items"] == [] and quiet.stderr == ""


def test_a_missing_thread_names_the_tenant_it_was_looked_for_in(run: Run, store_url: str) -> None:
    theirs = seed(store_url, tenant="acme")
    for args in (
        ("threads", "show", theirs.id),
        ("messages", "tail", theirs.id),
        ("export", theirs.id),
    ):
        result = run(*args, "--store", store_url)
        assert result.exit_code == 3
        assert len(result.stderr.splitlines()) == 1
        assert f"thread '{theirs.id}' not found in tenant 'default'" in result.stderr
        assert "CONVOSTORE_TENANT" in result.stderr
    found = run(
        "threads", "show", theirs.id, "--store", store_url, env={"CONVOSTORE_TENANT": "acme"}
    )
    assert found.exit_code == 0


@pytest.mark.parametrize("fmt", ["anthropic", "openai-chat", "openai-responses", "gemini"])
def test_tail_format_prints_a_ready_request_body(run: Run, store_url: str, fmt: str) -> None:
    from convostore.formats import to_format

    thread = seed(store_url, messages=6)
    body = json.loads(
        run("messages", "tail", thread.id, "-n", "4", "--format", fmt, "--store", store_url).stdout
    )
    window = with_store(store_url, lambda s: s.context(thread.id, max_messages=4, format=fmt))
    assert body == window
    newest = with_store(store_url, lambda s: s.recent(thread.id, 4))
    assert body == to_format(newest, fmt)  # the four newest, whole (no tool exchange cut)


def test_fork_lists_and_activates_branches(run: Run, store_url: str) -> None:
    thread = seed(store_url, messages=4, title="root")
    result = run("threads", "fork", thread.id, "--at-seq", "2", "--id", "br", "--store", store_url)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "br"
    listed = run("threads", "branches", "br", "--store", store_url, "--json")
    items = json.loads(listed.stdout)["items"]
    assert [(b["thread"]["id"], b["shared_seq"], b["is_active"]) for b in items] == [
        (thread.id, 2, True),
        ("br", 2, False),
    ]
    assert items[1]["thread"]["parent_thread_id"] == thread.id
    assert run("threads", "activate", "br", "--store", store_url).exit_code == 0
    lines = run("threads", "branches", thread.id, "--store", store_url).stdout.splitlines()
    assert lines[0].split("\t")[:6] == ["id", "parent", "fork seq", "shared", "messages", "active"]
    assert lines[2].split("\t")[:6] == ["br", thread.id, "2", "2", "2", "*"]
    texts = with_store(store_url, lambda s: [m.content for m in s.load_messages("br")])
    assert texts == ["question 0", "answer 1"]
    bad = run("threads", "fork", thread.id, "--at-seq", "9", "--store", store_url)
    assert bad.exit_code != 0 and "at_seq" in bad.output
