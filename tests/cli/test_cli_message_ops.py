"""``messages pop|purge|restore|clear|replace``."""

from __future__ import annotations

import json

from ._helpers import Run, seed, with_store


def _contents(store_url: str, thread_id: str) -> list[str]:
    return with_store(
        store_url,
        lambda s: [m.content for m in s.iter_messages(thread_id, include_deleted=True)],
    )


def test_pop_prints_the_popped_message_then_none(run: Run, store_url: str) -> None:
    t = seed(store_url, messages=2)
    result = run("messages", "pop", t.id, "--store", store_url, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["message"]["content"] == "answer 1"
    assert "popped" in run("messages", "pop", t.id, "--store", store_url).output
    result = run("messages", "pop", t.id, "--store", store_url, "--json")
    assert json.loads(result.stdout) == {"message": None}


def test_purge_asks_and_restore_undoes_a_delete(run: Run, store_url: str) -> None:
    t = seed(store_url, messages=3)
    first, second = with_store(store_url, lambda s: [m.id for m in s.recent(t.id, 3)][:2])
    refused = run("messages", "purge", first, "--store", store_url, input="n\n")
    assert refused.exit_code != 0 and _contents(store_url, t.id)[0] == "question 0"
    assert run("messages", "purge", first, "--store", store_url, "-y").exit_code == 0
    assert _contents(store_url, t.id) == ["answer 1", "question 2"]
    with_store(store_url, lambda s: s.delete_message(second))
    result = run("messages", "restore", second, "--store", store_url, "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["message"]["deleted_at"] is None
    assert run("messages", "purge", "nope", "--store", store_url, "-y").exit_code == 3


def test_clear_and_a_stale_revision(run: Run, store_url: str) -> None:
    t = seed(store_url, messages=4)
    stale = run("messages", "clear", t.id, "--store", store_url, "--expected-revision", "0")
    assert stale.exit_code == 4  # a conflict
    result = run("messages", "clear", t.id, "--mode", "purge", "--store", store_url, "--json")
    assert json.loads(result.stdout)["cleared"] == 4
    assert _contents(store_url, t.id) == []


def test_trim_the_oldest(run: Run, store_url: str) -> None:
    t = seed(store_url, messages=4)
    result = run("messages", "trim", t.id, "3", "--mode", "purge", "--store", store_url, "--json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["messages"]) == 3
    assert _contents(store_url, t.id) == ["answer 3"]
    assert "trimmed 0 message(s)" in run("messages", "trim", t.id, "0", "--store", store_url).output


def test_replace_from_a_file_or_stdin(run: Run, store_url: str, tmp_path: object) -> None:
    t = seed(store_url, messages=3)
    body = json.dumps({"messages": [{"role": "user", "content": "summary"}]})
    result = run("messages", "replace", t.id, "-", "--store", store_url, "-y", input=body)
    assert result.exit_code == 0, result.output
    assert _contents(store_url, t.id) == ["summary"]
    lines = '{"role": "user", "content": "a"}\n{"role": "assistant", "content": "b"}\n'
    result = run(
        "messages", "replace", t.id, "-", "--store", store_url, "-y", "--json", input=lines
    )
    assert [m["seq"] for m in json.loads(result.stdout)["items"]] == [1, 2]
    bad = run("messages", "replace", t.id, "-", "--store", store_url, "-y", input="{oops")
    assert bad.exit_code != 0 and _contents(store_url, t.id) == ["a", "b"]
