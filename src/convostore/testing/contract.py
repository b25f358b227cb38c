"""The store contract as a pytest test-class base.

Subclass :class:`StoreContract` in a ``Test*`` class and override the ``store``
fixture to yield a fresh, empty store of your backend (a ``Store``, or a
``SyncStoreAdapter`` around an ``AsyncStore`` to test the async face). Override
``reopen`` too when the backend is durable: it must close the stores handed
out so far and open a new one on the same data. See ``docs/testing.md``.

Every test here states one promise of the contract (DESIGN.md, "The store
contract"); the reference semantics are those of the in-memory backend, and
bad input is checked against that reference so that every backend rejects it
the same way (same exception type, field and message).
"""

from __future__ import annotations

import base64
import concurrent.futures
import datetime as dt
import inspect
import math
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convostore._ids import new_id
from convostore.errors import (
    ConflictError,
    ConvostoreError,
    DuplicateMessageError,
    MessageNotFoundError,
    NotFoundError,
    RevisionConflictError,
    ThreadDeletedError,
    ThreadExistsError,
    ThreadNotFoundError,
    UnsupportedSnapshotVersionError,
    ValidationError,
)
from convostore.model import (
    CodePart,
    ConversationSnapshot,
    CostInfo,
    ExecutionStats,
    FinishReason,
    Message,
    MessageMetadata,
    NativePayload,
    ParentType,
    Part,
    ReasoningPart,
    Role,
    TextPart,
    Thread,
    ThreadSummary,
    TokenUsage,
    ToolCallPart,
    ToolResultPart,
)
from convostore.store import open_store, ops
from convostore.store.rules.paging import encode_cursor
from convostore.testing import strategies as cst
from convostore.tokens import count_batch

__all__ = ["StoreContract", "fingerprint"]

StoreLike = Any  # a Store, or a SyncStoreAdapter over an AsyncStore

PROPERTY_SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


# --- helpers -----------------------------------------------------------------


def fingerprint(store: StoreLike, *thread_ids: str) -> tuple[Any, ...]:
    """Everything a rejected write must leave untouched: the threads (revision,
    counters, fields), all their messages, and the thread listing of the tenant."""
    threads: list[tuple[Any, ...] | None] = []
    for tid in thread_ids:
        try:
            snap = store.export_thread(tid)
        except ThreadNotFoundError:
            threads.append(None)
        else:
            threads.append((snap.thread, snap.messages, snap.pinned))
    listing = [t.id for t in store.list_threads(include_deleted=True, limit=1000)]
    return (tuple(threads), listing, store.count_threads(include_deleted=True))


def all_messages(store: StoreLike, thread_id: str) -> list[Message]:
    return list(store.iter_messages(thread_id, include_deleted=True))


def seqs(messages: list[Message]) -> list[int | None]:
    return [m.seq for m in messages]


def execute_op(store: StoreLike, op: ops.Op[Any]) -> Any:
    """Run an operation record on the store's backend, whichever face it has."""
    result = store.backend.execute(op)
    if inspect.isawaitable(result):
        return store.run(result)
    return result


def _raised(action: Callable[[], object]) -> ConvostoreError:
    try:
        action()
    except ConvostoreError as exc:
        return exc
    except Exception as exc:  # pragma: no cover - reported as a contract failure
        kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
        pytest.fail(f"a non-convostore exception escaped: {kind}: {exc}")
    pytest.fail("the call was accepted but must be rejected")


def _assert_typed(exc: BaseException) -> None:
    assert isinstance(exc, ConvostoreError)
    assert type(exc).__module__ == "convostore.errors", type(exc)
    assert not isinstance(exc, pydantic.ValidationError)


def _thread_ids(page: Any) -> list[str]:
    return [t.id for t in page]


# Bad-input cases: (name, setup, action). setup(store) prepares a thread "t1"
# with two messages; action(store) must be refused without writing anything.


def _setup_basic(store: StoreLike) -> None:
    store.create_thread(id="t1", user_id="u1", agent_name="agent", title="first")
    store.append(
        "t1", [Message.user("hello", id="m1"), Message.assistant("hi", id="m2", execution_id="e1")]
    )


def _nul_message(**fields: Any) -> Message:
    return Message.model_construct(
        **{
            "id": "bad1",
            "role": Role.USER,
            "parts": [],
            "content": "",
            "metadata": MessageMetadata(),
            "pinned": False,
            "created_at": dt.datetime.now(dt.UTC),
            **fields,
        }
    )


def _big_metadata(store: StoreLike) -> dict[str, str]:
    return {"blob": "x" * (store.limits.max_thread_bytes + 1)}


def _crafted_cursor(json_text: str) -> str:
    """A cursor holding ``json_text``, base64-encoded the way ``encode_cursor``
    encodes the JSON list it makes: what a client crafting a cursor sends."""
    return base64.urlsafe_b64encode(json_text.encode()).decode().rstrip("=")


