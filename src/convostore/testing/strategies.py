"""Hypothesis strategies for the convostore data model.

Everything drawn from :func:`messages`, :func:`threads` and friends is *accepted*
by the model and by every backend: text has no NUL character and no lone
surrogate, floats are finite, and numbers stay within what the model allows.
The ``bad_*`` strategies draw values that every backend must refuse alike.

Numbers that feed the thread counters (token counts, usage) are kept small
enough that the sum over a thread cannot overflow a 64-bit column.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import strategies as st

from convostore.model import (
    AudioPart,
    Citation,
    CodePart,
    CostInfo,
    DataPart,
    ExecutionStats,
    FilePart,
    FinishReason,
    HostedToolPart,
    ImagePart,
    Message,
    MessageMetadata,
    NativePayload,
    ParentType,
    ReasoningPart,
    RefusalPart,
    Role,
    SourcePart,
    TextPart,
    Thread,
    ThreadState,
    TokenUsage,
    ToolCallPart,
    ToolResultPart,
)

__all__ = [
    "bad_texts",
    "citations",
    "cost_infos",
    "datetimes",
    "identifiers",
    "json_values",
    "message_batches",
    "message_metadata",
    "messages",
    "native_payloads",
    "parts",
    "provider_metadata",
    "texts",
    "thread_states",
    "threads",
    "token_usages",
]

I64 = 2**63 - 1
SMALL = 2**31 - 1

_chars = st.characters(codec="utf-8", exclude_characters="\x00")


def texts(*, min_size: int = 0, max_size: int = 40) -> st.SearchStrategy[str]:
    """Unicode text every backend stores: no NUL, no lone surrogates."""
    return st.text(_chars, min_size=min_size, max_size=max_size)


_id_chars = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp"))


def identifiers(max_size: int = 40) -> st.SearchStrategy[str]:
    """Valid ids: any text without control characters (``auth0|x``, ``José``, ``a/b``,
    ``..``), now and then one of the plain ASCII ids most systems make."""
    plain = st.from_regex(
        rf"\A[A-Za-z0-9_][A-Za-z0-9._:@+=-]{{0,{max(0, max_size - 1)}}}\Z", fullmatch=True
    )
    return plain | st.text(_id_chars, min_size=1, max_size=max(1, max_size))


def datetimes() -> st.SearchStrategy[dt.datetime]:
    """Aware datetimes at microsecond precision over most of the representable range."""
    zones = st.sampled_from(
        [
            dt.UTC,
            dt.timezone(dt.timedelta(hours=5, minutes=30)),
            dt.timezone(-dt.timedelta(hours=8)),
        ]
    )
    return st.datetimes(
        min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=zones
    )


def json_values(max_leaves: int = 10) -> st.SearchStrategy[Any]:
    """Arbitrary JSON: objects, arrays, strings, finite floats, 64-bit ints, bools, null."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-I64 - 1, max_value=I64)
        | st.floats(allow_nan=False, allow_infinity=False)
        | texts()
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(texts(max_size=12), inner, max_size=4)
        ),
        max_leaves=max_leaves,
    )


