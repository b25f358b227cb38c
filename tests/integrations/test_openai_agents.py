"""ConvostoreSession: the Agents SDK's session contract on every backend, with
async and sync stores, and every item type read back exactly as given."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from agents import SessionSettings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import convostore
from convostore import Role
from convostore.integrations.openai_agents import (
    NATIVE_FORMAT,
    ConvostoreSession,
    item_to_message,
    message_items,
)
from convostore.integrations.openai_agents._session import _on_store_loop

PNG = "data:image/png;base64,iVBORw0KGgo="

#: One item of every kind the SDK keeps in a session.
ITEMS: list[dict[str, Any]] = [
    {"role": "user", "content": "Hello"},
    {"role": "system", "content": "Be brief."},
    {"role": "developer", "content": "Answer in French."},
    {
        "role": "user",
        "content": [
            {"type": "input_text", "text": "look"},
            {"type": "input_image", "image_url": "https://x.test/y.png", "detail": "high"},
            {"type": "input_image", "image_url": PNG, "detail": "auto"},
            {"type": "input_file", "file_id": "file_1"},
            {
                "type": "input_file",
                "file_data": "data:application/pdf;base64,JVBERi0=",
                "filename": "a.pdf",
            },
        ],
    },
    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "typed"}]},
    {
        "type": "message",
        "id": "msg_1",
        "role": "assistant",
        "status": "completed",
        "content": [
            {"type": "output_text", "text": "Hi", "annotations": [], "logprobs": []},
            {"type": "refusal", "refusal": "no"},
        ],
    },
    {"role": "assistant", "content": "easy"},
    {"type": "message", "id": "msg_2", "role": "assistant", "status": "completed", "content": []},
    {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "think"}],
        "encrypted_content": "gAAAAB",
    },
    {"type": "reasoning", "id": "rs_2", "summary": [], "encrypted_content": None, "content": []},
    {
        "type": "function_call",
        "id": "fc_1",
        "call_id": "c1",
        "name": "weather",
        "arguments": '{"city": "Paris"}',
        "status": "completed",
    },
    {"type": "function_call_output", "call_id": "c1", "output": "18 C"},
    {
        "type": "function_call_output",
        "call_id": "c2",
        "output": [{"type": "input_text", "text": "x"}],
    },
    {"type": "custom_tool_call", "id": "ct_1", "call_id": "c3", "name": "g", "input": "raw"},
    {"type": "custom_tool_call_output", "call_id": "c3", "output": "done"},
    {
        "type": "web_search_call",
        "id": "ws_1",
        "status": "completed",
        "action": {"type": "search", "query": "q"},
    },
    {
        "type": "file_search_call",
        "id": "fs_1",
        "status": "completed",
        "queries": ["q"],
        "results": None,
    },
    {
        "type": "computer_call",
        "id": "cu_1",
        "call_id": "c4",
        "status": "completed",
        "action": {"type": "click", "x": 1, "y": 2, "button": "left"},
        "pending_safety_checks": [],
    },
    {
        "type": "computer_call_output",
        "call_id": "c4",
        "output": {"type": "computer_screenshot", "image_url": PNG},
    },
    {
        "type": "code_interpreter_call",
        "id": "ci_1",
        "code": "print(1)",
        "container_id": "cn",
        "outputs": [{"type": "logs", "logs": "1"}],
        "status": "completed",
    },
    {"type": "image_generation_call", "id": "ig_1", "result": "aGVsbG8=", "status": "completed"},
    {
        "type": "local_shell_call",
        "id": "ls_1",
        "call_id": "c5",
        "status": "completed",
        "action": {"type": "exec", "command": ["ls"], "env": {}},
    },
    {"type": "local_shell_call_output", "id": "ls_1", "output": "files"},
    {
        "type": "mcp_list_tools",
        "id": "ml_1",
        "server_label": "s",
        "tools": [{"name": "t", "input_schema": {}}],
    },
    {
        "type": "mcp_call",
        "id": "mc_1",
        "server_label": "s",
        "name": "t",
        "arguments": "{}",
        "output": "o",
    },
    {
        "type": "mcp_approval_request",
        "id": "ma_1",
        "server_label": "s",
        "name": "t",
        "arguments": "{}",
    },
    {"type": "mcp_approval_response", "approval_request_id": "ma_1", "approve": True},
    {"type": "compaction", "id": "cp_1", "encrypted_content": "zzz"},
    {"type": "item_reference", "id": "ref_1"},
    {"type": "some_future_item", "id": "fut_1", "x": {"nested": [1, 2.5, None, True]}},
    {"no_type_at_all": 1},
]

BACKENDS = ["memory", "sqlite", "postgres"]


@pytest.fixture(params=["async", "sync"])
def store(request: pytest.FixtureRequest, store_url: str) -> Iterator[Any]:
    """An async or a sync store of each backend."""
    if request.param == "async":
        opened: Any = convostore.open_async_store(store_url)
        yield opened
        direct(opened, "close")
    else:
        opened = convostore.open_store(store_url)
        yield opened
        opened.close()


on_backends = pytest.mark.parametrize("store_url", BACKENDS, indirect=True)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def direct(store: Any, name: str, *args: Any) -> Any:
    """Call the store itself, as the test's own code; an async store on the loop
    its sessions use (a PostgreSQL async store's connections belong to one loop)."""
    if isinstance(store, convostore.Store):
        return getattr(store, name)(*args)
    return run(_on_store_loop(store, getattr(store, name), *args))


@on_backends
def test_every_item_type_reads_back_exactly(store: Any) -> None:
    session = ConvostoreSession("s1", store)
    run(session.add_items(ITEMS))
    assert run(session.get_items()) == ITEMS
    assert run(session.get_items(limit=4)) == ITEMS[-4:]


@on_backends
def test_one_message_per_item_with_the_item_as_native_and_real_parts(store: Any) -> None:
    session = ConvostoreSession("s2", store, user_id="alice")
    run(session.add_items(ITEMS))
    messages = direct(store, "load_messages", "s2")  # the thread id is the session id
    assert len(messages) == len(ITEMS)
    assert [m.native.data for m in messages] == ITEMS
    assert {m.native.format for m in messages} == {NATIVE_FORMAT}
    by_type = {p.type for m in messages for p in m.parts}
    assert {"text", "image", "reasoning", "tool-call", "tool-result", "hosted-tool"} <= by_type
    assert messages[0].role is Role.USER and messages[0].content == "Hello"
    assert messages[2].provider_role == "developer"
    assert messages[11].role is Role.TOOL and messages[11].tool_call_id == "c1"
    thread = direct(store, "get_thread", "s2")
    assert thread.user_id == "alice"


@on_backends
def test_missing_session_reads_empty_and_pops_none(store: Any) -> None:
    session = ConvostoreSession("nobody", store)
    assert run(session.get_items()) == []
    assert run(session.get_items(3)) == []
    assert run(session.pop_item()) is None
    run(session.clear_session())
    run(session.add_items([]))
    assert run(session.get_items()) == []


@on_backends
def test_pop_clear_and_limits(store: Any) -> None:
    session = ConvostoreSession("s3", store, session_settings=SessionSettings(limit=2))
    run(session.add_items(ITEMS[:5]))
    assert run(session.get_items()) == ITEMS[3:5]  # the settings' default limit
    assert run(session.get_items(limit=3)) == ITEMS[2:5]  # an explicit one wins
    assert run(session.get_items(limit=0)) == []
    assert run(session.pop_item()) == ITEMS[4]
    assert run(session.get_items(limit=10)) == ITEMS[:4]
    run(session.clear_session())
    assert run(session.get_items(limit=10)) == []
    assert run(session.pop_item()) is None
    run(session.add_items(ITEMS[:1]))
    assert run(session.get_items(limit=10)) == ITEMS[:1]


@on_backends
def test_a_limited_read_does_not_read_the_whole_thread(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = ConvostoreSession("s4", store)
    run(session.add_items(ITEMS))

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the whole thread was read")

    for name in ("load_messages", "list_messages", "iter_messages"):
        monkeypatch.setattr(store, name, refuse)
    assert run(session.get_items(limit=2)) == ITEMS[-2:]


@on_backends
def test_usable_from_several_event_loops_and_threads(store: Any) -> None:
    session = ConvostoreSession("s5", store)
    run(session.add_items(ITEMS[:1]))
    run(session.add_items(ITEMS[1:2]))
    got: list[Any] = []

    def worker() -> None:
        asyncio.run(session.add_items(ITEMS[2:3]))
        got.append(asyncio.run(session.get_items()))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 2 and all(g[:3] == ITEMS[:3] for g in got)
    assert run(session.get_items()) == [*ITEMS[:3], ITEMS[2]]

    async def concurrent() -> None:
        other = ConvostoreSession("s6", store)
        await asyncio.gather(
            *(other.add_items([{"role": "user", "content": str(i)}]) for i in range(5))
        )
        assert len(await other.get_items()) == 5

    run(concurrent())


@on_backends
def test_foreign_messages_read_as_responses_items(store: Any) -> None:
    session = ConvostoreSession("s7", store)
    run(session.add_items(ITEMS[:1]))
    msg = convostore.Message.assistant("written by another app")
    direct(store, "append", "s7", msg)
    assert run(session.get_items()) == [
        ITEMS[0],
        {"role": "assistant", "content": "written by another app"},
    ]


@pytest.mark.parametrize("store_url", BACKENDS, indirect=True)
def test_from_url_opens_and_closes_its_store(store_url: str) -> None:
    async def main() -> None:
        async with ConvostoreSession.from_url(
            "u1", url=store_url, session_settings={"limit": 1}, agent_name="helper"
        ) as session:
            await session.add_items(ITEMS[:3])
            assert await session.get_items() == ITEMS[2:3]
            assert (await session.store.get_thread("u1")).agent_name == "helper"

    run(main())


@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_one_session_across_event_loops_and_threads_on_postgres(store_url: str) -> None:
    """An async PostgreSQL store's pool belongs to one event loop: the session
    runs its calls there, so two ``asyncio.run`` calls and a worker thread's own
    loop all work on the same session object (from_url and a given store)."""
    session = ConvostoreSession.from_url("pg1", url=store_url)
    given = convostore.open_async_store(store_url)
    other = ConvostoreSession("pg2", given)
    for s in (session, other):
        run(s.add_items(ITEMS[:1]))
        run(s.add_items(ITEMS[1:2]))
        assert run(s.get_items()) == ITEMS[:2]
        errors: list[BaseException] = []

        def worker(s: ConvostoreSession = s) -> None:
            try:
                asyncio.run(s.add_items(ITEMS[2:3]))
                assert asyncio.run(s.get_items()) == ITEMS[:3]
            except BaseException as exc:  # re-raised in the test's thread
                errors.append(exc)

        t = threading.Thread(target=worker)
        t.start()
        t.join()
        assert errors == []
        assert run(s.pop_item()) == ITEMS[2]
        run(s.clear_session())
        assert run(s.get_items()) == []
    run(session.close())
    direct(given, "close")


def test_a_store_is_required() -> None:
    with pytest.raises(TypeError):
        ConvostoreSession("x", "sqlite:///x.db")  # type: ignore[arg-type]


# NUL and lone surrogates are refused by every store (README, guarantee 5).
_chars = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")


def _text(**kwargs: Any) -> st.SearchStrategy[str]:
    return st.text(alphabet=_chars, **kwargs)


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | _text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(_text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
_items = st.one_of(
    st.sampled_from(ITEMS),
    st.builds(lambda t, c: {"role": "user", "content": t + c}, _text(max_size=30), _text()),
    st.dictionaries(_text(min_size=1, max_size=8), _json, max_size=4).map(
        lambda d: {**d, "type": "future_" + str(len(d))}
    ),
)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(items=st.lists(_items, min_size=1, max_size=6))
def test_round_trip_exact_property(items: list[dict[str, Any]]) -> None:
    """Any item the SDK could keep (any JSON) comes back exactly, through the
    conversion alone and through a store."""
    assert [message_items(item_to_message(i))[0] for i in items] == items
    with convostore.open_store("memory://") as store:
        session = ConvostoreSession("p", store)
        run(session.add_items(items))
        assert run(session.get_items()) == items