BAD_INPUT: list[tuple[str, Callable[[StoreLike], object]]] = [
    ("append-unknown-thread", lambda s: s.append("nope", Message.user("x", id="bad1"))),
    ("append-invalid-role", lambda s: s.append("t1", {"role": "robot", "content": "x"})),
    (
        "append-unknown-part-type",
        lambda s: s.append("t1", {"role": "user", "parts": [{"type": "video", "url": "u"}]}),
    ),
    (
        "append-part-missing-field",
        lambda s: s.append(
            "t1", {"role": "assistant", "parts": [{"type": "tool-call", "tool_name": "f"}]}
        ),
    ),
    (
        "append-empty-tool-call-id",
        lambda s: s.append(
            "t1",
            {
                "role": "assistant",
                "parts": [{"type": "tool-call", "tool_call_id": "", "tool_name": "f"}],
            },
        ),
    ),
    (
        "append-unknown-field",
        lambda s: s.append("t1", {"role": "user", "content": "x", "colour": "red"}),
    ),
    (
        "append-bad-message-id",
        lambda s: s.append("t1", {"id": "bad\nid", "role": "user", "content": "x"}),
    ),
    (
        "append-overlong-message-id",
        lambda s: s.append("t1", {"id": "a" * 256, "role": "user", "content": "x"}),
    ),
    ("append-bad-thread-id", lambda s: s.append("bad\x00thread", Message.user("x"))),
    (
        "append-other-thread-id",
        lambda s: s.append("t1", Message.user("x", id="bad1", thread_id="t2")),
    ),
    (
        "append-nan-cost",
        lambda s: s.append(
            "t1",
            {
                "role": "assistant",
                "content": "x",
                "metadata": {"cost": {"input_cost": float("nan")}},
            },
        ),
    ),
    (
        "append-infinite-arg",
        lambda s: s.append(
            "t1",
            {
                "role": "assistant",
                "parts": [
                    {
                        "type": "tool-call",
                        "tool_call_id": "c",
                        "tool_name": "f",
                        "args": {"x": float("inf")},
                    }
                ],
            },
        ),
    ),
    (
        "append-non-json-args",
        lambda s: s.append(
            "t1",
            {
                "role": "assistant",
                "parts": [
                    {"type": "tool-call", "tool_call_id": "c", "tool_name": "f", "args": {1, 2}}
                ],
            },
        ),
    ),
    (
        "append-negative-token-count",
        lambda s: s.append("t1", {"role": "user", "content": "x", "token_count": -1}),
    ),
    ("append-not-a-message", lambda s: s.append("t1", ["hello"])),
    ("append-tool-without-call-id", lambda s: s.append("t1", {"role": "tool", "content": "42"})),
    ("append-a-string", lambda s: s.append("t1", "hello")),
    ("append-nul-content", lambda s: s.append("t1", Message.user("a\x00b", id="bad1"))),
    (
        "append-nul-in-part",
        lambda s: s.append(
            "t1",
            Message.assistant("ok", id="bad1").with_parts(
                TextPart(text="ok"), ReasoningPart(text="\x00")
            ),
        ),
    ),
    (
        "append-nul-in-args-key",
        lambda s: s.append(
            "t1",
            Message.assistant("ok", id="bad1").with_parts(
                ToolCallPart(tool_call_id="c1", tool_name="f", args={"k\x00": 1})
            ),
        ),
    ),
    (
        "append-nul-in-metadata",
        lambda s: s.append("t1", Message.user("ok", id="bad1").with_metadata(note="a\x00")),
    ),
    (
        "append-nul-in-native",
        lambda s: s.append(
            "t1",
            Message.user(
                "ok",
                id="bad1",
                native=NativePayload(format="openai.chat", data={"content": ["\x00"]}),
            ),
        ),
    ),
    ("append-surrogate-content", lambda s: s.append("t1", Message.user("a\ud800b", id="bad1"))),
    (
        "append-surrogate-in-args",
        lambda s: s.append(
            "t1",
            Message.assistant("ok", id="bad1").with_parts(
                ToolCallPart(tool_call_id="c1", tool_name="f", args={"x": ["\udfff"]})
            ),
        ),
    ),
    (
        "append-surrogate-metadata-key",
        lambda s: s.append("t1", Message.user("ok", id="bad1").with_metadata("\udc80", "v")),
    ),
    (
        "append-surrogate-unconstructed",
        lambda s: s.append("t1", _nul_message(content="\ud83d", parts=[TextPart(text="\ud83d")])),
    ),
    (
        "append-oversized-message",
        lambda s: s.append("t1", Message.user("x" * (s.limits.max_message_bytes + 1), id="bad1")),
    ),
    (
        "append-batch-with-bad-last",
        lambda s: s.append(
            "t1",
            [
                Message.user("ok", id="ok1"),
                Message.user("ok", id="ok2"),
                Message.user("\x00", id="bad1"),
            ],
        ),
    ),
    (
        "append-batch-too-large",
        lambda s: s.append("t1", [Message.user("x") for _ in range(s.limits.max_batch + 1)]),
    ),
    (
        "append-bad-expected-revision",
        lambda s: s.append("t1", Message.user("x"), expected_revision=-1),
    ),
    (
        "append-bool-expected-revision",
        lambda s: s.append("t1", Message.user("x"), expected_revision=True),
    ),
    ("create-thread-bad-id", lambda s: s.create_thread(id="has\ttab")),
    ("create-thread-nul-title", lambda s: s.create_thread(id="t9", title="a\x00")),
    (
        "create-thread-surrogate-metadata",
        lambda s: s.create_thread(id="t9", metadata={"k": "\ud800"}),
    ),
    ("create-thread-oversized", lambda s: s.create_thread(id="t9", metadata=_big_metadata(s))),
    ("create-thread-other-tenant", lambda s: s.create_thread(Thread(id="t9", tenant_id="x"))),
    ("create-thread-exists", lambda s: s.create_thread(id="t1")),
    ("update-thread-unknown-field", lambda s: s.update_thread("t1", colour="red")),
    ("update-thread-nul-title", lambda s: s.update_thread("t1", title="\x00")),
    (
        "update-thread-surrogate-state",
        lambda s: s.update_thread("t1", state={"variables": {"k": "\udfff"}}),
    ),
    ("update-thread-oversized", lambda s: s.update_thread("t1", metadata=_big_metadata(s))),
    (
        "update-thread-surrogate-metadata-key",
        lambda s: s.update_thread("t1", metadata={"\ud800": 1}),
    ),
    ("update-thread-bad-user", lambda s: s.update_thread("t1", user_id="")),
    ("update-thread-unknown", lambda s: s.update_thread("nope", title="x")),
    ("update-message-nul", lambda s: s.update_message("m1", content="\x00")),
    (
        "update-message-surrogate-part",
        lambda s: s.update_message("m1", parts=[CodePart(code="\ud800")]),
    ),
    ("update-message-unknown-field", lambda s: s.update_message("m1", role="system")),
    ("update-message-unknown", lambda s: s.update_message("nope", pinned=True)),
    (
        "update-message-oversized",
        lambda s: s.update_message("m1", content="x" * (s.limits.max_message_bytes + 1)),
    ),
    ("delete-message-unknown", lambda s: s.delete_message("nope")),
    ("delete-thread-unknown", lambda s: s.delete_thread("nope")),
    ("purge-thread-unknown", lambda s: s.purge_thread("nope")),
    ("import-garbage", lambda s: s.import_thread("{not json")),
    (
        "import-unknown-version",
        lambda s: s.import_thread({"version": 99, "thread": {"id": "t9"}, "messages": []}),
    ),
    (
        "import-bad-seq",
        lambda s: s.import_thread(
            ConversationSnapshot(
                thread=Thread(id="t9"),
                messages=[Message.user("a", id="i1", seq=2), Message.user("b", id="i2", seq=3)],
            )
        ),
    ),
    (
        "import-nul-message",
        lambda s: s.import_thread(
            ConversationSnapshot(
                thread=Thread(id="t9"),
                messages=[Message.user("ok", id="i1"), Message.user("\x00", id="i2")],
            )
        ),
    ),
    (
        "import-existing-thread",
        lambda s: s.import_thread(ConversationSnapshot(thread=Thread(id="t1"), messages=[])),
    ),
    (
        "import-existing-message-id",
        lambda s: s.import_thread(
            ConversationSnapshot(
                thread=Thread(id="t9"),
                messages=[Message.user("new", id="i1"), Message.user("hello", id="m1")],
            )
        ),
    ),
    ("list-messages-bad-limit", lambda s: s.list_messages("t1", limit=0)),
    (
        "list-messages-huge-limit",
        lambda s: s.list_messages("t1", limit=s.limits.max_list_limit + 1),
    ),
    ("list-messages-garbage-cursor", lambda s: s.list_messages("t1", cursor="%%%")),
    (
        "list-messages-threads-cursor",
        lambda s: s.list_messages("t1", cursor=encode_cursor("threads", [0, "t1"])),
    ),
    (
        "list-messages-cursor-seq-over-64-bits",
        lambda s: s.list_messages(
            "t1", cursor=_crafted_cursor(f'["messages","t1","after",{2**64}]')
        ),
    ),
    (
        "list-messages-cursor-seq-past-int64",
        lambda s: s.list_messages(
            "t1", cursor=_crafted_cursor(f'["messages","t1","before",{2**63}]')
        ),
    ),
    (
        "list-messages-cursor-bool-seq",
        lambda s: s.list_messages("t1", cursor=_crafted_cursor('["messages","t1","after",true]')),
    ),
    (
        "list-messages-cursor-float-seq",
        lambda s: s.list_messages("t1", cursor=_crafted_cursor('["messages","t1","after",1.0]')),
    ),
    (
        "list-messages-cursor-surrogate-id",
        lambda s: s.list_messages(
            "t1", cursor=_crafted_cursor('["messages","t1\\ud800","after",1]')
        ),
    ),
    (
        "list-messages-cursor-nul-id",
        lambda s: s.list_messages(
            "t1", cursor=_crafted_cursor('["messages","t1\\u0000","after",1]')
        ),
    ),
    (
        "list-messages-cursor-deep-json",
        lambda s: s.list_messages("t1", cursor=_crafted_cursor("[" * 1500 + "]" * 1500)),
    ),
    ("list-messages-overlong-cursor", lambda s: s.list_messages("t1", cursor="A" * 5000)),
    ("list-threads-string-limit", lambda s: s.list_threads(limit="3")),
    ("list-threads-bad-cursor", lambda s: s.list_threads(cursor="bm90IGEgY3Vyc29y")),
    (
        "list-threads-cursor-time-over-64-bits",
        lambda s: s.list_threads(cursor=_crafted_cursor(f'["threads",{2**64},"t1"]')),
    ),
    (
        "list-threads-cursor-time-below-int64",
        lambda s: s.list_threads(cursor=_crafted_cursor(f'["threads",{-(2**63 + 1)},"t1"]')),
    ),
    (
        "list-threads-cursor-time-past-year-9999",
        lambda s: s.list_threads(cursor=_crafted_cursor(f'["threads",{2**62},"t1"]')),
    ),
    (
        "list-threads-cursor-bool-time",
        lambda s: s.list_threads(cursor=_crafted_cursor('["threads",true,"t1"]')),
    ),
    (
        "list-threads-cursor-nul-id",
        lambda s: s.list_threads(cursor=_crafted_cursor('["threads",0,"t\\u0000"]')),
    ),
    (
        "list-threads-cursor-surrogate-id",
        lambda s: s.list_threads(cursor=_crafted_cursor('["threads",0,"\\udfff"]')),
    ),
    (
        "list-threads-cursor-trailing-newline-id",
        lambda s: s.list_threads(cursor=_crafted_cursor('["threads",0,"t1\\n"]')),
    ),
    ("list-threads-nul-agent-name", lambda s: s.list_threads(agent_name="agent\x00")),
    ("list-threads-surrogate-agent-name", lambda s: s.list_threads(agent_name="agent\ud800")),
    ("list-threads-overlong-agent-name", lambda s: s.list_threads(agent_name="a" * 256)),
    ("list-threads-agent-name-not-a-string", lambda s: s.list_threads(agent_name=7)),
    ("summaries-nul-agent-name", lambda s: s.summaries(agent_name="\x00")),
    ("summaries-surrogate-agent-name", lambda s: s.summaries(agent_name="\udc80")),
    ("count-threads-nul-agent-name", lambda s: s.count_threads(agent_name="a\x00b")),
    ("count-threads-surrogate-agent-name", lambda s: s.count_threads(agent_name="\ud83d")),
    ("get-thread-trailing-newline-id", lambda s: s.get_thread("t1\n")),
    ("append-trailing-newline-thread-id", lambda s: s.append("t1\n", Message.user("x"))),
    (
        "append-trailing-newline-message-id",
        lambda s: s.append("t1", {"id": "m9\n", "role": "user", "content": "x"}),
    ),
    ("create-thread-trailing-newline-id", lambda s: s.create_thread(id="t9\n")),
    ("tenant-trailing-newline", lambda s: s.tenant("acme\n")),
    ("list-threads-trailing-newline-user-id", lambda s: s.list_threads(user_id="u1\n")),
    ("recent-negative", lambda s: s.recent("t1", -1)),
    ("get-thread-not-a-string", lambda s: s.get_thread(42)),
]


#: Cases refused by the contract that the shared logic still accepts; each is an
#: ``xfail(strict=True)`` so the suite notices the day the bug is fixed.
KNOWN_BUGS: dict[str, str] = {}


def _bad_input_params() -> list[Any]:
    return [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[name]))
        if name in KNOWN_BUGS
        else name
        for name, _ in BAD_INPUT
    ]


def _reference_store() -> Any:
    return open_store("memory://")


# --- real-world ids ------------------------------------------------------------

#: Ids as identity providers, chat platforms and people make them, plus ones that
#: would be trouble if used unescaped as a file name, a URL path segment or inside
#: a cursor. Each must be accepted everywhere an id is and come back exactly.
REAL_WORLD_IDS: tuple[str, ...] = (
    "auth0|64b7f0c2e1",
    "google-oauth2|1180",
    "slack/C123",
    "alice@example.com",
    "José",
    "Jose\u0301",
    "Alice",
    "alice",
    "漢字",
    "Ωμέγα",
    "👨\u200d👩\u200d👧 family",
    "../x",
    "..",
    ".",
    ".lock",
    "%2e%2e",
    "%",
    "a/b",
    "a\\b",
    "x?y#z&w=1+2",
    "CON",
    "nul.txt",
    " spaced out ",
    "~tilde",
    "\u200fRTL mark",
    "\u202eevil",
    "\u200bzero width",
    "\ufeffbom",
    "Ω" * 255,
    "😀" * 255,
)

#: Ids that are refused: empty, too long, or holding a control character (C0, DEL,
#: C1), a line or paragraph separator, or a lone surrogate.
REFUSED_IDS: tuple[str, ...] = (
    "",
    "a\x00b",
    "line\nbreak",
    "tab\there",
    "\x1b[31mred",
    "del\x7f",
    "c1\x85",
    "ls\u2028",
    "ps\u2029",
    "lone\ud800",
    "x" * 256,
    "😀" * 256,
)


def _id_label(value: str) -> str:
    return ascii(value)[:40]


