"""The data model: defaults, the eight part kinds, builders, and lossless JSON."""

from __future__ import annotations

import copy
import datetime as dt
import json
import pickle
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convostore import (
    CodePart,
    ConversationSnapshot,
    CostInfo,
    FilePart,
    ImagePart,
    Message,
    MessageMetadata,
    NativePayload,
    Page,
    ParentType,
    ReasoningPart,
    Role,
    SourcePart,
    TextPart,
    Thread,
    ThreadSummary,
    TokenUsage,
    ToolCallPart,
    ToolResultPart,
)
from convostore.testing import strategies as cst

ALL_PARTS: list[dict[str, Any]] = [
    {"type": "text", "text": "hello"},
    {"type": "reasoning", "text": "thinking"},
    {
        "type": "tool-call",
        "tool_call_id": "c1",
        "tool_name": "weather",
        "args": {"city": "NYC", "days": [1, 2], "deep": {"x": None}},
    },
    {
        "type": "tool-result",
        "tool_call_id": "c1",
        "tool_name": "weather",
        "result": {"temp": 21.5},
        "is_error": False,
    },
    {"type": "source", "source_id": "s1", "url": "https://example.org", "title": "Ex"},
    {
        "type": "file",
        "file_id": "f1",
        "filename": "a.pdf",
        "mime_type": "application/pdf",
        "size_bytes": 1234,
    },
    {"type": "image", "image_id": "i1", "url": "https://example.org/a.png", "alt_text": "a"},
    {"type": "code", "language": "python", "code": "print(1)"},
]
PART_CLASSES = [
    TextPart,
    ReasoningPart,
    ToolCallPart,
    ToolResultPart,
    SourcePart,
    FilePart,
    ImagePart,
    CodePart,
]


def test_minimal_assistant_message_defaults_everything_else() -> None:
    msg = Message.model_validate({"role": "assistant", "parts": ALL_PARTS})
    assert msg.role is Role.ASSISTANT
    assert [type(p) for p in msg.parts] == PART_CLASSES
    assert msg.content == "hello"  # the text projection of the text parts
    assert msg.id.startswith("msg_")
    assert (msg.thread_id, msg.seq, msg.turn, msg.execution_id, msg.parent_id) == (
        None,
        None,
        None,
        None,
        None,
    )
    assert msg.metadata == MessageMetadata() and msg.native is None and not msg.pinned
    assert msg.created_at.tzinfo is not None and msg.deleted_at is None


def test_content_alone_becomes_one_text_part() -> None:
    msg = Message.model_validate({"role": "user", "content": "hi there"})
    assert msg.parts == [TextPart(text="hi there")]


def test_part_type_tags_are_kebab_case() -> None:
    tags = [
        p.model_dump()["type"]
        for p in Message.model_validate({"role": "assistant", "parts": ALL_PARTS}).parts
    ]
    assert tags == [
        "text",
        "reasoning",
        "tool-call",
        "tool-result",
        "source",
        "file",
        "image",
        "code",
    ]


@pytest.mark.parametrize("part", ALL_PARTS, ids=[p["type"] for p in ALL_PARTS])
def test_every_part_kind_round_trips_through_json(part: dict[str, Any]) -> None:
    msg = Message.model_validate({"role": "assistant", "parts": [part]})
    dumped = json.loads(msg.model_dump_json())
    assert dumped["parts"] == [part]
    assert Message.model_validate_json(msg.model_dump_json()) == msg


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "video", "url": "x"},
        {"type": "tool_call", "tool_call_id": "c", "tool_name": "f"},
        {"type": "tool-call", "tool_name": "f"},
        {"type": "tool-call", "tool_call_id": "", "tool_name": "f"},
        {"type": "file", "file_id": "f", "filename": "a", "mime_type": "m", "size_bytes": -1},
        {"type": "text", "text": "x", "extra": 1},
        {"text": "no type"},
    ],
)
def test_invalid_parts_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        Message.model_validate({"role": "assistant", "parts": [bad]})


