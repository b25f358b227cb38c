"""Scoped state: user and app state with their own revisions, and state
changes made atomically with an append."""

from __future__ import annotations

import concurrent.futures
import threading
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from convostore._ids import new_id
from convostore.errors import (
    RevisionConflictError,
    StateConflictError,
    ThreadDeletedError,
    ThreadExistsError,
    ThreadNotFoundError,
    ValidationError,
)
from convostore.model import Message, StateChange, StateUpdate
from convostore.testing.contract.base import (
    PROPERTY_SETTINGS,
    ContractBase,
    StoreLike,
    all_messages,
    require_capability,
)

__all__ = ["StateContract"]

_KEYS = st.sampled_from(["a", "b", "c", "d"])
# Text a store can hold: NUL is refused everywhere (see the bad-input cases).
_TEXT = st.text(st.characters(exclude_characters="\x00"), max_size=3)
_VALUES = st.one_of(st.integers(-5, 5), _TEXT, st.lists(st.booleans(), max_size=2))
_UPDATES = st.one_of(
    st.builds(
        lambda c, r: ("keys", c, [k for k in r if k not in c]),
        st.dictionaries(_KEYS, _VALUES, max_size=3),
        st.lists(_KEYS, max_size=2),
    ),
    st.builds(lambda d: ("replace", d, []), st.dictionaries(_KEYS, _VALUES, max_size=3)),
)


def _everything(store: StoreLike, thread_id: str, user_id: str) -> tuple[Any, ...]:
    t = store.get_thread(thread_id)
    return (
        t.revision,
        t.message_count,
        t.state,
        [m.id for m in all_messages(store, thread_id)],
        store.get_state("user", user_id=user_id),
        store.get_state("app"),
    )


def _state_worker(url: str, tag: str, n: int) -> int:
    """Set keys ``<tag>-0`` .. ``<tag>-<n-1>`` of user ``shared``, one write each."""
    from convostore.store import open_store

    with open_store(url) as store:
        for i in range(n):
            store.update_state("user", user_id="shared", changes={f"{tag}-{i}": i})
    return n


