"""The prefixed form of state (``app:``, ``user:``, ``temp:``) and the merged
view: pure helpers, checked as properties."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from convostore.model import STATE_PREFIXES, merged_view, prefixed_view, split_prefixed

NAMES = st.text(alphabet="abc:", min_size=1, max_size=4)
VALUES = st.one_of(st.integers(), st.text(max_size=3), st.lists(st.booleans(), max_size=2))
PREFIXED = st.dictionaries(
    st.builds(lambda p, n: p + n, st.sampled_from(["", *STATE_PREFIXES.values()]), NAMES),
    VALUES,
    max_size=8,
)


@given(delta=PREFIXED)
def test_a_split_delta_applied_to_empty_scopes_gives_the_delta_back(delta: dict[str, Any]) -> None:
    change, temp = split_prefixed(delta)
    scopes = {
        name: dict(update.changes) if update is not None else {}
        for name, update in (("app", change.app), ("user", change.user), ("thread", change.thread))
    }
    assert all(not u.remove for u in (change.app, change.user, change.thread) if u is not None)
    assert prefixed_view(scopes["app"], scopes["user"], scopes["thread"], temp) == delta


@given(delta=PREFIXED)
def test_none_removes_and_empty_scopes_get_no_update(delta: dict[str, Any]) -> None:
    removal = {k: None for k in delta}
    change, temp = split_prefixed(removal)
    assert all(v is None for v in temp.values())
    for update in (change.app, change.user, change.thread):
        assert update is None or (not update.changes and update.remove)
    assert split_prefixed({})[0].empty


@given(
    app=st.dictionaries(NAMES, VALUES),
    user=st.dictionaries(NAMES, VALUES),
    thread=st.dictionaries(NAMES, VALUES),
    temp=st.dictionaries(NAMES, VALUES),
)
def test_the_merged_view_takes_the_narrowest_scope(
    app: dict[str, Any], user: dict[str, Any], thread: dict[str, Any], temp: dict[str, Any]
) -> None:
    merged = merged_view(app, user, thread, temp)
    assert set(merged) == set(app) | set(user) | set(thread) | set(temp)
    for key, value in merged.items():
        first = next(s for s in (temp, thread, user, app) if key in s)
        assert value == first[key]