@pytest.mark.parametrize(
    "fields",
    [
        {"role": "robot"},
        {"role": "user", "colour": "red"},
        {"role": "user", "id": "has\nnewline"},
        {"role": "user", "id": "nul\x00"},
        {"role": "user", "parent_id": "c1\x85"},
        {"role": "user", "id": ""},
        {"role": "user", "id": "x" * 256},
        {"role": "user", "token_count": -1},
        {"role": "user", "metadata": {"cost": {"input_cost": float("nan")}}},
        {"role": "user", "metadata": {"finish_reason": "tired"}},
        {"role": "user", "parent_type": "grandparent"},
    ],
)
def test_invalid_messages_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        Message.model_validate(fields)


def test_builders() -> None:
    user = Message.user("q")
    assert (user.role, user.content, user.parts) == (Role.USER, "q", [TextPart(text="q")])
    system = Message.system("rules")
    assert (system.role, system.parent_type) == (Role.SYSTEM, ParentType.SYSTEM)
    reply = Message.assistant("a", execution_id="e1", parent_id=user.id)
    assert (reply.role, reply.execution_id, reply.parent_id, reply.parent_type) == (
        Role.ASSISTANT,
        "e1",
        user.id,
        ParentType.USER_MESSAGE,
    )
    assert Message.assistant("a").parent_type is None
    tool = Message.tool("42", "c1", tool_name="calc", is_error=True)
    assert (tool.role, tool.tool_call_id, tool.name) == (Role.TOOL, "c1", "calc")
    assert tool.parts == [
        ToolResultPart(tool_call_id="c1", tool_name="calc", result="42", is_error=True)
    ]
    assert tool.tool_results == tool.parts and tool.tool_calls == []
    assert Message.user("x", id="fixed").id == "fixed"
    assert Message.user("a").id != Message.user("a").id


def test_with_parts_replaces_parts_and_derives_empty_content() -> None:
    base = Message.assistant("kept")
    call = ToolCallPart(tool_call_id="c", tool_name="f", args={"a": 1})
    changed = base.with_parts(ReasoningPart(text="hmm"), [call, TextPart(text="t")])
    assert changed.parts == [ReasoningPart(text="hmm"), call, TextPart(text="t")]
    assert changed.content == "kept"
    assert changed.tool_calls == [call]
    assert base.parts == [TextPart(text="kept")]  # a copy, the original is untouched
    empty = Message.assistant().with_parts(TextPart(text="x"), TextPart(text="y"))
    assert empty.content == "x\ny"


def test_with_metadata_replaces_or_adds_extra() -> None:
    meta = MessageMetadata(model="gpt-4o", token_usage=TokenUsage.of(1, 2))
    msg = Message.user("q").with_metadata(meta)
    assert msg.metadata == meta and msg.metadata is not meta
    tagged = msg.with_metadata("source", "web").with_metadata(lang="fr")
    assert tagged.metadata.extra == {"source": "web", "lang": "fr"}
    assert tagged.metadata.model == "gpt-4o"
    assert msg.metadata.extra == {}
    with pytest.raises(TypeError):
        msg.with_metadata("key-without-value")


def test_messages_without_metadata_have_empty_metadata_of_their_own() -> None:
    built = Message.user("a")
    read = Message.model_validate_json('{"role": "user", "content": "b"}')
    assert built.metadata == read.metadata == MessageMetadata()
    assert "metadata" not in built.model_fields_set | read.model_fields_set
    assert built.metadata is not read.metadata
    assert built.metadata.extra is not read.metadata.extra


def test_metadata_is_a_value() -> None:
    meta = MessageMetadata(model="m", extra={"k": "v"})
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        meta.model = "other"  # type: ignore[misc]
    assert meta.model_copy(update={"model": "other"}).model == "other"
    assert meta.model == "m"