class IdentifierContract:
    """Tenants, users, threads, messages and executions take real-world ids.

    Part of :class:`StoreContract`; the ``store`` and ``reopen`` fixtures are
    the contract's.
    """

    def test_real_world_ids_round_trip(
        self, store: StoreLike, reopen: Callable[[], StoreLike] | None
    ) -> None:
        for n, rid in enumerate(REAL_WORLD_IDS):
            view = store.tenant(rid)
            view.create_thread(id=rid, user_id=rid, title=f"thread {n}")
            view.append(
                rid,
                [
                    Message.user("question", id=rid, execution_id=rid),
                    Message.assistant("answer", id=f"reply-{n}", parent_id=rid, execution_id=rid),
                ],
            )

        def check(s: StoreLike) -> None:
            for n, rid in enumerate(REAL_WORLD_IDS):
                view = s.tenant(rid)
                thread = view.get_thread(rid)
                assert (thread.id, thread.tenant_id, thread.user_id) == (rid, rid, rid)
                assert thread.title == f"thread {n}"
                assert [t.id for t in view.list_threads(user_id=rid)] == [rid]
                first = view.list_messages(rid, limit=1)
                second = view.list_messages(rid, limit=1, cursor=first.next_cursor)
                assert [m.id for m in [*first, *second]] == [rid, f"reply-{n}"]
                assert [m.thread_id for m in [*first, *second]] == [rid, rid]
                assert [m.parent_id for m in second] == [rid]
                assert view.get_message(rid).execution_id == rid
                assert [m.id for m in view.messages_by_execution(rid, thread_id=rid)] == [
                    rid,
                    f"reply-{n}",
                ]
                snap = view.export_thread(rid)
                assert snap.thread.id == rid and [m.id for m in snap.messages] == [
                    rid,
                    f"reply-{n}",
                ]

        check(store)
        if reopen is not None:
            check(reopen())

    def test_real_world_thread_ids_through_every_write(self, store: StoreLike) -> None:
        source = store.tenant("source")
        source.create_thread(id="src")
        source.append("src", [Message.user("q", id="m1"), Message.assistant("a", id="m2")])
        snap = source.export_thread("src")
        for rid in REAL_WORLD_IDS:
            store.import_thread(snap, thread_id=rid, new_ids=True)
            store.update_thread(rid, title="renamed", user_id=rid)
            stored = store.append(rid, Message.user("more"))
            store.update_message(stored[0].id, pinned=True)
            store.delete_message(stored[0].id)
            store.delete_thread(rid)
            assert rid not in [t.id for t in store.list_threads()]
            store.restore_thread(rid)
            assert store.get_thread(rid).title == "renamed"
            assert [m.content for m in store.recent(rid, 10)] == ["q", "a"]
            store.purge_thread(rid)
            with pytest.raises(ThreadNotFoundError):
                store.get_thread(rid)
        assert store.count_threads(include_deleted=True) == 0

    def test_thread_listing_pages_over_real_world_ids(self, store: StoreLike) -> None:
        for rid in REAL_WORLD_IDS:
            store.create_thread(id=rid, user_id="u|1")
        seen: list[str] = []
        cursor = None
        while True:
            page = store.list_threads(user_id="u|1", limit=4, cursor=cursor)
            seen.extend(t.id for t in page)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert sorted(seen) == sorted(REAL_WORLD_IDS)
        assert len(seen) == len(set(seen)) == store.count_threads(user_id="u|1")

    @pytest.mark.parametrize("bad", REFUSED_IDS, ids=_id_label)
    def test_ids_with_control_characters_are_refused(self, store: StoreLike, bad: str) -> None:
        store.create_thread(id="t1")
        store.append("t1", Message.user("hi", id="m1"))
        before = fingerprint(store, "t1")
        snap = store.export_thread("t1")
        user = {"role": "user", "content": "x"}
        cases: list[tuple[Callable[[], object], str]] = [
            (lambda: store.create_thread(id=bad), "id"),
            (lambda: store.create_thread(user_id=bad), "user_id"),
            (lambda: store.update_thread("t1", user_id=bad), "user_id"),
            (lambda: store.tenant(bad), "tenant"),
            (lambda: store.get_thread(bad), "thread_id"),
            (lambda: store.list_threads(user_id=bad), "user_id"),
            (lambda: store.append(bad, Message.user("x")), "thread_id"),
            (lambda: store.append("t1", {**user, "id": bad}), "id"),
            (lambda: store.append("t1", {**user, "execution_id": bad}), "execution_id"),
            (lambda: store.append("t1", {**user, "parent_id": bad}), "parent_id"),
            (lambda: store.get_message(bad), "message_id"),
            (lambda: store.messages_by_execution(bad), "execution_id"),
            (lambda: store.import_thread(snap, thread_id=bad, new_ids=True), "thread_id"),
        ]
        for action, field in cases:
            exc = _raised(action)
            _assert_typed(exc)
            assert isinstance(exc, ValidationError), exc
            assert exc.field is not None and field in exc.field, (field, exc.field, exc)
        assert fingerprint(store, "t1") == before

    def test_listing_ties_order_ids_by_code_point(self, store: StoreLike) -> None:
        # Copies of one snapshot keep its update time, so the listing orders them by
        # id alone: by code point on every backend (UTF-8 byte order is the same),
        # and the cursor, which compares ids, agrees with the order.
        store.create_thread(id="source")
        store.append("source", Message.user("q"))
        snap = store.export_thread("source")
        ids = [rid for rid in REAL_WORLD_IDS if rid != "source"]
        for rid in ids:
            store.import_thread(snap, thread_id=rid, new_ids=True)
        store.purge_thread("source")
        seen: list[str] = []
        cursor = None
        while True:
            page = store.list_threads(limit=3, cursor=cursor)
            seen.extend(t.id for t in page)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == sorted(ids, reverse=True)


# --- the contract --------------------------------------------------------------


