"""Hypothesis strategies for Anthropic Messages payloads in canonical shape
(what ``to_anthropic`` writes), and the other spellings ``from_anthropic``
reads, which the converter brings back to the canonical one.

Canonical: ``system`` is a list of text blocks (absent when empty), roles
alternate (a ``system``-role message may sit between turns), content is always
a list of blocks, a user turn puts its tool results first, ``is_error`` is
written only when true, and bytes are standard base64.
"""

from __future__ import annotations

import base64
import copy
import string
from typing import Any

from hypothesis import strategies as st

Payload = dict[str, Any]

#: Text of any Unicode except NUL (which no store keeps).
texts = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=24)
words = st.text(string.ascii_letters + string.digits, min_size=1, max_size=10)
tool_names = st.from_regex(r"[a-z][a-z_]{0,11}", fullmatch=True)
b64 = st.binary(max_size=32).map(lambda b: base64.b64encode(b).decode("ascii"))
signatures = st.binary(min_size=8, max_size=48).map(lambda b: base64.b64encode(b).decode())
urls = words.map(lambda w: f"https://example.com/{w}")
file_ids = words.map(lambda w: f"file_{w}")

json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
tool_inputs = st.dictionaries(texts, json_values, max_size=4)

cache_controls = st.sampled_from([{"type": "ephemeral"}, {"type": "ephemeral", "ttl": "1h"}])


@st.composite
def _with_cache(draw: st.DrawFn, block: st.SearchStrategy[Payload]) -> Payload:
    out = dict(draw(block))
    if draw(st.booleans()):
        out["cache_control"] = draw(cache_controls)
    return out


def _nullable(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


citations = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.just("char_location"),
            "cited_text": texts,
            "document_index": st.integers(0, 9),
            "document_title": _nullable(texts),
            "start_char_index": st.integers(0, 99),
            "end_char_index": st.integers(0, 99),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("page_location"),
            "cited_text": texts,
            "document_index": st.integers(0, 9),
            "document_title": _nullable(texts),
            "start_page_number": st.integers(1, 20),
            "end_page_number": st.integers(1, 20),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("content_block_location"),
            "cited_text": texts,
            "document_index": st.integers(0, 9),
            "document_title": _nullable(texts),
            "start_block_index": st.integers(0, 5),
            "end_block_index": st.integers(1, 6),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("web_search_result_location"),
            "cited_text": texts,
            "encrypted_index": b64,
            "title": _nullable(texts),
            "url": urls,
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("search_result_location"),
            "cited_text": texts,
            "search_result_index": st.integers(0, 5),
            "source": urls,
            "title": _nullable(texts),
            "start_block_index": st.integers(0, 5),
            "end_block_index": st.integers(1, 6),
        }
    ),
)


def text_blocks(*, cited: bool = False) -> st.SearchStrategy[Payload]:
    base = st.fixed_dictionaries({"type": st.just("text"), "text": texts})
    if cited:
        base = st.fixed_dictionaries(
            {"type": st.just("text"), "text": texts},
            optional={"citations": st.lists(citations, min_size=1, max_size=3)},
        )
    return _with_cache(base)


image_sources = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.just("base64"),
            "media_type": st.sampled_from(["image/png", "image/jpeg", "image/gif", "image/webp"]),
            "data": b64,
        }
    ),
    st.fixed_dictionaries({"type": st.just("url"), "url": urls}),
    st.fixed_dictionaries({"type": st.just("file"), "file_id": file_ids}),
)
image_blocks = _with_cache(
    st.fixed_dictionaries({"type": st.just("image"), "source": image_sources})
)

document_sources = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("base64"), "media_type": st.just("application/pdf"), "data": b64}
    ),
    st.fixed_dictionaries(
        {"type": st.just("text"), "media_type": st.just("text/plain"), "data": texts}
    ),
    st.fixed_dictionaries({"type": st.just("url"), "url": urls}),
    st.fixed_dictionaries({"type": st.just("file"), "file_id": file_ids}),
    st.fixed_dictionaries(
        {
            "type": st.just("content"),
            "content": texts | st.lists(text_blocks() | image_blocks, min_size=1, max_size=2),
        }
    ),
)
document_blocks = _with_cache(
    st.fixed_dictionaries(
        {"type": st.just("document"), "source": document_sources},
        optional={
            "title": texts,
            "context": texts,
            "citations": st.fixed_dictionaries({"enabled": st.booleans()}),
        },
    )
)

search_results = _with_cache(
    st.fixed_dictionaries(
        {
            "type": st.just("search_result"),
            "source": urls,
            "title": texts,
            "content": st.lists(
                st.fixed_dictionaries({"type": st.just("text"), "text": texts}),
                min_size=1,
                max_size=2,
            ),
        },
        optional={"citations": st.fixed_dictionaries({"enabled": st.booleans()})},
    )
)

thinking_blocks = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("thinking"), "thinking": texts, "signature": signatures}
    ),
    st.fixed_dictionaries({"type": st.just("redacted_thinking"), "data": signatures}),
)


@st.composite
def tool_results(draw: st.DrawFn, tool_use_id: str) -> Payload:
    block: Payload = {"type": "tool_result", "tool_use_id": tool_use_id}
    content = draw(
        st.one_of(
            st.none(),
            texts,
            st.lists(text_blocks() | image_blocks | document_blocks, min_size=1, max_size=3),
            st.lists(text_blocks() | search_results, min_size=1, max_size=2),
        )
    )
    if content is not None:
        block["content"] = content
    if draw(st.booleans()):
        block["is_error"] = True
    if draw(st.integers(0, 3)) == 0:
        block["cache_control"] = draw(cache_controls)
    return block