def _opt(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def citations() -> st.SearchStrategy[Citation]:
    n = st.integers(min_value=0, max_value=SMALL)
    return st.builds(
        Citation,
        kind=st.sampled_from(["url_citation", "file_citation", "char_location"]),
        url=_opt(texts()),
        title=_opt(texts()),
        start_index=_opt(n),
        end_index=_opt(n),
        cited_text=_opt(texts()),
        file_id=_opt(texts(max_size=20)),
        details=st.dictionaries(texts(max_size=10), json_values(max_leaves=3), max_size=2),
    )


def provider_metadata() -> st.SearchStrategy[dict[str, dict[str, Any]]]:
    return st.dictionaries(
        st.sampled_from(["anthropic", "openai", "google"]),
        st.dictionaries(texts(max_size=10), json_values(max_leaves=3), max_size=2),
        max_size=2,
    )


_status = _opt(st.sampled_from(["completed", "in_progress", "incomplete"]))


def _text_parts() -> st.SearchStrategy[TextPart]:
    return st.builds(
        TextPart,
        text=texts(),
        citations=st.lists(citations(), max_size=2),
        provider_id=_opt(texts(min_size=1, max_size=20)),
        status=_status,
        signature=_opt(texts(max_size=40)),
        provider_metadata=provider_metadata(),
    )


def _image_parts() -> st.SearchStrategy[ImagePart]:
    return st.builds(
        ImagePart,
        image_id=texts(max_size=20),
        url=_opt(texts()),
        alt_text=_opt(texts()),
        media_type=_opt(st.sampled_from(["image/png", "image/jpeg"])),
        detail=_opt(st.sampled_from(["low", "high", "auto"])),
        provider_file_id=_opt(texts(max_size=20)),
    )


def _file_parts() -> st.SearchStrategy[FilePart]:
    return st.builds(
        FilePart,
        file_id=texts(max_size=20),
        filename=texts(max_size=20),
        mime_type=texts(max_size=20),
        size_bytes=st.integers(min_value=0, max_value=I64),
        url=_opt(texts()),
        title=_opt(texts()),
        text=_opt(texts()),
        provider_file_id=_opt(texts(max_size=20)),
        citations_enabled=_opt(st.booleans()),
    )


def _audio_parts() -> st.SearchStrategy[AudioPart]:
    return st.builds(
        AudioPart,
        media_type=_opt(st.sampled_from(["audio/wav", "audio/mpeg"])),
        url=_opt(texts()),
        transcript=_opt(texts()),
        provider_id=_opt(texts(max_size=20)),
    )


def parts() -> st.SearchStrategy[Any]:
    """One part of any kind. Binary parts carry no inline bytes here: a store
    moves those into attachments, so they read back as references."""
    return st.one_of(
        _text_parts(),
        st.builds(
            ReasoningPart,
            text=texts(),
            summary=st.lists(texts(), max_size=2),
            signature=_opt(texts(max_size=40)),
            encrypted_content=_opt(texts(max_size=40)),
            redacted=st.booleans(),
            provider_id=_opt(texts(min_size=1, max_size=20)),
            status=_status,
        ),
        st.builds(
            ToolCallPart,
            tool_call_id=texts(min_size=1, max_size=20),
            tool_name=texts(max_size=20),
            args=json_values(),
            args_text=_opt(texts()),
            tool_kind=_opt(st.just("custom")),
            provider_id=_opt(texts(min_size=1, max_size=20)),
            status=_status,
            signature=_opt(texts(max_size=40)),
        ),
        st.builds(
            ToolResultPart,
            tool_call_id=texts(min_size=1, max_size=20),
            tool_name=texts(max_size=20),
            result=json_values(),
            is_error=st.booleans(),
            content=st.lists(_text_parts() | _image_parts() | _file_parts(), max_size=2),
            provider_id=_opt(texts(min_size=1, max_size=20)),
            status=_status,
        ),
        st.builds(
            SourcePart,
            source_id=texts(max_size=20),
            url=_opt(texts()),
            title=_opt(texts()),
            media_type=_opt(texts(max_size=20)),
            filename=_opt(texts(max_size=20)),
        ),
        _file_parts(),
        _image_parts(),
        st.builds(
            CodePart,
            language=_opt(texts(max_size=10)),
            code=texts(),
            provider_id=_opt(texts(max_size=20)),
        ),
        _audio_parts(),
        st.builds(RefusalPart, text=texts(), provider_id=_opt(texts(max_size=20))),
        st.builds(
            HostedToolPart,
            provider=st.sampled_from(["openai-responses", "anthropic", "gemini"]),
            item_type=st.sampled_from(["web_search_call", "server_tool_use", "mcp_call"]),
            payload=st.dictionaries(texts(max_size=10), json_values(max_leaves=4), max_size=3),
            tool_name=_opt(texts(max_size=20)),
            tool_call_id=_opt(texts(max_size=20)),
            status=_status,
            is_error=st.booleans(),
        ),
        st.builds(
            DataPart,
            name=texts(min_size=1, max_size=20),
            data=json_values(),
            data_id=_opt(texts(max_size=20)),
        ),
    )


def token_usages() -> st.SearchStrategy[TokenUsage]:
    n = st.integers(min_value=0, max_value=SMALL)
    return st.builds(
        TokenUsage,
        prompt_tokens=n,
        completion_tokens=n,
        total_tokens=n,
        cached_input_tokens=_opt(n),
        cache_write_tokens=_opt(n),
        reasoning_tokens=_opt(n),
    )


def cost_infos() -> st.SearchStrategy[CostInfo]:
    f = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)
    return st.builds(
        CostInfo,
        input_cost=f,
        output_cost=f,
        total_cost=f,
        currency=st.sampled_from(["USD", "EUR", "JPY"]),
    )


