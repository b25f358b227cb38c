"""Hypothesis strategies for AI SDK 5 ``UIMessage`` payloads.

:func:`payloads` draws lists of ``UIMessage`` objects in the canonical shape
that ``to_vercel_ui`` writes (so ``to_vercel_ui(from_vercel_ui(p)) == p``):
every part kind, every tool state, static, dynamic and provider-executed
tools, step boundaries, inline and linked files, provider metadata, and
consecutive assistant messages. :func:`variant_payloads` draws the other
spellings ``from_vercel_ui`` also reads (see the format's docs page).

Values stay within what JSON carries the same way in Python and JavaScript:
integers within 2**53, finite floats other than -0.0, no lone surrogates.
"""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import strategies as st

from convostore.model import is_identifier

_SAFE = 2**53 - 1
_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)),
    max_size=12,
)
_KEYS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_ABCXYZ0123456789-", min_size=1, max_size=8)
_NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_-0123456789", min_size=1, max_size=10)
_IDS = _TEXT.filter(is_identifier)

_floats = st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: str(f) != "-0.0")
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-_SAFE, _SAFE) | _floats | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3),
    max_leaves=6,
)
"""Any JSON value."""

provider_metadata = st.dictionaries(
    st.sampled_from(["openai", "anthropic", "google", "vercel-ui", "acme"]),
    st.dictionaries(_KEYS, json_values, max_size=2),
    min_size=1,
    max_size=2,
)
"""A non-empty ``providerMetadata`` object."""