@pytest.mark.parametrize(
    "value, field",
    [(TokenUsage.of(1, 2), "prompt_tokens"), (CostInfo(input_cost=1.0), "input_cost")],
)
def test_usage_and_cost_are_values(value: TokenUsage | CostInfo, field: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        setattr(value, field, 5)
    assert hash(value) == hash(value.model_copy()) and value == value.model_copy()
    assert TokenUsage.of(1, 2) + TokenUsage.of(3, 4) == TokenUsage.of(4, 6)


@pytest.mark.performance
def test_threads_share_the_zero_usage_and_cost() -> None:
    built, read = Thread(), Thread.model_validate_json("{}")
    assert built.usage is read.usage and built.cost is read.cost
    assert built.usage == TokenUsage() and built.cost == CostInfo()


def _extra_changes(extra: dict[str, str]) -> list[object]:
    """Change ``extra`` in place every way a dict can, noting what each step saw."""
    seen: list[object] = []
    extra["a"] = "1"
    extra.update(b="2")
    seen.append(extra.setdefault("c", "3"))
    seen.append(extra.pop("b"))
    extra |= {"d": "4"}
    del extra["a"]
    seen.append(dict(extra))
    seen.append(extra.popitem())
    extra.clear()
    seen.append(dict(extra))
    extra["e"] = "5"
    return seen


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: Message.user("a"), id="built-without-metadata"),
        pytest.param(lambda: Message.user("a", metadata=MessageMetadata()), id="built-empty"),
        pytest.param(
            lambda: Message.user("a", metadata=MessageMetadata(extra={"k": "v"})),
            id="built-with-extra",
        ),
        pytest.param(lambda: Message.user("a").with_metadata(k="v"), id="with-metadata"),
        pytest.param(
            lambda: Message.model_validate_json('{"role": "user", "content": "a"}'),
            id="json-without-metadata",
        ),
        pytest.param(
            lambda: Message.model_validate_json(Message.user("a").model_dump_json()),
            id="json-empty",
        ),
        pytest.param(
            lambda: Message.model_validate_json(
                '{"role": "user", "content": "a", "metadata": {"extra": {"k": "v"}}}'
            ),
            id="json-with-extra",
        ),
        pytest.param(lambda: copy.deepcopy(Message.user("a")), id="deep-copy"),
        pytest.param(lambda: pickle.loads(pickle.dumps(Message.user("a"))), id="pickled"),
    ],
)
def test_metadata_extra_is_a_plain_dict_on_every_message(make: Callable[[], Message]) -> None:
    msg, other = make(), make()
    extra = msg.metadata.extra
    given_extra = dict(extra)
    assert type(extra) is dict
    extra.pop("k", None)
    assert _extra_changes(extra) == ["3", "2", {"c": "3", "d": "4"}, ("d", "4"), {}]
    assert msg.metadata.extra == {"e": "5"}
    assert json.loads(msg.model_dump_json())["metadata"]["extra"] == {"e": "5"}
    assert Message.model_validate_json(msg.model_dump_json()).metadata.extra == {"e": "5"}
    # Each message has a map of its own: the others, and new ones, are unchanged.
    assert other.metadata.extra == given_extra and make().metadata.extra == given_extra
    assert Message.user("b").metadata == MessageMetadata()
    assert msg.with_metadata(f="6").metadata.extra == {"e": "5", "f": "6"}
    assert msg.metadata.extra == {"e": "5"}


def test_native_payload_is_kept_untouched() -> None:
    data = {
        "z": 1,
        "a": [{"type": "output_text", "text": "hi", "annotations": []}],
        "nested": {"b": None, "a": 1.5},
    }
    msg = Message.assistant("hi", native=NativePayload(format="openai.responses", data=data))
    back = Message.model_validate_json(msg.model_dump_json())
    assert back.native is not None and back.native.data == data
    assert list(back.native.data) == ["z", "a", "nested"]  # key order too
    assert json.loads(msg.model_dump_json())["native"] == {
        "format": "openai.responses",
        "data": data,
    }
    with pytest.raises(pydantic.ValidationError):
        NativePayload(format="", data={})


def test_naive_datetimes_are_taken_as_utc() -> None:
    msg = Message.user("x", created_at=dt.datetime(2024, 5, 1, 12, 0))
    assert msg.created_at == dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    shifted = Message.user(
        "x", created_at=dt.datetime(2024, 5, 1, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    )
    assert shifted.created_at.utcoffset() == dt.timedelta(0)
    assert shifted.created_at == msg.created_at


_OFFSETS = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: dt.timezone(dt.timedelta(minutes=minutes))
)