def message_metadata() -> st.SearchStrategy[MessageMetadata]:
    n = st.integers(min_value=0, max_value=SMALL)
    return st.builds(
        MessageMetadata,
        completed_at=_opt(st.integers(min_value=-I64 - 1, max_value=I64)),
        duration_ms=_opt(st.integers(min_value=0, max_value=I64)),
        model=_opt(texts(max_size=20)),
        provider=_opt(texts(max_size=20)),
        token_usage=_opt(token_usages()),
        stats=_opt(
            st.builds(
                ExecutionStats,
                llm_calls=n,
                tool_calls=n,
                sub_agents=n,
                steps=n,
                decisions=n,
                artifacts=n,
            )
        ),
        finish_reason=_opt(st.sampled_from(FinishReason)),
        cost=_opt(cost_infos()),
        provider_finish_reason=_opt(texts(max_size=20)),
        response_id=_opt(texts(max_size=20)),
        extra=st.dictionaries(texts(max_size=10), json_values(max_leaves=4), max_size=3),
    )


def native_payloads() -> st.SearchStrategy[NativePayload]:
    return st.builds(
        NativePayload,
        format=st.sampled_from(["openai.chat", "openai.responses", "anthropic.messages"])
        | texts(min_size=1, max_size=30),
        data=json_values(),
    )


def messages(ids: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[Message]:
    """Messages as a client builds them: no thread id, seq or turn yet."""
    return st.builds(
        Message,
        id=ids if ids is not None else identifiers(),
        role=st.sampled_from(Role),
        provider_role=_opt(st.sampled_from(["developer", "model"])),
        name=_opt(texts(max_size=20)),
        tool_call_id=_opt(texts(max_size=20)),
        parts=st.lists(parts(), max_size=4),
        content=texts(max_size=80),
        execution_id=_opt(identifiers()),
        parent_id=_opt(identifiers()),
        parent_type=_opt(st.sampled_from(ParentType)),
        pinned=st.booleans(),
        metadata=message_metadata(),
        native=_opt(native_payloads()),
        token_count=_opt(st.integers(min_value=0, max_value=SMALL)),
        token_counter=_opt(texts(max_size=20)),
        created_at=datetimes(),
        archived_at=_opt(datetimes()),
    ).map(_names_its_call)


def _names_its_call(message: Message) -> Message:
    """A tool message the store accepts says which call it answers."""
    if (
        message.role is Role.TOOL
        and not message.tool_call_id
        and not any(isinstance(p, ToolResultPart) for p in message.parts)
    ):
        return message.model_copy(update={"tool_call_id": "call_0"})
    return message


def message_batches(min_size: int = 1, max_size: int = 6) -> st.SearchStrategy[list[Message]]:
    """Batches of messages with distinct ids."""
    return st.lists(messages(), min_size=min_size, max_size=max_size, unique_by=lambda m: m.id)


def thread_states() -> st.SearchStrategy[ThreadState]:
    return st.builds(
        ThreadState,
        variables=st.dictionaries(texts(max_size=10), texts(max_size=20), max_size=3),
        data=st.dictionaries(texts(max_size=10), json_values(), max_size=3),
    )


def threads(ids: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[Thread]:
    """Threads as a client creates them (tenant and counters are the store's)."""
    return st.builds(
        Thread,
        id=ids if ids is not None else identifiers(),
        user_id=_opt(identifiers()),
        agent_name=_opt(texts(max_size=30)),
        model=_opt(texts(max_size=30)),
        title=_opt(texts()),
        metadata=st.dictionaries(texts(max_size=10), json_values(), max_size=3),
        state=thread_states(),
        created_at=datetimes(),
        ended_at=_opt(datetimes()),
    )


def bad_texts() -> st.SearchStrategy[str]:
    """Text no backend may store: it holds a NUL character or a lone surrogate."""
    bad = st.sampled_from(["\x00", "\ud800", "\udfff", "\udc80"])
    return st.tuples(texts(max_size=10), bad, texts(max_size=10)).map("".join)
