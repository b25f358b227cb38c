"""The exception tree, the exported names, and that no foreign exception escapes."""

from __future__ import annotations

import contextlib
import inspect
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests._harness import need_module

import convostore
import convostore.errors as errors
from convostore import Message
from convostore.errors import (
    AttachmentNotFoundError,
    AttachmentTooLargeError,
    BackendUnavailableError,
    ConflictError,
    ContextBudgetError,
    ConvostoreError,
    DamagedThreadError,
    DuplicateMessageError,
    MessageNotFoundError,
    MissingDependencyError,
    NotFoundError,
    RevisionConflictError,
    SchemaTooNewError,
    SchemaTooOldError,
    SchemaVersionError,
    StateConflictError,
    StoreLockedError,
    StoreNotFoundError,
    ThreadDeletedError,
    ThreadExistsError,
    ThreadNotFoundError,
    UnsupportedSnapshotVersionError,
    ValidationError,
)

TREE: dict[type[Exception], type[Exception]] = {
    NotFoundError: ConvostoreError,
    ThreadNotFoundError: NotFoundError,
    MessageNotFoundError: NotFoundError,
    AttachmentNotFoundError: NotFoundError,
    StoreNotFoundError: NotFoundError,
    ConflictError: ConvostoreError,
    RevisionConflictError: ConflictError,
    StateConflictError: ConflictError,
    DuplicateMessageError: ConflictError,
    ThreadExistsError: ConflictError,
    ThreadDeletedError: ConflictError,
    ValidationError: ConvostoreError,
    UnsupportedSnapshotVersionError: ValidationError,
    AttachmentTooLargeError: ValidationError,
    ContextBudgetError: ValidationError,
    SchemaVersionError: ConvostoreError,
    SchemaTooOldError: SchemaVersionError,
    SchemaTooNewError: SchemaVersionError,
    BackendUnavailableError: ConvostoreError,
    StoreLockedError: BackendUnavailableError,
    DamagedThreadError: BackendUnavailableError,
    MissingDependencyError: ConvostoreError,
}

#: The documented public API; later releases may add names, never drop these.
PUBLIC_API = {
    "open_store",
    "open_async_store",
    "url_from_env",
    "DEFAULT_URL",
    "Store",
    "AsyncStore",
    "Limits",
    "Message",
    "MessageMetadata",
    "MessagePatch",
    "NativePayload",
    "Thread",
    "ThreadPatch",
    "ThreadState",
    "ThreadSummary",
    "ConversationSnapshot",
    "Page",
    "Role",
    "ParentType",
    "FinishReason",
    "TokenUsage",
    "ExecutionStats",
    "CostInfo",
    "HealthReport",
    "Part",
    "TextPart",
    "ReasoningPart",
    "ToolCallPart",
    "ToolResultPart",
    "SourcePart",
    "FilePart",
    "ImagePart",
    "CodePart",
    "__version__",
}


@pytest.mark.parametrize("cls", list(TREE), ids=lambda c: c.__name__)
def test_the_tree_is_shallow_and_rooted(cls: type[Exception]) -> None:
    assert cls.__mro__[1] is TREE[cls] or issubclass(cls, TREE[cls])
    assert issubclass(cls, ConvostoreError)
    depth = cls.__mro__.index(ConvostoreError)
    assert depth <= 2


def test_errors_catchable_by_builtin_meaning() -> None:
    assert issubclass(ValidationError, ValueError)
    assert issubclass(NotFoundError, LookupError)
    assert issubclass(MissingDependencyError, ImportError)


def test_errors_all_lists_every_error_class() -> None:
    defined = {
        name
        for name, obj in vars(errors).items()
        if inspect.isclass(obj) and issubclass(obj, ConvostoreError)
    }
    assert set(errors.__all__) == defined
    assert len(errors.__all__) == len(set(errors.__all__))
    assert set(TREE) | {ConvostoreError} == {getattr(errors, n) for n in errors.__all__}


def test_package_all_exports_resolve() -> None:
    names = convostore.__all__
    assert len(names) == len(set(names))
    missing = [n for n in names if not hasattr(convostore, n)]
    assert missing == []
    assert set(errors.__all__) <= set(names)
    assert set(names) >= PUBLIC_API
    assert isinstance(convostore.__version__, str) and convostore.__version__