def _with(base: dict[str, Any], **optional: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``base`` with each optional key either left out or drawn."""
    keys = list(optional)
    return st.tuples(*(st.one_of(st.none(), st.tuples(optional[k])) for k in keys)).map(
        lambda drawn: {**base, **{k: v[0] for k, v in zip(keys, drawn, strict=True) if v}}
    )


_states = st.sampled_from(["streaming", "done"])


@st.composite
def text_parts(draw: st.DrawFn) -> dict[str, Any]:
    return draw(
        _with(
            {"type": "text", "text": draw(_TEXT)}, state=_states, providerMetadata=provider_metadata
        )
    )


@st.composite
def reasoning_parts(draw: st.DrawFn) -> dict[str, Any]:
    return draw(
        _with(
            {"type": "reasoning", "text": draw(_TEXT)},
            id=_TEXT,
            state=_states,
            providerMetadata=provider_metadata,
        )
    )


@st.composite
def source_parts(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        base = {"type": "source-url", "sourceId": draw(_TEXT), "url": draw(_urls)}
        return draw(_with(base, title=_TEXT, providerMetadata=provider_metadata))
    base = {
        "type": "source-document",
        "sourceId": draw(_TEXT),
        "mediaType": draw(_media_types),
        "title": draw(_TEXT),
    }
    return draw(_with(base, filename=_TEXT, providerMetadata=provider_metadata))


_media_types = st.sampled_from(
    ["image/png", "image/jpeg", "audio/wav", "audio/mpeg", "application/pdf", "text/plain", ""]
)
_urls = st.sampled_from(
    ["https://example.com/a.png", "http://example.org/doc.pdf", "https://example.com/?q=1#x"]
)


@st.composite
def file_parts(draw: st.DrawFn) -> dict[str, Any]:
    media_type = draw(_media_types)
    kind = draw(st.sampled_from(["inline", "link", "other-data-url"]))
    if kind == "inline":
        data = draw(st.binary(max_size=24))
        url = f"data:{media_type};base64,{base64.b64encode(data).decode()}"
    elif kind == "link":
        url = draw(_urls)
    else:
        # data: URLs that are not the canonical base64 one of the media type:
        # kept as URLs.
        url = draw(
            st.sampled_from(
                [
                    "data:text/plain,hello%20world",
                    "data:application/octet-stream;base64,AAEC",
                    f"data:{media_type};base64,not base64!",
                    f"data:{media_type};charset=utf-8;base64,aGk=",
                ]
            )
        )
    base = {"type": "file", "mediaType": media_type, "url": url}
    return draw(_with(base, filename=_TEXT.filter(bool), providerMetadata=provider_metadata))


@st.composite
def data_parts(draw: st.DrawFn) -> dict[str, Any]:
    part: dict[str, Any] = {"type": f"data-{draw(_NAMES)}"}
    if draw(st.booleans()):
        part["id"] = draw(_TEXT)
    part["data"] = draw(json_values)
    return part


_non_null = json_values.filter(lambda v: v is not None)


@st.composite
def tool_parts(draw: st.DrawFn, call_id: str) -> dict[str, Any]:
    """A tool part in any state: static or dynamic, run by the app or by the
    provider (``providerExecuted``)."""
    dynamic = draw(st.booleans())
    name = draw(_NAMES | st.just(""))
    part: dict[str, Any]
    if dynamic:
        part = {"type": "dynamic-tool"}
        if draw(st.booleans()):
            part["dynamic"] = False
        part["toolName"] = name
    else:
        part = {"type": f"tool-{name}"}
    part["toolCallId"] = call_id
    state = draw(
        st.sampled_from(["input-streaming", "input-available", "output-available", "output-error"])
    )
    part["state"] = state
    executed = draw(st.integers(0, 4)) == 0
    if executed:
        part["providerExecuted"] = True
    if state in ("input-streaming", "output-error"):
        if draw(st.booleans()):
            part["input"] = draw(_non_null)
        if draw(st.booleans()):
            part["rawInput"] = draw(_TEXT)
    else:
        part["input"] = draw(json_values)
    if state == "output-available":
        part["output"] = draw(json_values)
        if draw(st.booleans()):
            part["preliminary"] = True
    if state == "output-error":
        part["errorText"] = draw(_TEXT)
    if state != "input-streaming" and draw(st.booleans()):
        part["callProviderMetadata"] = draw(provider_metadata)
    return part


@st.composite
def _steps(draw: st.DrawFn) -> list[dict[str, Any]]:
    """The parts of one step (tool call ids unique within it)."""
    parts: list[dict[str, Any]] = []
    used: set[str] = set()
    for _ in range(draw(st.integers(0, 4))):
        choice = draw(st.integers(0, 6))
        if choice <= 1:
            call_id = draw(st.sampled_from(["call_1", "call_2", "call_3", "toolu_x", "c"]))
            if call_id in used:
                continue
            used.add(call_id)
            parts.append(draw(tool_parts(call_id)))
        else:
            parts.append(
                draw(
                    st.one_of(
                        text_parts(), reasoning_parts(), source_parts(), file_parts(), data_parts()
                    )
                )
            )
    return parts


@st.composite
def assistant_parts(draw: st.DrawFn) -> list[dict[str, Any]]:
    """The parts of an assistant message: steps, each opened by
    ``step-start`` (the first one possibly not)."""
    parts: list[dict[str, Any]] = []
    if draw(st.booleans()):
        parts.extend(draw(_steps()))
    for _ in range(draw(st.integers(0, 3))):
        parts.append({"type": "step-start"})
        parts.extend(draw(_steps()))
    return parts


_plain_parts = st.one_of(
    text_parts(), file_parts(), data_parts(), source_parts(), reasoning_parts()
)


@st.composite
def payloads(draw: st.DrawFn, max_messages: int = 5) -> list[dict[str, Any]]:
    """A canonical list of ``UIMessage`` objects (at least one), ids unique
    and without ``~`` (which derived ids use)."""
    ids = draw(
        st.lists(
            _IDS.filter(lambda s: "~" not in s), min_size=1, max_size=max_messages, unique=True
        )
    )
    out = []
    for message_id in ids:
        role = draw(st.sampled_from(["user", "assistant", "assistant", "system"]))
        message: dict[str, Any] = {"id": message_id, "role": role}
        if draw(st.booleans()):
            message["metadata"] = draw(json_values)
        if role == "assistant":
            message["parts"] = draw(assistant_parts())
        else:
            message["parts"] = draw(st.lists(_plain_parts, min_size=1, max_size=3))
        out.append(message)
    return out


def _variant(part: dict[str, Any], choice: int) -> dict[str, Any]:
    """``part`` spelled another way ``from_vercel_ui`` reads (same meaning)."""
    p = dict(part)
    kind = p["type"]
    if choice == 0:
        p["unknownKey"] = 1  # ignored, as the AI SDK's validator ignores it
    elif choice == 1 and kind in ("text", "reasoning", "file", "source-url", "source-document"):
        p["providerMetadata"] = {}
    elif choice == 2 and kind in ("source-url", "file", "source-document"):
        p.setdefault("filename" if kind != "source-url" else "title", None)
    elif choice == 3 and (kind.startswith("tool-") or kind == "dynamic-tool"):
        if p["state"] in ("input-streaming", "output-error") and "input" not in p:
            p["input"] = None
        p.setdefault("providerExecuted", False)
        if p["state"] == "output-available":
            p.setdefault("preliminary", False)
        if p["state"] != "input-streaming":
            p.setdefault("callProviderMetadata", {})
    elif choice == 4 and kind.startswith("data-"):
        p.pop("data")
    return p


@st.composite
def variant_payloads(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A payload with some parts in a non-canonical spelling."""
    out = []
    for message in draw(payloads()):
        m = dict(message)
        m["parts"] = [_variant(p, draw(st.integers(0, 6))) for p in m["parts"]]
        out.append(m)
    return out