class StateContract(ContractBase):
    """User and app state, and state changes made with an append (capability
    ``scoped_state``)."""

    @pytest.fixture(autouse=True)
    def _needs_scoped_state(self, store: StoreLike) -> None:
        require_capability(store, "scoped_state")

    #: threads and writes per thread of :meth:`test_key_updates_from_threads_lose_no_key`
    state_writers: ClassVar[int] = 6
    state_writes_per_writer: ClassVar[int] = 25

    # scoped state on its own ------------------------------------------------------

    def test_state_never_written_is_empty_at_revision_zero(self, store: StoreLike) -> None:
        for state in (store.get_state("app"), store.get_state("user", user_id="u1")):
            assert (state.data, state.revision, state.updated_at) == ({}, 0, None)
        assert store.get_state("user", user_id="u1").user_id == "u1"

    def test_key_updates_keep_the_other_keys(self, store: StoreLike) -> None:
        s1 = store.update_state("user", user_id="u1", changes={"a": 1, "b": [1, "x"]})
        s2 = store.update_state("user", user_id="u1", changes={"c": {"d": None}}, remove=["a"])
        assert (s1.revision, s2.revision) == (1, 2)
        assert s2.data == {"b": [1, "x"], "c": {"d": None}}
        assert store.get_state("user", user_id="u1") == s2
        assert store.update_state("user", user_id="u1", remove=["nope"]).data == s2.data
        s3 = store.update_state("user", user_id="u1", replace={"z": True})
        assert (s3.data, s3.revision) == ({"z": True}, 4)
        assert store.update_state("user", user_id="u1", replace={}).data == {}

    def test_scopes_are_separate(self, store: StoreLike) -> None:
        store.update_state("user", user_id="u1", changes={"k": "u1"})
        store.update_state("user", user_id="u2", changes={"k": "u2"})
        store.update_state("app", changes={"k": "app"})
        assert store.get_state("user", user_id="u1").data == {"k": "u1"}
        assert store.get_state("user", user_id="u2").data == {"k": "u2"}
        assert store.get_state("app").data == {"k": "app"}
        assert store.get_state("app").revision == 1

    def test_another_tenant_sees_no_state(self, store: StoreLike) -> None:
        store.update_state("user", user_id="u1", changes={"k": 1})
        store.update_state("app", changes={"k": 1})
        other = store.tenant("other")
        assert other.get_state("user", user_id="u1").revision == 0
        assert other.get_state("app").data == {}
        other.update_state("app", changes={"k": 2})
        assert store.get_state("app").data == {"k": 1}

    def test_stale_expected_revision_is_a_conflict(self, store: StoreLike) -> None:
        s = store.update_state("app", changes={"n": 1}, expected_revision=0)
        with pytest.raises(StateConflictError) as info:
            store.update_state("app", changes={"n": 2}, expected_revision=0)
        assert (info.value.expected, info.value.actual, info.value.scope) == (0, 1, "app")
        assert store.get_state("app") == s
        assert store.update_state("app", changes={"n": 2}, expected_revision=1).data == {"n": 2}

    @pytest.mark.parametrize(
        ("call", "field"),
        [
            ({"scope": "thread"}, "scope"),
            ({"scope": "user"}, "user_id"),
            ({"scope": "app", "user_id": "u1"}, "user_id"),
            ({"scope": "app", "changes": {"": 1}}, "state.changes."),
            ({"scope": "app", "changes": {"user:k": 1}}, "state.changes.user:k"),
            ({"scope": "app", "remove": ["temp:k"]}, "state.remove.temp:k"),
            ({"scope": "app", "changes": {"k" * 256: 1}}, "state.changes." + "k" * 256),
            ({"scope": "app", "changes": {"k": "a\x00b"}}, "state.data.k"),
            ({"scope": "app", "changes": {"k": 1}, "remove": ["k"]}, "state.changes.k"),
            ({"scope": "app", "changes": {"k": 1}, "replace": {}}, "state.replace"),
            ({"scope": "app", "remove": "k"}, "remove"),
            ({"scope": "app", "expected_revision": -1}, "expected_revision"),
        ],
    )
    def test_bad_input_is_refused_and_nothing_is_written(
        self, store: StoreLike, call: dict[str, Any], field: str
    ) -> None:
        store.update_state("app", changes={"kept": 1})
        with pytest.raises(ValidationError) as info:
            store.update_state(**call)
        assert info.value.field == field
        assert store.get_state("app").data == {"kept": 1}

    def test_state_over_the_limit_is_refused(self, store: StoreLike) -> None:
        big = "x" * store.limits.max_state_bytes
        with pytest.raises(ValidationError) as info:
            store.update_state("user", user_id="u1", changes={"big": big})
        assert info.value.field == "state.data"
        assert store.get_state("user", user_id="u1").revision == 0

    @PROPERTY_SETTINGS
    @given(updates=st.lists(_UPDATES, min_size=1, max_size=6))
    def test_updates_match_a_dict(
        self, store: StoreLike, updates: list[tuple[str, dict[str, Any], list[str]]]
    ) -> None:
        user = new_id("u")  # a fresh user per example
        model: dict[str, Any] = {}
        for kind, values, removed in updates:
            if kind == "replace":
                store.update_state("user", user_id=user, replace=values)
                model = dict(values)
            else:
                store.update_state("user", user_id=user, changes=values, remove=removed)
                model = {k: v for k, v in model.items() if k not in removed} | values
        got = store.get_state("user", user_id=user)
        assert (got.data, got.revision) == (model, len(updates))

    # state changes with an append -------------------------------------------------

    def _thread(self, store: StoreLike) -> str:
        store.create_thread(id="t1", user_id="u1", state={"variables": {"v": "1"}})
        return "t1"

    def test_append_applies_every_scope_at_once(self, store: StoreLike) -> None:
        tid = self._thread(store)
        store.update_state("app", changes={"gone": 1, "kept": 1})
        before = store.get_thread(tid)
        change = StateChange(
            thread=StateUpdate(changes={"step": 1}),
            user=StateUpdate(changes={"name": "Ada"}, expected_revision=0),
            app=StateUpdate(remove=["gone"], expected_revision=1),
        )
        (m,) = store.append(tid, Message.user("hi", id="m1"), state=change)
        after = store.get_thread(tid)
        assert m.seq == 1
        assert after.revision == before.revision + 1
        assert after.state.data == {"step": 1} and after.state.variables == {"v": "1"}
        assert store.get_state("user", user_id="u1").data == {"name": "Ada"}
        assert store.get_state("app").data == {"kept": 1}

    def test_append_takes_a_mapping(self, store: StoreLike) -> None:
        tid = self._thread(store)
        store.append(tid, Message.user("hi"), state={"user": {"changes": {"k": 1}}})
        assert store.get_state("user", user_id="u1").data == {"k": 1}

    @pytest.mark.parametrize("stale", ["thread", "user", "app", "append"])
    def test_a_stale_revision_writes_nothing(self, store: StoreLike, stale: str) -> None:
        tid = self._thread(store)
        store.update_state("user", user_id="u1", changes={"n": 0})
        store.update_state("app", changes={"n": 0})
        before = _everything(store, tid, "u1")
        revs = {"thread": before[0], "user": 1, "app": 1, "append": before[0]}
        revs[stale] += 5
        change = StateChange(
            thread=StateUpdate(changes={"n": 1}, expected_revision=revs["thread"]),
            user=StateUpdate(changes={"n": 1}, expected_revision=revs["user"]),
            app=StateUpdate(changes={"n": 1}, expected_revision=revs["app"]),
        )
        with pytest.raises((RevisionConflictError, StateConflictError)):
            store.append(tid, Message.user("hi"), state=change, expected_revision=revs["append"])
        assert _everything(store, tid, "u1") == before

    def test_a_retry_does_not_apply_the_change_again(self, store: StoreLike) -> None:
        tid = self._thread(store)
        msgs = [Message.user("hi", id="m1"), Message.assistant("hello", id="m2")]
        change = StateChange(user=StateUpdate(changes={"n": 1}), app=StateUpdate(changes={"n": 1}))
        first = store.append(tid, msgs, state=change)
        before = _everything(store, tid, "u1")
        # The same batch again, even with another change: it was acknowledged.
        again = store.append(tid, msgs, state=StateChange(user=StateUpdate(changes={"n": 2})))
        assert again == first
        assert _everything(store, tid, "u1") == before
        assert store.get_state("user", user_id="u1").revision == 1

    def test_an_append_of_no_messages_applies_the_change(self, store: StoreLike) -> None:
        tid = self._thread(store)
        rev = store.get_thread(tid).revision
        assert store.append(tid, [], state={"thread": {"changes": {"k": 1}}}) == []
        t = store.get_thread(tid)
        assert (t.state.data, t.revision, t.message_count) == ({"k": 1}, rev + 1, 0)
        assert store.append(tid, []) == []
        assert store.get_thread(tid).revision == rev + 1

    def test_create_thread_writes_shared_state_with_it(self, store: StoreLike) -> None:
        change = StateChange(
            user=StateUpdate(changes={"name": "Ada"}), app=StateUpdate(changes={"v": 1})
        )
        t = store.create_thread(
            id="new", user_id="u1", state={"data": {"k": 0}}, state_change=change
        )
        assert t.id == "new" and store.get_thread("new").state.data == {"k": 0}
        assert store.get_state("user", user_id="u1").data == {"name": "Ada"}
        assert store.get_state("app").data == {"v": 1}
        # a taken id writes no state, and neither does a stale state revision
        before = (store.get_state("user", user_id="u1"), store.get_state("app"))
        with pytest.raises(ThreadExistsError):
            store.create_thread(
                id="new", user_id="u1", state_change={"user": {"changes": {"name": "x"}}}
            )
        stale = StateChange(app=StateUpdate(changes={"v": 2}, expected_revision=7))
        with pytest.raises(StateConflictError):
            store.create_thread(id="other", user_id="u1", state_change=stale)
        with pytest.raises(ThreadNotFoundError):
            store.get_thread("other")
        assert (store.get_state("user", user_id="u1"), store.get_state("app")) == before
        with pytest.raises(ValidationError):
            store.create_thread(id="anon", state_change={"user": {"changes": {"k": 1}}})
        with pytest.raises(ThreadNotFoundError):
            store.get_thread("anon")

    def test_user_state_needs_a_thread_with_a_user(self, store: StoreLike) -> None:
        t = store.create_thread(id="anon")
        with pytest.raises(ValidationError) as info:
            store.append(t.id, Message.user("hi"), state={"user": {"changes": {"k": 1}}})
        assert info.value.field == "state.user"
        assert store.get_thread(t.id).message_count == 0

    def test_a_deleted_thread_takes_no_change(self, store: StoreLike) -> None:
        tid = self._thread(store)
        store.delete_thread(tid)
        with pytest.raises(ThreadDeletedError):
            store.append(tid, [], state={"app": {"changes": {"k": 1}}})
        assert store.get_state("app").revision == 0

    def test_a_change_over_the_limit_writes_nothing(self, store: StoreLike) -> None:
        tid = self._thread(store)
        before = _everything(store, tid, "u1")
        big = "x" * store.limits.max_state_bytes
        change = StateChange(
            thread=StateUpdate(changes={"k": 1}), app=StateUpdate(changes={"b": big})
        )
        with pytest.raises(ValidationError):
            store.append(tid, Message.user("hi"), state=change)
        assert _everything(store, tid, "u1") == before

    def test_bad_keys_in_a_change_are_refused(self, store: StoreLike) -> None:
        tid = self._thread(store)
        with pytest.raises(ValidationError) as info:
            store.append(tid, Message.user("hi"), state={"thread": {"changes": {"app:k": 1}}})
        assert info.value.field == "state.thread.changes.app:k"
        with pytest.raises(ValidationError) as info:
            store.append(tid, Message.user("hi"), state={"nope": {}})
        assert info.value.field is not None and info.value.field.startswith("state")
        assert store.get_thread(tid).message_count == 0

    def test_purge_and_export_leave_user_and_app_state(self, store: StoreLike) -> None:
        tid = self._thread(store)
        store.append(
            tid,
            Message.user("hi"),
            state={"user": {"changes": {"only-user": 1}}, "thread": {"changes": {"t": 1}}},
        )
        snap = store.export_thread(tid)
        assert snap.thread.state.data == {"t": 1}
        assert "only-user" not in snap.model_dump_json()
        store.purge_thread(tid)
        assert store.get_state("user", user_id="u1").data == {"only-user": 1}

    def test_state_survives_a_reopen(self, store: StoreLike, reopen: Any) -> None:
        again = self.durable_reopen(store, reopen)
        tid = self._thread(store)
        store.update_state("app", changes={"a": 1})
        store.append(tid, Message.user("hi"), state={"user": {"changes": {"u": 1}}})
        user, app = store.get_state("user", user_id="u1"), store.get_state("app")
        reopened = again()
        assert reopened.get_state("user", user_id="u1") == user
        assert reopened.get_state("app") == app

    # concurrency ------------------------------------------------------------------

    def test_two_writers_with_a_revision_one_conflicts(self, store: StoreLike) -> None:
        store.update_state("user", user_id="u1", changes={"n": 0})
        start = threading.Barrier(2)

        def write(k: int) -> str:
            start.wait()
            try:
                store.update_state(
                    "user", user_id="u1", changes={"n": k, f"w{k}": True}, expected_revision=1
                )
            except StateConflictError:
                return "conflict"
            return "ok"

        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            outcomes = sorted(pool.map(write, (1, 2)))
        assert outcomes == ["conflict", "ok"]
        got = store.get_state("user", user_id="u1")
        assert got.revision == 2
        winner = got.data["n"]
        assert got.data == {"n": winner, f"w{winner}": True}

    def test_compare_and_set_from_threads_loses_no_update(self, store: StoreLike) -> None:
        workers, increments = 4, 10

        def work() -> None:
            for _ in range(increments):
                while True:
                    s = store.get_state("app")
                    n = s.data.get("n", 0)
                    assert isinstance(n, int)
                    try:
                        store.update_state(
                            "app", changes={"n": n + 1}, expected_revision=s.revision
                        )
                        break
                    except StateConflictError:
                        pass

        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda _: work(), range(workers)))
        assert store.get_state("app").data == {"n": workers * increments}

    def test_key_updates_from_threads_lose_no_key(self, store: StoreLike) -> None:
        writers, per = self.state_writers, self.state_writes_per_writer
        store.create_thread(id="t1", user_id="shared")
        start = threading.Barrier(writers)

        def write(k: int) -> None:
            start.wait()
            for i in range(per):
                if i % 2:  # half of them with an append in the same call
                    store.append(
                        "t1",
                        Message.user(f"{k}/{i}"),
                        state={"user": {"changes": {f"w{k}-{i}": i}}},
                    )
                else:
                    store.update_state("user", user_id="shared", changes={f"w{k}-{i}": i})

        with concurrent.futures.ThreadPoolExecutor(writers) as pool:
            list(pool.map(write, range(writers)))
        got = store.get_state("user", user_id="shared")
        assert got.data == {f"w{k}-{i}": i for k in range(writers) for i in range(per)}
        assert got.revision == writers * per

    def test_key_updates_from_processes_lose_no_key(
        self, store: StoreLike, process_url: str | None
    ) -> None:
        require_capability(store, "multi_process")
        assert process_url is not None, "override the `process_url` fixture"
        from convostore.testing.crash import _context

        processes, per = 3, 20
        with concurrent.futures.ProcessPoolExecutor(processes, mp_context=_context()) as pool:
            done = list(
                pool.map(
                    _state_worker,
                    [process_url] * processes,
                    [f"p{k}" for k in range(processes)],
                    [per] * processes,
                )
            )
        assert done == [per] * processes
        got = store.get_state("user", user_id="shared")
        assert got.data == {f"p{k}-{i}": i for k in range(processes) for i in range(per)}
        assert got.revision == processes * per