def test_errors_say_what_is_wrong() -> None:
    assert str(ThreadNotFoundError("t1")) == "thread 't1' not found"
    conflict = RevisionConflictError("t1", 3, 5)
    assert (conflict.expected, conflict.actual) == (3, 5)
    assert "5" in str(conflict) and "3" in str(conflict)
    bad = ValidationError("must be positive", field="limit")
    assert (bad.field, bad.reason, str(bad)) == (
        "limit",
        "must be positive",
        "limit: must be positive",
    )
    dep = MissingDependencyError("psycopg", "postgres")
    assert "convostore[postgres]" in str(dep) and dep.extra == "postgres"
    version = UnsupportedSnapshotVersionError(9, (1,))
    assert version.field == "version" and "9" in str(version)
    assert (SchemaTooNewError("new", found=5, expected=3).found) == 5


# --- nothing foreign escapes a store -------------------------------------------

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    st.binary(max_size=10),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
    st.sampled_from(["t1", "m1", "", "\x00", "\ud800", "a" * 300, "-x", "../etc"]),
)

CALLS = {
    "get_thread": lambda s, a, b: s.get_thread(a),
    "create_thread": lambda s, a, b: s.create_thread(id=a, title=b),
    "update_thread": lambda s, a, b: s.update_thread("t1", title=a, metadata=b),
    "update_thread_state": lambda s, a, b: s.update_thread("t1", state=a),
    "delete_thread": lambda s, a, b: s.delete_thread(a, expected_revision=b),
    "append": lambda s, a, b: s.append("t1", {"role": "user", "content": a, "id": b}),
    "append_parts": lambda s, a, b: s.append("t1", {"role": "user", "parts": [a]}),
    "append_meta": lambda s, a, b: s.append("t1", {"role": "user", "metadata": a}),
    "append_rev": lambda s, a, b: s.append("t1", Message.user("x"), expected_revision=a),
    "get_message": lambda s, a, b: s.get_message(a),
    "update_message": lambda s, a, b: s.update_message("m1", content=a, name=b),
    "update_message_pin": lambda s, a, b: s.update_message(
        "m1", pinned=a if a is not None else True
    ),
    "list_messages": lambda s, a, b: s.list_messages("t1", limit=a, cursor=b),
    "list_threads": lambda s, a, b: s.list_threads(user_id=a, cursor=b),
    "recent": lambda s, a, b: s.recent("t1", a),
    "by_execution": lambda s, a, b: s.messages_by_execution(a, thread_id=b),
    "import": lambda s, a, b: s.import_thread(a),
    "tenant": lambda s, a, b: s.tenant(a).get_thread("t1"),
    "get_state": lambda s, a, b: s.get_state(a, user_id=b),
    "update_state": lambda s, a, b: s.update_state("user", user_id="u1", changes=a, remove=b),
    "replace_state": lambda s, a, b: s.update_state("app", replace=a, expected_revision=b),
    "append_state": lambda s, a, b: s.append("t1", Message.user("x"), state=a),
    "append_state_keys": lambda s, a, b: s.append(
        "t1", [], state={"thread": {"changes": {"k": a}, "remove": b}}
    ),
}


@pytest.fixture(params=["memory", "sqlite"])
def hostile_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'h.db'}"
    if request.param == "sqlite":
        need_module("convostore.store.sqlite")
    store = convostore.open_store(url)
    store.create_thread(id="t1")
    store.append("t1", Message.user("hello", id="m1"))
    yield store
    store.close()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(call=st.sampled_from(sorted(CALLS)), a=junk, b=junk)
def test_only_convostore_errors_escape(hostile_store: Any, call: str, a: Any, b: Any) -> None:
    try:
        CALLS[call](hostile_store, a, b)
    except ConvostoreError as exc:
        assert not isinstance(exc, pydantic.ValidationError | sqlite3.Error)
        assert type(exc).__module__ == "convostore.errors"
    except Exception as exc:
        pytest.fail(
            f"{call}({a!r}, {b!r}) raised {type(exc).__module__}.{type(exc).__qualname__}: {exc}"
        )


def test_update_message_with_pinned_none_is_refused_or_ignored(hostile_store: Any) -> None:
    with contextlib.suppress(ValidationError):
        hostile_store.update_message("m1", pinned=None)
    assert hostile_store.get_message("m1").pinned is False
