"""Branches: threads that share a prefix of another thread's history
(capability ``branches``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from convostore._ids import new_id
from convostore.errors import (
    ConflictError,
    MessageNotFoundError,
    RevisionConflictError,
    ThreadDeletedError,
    ThreadExistsError,
    ThreadNotFoundError,
    ValidationError,
)
from convostore.model import (
    CostInfo,
    Message,
    MessageMetadata,
    TextPart,
    Thread,
    TokenUsage,
    ToolCallPart,
)
from convostore.store.rules.append import contribution
from convostore.testing.contract.base import (
    PROPERTY_SETTINGS,
    ContractBase,
    StoreLike,
    raised,
    require_capability,
)

__all__ = ["BranchContract"]


def _texts(messages: list[Message]) -> list[str]:
    return [m.content for m in messages]


def _history(store: StoreLike, thread_id: str) -> list[str]:
    return _texts(store.load_messages(thread_id, include_deleted=True))


def _recount(store: StoreLike, thread: Thread) -> dict[str, Any]:
    """The counters of ``thread`` counted again from every message it reads."""
    msgs = store.load_messages(thread.id, include_deleted=True)
    usage, cost = TokenUsage(), CostInfo()
    tools = tokens = 0
    for m in msgs:
        c = contribution(m)
        tools += c.tool_calls
        tokens += c.tokens
        usage = usage + c.usage
        if c.cost is not None:
            cost = CostInfo(
                input_cost=cost.input_cost + c.cost.input_cost,
                output_cost=cost.output_cost + c.cost.output_cost,
                total_cost=cost.total_cost + c.cost.total_cost,
                currency=c.cost.currency,
            )
    return {
        "message_count": len(msgs),
        "live_message_count": sum(m.deleted_at is None for m in msgs),
        "turn_count": sum(m.opens_turn for m in msgs),
        "tool_call_count": tools,
        "token_count": tokens,
        "usage": usage.model_dump(),
        "total_cost": round(cost.total_cost, 9),
    }


def _counters(thread: Thread) -> dict[str, Any]:
    return {
        "message_count": thread.message_count,
        "live_message_count": thread.live_message_count,
        "turn_count": thread.turn_count,
        "tool_call_count": thread.tool_call_count,
        "token_count": thread.token_count,
        "usage": thread.usage.model_dump(),
        "total_cost": round(thread.cost.total_cost, 9),
    }


def _conversation(store: StoreLike, n: int, prefix: str = "") -> Thread:
    """A thread of a system prompt and ``n`` messages ``prefix0``, ``prefix1``, ...
    (user, assistant with a tool call every third, ...), with usage and cost."""
    thread = store.create_thread(title="root")
    batch: list[Message] = [Message.system("be brief")]
    for i in range(n):
        text = f"{prefix}{i}"
        if i % 2 == 0:
            batch.append(Message.user(text))
        else:
            meta = MessageMetadata(
                token_usage=TokenUsage(prompt_tokens=i, completion_tokens=1, total_tokens=i + 1),
                cost=CostInfo(total_cost=0.5, input_cost=0.25, output_cost=0.25),
            )
            m = Message.assistant(text).model_copy(update={"metadata": meta})
            if i % 3 == 0:
                call = ToolCallPart(tool_call_id=f"call{i}", tool_name="lookup", args={"i": i})
                m = m.with_parts(TextPart(text=text), call)
            batch.append(m)
    store.append(thread.id, batch)
    stored: Thread = store.get_thread(thread.id)
    return stored


class BranchContract(ContractBase):
    """Forks, edits and regenerations as branches that share history."""

    # forking -----------------------------------------------------------------

    def test_a_branch_reads_the_shared_history_and_its_own(self, store: StoreLike) -> None:
        require_capability(store, "branches")
        root = _conversation(store, 6)
        branch = store.fork_thread(root.id, at_seq=4, messages=[Message.assistant("other")])
        assert _history(store, branch.id) == ["be brief", "0", "1", "2", "other"]
        assert _history(store, root.id) == ["be brief", "0", "1", "2", "3", "4", "5"]
        assert branch.parent_thread_id == root.id and branch.fork_seq == 4
        assert [(p.thread_id, p.seq) for p in branch.lineage] == [(root.id, 4)]
        assert branch.root_thread_id == root.id and branch.is_branch
        assert [m.seq for m in store.load_messages(branch.id)] == [1, 2, 3, 4, 5]
        # The shared messages are the parent's own, not copies.
        shared = store.load_messages(branch.id)[:4]
        assert shared == store.load_messages(root.id)[:4]
        assert {m.thread_id for m in shared} == {root.id}
        assert store.load_messages(branch.id)[-1].thread_id == branch.id
        # A branch is a thread in every listing, its lineage visible.
        listed = {t.id: t for t in store.list_threads().items}
        assert listed[branch.id].parent_thread_id == root.id
        assert listed[branch.id].fork_seq == 4
        assert root.title == store.get_thread(branch.id).title

    def test_counters_are_per_branch_and_exact(self, store: StoreLike) -> None:
        require_capability(store, "branches")
        root = _conversation(store, 9)
        for at in (0, 1, 4, 7, root.message_count):
            branch = store.fork_thread(root.id, at_seq=at)
            assert _counters(branch) == _recount(store, branch), at
            store.append(branch.id, [Message.user("more"), Message.assistant("yes")])
            branch = store.get_thread(branch.id)
            assert _counters(branch) == _recount(store, branch), at
        assert _counters(store.get_thread(root.id)) == _recount(store, root)
        summary = {s.id: s for s in store.summaries()}
        assert summary[branch.id].message_count == root.message_count + 2

    def test_forking_at_a_message_shares_it(self, store: StoreLike) -> None:
        require_capability(store, "branches")
        root = _conversation(store, 4)
        third = store.load_messages(root.id)[2]
        branch = store.fork_thread(root.id, at=third.id, title="try again")
        assert branch.fork_seq == third.seq and branch.title == "try again"
        assert _history(store, branch.id) == ["be brief", "0", "1"]
        # The tip is the default fork point.
        tip = store.fork_thread(root.id)
        assert tip.fork_seq == root.message_count
        assert _history(store, tip.id) == _history(store, root.id)

    def test_forks_of_forks_read_from_the_thread_that_stores_each_message(
        self, store: StoreLike
    ) -> None:
        require_capability(store, "branches")
        root = _conversation(store, 4)
        b1 = store.fork_thread(root.id, at_seq=3, messages=[Message.user("b1-a")])
        b2 = store.fork_thread(b1.id, messages=[Message.user("b2-a")])
        assert [(p.thread_id, p.seq) for p in b2.lineage] == [(root.id, 3), (b1.id, 4)]
        assert _history(store, b2.id) == ["be brief", "0", "1", "b1-a", "b2-a"]
        # Forking a branch inside the history it shares forks the thread that stores it.
        b3 = store.fork_thread(b2.id, at_seq=2)
        assert [(p.thread_id, p.seq) for p in b3.lineage] == [(root.id, 2)]
        assert b3.parent_thread_id == root.id
        assert _history(store, b3.id) == ["be brief", "0"]
        for t in (b1, b2, b3):
            assert _counters(store.get_thread(t.id)) == _recount(store, store.get_thread(t.id))

    def test_edit_in_branch_keeps_the_original(self, store: StoreLike) -> None:
        require_capability(store, "branches")
        root = _conversation(store, 4)
        original = store.load_messages(root.id)[3]  # "2"
        branch = store.edit_in_branch(original.id, content="2, edited")
        assert _history(store, branch.id) == ["be brief", "0", "1", "2, edited"]
        edited = store.recent(branch.id, 1)[0]
        assert edited.id != original.id and edited.thread_id == branch.id
        assert edited.role == original.role and edited.seq == original.seq
        assert store.get_message(original.id) == original
        assert _history(store, root.id) == ["be brief", "0", "1", "2", "3"]
        # Editing the first message shares nothing and still makes a branch.
        first = store.edit_in_branch(store.load_messages(root.id)[0].id, content="be verbose")
        assert _history(store, first.id) == ["be verbose"] and first.fork_seq == 0

    def test_regenerate_branches_at_the_reply_s_parent(self, store: StoreLike) -> None:
        require_capability(store, "branches")
        root = _conversation(store, 4)
        reply = store.load_messages(root.id)[-1]  # "3", an assistant reply
        branch = store.regenerate(reply.id, messages=[Message.assistant("3 again")])
        assert _history(store, branch.id) == ["be brief", "0", "1", "2", "3 again"]
        assert branch.fork_seq == (reply.seq or 0) - 1
        bare = store.regenerate(reply.id)
        assert _history(store, bare.id) == ["be brief", "0", "1", "2"]

    # reads -------------------------------------------------------------------

    def test_pages_recent_and_windows_cross_the_fork_point(self, store: StoreLike) -> None:
        require_capability(store, "branches")
        root = _conversation(store, 10)
        b1 = store.fork_thread(
            root.id, at_seq=5, messages=[Message.user(f"a{i}") for i in range(3)]
        )
        b2 = store.fork_thread(b1.id, messages=[Message.user(f"b{i}") for i in range(3)])
        want = ["be brief", *map(str, range(4)), "a0", "a1", "a2", "b0", "b1", "b2"]
        assert _history(store, b2.id) == want
        for size in (1, 2, 3, 4, 20):
            got, cursor = [], None
            while True:
                page = store.list_messages(b2.id, limit=size, cursor=cursor)
                got += page.items
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
            assert _texts(got) == want, size
            assert [m.seq for m in got] == list(range(1, len(want) + 1))
            got, cursor = [], None
            page = store.list_messages(b2.id, limit=size, from_end=True)
            got = page.items
            while page.prev_cursor is not None:
                page = store.list_messages(b2.id, limit=size, cursor=page.prev_cursor)
                got = page.items + got
            assert _texts(got) == want, size
        for n in range(len(want) + 2):
            assert _texts(store.recent(b2.id, n)) == (want[max(0, len(want) - n) :] if n else [])
        window = store.context(b2.id, max_messages=4)
        assert _texts(window.messages) == ["be brief", "b0", "b1", "b2"]
        window = store.context(b2.id, max_messages=6)
        assert _texts(window.messages)[0] == "be brief" and "a2" in _texts(window.messages)

    def test_a_superseding_fork_is_a_write_to_its_source(self, store: StoreLike) -> None:
        require_capability(store, "branches")
        root = _conversation(store, 4)
        rev = store.get_thread(root.id).revision
        plain = store.fork_thread(root.id, expected_revision=rev)
        assert store.get_thread(root.id).revision == rev  # a plain fork writes only the branch
        head = store.fork_thread(
            root.id, id="head", messages=[Message.user("x")], expected_revision=rev, supersede=True
        )
        assert store.get_thread(root.id).revision == rev + 1
        # a writer holding the old revision conflicts, and nothing of it is stored
        late = [Message.user("late")]
        err = raised(lambda: store.append(root.id, late, expected_revision=rev))
        assert isinstance(err, RevisionConflictError)
        # a second superseding fork from the same revision loses as well
        err = raised(lambda: store.fork_thread(root.id, expected_revision=rev, supersede=True))
        assert isinstance(err, RevisionConflictError)
        # one that fails leaves the source as it was
        err = raised(lambda: store.fork_thread(root.id, id=plain.id, supersede=True))
        assert isinstance(err, ThreadExistsError)
        assert store.get_thread(root.id).revision == rev + 1
        err = raised(lambda: store.fork_thread(root.id, at="nope", supersede=True))
        assert isinstance(err, MessageNotFoundError)
        assert store.get_thread(root.id).revision == rev + 1
        assert _history(store, head.id)[-1] == "x"
        assert [m.content for m in store.load_messages(root.id)][-1] != "late"

    def test_recent_since_crosses_the_fork_point(self, store: StoreLike) -> None:
        require_capability(store, "branches")
        t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        store.create_thread(id="src")
        store.append(
            "src",
            [
                Message.user(str(i), id=f"s{i}", created_at=t0 + dt.timedelta(minutes=i))
                for i in range(6)
            ],
        )
        branch = store.fork_thread("src", at="s3")
        later = t0 + dt.timedelta(hours=1)
        store.append(branch.id, [Message.user("b", id="b0", created_at=later)])
        got = store.recent(branch.id, None, since=t0 + dt.timedelta(minutes=2))
        assert [m.id for m in got] == ["s2", "s3", "b0"]
        assert [m.id for m in store.recent(branch.id, 2, since=t0)] == ["s3", "b0"]
        store.trim_messages("src", 1)  # s0, shared: archiving is allowed
        active = store.load_messages(branch.id, active_only=True)
        assert [m.id for m in active] == ["s1", "s2", "s3", "b0"]

    def test_a_branch_window_keeps_pinned_messages_of_the_shared_history(
        self, store: StoreLike
    ) -> None:
        require_capability(store, "branches")
        root = _conversation(store, 8)
        pinned = store.load_messages(root.id)[2]
        store.update_message(pinned.id, pinned=True)
        after = store.load_messages(root.id)[6]
        store.update_message(after.id, pinned=True)  # past the fork point
        branch = store.fork_thread(root.id, at_seq=5, messages=[Message.user("x")])
        window = store.context(branch.id, max_messages=3)
        texts = _texts(window.messages)
        assert texts[0] == "be brief" and pinned.content in texts and after.content not in texts
        assert texts[-1] == "x"

    def test_messages_of_an_execution_in_a_branch(self, store: StoreLike) -> None:
        require_capability(store, "branches")
        thread = store.create_thread()
        store.append(
            thread.id,
            [Message.user("q", execution_id="e"), Message.assistant("a", execution_id="e")],
        )
        branch = store.fork_thread(thread.id, at_seq=1)
        store.append(branch.id, Message.assistant("b", execution_id="e"))
        got = store.messages_by_execution("e", thread_id=branch.id)
        assert _texts(got) == ["q", "b"]

    def test_export_of_a_branch_is_a_whole_conversation(self, store: StoreLike) -> None:
        require_capability(store, "branches")
        root = _conversation(store, 4)
        branch = store.fork_thread(root.id, at_seq=3, messages=[Message.user("mine")])
        snap = store.export_thread(branch.id)
        assert _texts(snap.messages) == ["be brief", "0", "1", "mine"]
        assert not snap.thread.is_branch and snap.thread.parent_thread_id is None
        copy = store.import_thread(snap, new_ids=True)
        assert not copy.is_branch and copy.message_count == 4
        assert _history(store, copy.id) == _history(store, branch.id)
        assert _counters(copy) == _counters(store.get_thread(branch.id))

    # what a branch shares is frozen ----------------------------------------------

    def test_shared_messages_cannot_change_but_can_be_archived(self, store: StoreLike) -> None:
        require_capability(store, "branches")
        root = _conversation(store, 5)
        msgs = store.load_messages(root.id)
        store.fork_thread(root.id, at_seq=3)
        shared, free = msgs[2], msgs[4]
        for action in (
            lambda: store.update_message(shared.id, content="changed"),
            lambda: store.delete_message(shared.id),
        ):
            assert isinstance(raised(action), ConflictError)
        assert store.get_message(shared.id) == shared
        # Flags that move no counter are allowed, and every sharer sees them.
        assert store.update_message(shared.id, pinned=True).pinned
        # Messages the branch does not read stay editable.
        assert store.update_message(free.id, content="fine").content == "fine"
        store.delete_message(free.id)

    def test_purging_a_branch_leaves_what_it_shared(self, store: StoreLike) -> None:
        require_capability(store, "branches")
        root = _conversation(store, 4)
        before = _history(store, root.id)
        branch = store.fork_thread(root.id, at_seq=3, messages=[Message.user("mine")])
        assert isinstance(raised(lambda: store.purge_thread(root.id)), ConflictError)
        store.delete_thread(branch.id)  # a soft delete touches nothing shared
        assert _history(store, root.id) == before
        store.purge_thread(branch.id)
        assert _history(store, root.id) == before
        assert isinstance(raised(lambda: store.get_thread(branch.id)), ThreadNotFoundError)
        store.update_message(store.load_messages(root.id)[2].id, content="free again")
        store.purge_thread(root.id)

    def test_message_operations_keep_what_a_branch_shares(self, store: StoreLike) -> None:
        require_capability(store, "branches")
        root = _conversation(store, 6)
        msgs = store.load_messages(root.id)
        branch = store.fork_thread(root.id, at_seq=4, messages=[Message.user("own")])
        shared, free = msgs[1], msgs[5]
        refused: list[Callable[[], object]] = [
            lambda: store.purge_message(shared.id),
            lambda: store.clear_messages(root.id, mode="delete"),
            lambda: store.clear_messages(root.id, mode="purge"),
            lambda: store.replace_messages(root.id, [Message.user("new")]),
            # On the branch: its shared history is frozen.
            lambda: store.clear_messages(branch.id),
        ]
        for action in refused:
            assert isinstance(raised(action), ConflictError)
        assert _history(store, root.id) == _texts(msgs)
        # What no branch shares stays free: purge and pop renumber the parent's tail.
        store.purge_message(free.id)
        assert _history(store, root.id) == _texts(msgs[:5] + msgs[6:])
        popped = store.pop_message(root.id)
        assert popped is not None and popped.content == msgs[-1].content
        assert _history(store, branch.id) == [*_texts(msgs[:4]), "own"]
        # A branch pops its own messages, then refuses to reach the shared ones.
        assert store.pop_message(branch.id).content == "own"
        assert isinstance(raised(lambda: store.pop_message(branch.id)), ConflictError)
        assert _history(store, branch.id) == _texts(msgs[:4])
        thread = store.get_thread(branch.id)
        assert _counters(thread) == _recount(store, thread)
        # Archiving the parent's active history is a flag every sharer sees.
        store.clear_messages(root.id, mode="archive")
        assert store.context(branch.id, max_messages=10).messages[0].role.value == "system"
        # Replacing a branch's history makes it a thread of its own.
        replaced = store.replace_messages(branch.id, [Message.user("fresh")])
        assert _texts(replaced) == ["fresh"]
        detached = store.get_thread(branch.id)
        assert not detached.is_branch and detached.parent_thread_id is None
        assert _history(store, branch.id) == ["fresh"]
        assert _counters(detached) == _recount(store, detached)
        store.purge_thread(root.id)  # nothing shares it any more
        assert _history(store, branch.id) == ["fresh"]

    # listing and the active branch ---------------------------------------------

    def test_branches_lists_the_tree_with_where_each_parts(self, store: StoreLike) -> None:
        require_capability(store, "branches")
        root = _conversation(store, 6)
        b1 = store.fork_thread(root.id, at_seq=5, messages=[Message.user("x")])
        b2 = store.fork_thread(b1.id, messages=[Message.user("y")])
        b3 = store.fork_thread(root.id, at_seq=2)
        for asked in (root, b1, b2, b3):
            listed = store.branches(asked.id)
            assert [b.thread.id for b in listed] == [root.id, b1.id, b2.id, b3.id]
            shared = {b.thread.id: b.shared_seq for b in listed}
            assert shared[asked.id] == store.get_thread(asked.id).message_count
        shared = {b.thread.id: b.shared_seq for b in store.branches(b2.id)}
        assert shared == {root.id: 5, b1.id: 6, b2.id: 7, b3.id: 2}
        assert [b.is_active for b in store.branches(b1.id)] == [True, False, False, False]
        root_after = store.set_active_branch(b2.id)
        assert root_after.id == root.id and root_after.active_branch_id == b2.id
        assert store.active_branch(b3.id).id == b2.id
        store.delete_thread(b2.id)
        assert store.active_branch(root.id).id == root.id
        store.set_active_branch(root.id)
        assert store.get_thread(root.id).active_branch_id is None
        assert isinstance(raised(lambda: store.set_active_branch(b2.id)), ThreadDeletedError)
        # A thread never forked is a tree of one.
        lone = store.create_thread()
        assert [(b.thread.id, b.shared_seq, b.is_active) for b in store.branches(lone.id)] == [
            (lone.id, 0, True)
        ]

    # refusals ----------------------------------------------------------------------

    def test_bad_forks_are_refused_and_write_nothing(self, store: StoreLike) -> None:
        require_capability(store, "branches")
        root = _conversation(store, 3)
        count = len(store.list_threads().items)
        other = store.tenant("elsewhere")
        cases: list[tuple[Callable[[], object], type[Exception]]] = [
            (lambda: store.fork_thread(root.id, at_seq=99), ValidationError),
            (lambda: store.fork_thread(root.id, at_seq=-1), ValidationError),
            (lambda: store.fork_thread(root.id, at="nope"), MessageNotFoundError),
            (lambda: store.fork_thread(root.id, at="m", at_seq=1), ValidationError),
            (lambda: store.fork_thread("missing"), ThreadNotFoundError),
            (lambda: other.fork_thread(root.id), ThreadNotFoundError),
            (lambda: store.fork_thread(root.id, id=root.id), ThreadExistsError),
            (lambda: store.fork_thread(root.id, expected_revision=0), RevisionConflictError),
            (
                lambda: store.fork_thread(
                    root.id, messages=[Message.user("ok"), {"role": "nobody"}]
                ),
                ValidationError,
            ),
            (lambda: other.branches(root.id), ThreadNotFoundError),
        ]
        for action, kind in cases:
            assert isinstance(raised(action), kind), kind
        assert len(store.list_threads().items) == count
        # A message of another thread's history is not a fork point of this one.
        lone = store.create_thread()
        store.append(lone.id, Message.user("alone"))
        foreign = store.load_messages(lone.id)[0]
        assert isinstance(
            raised(lambda: store.fork_thread(root.id, at=foreign.id)), MessageNotFoundError
        )
        store.delete_thread(lone.id)
        assert isinstance(raised(lambda: store.fork_thread(lone.id)), ThreadDeletedError)

    def test_a_fork_and_its_messages_are_one_write(self, store: StoreLike) -> None:
        require_capability(store, "branches")
        root = _conversation(store, 2)
        taken = store.load_messages(root.id)[1]
        bid = new_id("th")
        dup = taken.model_copy(update={"content": "different", "parts": []})
        assert raised(lambda: store.fork_thread(root.id, id=bid, messages=[Message.user("a"), dup]))
        assert isinstance(raised(lambda: store.get_thread(bid)), ThreadNotFoundError)

    def test_branches_survive_a_reopen(
        self, store: StoreLike, reopen: Callable[[], StoreLike] | None
    ) -> None:
        require_capability(store, "branches")
        again = self.durable_reopen(store, reopen)
        root = _conversation(store, 4)
        branch = store.fork_thread(root.id, at_seq=2, messages=[Message.user("kept")])
        want = _history(store, branch.id)
        store = again()
        assert _history(store, branch.id) == want
        assert store.get_thread(branch.id).lineage == branch.lineage
        assert isinstance(raised(lambda: store.purge_thread(root.id)), ConflictError)
        assert [b.thread.id for b in store.branches(root.id)] == [root.id, branch.id]

    # the invariant, for any tree -----------------------------------------------------

    @PROPERTY_SETTINGS
    @given(
        steps=st.lists(
            st.tuples(st.integers(0, 10), st.integers(0, 40), st.integers(0, 3)),
            min_size=1,
            max_size=12,
        )
    )
    def test_any_tree_reads_like_copies(
        self, store: StoreLike, steps: list[tuple[int, int, int]]
    ) -> None:
        """Every thread of a random tree of forks and appends reads exactly what a
        copy of its history would hold, with exact counters."""
        require_capability(store, "branches")
        tag = new_id("t")
        root = _conversation(store, 3, prefix=tag)
        model: dict[str, list[str]] = {root.id: _history(store, root.id)}
        order = [root.id]
        for i, (pick, at, extra) in enumerate(steps):
            source = order[pick % len(order)]
            at_seq = at % (len(model[source]) + 1)
            added = [f"{tag}-{i}-{k}" for k in range(extra)]
            branch = store.fork_thread(
                source, at_seq=at_seq, messages=[Message.user(t) for t in added]
            )
            model[branch.id] = model[source][:at_seq] + added
            order.append(branch.id)
            if extra and i % 2:  # and append to some source afterwards
                store.append(source, Message.assistant(f"{tag}-{i}-late"))
                model[source].append(f"{tag}-{i}-late")
        for tid, want in model.items():
            thread = store.get_thread(tid)
            assert _history(store, tid) == want
            assert _counters(thread) == _recount(store, thread)
            assert _texts(store.recent(tid, 3)) == want[-3:]