@settings(max_examples=200, deadline=None)
@given(
    moment=st.datetimes(
        min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(9998, 12, 30), timezones=_OFFSETS
    )
)
def test_every_offset_becomes_utc_from_python_and_json(moment: dt.datetime) -> None:
    # From JSON, offset zero stays in pydantic's core and any other offset is
    # converted; Python values are always converted. Every way must give the same
    # instant at offset zero.
    doc = {"role": "user", "content": "x", "created_at": moment.isoformat()}
    for msg in (
        Message.model_validate({**doc, "created_at": moment}),
        Message.model_validate(doc),
        Message.model_validate_json(json.dumps(doc)),
    ):
        assert msg.created_at.utcoffset() == dt.timedelta(0)
        assert msg.created_at == moment
    back = Message.model_validate_json(msg.model_dump_json())
    assert back.created_at == moment and back.created_at.utcoffset() == dt.timedelta(0)
    assert back.model_dump_json() == msg.model_dump_json()


def test_a_zone_at_offset_zero_today_is_still_converted() -> None:
    # London is at offset zero in winter; kept as is, the time would move to
    # +01:00 once arithmetic carried it into summer.
    winter = dt.datetime(2024, 1, 15, 12, 0, tzinfo=ZoneInfo("Europe/London"))
    for msg in (
        Message.user("x", created_at=winter),
        Message.model_validate({"role": "user", "content": "x", "created_at": winter}),
    ):
        assert msg.created_at == winter
        assert (msg.created_at + dt.timedelta(days=180)).utcoffset() == dt.timedelta(0)


def test_a_bad_time_is_one_error_at_its_field() -> None:
    for bad in ("yesterday", "2024-13-01T00:00:00Z", 3j):
        with pytest.raises(pydantic.ValidationError) as info:
            Message.model_validate({"role": "user", "content": "x", "created_at": bad})
        errors = info.value.errors()
        assert [e["loc"] for e in errors] == [("created_at",)], errors
        assert errors[0]["type"].startswith("datetime"), errors
    for text in ("yesterday", "2024-13-01T00:00:00Z", "2024-13-01T00:00:00+02:00"):
        with pytest.raises(pydantic.ValidationError) as info:
            Message.model_validate_json(
                json.dumps({"role": "user", "content": "x", "created_at": text})
            )
        errors = info.value.errors()
        assert [e["loc"] for e in errors] == [("created_at",)], errors


def test_time_fields_are_plain_date_times_in_the_json_schema() -> None:
    props = Thread.model_json_schema()["properties"]
    created = {k: v for k, v in props["created_at"].items() if k != "description"}
    assert created == {"format": "date-time", "title": "Created At", "type": "string"}
    assert {"format": "date-time", "type": "string"} in props["ended_at"]["anyOf"]


def test_every_public_field_is_described_in_the_json_schema() -> None:
    import convostore.model as model

    models = [
        obj
        for name in model.__all__
        if isinstance(obj := getattr(model, name), type) and issubclass(obj, pydantic.BaseModel)
    ]
    assert len(models) == 37
    for cls in [*models, Page[Message]]:
        for name, field in cls.model_fields.items():
            assert field.description, f"{cls.__name__}.{name} has no description"
    props = Message.model_json_schema()["properties"]
    assert props["token_count"]["description"].startswith("The message's size in tokens")


def test_token_usage_arithmetic() -> None:
    a, b = TokenUsage.of(10, 5), TokenUsage.of(1, 2)
    assert a.total_tokens == 15
    assert a + b == TokenUsage.of(11, 7)
    assert b - a == TokenUsage()
    assert a - b == TokenUsage.of(9, 3)


def test_thread_defaults_and_summary() -> None:
    t = Thread(user_id="u", agent_name="agent", title="T")
    assert t.id.startswith("th_") and t.tenant_id == "default"
    assert (t.revision, t.message_count, t.turn_count, t.tool_call_count) == (0, 0, 0, 0)
    assert t.cost == CostInfo() and t.cost.currency == "USD" and not t.is_deleted
    s = ThreadSummary.of(t)
    assert (s.id, s.agent_name, s.started_at, s.message_count) == (t.id, "agent", t.created_at, 0)
    with pytest.raises(pydantic.ValidationError):
        Thread(agent_name="x" * 256)


