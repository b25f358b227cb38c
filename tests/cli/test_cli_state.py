"""``state show/set/unset`` on user, app and thread state, on every backend."""

from __future__ import annotations

import json

from ._helpers import Run, seed, with_store


def _json(result: object) -> dict[str, object]:
    out = json.loads(result.stdout)  # type: ignore[attr-defined]
    assert isinstance(out, dict)
    return out


def test_set_and_unset_user_state_keep_the_other_keys(run: Run, store_url: str) -> None:
    seed(store_url, messages=0)  # the store exists
    r = run("state", "set", "--store", store_url, "--user", "ada", "lang", "fr", "n", "3", "--json")
    assert r.exit_code == 0, r.output
    assert _json(r) == {"data": {"lang": "fr", "n": 3}, "revision": 1}
    r = run("state", "set", "--store", store_url, "--user", "ada", "tags", '["a", "b"]', "--json")
    assert _json(r)["data"] == {"lang": "fr", "n": 3, "tags": ["a", "b"]}
    r = run("state", "unset", "--store", store_url, "--user", "ada", "n", "missing", "--json")
    assert _json(r) == {"data": {"lang": "fr", "tags": ["a", "b"]}, "revision": 3}
    state = with_store(store_url, lambda s: s.get_state("user", user_id="ada"))
    assert state.data == {"lang": "fr", "tags": ["a", "b"]}
    shown = run("state", "show", "--store", store_url, "--user", "ada").stdout
    assert shown.splitlines() == ["revision: 3", 'lang: "fr"', 'tags: ["a", "b"]']


def test_app_and_thread_state_with_a_revision(run: Run, store_url: str) -> None:
    thread = seed(store_url, messages=0, user_id="ada")
    r = run("state", "set", "--store", store_url, "--app", "mode", "fast", "--if-revision", "0")
    assert r.exit_code == 0, r.output
    stale = run("state", "set", "--store", store_url, "--app", "mode", "slow", "--if-revision", "0")
    assert stale.exit_code == 4  # conflict: nothing written
    assert with_store(store_url, lambda s: s.get_state("app")).data == {"mode": "fast"}
    rev = thread.revision
    r = run("state", "set", "--store", store_url, "--thread", thread.id, "step", "1", "--json")
    assert _json(r) == {"data": {"step": 1}, "revision": rev + 1}
    r = run("state", "show", "--store", store_url, "--thread", thread.id, "--json")
    assert _json(r)["data"] == {"step": 1}
    # Another tenant has its own app state.
    r = run("state", "show", "--store", store_url, "--tenant", "other", "--app", "--json")
    assert _json(r) == {"data": {}, "revision": 0}


def test_bad_scopes_and_keys_are_refused(run: Run, store_url: str) -> None:
    seed(store_url, messages=0)
    assert run("state", "show", "--store", store_url).exit_code == 2
    assert run("state", "show", "--store", store_url, "--app", "--user", "u").exit_code == 2
    r = run("state", "set", "--store", store_url, "--app", "odd")
    assert r.exit_code == 2 and "KEY VALUE" in r.output
    r = run("state", "set", "--store", store_url, "--app", "user:k", "1")
    assert r.exit_code == 2 and "state.changes.user:k" in r.output
    assert run("state", "show", "--store", store_url, "--thread", "nope").exit_code == 3