class StoreContract(IdentifierContract):
    """Conformance tests every convostore backend passes, in both faces.

    Override the ``store`` fixture (and ``reopen`` for durable backends).
    Class attributes tune the heavier tests.
    """

    #: writers and appends per writer of :meth:`test_concurrent_appends_from_threads`
    concurrent_writers: ClassVar[int] = 8
    appends_per_writer: ClassVar[int] = 250

    @pytest.fixture
    def store(self) -> Iterator[StoreLike]:
        raise NotImplementedError("override the `store` fixture to yield a fresh, empty store")

    @pytest.fixture
    def reopen(self) -> Callable[[], StoreLike] | None:
        """A callable closing the stores handed out so far and opening the same data
        again; ``None`` for a backend that keeps nothing across opens."""
        return None

    # === seed 000: MessageStore ================================================

    def test_seed000_create_thread(self, store: StoreLike) -> None:
        thread = Thread(tenant_id="default", user_id="user_test")
        created = store.create_thread(thread)
        loaded = store.get_thread(thread.id)
        assert created.id == loaded.id == thread.id
        assert loaded.user_id == "user_test"
        assert loaded.tenant_id == store.tenant_id

    def test_seed000_soft_delete_thread(self, store: StoreLike) -> None:
        tid = store.create_thread(user_id="user_test").id
        store.delete_thread(tid)
        loaded = store.get_thread(tid)
        assert loaded.is_deleted
        assert loaded.deleted_at is not None

    def test_seed000_list_threads_excludes_deleted(self, store: StoreLike) -> None:
        t1 = store.create_thread(user_id="user_test").id
        t2 = store.create_thread(user_id="user_test").id
        store.delete_thread(t2)
        listed = _thread_ids(store.list_threads(user_id="user_test", limit=100))
        assert listed == [t1]
        assert set(_thread_ids(store.list_threads(user_id="user_test", include_deleted=True))) == {
            t1,
            t2,
        }

    def test_seed000_create_message(self, store: StoreLike) -> None:
        tid = store.create_thread(user_id="user_test").id
        msg = Message.user("Hello!")
        store.append(tid, msg)
        loaded = store.get_message(msg.id)
        assert loaded.content == "Hello!"
        assert loaded.parts == [TextPart(text="Hello!")]
        assert loaded.thread_id == tid

    def test_seed000_message_parent_chain(self, store: StoreLike) -> None:
        tid = store.create_thread(user_id="user_test").id
        user_msg = Message.user("What's the weather?")
        store.append(tid, user_msg)
        reply = Message.assistant(
            "The weather is sunny.", execution_id=new_id("exec"), parent_id=user_msg.id
        )
        store.append(tid, reply)
        messages = store.list_messages(tid).items
        assert [m.role for m in messages] == [Role.USER, Role.ASSISTANT]
        assert messages[1].parent_id == user_msg.id
        assert messages[1].parent_type is ParentType.USER_MESSAGE

    def test_seed000_soft_delete_message(self, store: StoreLike) -> None:
        tid = store.create_thread(user_id="user_test").id
        msg = Message.user("Delete me")
        store.append(tid, msg)
        store.delete_message(msg.id)
        assert store.list_messages(tid).items == []
        everything = store.list_messages(tid, include_deleted=True).items
        assert [m.id for m in everything] == [msg.id]
        assert everything[0].is_deleted

    def test_seed000_get_messages_by_execution(self, store: StoreLike) -> None:
        tid = store.create_thread(user_id="user_test").id
        exec_id = new_id("exec")
        store.append(tid, Message.assistant("Response", execution_id=exec_id))
        found = store.messages_by_execution(exec_id)
        assert len(found) == 1
        assert found[0].execution_id == exec_id

    def test_seed000_message_with_parts(self, store: StoreLike) -> None:
        tid = store.create_thread(user_id="user_test").id
        parts: list[Part] = [
            ReasoningPart(text="Let me think..."),
            ToolCallPart(tool_call_id="tc_123", tool_name="get_weather", args={"city": "NYC"}),
            TextPart(text="The weather is sunny."),
        ]
        msg = Message.assistant("The weather is sunny.", execution_id=new_id("exec")).with_parts(
            parts
        )
        store.append(tid, msg)
        loaded = store.get_message(msg.id)
        assert loaded.parts == parts
        assert loaded.content == "The weather is sunny."

    def test_seed000_message_metadata(self, store: StoreLike) -> None:
        tid = store.create_thread(user_id="user_test").id
        metadata = MessageMetadata(
            model="gpt-4o",
            provider="azure",
            duration_ms=1500,
            token_usage=TokenUsage.of(100, 200),
            stats=ExecutionStats(llm_calls=2, tool_calls=1, steps=3, decisions=1),
            finish_reason=FinishReason.STOP,
        )
        msg = Message.assistant("Response", execution_id=new_id("exec")).with_metadata(metadata)
        store.append(tid, msg)
        loaded = store.get_message(msg.id)
        assert loaded.metadata == metadata
        assert loaded.metadata.model == "gpt-4o"
        assert loaded.metadata.stats is not None and loaded.metadata.stats.llm_calls == 2

    def test_seed000_thread_updated_on_message(self, store: StoreLike) -> None:
        thread = store.create_thread(user_id="user_test")
        time.sleep(0.01)
        store.append(thread.id, Message.user("Hello!"))
        assert store.get_thread(thread.id).updated_at > thread.updated_at

    # === seed 002: HistoryStore (snapshots) ====================================

    def test_seed002_in_memory_store_round_trip(self, store: StoreLike) -> None:
        with pytest.raises(ThreadNotFoundError):
            store.export_thread("conversation")
        snap = ConversationSnapshot(
            thread=Thread(id="conversation"),
            messages=[Message.user("hi"), Message.assistant("hello")],
            pinned=[True, False],
        )
        store.import_thread(snap)
        restored = store.export_thread("conversation")
        assert restored.pinned == [True, False]
        assert [(m.id, m.role, m.content, m.pinned) for m in restored.messages] == [
            (snap.messages[0].id, Role.USER, "hi", True),
            (snap.messages[1].id, Role.ASSISTANT, "hello", False),
        ]

    def test_seed002_returns_none_when_missing(self, store: StoreLike) -> None:
        """A store at a location never written to is empty, not an error."""
        with pytest.raises(ThreadNotFoundError):
            store.get_thread("missing")
        assert store.list_threads().items == []
        assert store.count_threads(include_deleted=True) == 0

    def test_seed002_file_store_round_trip(
        self, store: StoreLike, reopen: Callable[[], StoreLike] | None
    ) -> None:
        if reopen is None:
            pytest.skip("backend is not durable")
        snap = ConversationSnapshot(
            thread=Thread(id="conversation", title="kept"),
            messages=[Message.user("hi"), Message.assistant("hello")],
            pinned=[True, False],
        )
        store.import_thread(snap)
        before = store.export_thread("conversation")
        again = reopen()
        after = again.export_thread("conversation")
        assert after.thread == before.thread
        assert after.messages == before.messages
        assert after.pinned == [True, False]

    # === seed 003: SessionHistory summaries ====================================

    def test_seed003_history_disabled(self, store: StoreLike) -> None:
        """Nothing recorded yet: zero sessions, no summaries."""
        assert store.count_threads() == 0
        assert store.summaries() == []

    def test_seed003_history_enabled(self, store: StoreLike) -> None:
        report = store.health_check()
        assert report.ok
        assert report.backend

    def test_seed003_create_and_load_session(self, store: StoreLike) -> None:
        store.create_thread(id="test-123", agent_name="test-agent", model="gpt-5")
        store.append("test-123", Message.user("Hello"))
        loaded = store.get_thread("test-123")
        assert (loaded.id, loaded.agent_name, loaded.model) == ("test-123", "test-agent", "gpt-5")
        assert [m.content for m in store.list_messages("test-123")] == ["Hello"]

    def test_seed003_list_sessions(self, store: StoreLike) -> None:
        for i in range(3):
            store.create_thread(id=f"test-{i}", agent_name="test-agent", model="gpt-5")
        store.create_thread(id="other", agent_name="other-agent")
        assert store.count_threads() == 4
        sessions = store.summaries(agent_name="test-agent")
        assert sorted(s.id for s in sessions) == ["test-0", "test-1", "test-2"]
        assert all(s.message_count == 0 and s.model == "gpt-5" for s in sessions)
        assert store.count_threads(agent_name="test-agent") == 3

    # === threads ===============================================================

    def test_thread_fields_round_trip(self, store: StoreLike) -> None:
        created = store.create_thread(
            id="t1",
            user_id="u1",
            agent_name="agent",
            model="m",
            title="Title",
            metadata={"k": [1, 2.5, None, {"x": "y"}]},
            state={"variables": {"lang": "fr"}, "data": {"n": 1, "l": [True]}},
        )
        loaded = store.get_thread("t1")
        assert loaded == created
        assert loaded.state.variables == {"lang": "fr"}
        assert loaded.metadata == {"k": [1, 2.5, None, {"x": "y"}]}
        assert (loaded.revision, loaded.message_count, loaded.deleted_at) == (0, 0, None)

    def test_create_thread_ignores_client_counters(self, store: StoreLike) -> None:
        thread = Thread(
            id="t1", revision=7, message_count=3, turn_count=2, usage=TokenUsage.of(5, 5)
        )
        created = store.create_thread(thread)
        assert (created.revision, created.message_count, created.turn_count) == (0, 0, 0)
        assert store.get_thread("t1").usage == TokenUsage()

    def test_create_existing_thread_conflicts(self, store: StoreLike) -> None:
        store.create_thread(id="t1", title="original")
        with pytest.raises(ThreadExistsError):
            store.create_thread(id="t1", title="imposter")
        assert store.get_thread("t1").title == "original"

    def test_update_thread_sets_and_clears(self, store: StoreLike) -> None:
        store.create_thread(id="t1", title="a", model="m1")
        updated = store.update_thread(
            "t1", title="b", metadata={"x": 1}, state={"variables": {"v": "1"}}
        )
        assert (updated.title, updated.metadata, updated.state.variables) == (
            "b",
            {"x": 1},
            {"v": "1"},
        )
        assert updated.revision == 1
        cleared = store.update_thread("t1", title=None)
        assert cleared.title is None and cleared.model == "m1"
        assert store.get_thread("t1") == cleared

    def test_deleted_thread_refuses_writes_until_restored(self, store: StoreLike) -> None:
        _setup_basic(store)
        store.delete_thread("t1")
        before = fingerprint(store, "t1")
        action: Callable[[], object]
        for action in (
            lambda: store.append("t1", Message.user("x")),
            lambda: store.update_thread("t1", title="x"),
            lambda: store.update_message("m1", pinned=True),
            lambda: store.delete_message("m1"),
        ):
            with pytest.raises(ThreadDeletedError):
                action()
        assert fingerprint(store, "t1") == before
        again = store.delete_thread("t1")
        assert again.deleted_at == before[0][0][0].deleted_at
        restored = store.restore_thread("t1")
        assert restored.deleted_at is None
        assert _thread_ids(store.list_threads()) == ["t1"]
        assert store.append("t1", Message.user("back"))[0].seq == 3

    def test_purge_thread_removes_everything(self, store: StoreLike) -> None:
        _setup_basic(store)
        store.create_thread(id="t2")
        store.purge_thread("t1")
        with pytest.raises(ThreadNotFoundError):
            store.get_thread("t1")
        with pytest.raises(MessageNotFoundError):
            store.get_message("m1")
        assert store.messages_by_execution("e1") == []
        assert _thread_ids(store.list_threads(include_deleted=True)) == ["t2"]
        # the ids are free again
        store.create_thread(id="t1")
        assert store.append("t1", Message.user("hello", id="m1"))[0].seq == 1

    def test_list_threads_newest_activity_first(self, store: StoreLike) -> None:
        for tid in ("a", "b", "c"):
            store.create_thread(id=tid)
            time.sleep(0.002)
        assert _thread_ids(store.list_threads()) == ["c", "b", "a"]
        store.append("a", Message.user("bump"))
        assert _thread_ids(store.list_threads()) == ["a", "c", "b"]
        time.sleep(0.002)
        store.update_thread("b", title="bump")
        assert _thread_ids(store.list_threads()) == ["b", "a", "c"]

    def test_list_threads_pages_cover_everything_once(self, store: StoreLike) -> None:
        ids = [f"t{i}" for i in range(7)]
        for tid in ids:
            store.create_thread(id=tid)
        full = store.list_threads(limit=100)
        assert full.next_cursor is None
        order = _thread_ids(full)
        assert sorted(order) == sorted(ids)
        times = [t.updated_at for t in full]
        assert times == sorted(times, reverse=True)
        pages, cursor = [], None
        while True:
            page = store.list_threads(limit=3, cursor=cursor)
            pages.append(_thread_ids(page))
            cursor = page.next_cursor
            if cursor is None:
                break
        assert [len(p) for p in pages] == [3, 3, 1]
        assert [tid for p in pages for tid in p] == order

    def test_thread_filters_counts_and_summaries(self, store: StoreLike) -> None:
        store.create_thread(id="a1", user_id="ann", agent_name="x")
        store.create_thread(id="a2", user_id="ann", agent_name="y")
        store.create_thread(id="b1", user_id="bob", agent_name="x")
        store.delete_thread("a2")
        assert _thread_ids(store.list_threads(user_id="ann")) == ["a1"]
        assert sorted(_thread_ids(store.list_threads(agent_name="x"))) == ["a1", "b1"]
        assert _thread_ids(
            store.list_threads(user_id="ann", agent_name="y", include_deleted=True)
        ) == ["a2"]
        assert store.count_threads() == 2
        assert store.count_threads(user_id="ann", include_deleted=True) == 2
        assert store.count_threads(user_id="nobody") == 0
        summaries = store.summaries(include_deleted=True)
        assert {s.id for s in summaries} == {"a1", "a2", "b1"}
        assert [s.id for s in store.summaries(limit=1)] == [store.list_threads().items[0].id]
        for s in summaries:
            assert s == ThreadSummary.of(store.get_thread(s.id))

    # === messages ==============================================================

    def test_append_assigns_seq_turn_and_thread(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        batch = [
            Message.system("be brief"),
            Message.user("q1"),
            Message.assistant("a1"),
            Message.user("q2"),
        ]
        stored = store.append("t1", batch)
        assert [m.id for m in stored] == [m.id for m in batch]
        assert seqs(stored) == [1, 2, 3, 4]
        assert [m.turn for m in stored] == [0, 1, 1, 2]
        assert {m.thread_id for m in stored} == {"t1"}
        more = store.append("t1", Message.assistant("a2"))
        assert seqs(more) == [5]
        assert all_messages(store, "t1") == stored + more

    def test_counters_count_every_appended_message(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        call = (
            Message.assistant("", id="call", token_count=7)
            .with_parts(
                ToolCallPart(tool_call_id="c1", tool_name="f", args={}),
                ToolCallPart(tool_call_id="c2", tool_name="g", args=[1]),
            )
            .with_metadata(
                MessageMetadata(
                    token_usage=TokenUsage.of(10, 5),
                    cost=CostInfo(input_cost=0.25, output_cost=0.5, total_cost=0.75),
                )
            )
        )
        stored = store.append(
            "t1",
            [
                Message.system("sys"),
                Message.user("q", id="q1"),
                call,
                Message.tool("r1", "c1"),
                Message.tool("r2", "c2"),
                Message.user("again", token_count=3),
            ],
        )
        # Counts given by the caller are kept; the others are counted once, at append.
        assert (stored[2].token_count, stored[5].token_count) == (7, 3)
        assert all(m.token_count is not None for m in stored)
        tokens = sum(m.token_count or 0 for m in stored)
        t = store.get_thread("t1")
        assert (t.message_count, t.turn_count, t.tool_call_count, t.token_count) == (
            6,
            2,
            2,
            tokens,
        )
        assert t.usage == TokenUsage.of(10, 5)
        assert math.isclose(t.cost.total_cost, 0.75)
        store.delete_message("call")
        store.delete_message("q1")
        t2 = store.get_thread("t1")
        assert (t2.message_count, t2.turn_count, t2.tool_call_count) == (6, 2, 2)
        assert [s for s in store.summaries() if s.id == "t1"] == [ThreadSummary.of(t2)]

    def test_update_message_patches_and_moves_counters(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        store.append("t1", [Message.user("q", id="m1"), Message.assistant("a", id="m2")])
        rev = store.get_thread("t1").revision
        patched = store.update_message(
            "m2",
            parts=[TextPart(text="new answer"), ToolCallPart(tool_call_id="c", tool_name="f")],
            pinned=True,
        )
        assert patched.content == "new answer"
        assert patched.pinned and patched.updated_at is not None
        assert (patched.seq, patched.role, patched.thread_id) == (2, Role.ASSISTANT, "t1")
        assert store.get_message("m2") == patched
        t = store.get_thread("t1")
        assert t.tool_call_count == 1 and t.revision > rev
        store.update_message("m2", parts=[TextPart(text="plain")])
        assert store.get_thread("t1").tool_call_count == 0

    def test_delete_message_keeps_seq(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        store.append("t1", [Message.user(str(i), id=f"m{i}") for i in range(1, 5)])
        deleted = store.delete_message("m2")
        assert deleted.is_deleted and deleted.seq == 2
        assert seqs(store.list_messages("t1").items) == [1, 3, 4]
        assert seqs(store.list_messages("t1", include_deleted=True).items) == [1, 2, 3, 4]
        assert store.get_message("m2").is_deleted
        assert seqs(store.append("t1", Message.user("5"))) == [5]

    # === the live message count ===================================================

    def test_live_message_count_follows_deletes_and_restores(self, store: StoreLike) -> None:
        created = store.create_thread(Thread(id="t1", live_message_count=9))
        assert created.live_message_count == 0
        store.append("t1", [Message.user(str(i), id=f"m{i}") for i in range(1, 6)])
        t = store.get_thread("t1")
        assert (t.message_count, t.live_message_count) == (5, 5)
        store.delete_message("m2")
        store.delete_message("m4")
        rev = store.get_thread("t1").revision
        store.delete_message("m2")  # already deleted: nothing moves
        t = store.get_thread("t1")
        assert (t.message_count, t.live_message_count, t.revision) == (5, 3, rev)
        restored = store.restore_message("m2")
        assert (restored.deleted_at, restored.seq) == (None, 2)
        assert restored.updated_at is not None
        assert store.get_message("m2") == restored
        rev = store.get_thread("t1").revision
        assert store.restore_message("m2") == restored  # already live: nothing moves
        t = store.get_thread("t1")
        assert (t.message_count, t.live_message_count, t.revision) == (5, 4, rev)
        assert seqs(store.list_messages("t1").items) == [1, 2, 3, 5]
        store.delete_message("m2")  # deleted again after its restore
        store.append("t1", Message.user("6", id="m6"))
        store.append("t1", Message.user("6", id="m6"))  # a re-send adds nothing
        t = store.get_thread("t1")
        assert (t.message_count, t.live_message_count) == (6, 4)
        assert t.live_message_count == len(store.list_messages("t1").items)
        summary = next(s for s in store.summaries() if s.id == "t1")
        assert (summary.message_count, summary.live_message_count) == (6, 4)
        assert store.list_threads().items[0].live_message_count == 4

    def test_restore_message_checks_like_every_message_write(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        store.append("t1", [Message.user("a", id="m1"), Message.user("b", id="m2")])
        store.delete_message("m1")
        rev = store.get_thread("t1").revision
        with pytest.raises(RevisionConflictError):
            store.restore_message("m1", expected_revision=rev - 1)
        with pytest.raises(MessageNotFoundError):
            store.restore_message("nope")
        store.tenant("other").create_thread(id="t1")
        with pytest.raises(MessageNotFoundError):
            store.tenant("other").restore_message("m1")
        store.delete_thread("t1")
        with pytest.raises(ThreadDeletedError):
            store.restore_message("m1")
        store.restore_thread("t1")
        assert store.get_thread("t1").live_message_count == 1
        store.restore_message("m1", expected_revision=store.get_thread("t1").revision)
        assert store.get_thread("t1").live_message_count == 2

    def test_live_message_count_of_an_import(self, store: StoreLike) -> None:
        gone = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
        snap = ConversationSnapshot(
            thread=Thread(id="src", message_count=9, live_message_count=9),
            messages=[
                Message.user("q", id="i1"),
                Message.user("x", id="i2", deleted_at=gone),
                Message.assistant("a", id="i3"),
            ],
        )
        imported = store.import_thread(snap, thread_id="dst")
        assert (imported.message_count, imported.live_message_count) == (3, 2)
        assert store.get_thread("dst").live_message_count == 2
        store.restore_message("i2")
        store.delete_message("i1")
        store.delete_message("i3")
        copy = store.tenant("copy").import_thread(store.export_thread("dst"))
        assert (copy.message_count, copy.live_message_count) == (3, 1)
        assert store.tenant("copy").get_thread("dst").live_message_count == 1

    # === context windows read only what they may use ===============================

    def test_context_reads_skip_archived_and_deleted_rows(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        store.append(
            "t1",
            [Message.system("sys", id="s")]
            + [Message.user(f"old {i}", id=f"o{i}") for i in range(40)]
            + [Message.user(f"new {i}", id=f"n{i}") for i in range(6)],
        )
        when = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
        for i in range(40):
            store.update_message(f"o{i}", archived_at=when)
        store.update_message("o7", pinned=True, archived_at=None)
        store.delete_message("n2")
        store.update_message("n1", pinned=True)
        store.append("t1", Message.system("late", id="s2"))
        store.delete_message("s2")
        tenant = store.tenant_id
        first = execute_op(
            store, ops.ContextPage(tenant, "t1", 1000, 2**63 - 1, with_mandatory=True)
        )
        assert [m.id for m in first.mandatory] == ["s", "o7", "n1"]
        live = [47, 46, 45, 43, 42, 9, 1]  # n5 n4 n3 n1 n0 o7 s: no archived, no deleted
        assert [seq for seq, _ in first.rows] == live
        page = execute_op(store, ops.ContextPage(tenant, "t1", 3, 45))
        assert page.mandatory is None
        assert [seq for seq, _ in page.rows] == [43, 42, 9]
        bodies = [
            b if isinstance(b, Message) else Message.model_validate_json(b) for _, b in page.rows
        ]
        assert [m.id for m in bodies] == ["n1", "n0", "o7"]
        window = store.context("t1", max_messages=100)
        assert [m.id for m in window.messages] == ["s", "o7", "n0", "n1", "n3", "n4", "n5"]

    def test_unknown_ids_raise_not_found(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        with pytest.raises(ThreadNotFoundError) as thread_exc:
            store.get_thread("nope")
        assert thread_exc.value.thread_id == "nope"
        with pytest.raises(MessageNotFoundError) as msg_exc:
            store.get_message("nope")
        assert msg_exc.value.message_id == "nope"
        action: Callable[[], object]
        for action in (
            lambda: store.list_messages("nope"),
            lambda: store.recent("nope"),
            lambda: store.export_thread("nope"),
            lambda: store.restore_thread("nope"),
        ):
            with pytest.raises(ThreadNotFoundError):
                action()
        assert store.messages_by_execution("nope") == []

    def test_list_messages_pages_forward(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        store.append("t1", [Message.user(str(i), id=f"m{i}") for i in range(1, 11)])
        store.delete_message("m5")
        pages, cursor = [], None
        while True:
            page = store.list_messages("t1", limit=3, cursor=cursor)
            pages.append(page)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert [seqs(p.items) for p in pages] == [[1, 2, 3], [4, 6, 7], [8, 9, 10]]
        assert pages[0].prev_cursor is None
        assert pages[1].prev_cursor is not None
        back = store.list_messages("t1", limit=3, cursor=pages[1].prev_cursor)
        assert seqs(back.items) == [1, 2, 3]

    def test_list_messages_pages_backward_from_end(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        store.append("t1", [Message.user(str(i), id=f"m{i}") for i in range(1, 11)])
        store.delete_message("m5")
        page = store.list_messages("t1", limit=3, from_end=True)
        assert seqs(page.items) == [8, 9, 10] and page.next_cursor is None
        got = [seqs(page.items)]
        while page.prev_cursor is not None:
            page = store.list_messages("t1", limit=3, cursor=page.prev_cursor)
            got.append(seqs(page.items))
        assert got == [[8, 9, 10], [4, 6, 7], [1, 2, 3]]
        middle = store.list_messages(
            "t1", limit=3, cursor=store.list_messages("t1", limit=3, from_end=True).prev_cursor
        )
        assert middle.next_cursor is not None
        assert seqs(store.list_messages("t1", limit=3, cursor=middle.next_cursor).items) == [
            8,
            9,
            10,
        ]
        with_deleted = store.list_messages("t1", limit=3, from_end=True, include_deleted=True)
        prev = store.list_messages(
            "t1", limit=3, cursor=with_deleted.prev_cursor, include_deleted=True
        )
        assert seqs(prev.items) == [5, 6, 7]

    def test_message_cursor_is_bound_to_its_thread(self, store: StoreLike) -> None:
        for tid in ("t1", "t2"):
            store.create_thread(id=tid)
            store.append(tid, [Message.user(str(i)) for i in range(3)])
        cursor = store.list_messages("t1", limit=1).next_cursor
        assert cursor is not None
        with pytest.raises(ValidationError):
            store.list_messages("t2", cursor=cursor)

    def test_iter_messages_reads_every_page(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        store.append("t1", [Message.user(str(i)) for i in range(25)])
        assert seqs(list(store.iter_messages("t1", batch=4))) == list(range(1, 26))

    def test_load_messages_reads_a_whole_thread_typed_or_as_dicts(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        stored = store.append(
            "t1",
            [Message.user(f"q{i}") for i in range(5)]
            + [Message.assistant("a", pinned=True, execution_id="ex")],
        )
        store.delete_message(stored[1].id)
        live = [m for m in all_messages(store, "t1") if m.deleted_at is None]
        assert store.load_messages("t1") == live
        every = all_messages(store, "t1")
        assert store.load_messages("t1", include_deleted=True) == every
        dicts = store.load_messages("t1", include_deleted=True, as_dicts=True)
        assert all(type(d) is dict for d in dicts)
        assert [Message.model_validate(d) for d in dicts] == every
        assert store.load_messages("t1", as_dicts=True)[0]["content"] == "q0"
        with pytest.raises(ThreadNotFoundError):
            store.load_messages("missing")
        with pytest.raises(ThreadNotFoundError):
            store.tenant("other").load_messages("t1")

    def test_recent_returns_newest_oldest_first(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        store.append("t1", [Message.user(str(i), id=f"m{i}") for i in range(1, 11)])
        assert seqs(store.recent("t1", 3)) == [8, 9, 10]
        store.delete_message("m10")
        assert seqs(store.recent("t1", 3)) == [7, 8, 9]
        assert seqs(store.recent("t1", 3, include_deleted=True)) == [8, 9, 10]
        assert store.recent("t1", 0) == []
        assert seqs(store.recent("t1", 50)) == list(range(1, 10))

    def test_messages_by_execution(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        store.create_thread(id="t2")
        store.append(
            "t1",
            [
                Message.user("q"),
                Message.assistant("a", id="a1", execution_id="e1"),
                Message.assistant("b", id="a2", execution_id="e1"),
                Message.assistant("c", id="a3", execution_id="e2"),
            ],
        )
        store.append("t2", Message.assistant("d", id="a4", execution_id="e1"))
        store.delete_message("a2")
        assert sorted(m.id for m in store.messages_by_execution("e1")) == ["a1", "a4"]
        assert [m.id for m in store.messages_by_execution("e1", thread_id="t2")] == ["a4"]
        assert [m.id for m in store.messages_by_execution("e2")] == ["a3"]

    def test_native_payload_kept_untouched(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        data = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "f", "arguments": '{"a": 1}'},
                }
            ],
            "refusal": None,
            "annotations": [],
            "x": {"nested": [1, 1.5, "\\u0000"]},
        }
        msg = Message.assistant("", native=NativePayload(format="openai.chat", data=data))
        store.append("t1", msg)
        loaded = store.get_message(msg.id)
        assert loaded.native is not None
        assert loaded.native.format == "openai.chat"
        assert loaded.native.data == data

    def test_text_that_looks_like_an_escape_is_stored(self, store: StoreLike) -> None:
        store.create_thread(id="t1", title="\\u0000")
        text = "literal \\u0000 and \\x00, emoji \U0001f600, rtl \u05d0, zero-width \u200b"
        store.append("t1", Message.user(text, id="m1"))
        assert store.get_message("m1").content == text
        assert store.get_thread("t1").title == "\\u0000"

    # === edits keep a message whole ===============================================

    def _as_appended(self, store: StoreLike, message: Message) -> Message:
        """``message`` as appending it afresh would store it (in a scratch thread)."""
        scratch = store.create_thread()
        fresh = message.model_copy(
            update={
                "id": new_id("msg"),
                "thread_id": None,
                "seq": None,
                "turn": None,
                "token_count": None,
                "token_counter": None,
                "updated_at": None,
            }
        )
        stored: Message
        (stored,) = store.append(
            scratch.id,
            Message.model_validate(fresh.model_dump(exclude={"content"} if fresh.parts else set())),
        )
        store.purge_thread(scratch.id)
        return stored

    def _check_whole(self, store: StoreLike, message_id: str) -> Message:
        got: Message = store.get_message(message_id)
        fresh = self._as_appended(store, got.model_copy(update={"content": ""}))
        assert (got.content, got.parts) == (fresh.content, fresh.parts)
        assert (got.token_count, got.token_counter) == (fresh.token_count, fresh.token_counter)
        tid = got.thread_id
        assert tid is not None
        live = all_messages(store, tid)
        assert store.get_thread(tid).token_count == sum(m.token_count or 0 for m in live)
        return got

    def test_editing_content_rewrites_the_parts_and_the_count(self, store: StoreLike) -> None:
        _setup_basic(store)
        long = "A much longer answer, with several clauses and numbers 1234567. " * 20
        before = store.get_message("m2")
        edited = store.update_message("m2", content=long)
        assert edited.parts == [TextPart(text=long)] and edited.content == long
        assert edited.token_count is not None and edited.token_count > before.token_count
        assert self._check_whole(store, "m2") == edited
        window = store.context("t1", max_tokens=10_000)
        assert window.messages[-1].parts == [TextPart(text=long)]
        assert window.tokens == sum(m.token_count or 0 for m in window.messages)
        # Editing the parts derives the content and counts again too.
        edited = store.update_message("m2", parts=[TextPart(text="ok")])
        assert edited.content == "ok"
        self._check_whole(store, "m2")
        # Emptying the content leaves no empty text part behind.
        assert store.update_message("m2", content="").parts == []
        self._check_whole(store, "m2")

    def test_editing_content_keeps_calls_and_edits_a_tool_result(self, store: StoreLike) -> None:
        _setup_basic(store)
        call = ToolCallPart(tool_call_id="c1", tool_name="calc", args={"x": 1})
        store.append(
            "t1",
            [
                Message.assistant("", id="a1", parts=[call]),
                Message.tool("41", "c1", id="r1", tool_name="calc"),
            ],
        )
        edited = store.update_message("a1", content="Let me compute.")
        assert edited.parts == [TextPart(text="Let me compute."), call]
        self._check_whole(store, "a1")
        result = store.update_message("r1", content="42")
        assert [p.result for p in result.parts if isinstance(p, ToolResultPart)] == ["42"]
        assert result.content == "42"
        self._check_whole(store, "r1")

    def test_an_edit_that_cannot_be_meant_writes_nothing(self, store: StoreLike) -> None:
        _setup_basic(store)
        store.append(
            "t1",
            Message.user(
                "",
                id="u2",
                parts=[
                    ToolResultPart(tool_call_id="c1", result="a"),
                    ToolResultPart(tool_call_id="c2", result="b"),
                ],
            ),
        )
        before = fingerprint(store, "t1")
        with pytest.raises(ValidationError) as err:
            store.update_message("u2", content="c")
        assert err.value.field == "message.content"
        assert fingerprint(store, "t1") == before

    def test_an_explicit_count_in_the_edit_is_kept(self, store: StoreLike) -> None:
        _setup_basic(store)
        edited = store.update_message("m2", content="x" * 50, token_count=7, token_counter="mine")
        assert (edited.token_count, edited.token_counter) == (7, "mine")
        assert store.get_thread("t1").token_count == sum(
            m.token_count or 0 for m in all_messages(store, "t1")
        )

    def test_a_metadata_update_keeps_reserved_keys(self, store: StoreLike) -> None:
        own = {"system_prompt": "be brief", "turn_base": 3}
        store.create_thread(id="t1", metadata={"convostore.conversation": own, "a": 1})
        assert store.update_thread("t1", metadata={"b": 2}).metadata == {
            "b": 2,
            "convostore.conversation": own,
        }
        assert store.update_thread("t1", metadata=None).metadata == {"convostore.conversation": own}
        assert store.get_thread("t1").metadata == {"convostore.conversation": own}
        # Naming a reserved key replaces it.
        assert store.update_thread("t1", metadata={"convostore.conversation": {}}).metadata == {
            "convostore.conversation": {}
        }

    def test_pinning_an_archived_message_brings_it_back(self, store: StoreLike) -> None:
        _setup_basic(store)
        store.update_message("m1", archived_at=dt.datetime.now(dt.UTC))
        assert store.context("t1", max_tokens=10_000).ids == ["m2"]
        pinned = store.update_message("m1", pinned=True)
        assert pinned.pinned and pinned.archived_at is None
        assert store.context("t1", max_tokens=10_000).ids == ["m1", "m2"]
        before = fingerprint(store, "t1")
        with pytest.raises(ValidationError) as err:
            store.update_message("m1", archived_at=dt.datetime.now(dt.UTC))
        assert err.value.field == "message.archived_at"
        assert fingerprint(store, "t1") == before

    def test_a_tool_message_must_name_its_call(self, store: StoreLike) -> None:
        _setup_basic(store)
        before = fingerprint(store, "t1")
        with pytest.raises(ValidationError) as err:
            store.append("t1", [Message.user("q"), {"role": "tool", "content": "42"}])
        assert err.value.field == "messages.1.tool_call_id"
        assert fingerprint(store, "t1") == before
        # Either way of naming the call is enough.
        store.append(
            "t1",
            [
                Message(role=Role.TOOL, content="1", tool_call_id="c1"),
                Message(role=Role.TOOL, parts=[ToolResultPart(tool_call_id="c2", result="2")]),
            ],
        )

    def test_turns_are_opened_by_user_content_only(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        call = ToolCallPart(tool_call_id="c1", tool_name="look", args={})
        got = store.append(
            "t1",
            [
                Message.user("what is in the box?"),
                Message.assistant("", parts=[call]),
                Message.user("", parts=[ToolResultPart(tool_call_id="c1", result="a cat")]),
                Message.assistant("A cat."),
                Message.user("and now?"),
            ],
        )
        assert [m.turn for m in got] == [1, 1, 1, 1, 2]
        assert store.get_thread("t1").turn_count == 2
        assert [s.turn_count for s in store.summaries()] == [2]

    # === idempotent re-sends =====================================================

    def test_resending_a_message_adds_nothing(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        msg = Message.user("hello", id="m1")
        first = store.append("t1", msg)
        rev = store.get_thread("t1").revision
        again = store.append("t1", msg)
        assert again == first
        as_dict = store.append("t1", {"id": "m1", "role": "user", "content": "hello"})
        assert as_dict == first
        t = store.get_thread("t1")
        assert (t.message_count, t.revision) == (1, rev)
        mixed = store.append("t1", [msg, Message.user("next", id="m2")])
        assert [m.id for m in mixed] == ["m1", "m2"] and seqs(mixed) == [1, 2]
        assert seqs(all_messages(store, "t1")) == [1, 2]

    def test_retry_with_original_expected_revision_is_idempotent(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        msg = Message.user("hello", id="m1")
        first = store.append("t1", msg, expected_revision=0)
        assert store.append("t1", msg, expected_revision=0) == first
        assert store.get_thread("t1").message_count == 1

    def test_twin_in_one_batch_is_stored_once(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        msg = Message.user("hello", id="m1")
        out = store.append("t1", [msg, msg])
        assert [m.id for m in out] == ["m1", "m1"]
        assert seqs(all_messages(store, "t1")) == [1]

    def test_resend_with_other_content_conflicts(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        store.create_thread(id="t2")
        store.append("t1", Message.user("hello", id="m1"))
        before = fingerprint(store, "t1", "t2")
        with pytest.raises(DuplicateMessageError) as exc:
            store.append("t1", [Message.user("fresh", id="m2"), Message.user("changed", id="m1")])
        assert exc.value.message_id == "m1"
        with pytest.raises(DuplicateMessageError):
            store.append("t2", Message.user("hello", id="m1"))
        with pytest.raises(DuplicateMessageError):
            store.append("t1", [Message.user("a", id="m3"), Message.user("b", id="m3")])
        assert fingerprint(store, "t1", "t2") == before

    def test_the_request_digest_is_part_of_a_messages_content(self, store: StoreLike) -> None:
        """The same id re-sent by another idempotent request is another message."""
        store.create_thread(id="t1")
        first = Message.user("hello", id="m1").model_copy(update={"request_digest": "req_a"})
        stored = store.append("t1", first)
        assert stored[0].request_digest == "req_a"
        assert store.get_message("m1").request_digest == "req_a"
        assert store.append("t1", first) == stored
        before = fingerprint(store, "t1")
        for other in ("req_b", None):
            with pytest.raises(DuplicateMessageError):
                store.append("t1", first.model_copy(update={"request_digest": other}))
        assert fingerprint(store, "t1") == before

    # === imports in steps ==========================================================

    def test_an_import_in_progress_is_hidden_until_finished(self, store: StoreLike) -> None:
        started = store.begin_import(Thread(id="imp", title="copy"))
        assert started.deleted_at is not None
        assert started.metadata["convostore.import"] == "incomplete"
        store.import_append("imp", [Message.user("a", id="a1"), Message.assistant("b", id="b1")])
        store.import_delete_message("b1")
        assert store.list_threads().items == [] and store.summaries() == []
        assert [t.id for t in store.list_threads(include_deleted=True).items] == ["imp"]
        with pytest.raises(ThreadDeletedError):  # no ordinary write reaches it
            store.append("imp", Message.user("c"))
        with pytest.raises(ValidationError):  # short: it stays hidden
            store.finish_import("imp", expected_count=3)
        assert store.list_threads().items == []
        done = store.finish_import("imp", expected_count=2)
        assert done.deleted_at is None and "convostore.import" not in done.metadata
        assert (done.message_count, done.live_message_count) == (2, 1)
        assert [t.id for t in store.list_threads().items] == ["imp"]
        assert [m.id for m in store.list_messages("imp").items] == ["a1"]
        with pytest.raises(ConflictError):  # finished: importing writes are refused
            store.import_append("imp", Message.user("c"))
        with pytest.raises(ConflictError):
            store.finish_import("imp")
        store.create_thread(id="live")
        with pytest.raises(ConflictError):
            store.import_append("live", Message.user("c"))
        with pytest.raises(ThreadExistsError):
            store.begin_import(Thread(id="live"))

    # === expected_revision ========================================================

    def test_expected_revision_on_append(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        ok = store.append("t1", Message.user("a"), expected_revision=0)
        rev = store.get_thread("t1").revision
        assert rev > 0
        before = fingerprint(store, "t1")
        with pytest.raises(RevisionConflictError) as exc:
            store.append("t1", Message.user("stale"), expected_revision=0)
        assert (exc.value.expected, exc.value.actual, exc.value.thread_id) == (0, rev, "t1")
        assert fingerprint(store, "t1") == before
        more = store.append("t1", Message.user("b"), expected_revision=rev)
        assert seqs(ok + more) == [1, 2]

    def test_expected_revision_on_every_write(self, store: StoreLike) -> None:
        _setup_basic(store)
        stale = store.get_thread("t1").revision
        store.update_thread("t1", title="moved on", expected_revision=stale)
        before = fingerprint(store, "t1")
        action: Callable[[], object]
        for action in (
            lambda: store.append("t1", Message.user("x"), expected_revision=stale),
            lambda: store.update_thread("t1", title="x", expected_revision=stale),
            lambda: store.update_message("m1", pinned=True, expected_revision=stale),
            lambda: store.delete_message("m1", expected_revision=stale),
            lambda: store.delete_thread("t1", expected_revision=stale),
            lambda: store.restore_thread("t1", expected_revision=stale),
            lambda: store.purge_thread("t1", expected_revision=stale),
        ):
            with pytest.raises(RevisionConflictError):
                action()
        assert fingerprint(store, "t1") == before
        current = store.get_thread("t1").revision
        deleted = store.delete_message("m1", expected_revision=current)
        assert deleted.is_deleted
        store.purge_thread("t1", expected_revision=store.get_thread("t1").revision)
        with pytest.raises(ThreadNotFoundError):
            store.get_thread("t1")

    def test_two_writers_from_one_revision_one_wins(self, store: StoreLike) -> None:
        store.create_thread(id="t1")
        seen = store.get_thread("t1").revision
        store.update_thread("t1", title="writer A", expected_revision=seen)
        with pytest.raises(RevisionConflictError):
            store.update_thread("t1", title="writer B", expected_revision=seen)
        assert store.get_thread("t1").title == "writer A"

    def test_compare_and_set_from_threads_loses_no_update(self, store: StoreLike) -> None:
        store.create_thread(id="t1", state={"data": {"n": 0}})
        workers, increments = 4, 15

        def work() -> int:
            conflicts = 0
            for _ in range(increments):
                while True:
                    t = store.get_thread("t1")
                    n = t.state.data["n"]
                    assert isinstance(n, int)
                    try:
                        store.update_thread(
                            "t1", state={"data": {"n": n + 1}}, expected_revision=t.revision
                        )
                        break
                    except RevisionConflictError:
                        conflicts += 1
            return conflicts

        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda _: work(), range(workers)))
        assert store.get_thread("t1").state.data["n"] == workers * increments

    # === tenants ===================================================================

    def test_other_tenants_ids_behave_like_missing_ones(self, store: StoreLike) -> None:
        _setup_basic(store)
        other = store.tenant("other")
        assert other.tenant_id == "other"
        before = fingerprint(store, "t1")

        def same_as_missing(
            call: Callable[[StoreLike, str], object], real: str, missing: str
        ) -> None:
            leaked = _raised(lambda: call(other, real))
            absent = _raised(lambda: call(other, missing))
            assert type(leaked) is type(absent)
            assert isinstance(leaked, NotFoundError)
            assert str(leaked).replace(real, "?") == str(absent).replace(missing, "?")

        for thread_call in (
            lambda s, i: s.get_thread(i),
            lambda s, i: s.update_thread(i, title="x"),
            lambda s, i: s.delete_thread(i),
            lambda s, i: s.restore_thread(i),
            lambda s, i: s.purge_thread(i),
            lambda s, i: s.append(i, Message.user("x")),
            lambda s, i: s.list_messages(i),
            lambda s, i: s.recent(i),
            lambda s, i: s.export_thread(i),
        ):
            same_as_missing(thread_call, "t1", "t404")
        for message_call in (
            lambda s, i: s.get_message(i),
            lambda s, i: s.update_message(i, pinned=True),
            lambda s, i: s.delete_message(i),
        ):
            same_as_missing(message_call, "m1", "m404")
        assert other.messages_by_execution("e1") == []
        assert other.list_threads(include_deleted=True).items == []
        assert other.count_threads(include_deleted=True) == 0
        assert other.summaries(include_deleted=True) == []
        assert fingerprint(store, "t1") == before

    def test_tenants_reuse_ids_independently(self, store: StoreLike) -> None:
        _setup_basic(store)
        other = store.tenant("other")
        other.create_thread(id="t1", title="theirs")
        stored = other.append("t1", Message.user("different", id="m1"))
        assert stored[0].seq == 1 and stored[0].content == "different"
        assert other.get_message("m1").content == "different"
        assert store.get_message("m1").content == "hello"
        assert store.get_thread("t1").title == "first"
        other.delete_thread("t1")
        assert store.get_thread("t1").deleted_at is None
        assert _thread_ids(store.list_threads()) == ["t1"]
        assert store.tenant(store.tenant_id).get_thread("t1") == store.get_thread("t1")

    def test_snapshot_moves_between_tenants(self, store: StoreLike) -> None:
        _setup_basic(store)
        snap = store.export_thread("t1")
        other = store.tenant("other")
        imported = other.import_thread(snap)
        assert imported.tenant_id == "other" and imported.id == "t1"
        assert other.export_thread("t1").messages == snap.messages
        store.purge_thread("t1")
        assert other.get_message("m1").content == "hello"

    # === export / import ==========================================================

    def test_export_import_round_trip(self, store: StoreLike) -> None:
        _setup_basic(store)
        store.append("t1", Message.tool("42", "c1", tool_name="calc"))
        store.update_message("m2", pinned=True)
        store.delete_message("m1")
        snap = store.export_thread("t1")
        assert [m.id for m in snap.messages] == [
            "m1",
            "m2",
            next(m.id for m in snap.messages if m.role is Role.TOOL),
        ]
        assert snap.pinned == [False, True, False]
        payload = snap.model_dump_json()
        copy = store.tenant("copy")
        copy.import_thread(payload)
        again = copy.export_thread("t1")
        assert again.messages == snap.messages
        assert again.pinned == snap.pinned
        for field in (
            "title",
            "user_id",
            "agent_name",
            "message_count",
            "turn_count",
            "tool_call_count",
            "created_at",
        ):
            assert getattr(again.thread, field) == getattr(snap.thread, field), field

    def test_import_under_new_id_and_pinned_flags(self, store: StoreLike) -> None:
        snap = ConversationSnapshot(
            thread=Thread(id="src", message_count=99, turn_count=99),
            messages=[
                Message.user("q", id="i1"),
                Message.assistant("a", id="i2"),
                Message.user("q2", id="i3"),
            ],
            pinned=[False, True, False],
        )
        imported = store.import_thread(snap, thread_id="dst")
        assert imported.id == "dst"
        assert (imported.message_count, imported.turn_count) == (3, 2)
        with pytest.raises(ThreadNotFoundError):
            store.get_thread("src")
        got = all_messages(store, "dst")
        assert seqs(got) == [1, 2, 3]
        assert [m.pinned for m in got] == [False, True, False]
        assert {m.thread_id for m in got} == {"dst"}
        assert store.append("dst", Message.user("more"))[0].seq == 4

    def test_import_refusals_write_nothing(self, store: StoreLike) -> None:
        _setup_basic(store)
        before = fingerprint(store, "t1", "t9")
        with pytest.raises(UnsupportedSnapshotVersionError):
            store.import_thread({"version": 2, "thread": {"id": "t9"}, "messages": []})
        with pytest.raises(ThreadExistsError):
            store.import_thread(ConversationSnapshot(thread=Thread(id="t1")))
        with pytest.raises(DuplicateMessageError):
            store.import_thread(
                ConversationSnapshot(
                    thread=Thread(id="t9"),
                    messages=[Message.user("x", id="fresh"), Message.user("hello", id="m1")],
                )
            )
        assert fingerprint(store, "t1", "t9") == before

    def test_import_with_new_ids_copies_a_thread_beside_its_source(self, store: StoreLike) -> None:
        _setup_basic(store)
        store.append(
            "t1",
            [
                Message.assistant(
                    "",
                    id="call",
                    parts=[ToolCallPart(tool_call_id="c1", tool_name="calc", args={"x": 1})],
                    parent_id="m1",
                    parent_type=ParentType.USER_MESSAGE,
                ),
                Message.tool(
                    "42",
                    "c1",
                    id="res",
                    tool_name="calc",
                    parent_id="call",
                    parent_type=ParentType.ASSISTANT_MESSAGE,
                    execution_id="run-1",
                ),
            ],
        )
        store.update_message("m2", pinned=True)
        store.delete_message("m2")
        snap = store.export_thread("t1")
        with pytest.raises(DuplicateMessageError):
            store.import_thread(snap, thread_id="t1-copy")
        copy = store.import_thread(snap, thread_id="t1-copy", new_ids=True)
        assert copy.id == "t1-copy"
        original = all_messages(store, "t1")
        copied = all_messages(store, "t1-copy")
        new_of = {o.id: c.id for o, c in zip(original, copied, strict=True)}
        assert not set(new_of) & set(new_of.values())
        for o, c in zip(original, copied, strict=True):
            assert c.thread_id == "t1-copy"
            assert (
                c.seq,
                c.role,
                c.content,
                c.parts,
                c.pinned,
                c.deleted_at,
                c.execution_id,
                c.created_at,
            ) == (
                o.seq,
                o.role,
                o.content,
                o.parts,
                o.pinned,
                o.deleted_at,
                o.execution_id,
                o.created_at,
            )
            assert c.parent_id == (new_of[o.parent_id] if o.parent_id else None)
        assert store.get_message(new_of["res"]).parent_id == new_of["call"]
        assert all_messages(store, "t1") == original
        # Without a thread id the copy gets a fresh one, and it can be done again.
        again = store.import_thread(snap, new_ids=True)
        assert again.id not in ("t1", "t1-copy")
        assert again.message_count == copy.message_count == len(original)

    # === bad input ==================================================================

    @pytest.mark.parametrize("case", _bad_input_params())
    def test_bad_input_is_refused_alike_and_writes_nothing(
        self, store: StoreLike, case: str
    ) -> None:
        action = dict(BAD_INPUT)[case]
        reference = _reference_store()
        try:
            _setup_basic(reference)
            expected = _raised(lambda: action(reference))
        finally:
            reference.close()
        _setup_basic(store)
        before = fingerprint(store, "t1", "t9")
        got = _raised(lambda: action(store))
        _assert_typed(got)
        assert type(got) is type(expected), (got, expected)
        # sizes in the text depend on each backend's encoding; the rest must match
        assert re.sub(r"\d{3,}", "#", str(got)) == re.sub(r"\d{3,}", "#", str(expected))
        assert getattr(got, "field", None) == getattr(expected, "field", None)
        assert fingerprint(store, "t1", "t9") == before

    @PROPERTY_SETTINGS
    @given(
        bad=cst.bad_texts(),
        where=st.sampled_from(
            ["content", "part", "args", "metadata", "native", "name", "title", "state"]
        ),
    )
    def test_unstorable_text_is_refused_everywhere(
        self, store: StoreLike, bad: str, where: str
    ) -> None:
        tid = new_id("th")
        store.create_thread(id=tid)
        store.append(tid, Message.user("ok"))
        before = fingerprint(store, tid)
        msg = Message.user("fine")
        action: Callable[[], object]
        if where == "content":
            action = lambda: store.append(tid, Message.user(bad))
        elif where == "part":
            action = lambda: store.append(
                tid, msg.with_parts(TextPart(text="a"), ReasoningPart(text=bad))
            )
        elif where == "args":
            action = lambda: store.append(
                tid,
                msg.with_parts(
                    ToolCallPart(tool_call_id="c", tool_name="f", args={"a": [{"k": bad}]})
                ),
            )
        elif where == "metadata":
            action = lambda: store.append(tid, msg.with_metadata(k=bad))
        elif where == "native":
            action = lambda: store.append(
                tid, msg.model_copy(update={"native": NativePayload(format="f", data=[bad])})
            )
        elif where == "name":
            action = lambda: store.append(tid, msg.with_name(bad))
        elif where == "title":
            action = lambda: store.update_thread(tid, title=bad)
        else:
            action = lambda: store.update_thread(tid, state={"data": {"x": bad}})
        exc = _raised(action)
        _assert_typed(exc)
        assert isinstance(exc, ValidationError) and exc.field
        assert fingerprint(store, tid) == before

    # === property-based round trips =================================================

    @PROPERTY_SETTINGS
    @given(batch=cst.message_batches())
    def test_any_accepted_message_round_trips(self, store: StoreLike, batch: list[Message]) -> None:
        tid = new_id("th")
        store.create_thread(id=tid)
        batch = [m.model_copy(update={"id": f"x{i}{tid}-{m.id}"}) for i, m in enumerate(batch)]
        expected, turns = [], 0
        counts = count_batch(batch)  # counted once, at append, as one batch
        for seq, (m, tc) in enumerate(zip(batch, counts, strict=True), start=1):
            turns += m.opens_turn
            if tc is not None:
                m = m.model_copy(update={"token_count": tc.tokens, "token_counter": tc.counter})
            expected.append(
                m.model_copy(
                    update={
                        "thread_id": tid,
                        "seq": seq,
                        "turn": turns,
                        "updated_at": None,
                        "deleted_at": None,
                    }
                )
            )
        assert store.append(tid, batch) == expected
        assert [store.get_message(m.id) for m in batch] == expected
        assert all_messages(store, tid) == expected
        thread = store.get_thread(tid)
        assert thread.message_count == len(batch)
        assert thread.turn_count == turns
        assert thread.tool_call_count == sum(len(m.tool_calls) for m in batch)
        assert thread.token_count == sum(m.token_count or 0 for m in expected)
        assert thread.usage.total_tokens == sum(
            m.metadata.token_usage.total_tokens for m in batch if m.metadata.token_usage
        )

    @PROPERTY_SETTINGS
    @given(batch=cst.message_batches(max_size=4), thread=cst.threads())
    def test_any_thread_round_trips_through_export_and_import(
        self, store: StoreLike, batch: list[Message], thread: Thread
    ) -> None:
        tid = new_id("th")
        created = store.create_thread(thread.model_copy(update={"id": tid}))
        assert store.get_thread(tid) == created
        batch = [m.model_copy(update={"id": f"x{i}{tid}-{m.id}"}) for i, m in enumerate(batch)]
        store.append(tid, batch)
        store.update_message(batch[0].id, pinned=not batch[0].pinned)
        snap = store.export_thread(tid)
        assert snap.messages == all_messages(store, tid)
        copy = store.tenant(f"copy{tid}")
        copy.import_thread(ConversationSnapshot.model_validate_json(snap.model_dump_json()))
        again = copy.export_thread(tid)
        assert again.messages == snap.messages
        assert again.pinned == snap.pinned == [m.pinned for m in snap.messages]
        for field in (
            "title",
            "user_id",
            "agent_name",
            "model",
            "metadata",
            "state",
            "created_at",
            "ended_at",
            "message_count",
            "turn_count",
            "tool_call_count",
            "token_count",
            "usage",
        ):
            assert getattr(again.thread, field) == getattr(snap.thread, field), field

    # === durability =================================================================

    def test_reopen_keeps_everything(
        self, store: StoreLike, reopen: Callable[[], StoreLike] | None
    ) -> None:
        if reopen is None:
            pytest.skip("backend is not durable")
        _setup_basic(store)
        store.create_thread(id="gone")
        store.delete_thread("gone")
        store.delete_message("m1")
        store.update_thread("t1", state={"variables": {"a": "b"}, "data": {"n": [1]}})
        other = store.tenant("other")
        other.create_thread(id="t1")
        before = fingerprint(store, "t1", "gone")
        before_other = fingerprint(other, "t1")
        again = reopen()
        assert fingerprint(again, "t1", "gone") == before
        assert fingerprint(again.tenant("other"), "t1") == before_other
        assert seqs(again.append("t1", Message.user("after reopen"))) == [3]

    # === concurrency ================================================================

    def test_concurrent_appends_from_threads(self, store: StoreLike) -> None:
        """N writer threads share one store object and append to one thread; a reader
        checks it only ever sees a gap-free prefix. Nothing is lost or duplicated."""
        store.create_thread(id="t1")
        writers, per = self.concurrent_writers, self.appends_per_writer
        start = threading.Barrier(writers + 1)
        done = threading.Event()
        reader_views: list[list[int | None]] = []

        def write(k: int) -> list[int | None]:
            start.wait()
            got: list[int | None] = []
            for i in range(per):
                got.extend(seqs(store.append("t1", Message.user(f"{k}/{i}", id=f"w{k}-{i}"))))
            return got

        def read() -> None:
            start.wait()
            while not done.is_set():
                reader_views.append(seqs(store.recent("t1", 50, include_deleted=True)))
                time.sleep(0.005)

        with concurrent.futures.ThreadPoolExecutor(writers + 1) as pool:
            reader = pool.submit(read)
            futures = [pool.submit(write, k) for k in range(writers)]
            try:
                acked = [f.result() for f in futures]
            finally:
                done.set()
            reader.result()
        total = writers * per
        stored = all_messages(store, "t1")
        assert seqs(stored) == list(range(1, total + 1))
        ids = [m.id for m in stored]
        assert len(set(ids)) == total
        assert set(ids) == {f"w{k}-{i}" for k in range(writers) for i in range(per)}
        by_id = {m.id: m.seq for m in stored}
        for k, got in enumerate(acked):
            assert got == [by_id[f"w{k}-{i}"] for i in range(per)]
            assert got == sorted(s or 0 for s in got)
        for view in reader_views:
            if view:
                assert view == list(range(view[0] or 0, (view[0] or 0) + len(view)))
        t = store.get_thread("t1")
        assert (t.message_count, t.turn_count) == (total, total)