@st.composite
def _server_tools(draw: st.DrawFn, call_id: str) -> list[Payload]:
    """A server tool's call and its result, as Anthropic writes them in one
    assistant message."""
    kind = draw(st.sampled_from(["web_search", "code_execution"]))
    if kind == "web_search":
        call = {
            "type": "server_tool_use",
            "id": call_id,
            "name": "web_search",
            "input": {"query": draw(texts)},
        }
        content: Any = draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "type": st.just("web_search_result"),
                        "url": urls,
                        "title": texts,
                        "encrypted_content": b64,
                    },
                    optional={"page_age": texts},
                ),
                max_size=2,
            )
            | st.fixed_dictionaries(
                {
                    "type": st.just("web_search_tool_result_error"),
                    "error_code": st.sampled_from(["unavailable", "max_uses_exceeded"]),
                }
            )
        )
        result = {"type": "web_search_tool_result", "tool_use_id": call_id, "content": content}
    else:
        call = {
            "type": "server_tool_use",
            "id": call_id,
            "name": "code_execution",
            "input": {"code": draw(texts)},
        }
        content = {
            "type": "code_execution_result",
            "stdout": draw(texts),
            "stderr": draw(texts),
            "return_code": draw(st.integers(0, 2)),
            "content": [],
        }
        result = {"type": "code_execution_tool_result", "tool_use_id": call_id, "content": content}
    return [call, result]


@st.composite
def payloads(draw: st.DrawFn) -> Payload:
    """A canonical history: up to four user/assistant turns with tool calls
    answered in the next user turn."""
    counter = iter(range(10_000))

    def new_id(prefix: str) -> str:
        return f"{prefix}_{next(counter):03d}{draw(words)}"

    messages: list[Payload] = []
    pending: list[str] = []
    for _ in range(draw(st.integers(1, 4))):
        user = [draw(tool_results(call_id)) for call_id in pending]
        extra = st.one_of(text_blocks(), image_blocks, document_blocks, search_results)
        user += draw(st.lists(extra, min_size=0 if user else 1, max_size=3))
        if draw(st.integers(0, 9)) == 0:
            user.append({"type": "container_upload", "file_id": draw(file_ids)})
        messages.append({"role": "user", "content": user})
        if draw(st.integers(0, 4)) == 0:
            pending = []
            break
        assistant = draw(st.lists(thinking_blocks, max_size=2))
        for _ in range(draw(st.integers(0, 2))):
            if draw(st.booleans()):
                assistant.append(draw(text_blocks(cited=True)))
            else:
                assistant += draw(_server_tools(new_id("srvtoolu")))
        pending = [new_id("toolu") for _ in range(draw(st.integers(0, 3)))]
        for call_id in pending:
            block = {
                "type": "tool_use",
                "id": call_id,
                "name": draw(tool_names),
                "input": draw(tool_inputs),
            }
            if draw(st.integers(0, 4)) == 0:
                block["cache_control"] = draw(cache_controls)
            assistant.append(block)
        messages.append({"role": "assistant", "content": assistant})
    # A system message between turns (never where tool results are due).
    places = [
        k
        for k in range(1, len(messages) + 1)
        if messages[k - 1]["role"] == "assistant"
        and not any(b["type"] == "tool_use" for b in messages[k - 1]["content"])
    ]
    if places and draw(st.integers(0, 3)) == 0:
        at = draw(st.sampled_from(places))
        blocks = draw(st.lists(text_blocks(), min_size=1, max_size=2))
        messages.insert(at, {"role": "system", "content": blocks})
    payload: Payload = {"messages": messages}
    if draw(st.booleans()):
        payload["system"] = draw(st.lists(text_blocks(), min_size=1, max_size=2))
    return payload


# the other spellings ---------------------------------------------------------------


def _plain_text(blocks: Any) -> bool:
    return (
        isinstance(blocks, list)
        and len(blocks) == 1
        and set(blocks[0]) == {"type", "text"}
        and blocks[0]["type"] == "text"
        and blocks[0]["text"] != ""
    )


@st.composite
def variants(draw: st.DrawFn, payload: Payload) -> Payload:
    """``payload`` in other spellings ``from_anthropic`` reads and
    ``to_anthropic`` writes back as ``payload``: string content, a string
    system prompt, a message split in two of its role, ``is_error: false``,
    ``citations: null``, a document's ``title: null``."""
    out = copy.deepcopy(payload)
    if "system" in out and _plain_text(out["system"]) and draw(st.booleans()):
        out["system"] = out["system"][0]["text"]
    messages = out["messages"]
    for m in messages:
        if _plain_text(m["content"]) and draw(st.booleans()):
            m["content"] = m["content"][0]["text"]
            continue
        for b in m["content"]:
            if b["type"] == "tool_result" and "is_error" not in b and draw(st.booleans()):
                b["is_error"] = False
            if b["type"] == "text" and "citations" not in b and draw(st.booleans()):
                b["citations"] = None
            if b["type"] == "document" and "title" not in b and draw(st.booleans()):
                b["title"] = None
    splittable = [
        k
        for k, m in enumerate(messages)
        if m["role"] != "system" and isinstance(m["content"], list) and len(m["content"]) > 1
    ]
    if splittable and draw(st.booleans()):
        k = draw(st.sampled_from(splittable))
        m = messages[k]
        cut = draw(st.integers(1, len(m["content"]) - 1))
        messages[k : k + 1] = [
            {"role": m["role"], "content": m["content"][:cut]},
            {"role": m["role"], "content": m["content"][cut:]},
        ]
    return out