def test_snapshot_versions_and_pinned_flags() -> None:
    msgs = [Message.user("hi", pinned=True), Message.assistant("hello")]
    snap = ConversationSnapshot(thread=Thread(), messages=msgs)
    assert snap.pinned == [True, False]
    assert ConversationSnapshot.model_validate_json(snap.model_dump_json()) == snap
    with pytest.raises(pydantic.ValidationError, match="pinned has 1 flags for 2 messages"):
        ConversationSnapshot(thread=Thread(), messages=msgs, pinned=[True])
    with pytest.raises(pydantic.ValidationError, match="not supported"):
        ConversationSnapshot.model_validate({"version": 99, "thread": {}})


def test_page_iterates_its_items() -> None:
    page = Page[int](items=[1, 2, 3], next_cursor="n")
    assert list(page) == [1, 2, 3] and len(page) == 3 and page.prev_cursor is None


@settings(max_examples=50, deadline=None)
@given(msg=cst.messages())
def test_any_message_round_trips_through_json(msg: Message) -> None:
    text = msg.model_dump_json()
    back = Message.model_validate_json(text)
    assert back == msg
    assert back.model_dump_json() == text
    assert Message.model_validate(json.loads(text)) == msg


@settings(max_examples=30, deadline=None)
@given(thread=cst.threads(), msgs=cst.message_batches(max_size=3))
def test_any_snapshot_round_trips_through_json(thread: Thread, msgs: list[Message]) -> None:
    snap = ConversationSnapshot(thread=thread, messages=msgs)
    assert ConversationSnapshot.model_validate_json(snap.model_dump_json()) == snap


@given(msg=cst.messages())
def test_the_lean_stored_form_round_trips(msg: Message) -> None:
    from convostore.store.rules.codec import bodies_as_dicts, encode_message

    stored = encode_message(msg)
    assert Message.model_validate_json(stored) == msg
    assert Message.model_validate(json.loads(stored)) == msg
    # the as_dicts fast path parses with pydantic-core: the very same dicts
    assert bodies_as_dicts([stored]) == [json.loads(stored)]


def test_the_lean_stored_form_keeps_a_text_once() -> None:
    from convostore.store.rules.codec import encode_message

    plain = json.loads(encode_message(Message.user("hello there")))
    assert plain["content"] == "hello there" and "parts" not in plain
    call = Message.assistant("").with_parts(
        ToolCallPart(tool_call_id="c1", tool_name="f", args={"a": 1})
    )
    body = json.loads(encode_message(call))
    assert "content" not in body and body["parts"][0]["tool_call_id"] == "c1"
    # a content that is not what the parts derive to is kept, as given
    odd = Message(
        role=Role.ASSISTANT, content="summary", parts=[TextPart(text="long"), TextPart(text="text")]
    )
    assert json.loads(encode_message(odd))["content"] == "summary"
    assert Message.model_validate_json(encode_message(odd)) == odd
    # a tool's result text is the tool message's content: stored once, in the part
    result = '{"rows": [1, 2, 3]}' * 20
    tool = Message.tool(result, "c1", tool_name="search")
    stored = encode_message(tool)
    assert stored.count("rows") == 20 and "content" not in json.loads(stored)
    assert Message.model_validate_json(stored) == tool
    # an explicitly empty content beside a result is kept empty
    quiet = Message(
        role=Role.TOOL, content="", parts=[ToolResultPart(tool_call_id="c1", result="42")]
    )
    assert json.loads(encode_message(quiet))["content"] == ""
    assert Message.model_validate_json(encode_message(quiet)).content == ""


def test_content_derives_from_text_parts_and_string_tool_results() -> None:
    grouped = Message(
        role=Role.TOOL,
        parts=[
            ToolResultPart(tool_call_id="a", result="first"),
            ToolResultPart(tool_call_id="b", result={"not": "text"}),
            ToolResultPart(tool_call_id="c", result="third"),
        ],
    )
    assert grouped.content == "first\nthird"
    mixed = Message.model_validate(
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "text": "see"},
                {"type": "tool-call", "tool_call_id": "a", "tool_name": "f", "args": {"q": 1}},
            ],
        }
    )
    assert mixed.content == "see"  # tool calls and their arguments are not text
    assert Message(role=Role.TOOL, parts=[ToolResultPart(tool_call_id="a")]).content == ""
