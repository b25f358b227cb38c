"""Payloads of the two OpenAI formats for the converter tests: a strict check
against the SDK's request types, hypothesis strategies that generate
canonical payloads, and a corpus of hand-written real-shaped ones."""

from __future__ import annotations

import base64
import collections.abc
import json
import string
import types
import typing
from typing import Any, NotRequired, Required

from hypothesis import strategies as st
from typing_extensions import ReadOnly, is_typeddict

# ---------------------------------------------------------------------------
# strict SDK check


def sdk_errors(value: Any, tp: Any, path: str = "$") -> list[str]:
    """What makes ``value`` not an instance of the SDK request type ``tp``
    (a TypedDict, union, literal...): missing required keys, unknown keys and
    wrong types, each with its path; empty when it is one.

    pydantic's ``TypeAdapter`` accepts unknown keys of a TypedDict and checks
    ``Iterable`` fields lazily, so the tests walk the annotations instead.
    """
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any or tp is object:
        return []
    if origin in (Required, NotRequired, ReadOnly, typing.Annotated):
        return sdk_errors(value, args[0], path)
    if origin in (typing.Union, types.UnionType):
        best: list[str] | None = None
        for option in args:
            errors = sdk_errors(value, option, path)
            if not errors:
                return []
            if best is None or len(errors) < len(best):
                best = errors
        return best or [f"{path}: matches no type of {tp}"]
    if origin is typing.Literal:
        return [] if value in args else [f"{path}: {value!r} is not one of {args}"]
    if tp is type(None):
        return [] if value is None else [f"{path}: must be null"]
    if tp is bool:
        return [] if isinstance(value, bool) else [f"{path}: must be a bool"]
    if tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{path}: must be an int"]
    if tp is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{path}: must be a number"]
    if tp is str:
        return [] if isinstance(value, str) else [f"{path}: must be a string"]
    if is_typeddict(tp):
        return _typeddict_errors(value, tp, path)
    if origin in (dict, collections.abc.Mapping):
        if not isinstance(value, dict):
            return [f"{path}: must be an object"]
        return [e for k, v in value.items() for e in sdk_errors(v, args[1], f"{path}.{k}")]
    if origin in (
        list,
        collections.abc.Iterable,
        collections.abc.Sequence,
    ) or getattr(origin, "__name__", "") in ("SequenceNotStr", "Iterable", "Sequence"):
        if not isinstance(value, list):
            return [f"{path}: must be an array"]
        return [e for n, v in enumerate(value) for e in sdk_errors(v, args[0], f"{path}[{n}]")]
    raise TypeError(f"sdk_errors cannot check {tp!r} at {path}")


def _typeddict_errors(value: Any, tp: Any, path: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: must be an object ({tp.__name__})"]
    hints = typing.get_type_hints(tp, include_extras=True)
    errors = [f"{path}.{k}: unknown key of {tp.__name__}" for k in value if k not in hints]
    for key, hint in hints.items():
        if key in value:
            errors.extend(sdk_errors(value[key], hint, f"{path}.{key}"))
        elif typing.get_origin(hint) is Required:
            errors.append(f"{path}.{key}: required by {tp.__name__}")
    return errors


def check_chat(payload: list[dict[str, Any]]) -> None:
    """Asserts ``payload`` is a list of Chat message params, strictly, and
    that pydantic's own validation of the SDK type accepts it."""
    from openai.types.chat import ChatCompletionMessageParam
    from pydantic import TypeAdapter

    TypeAdapter(list[ChatCompletionMessageParam]).validate_python(payload)
    errors = sdk_errors(payload, list[ChatCompletionMessageParam])
    assert not errors, "\n".join(errors)


def check_responses(payload: list[dict[str, Any]]) -> None:
    """Asserts ``payload`` is a list of Responses input items, strictly."""
    from openai.types.responses import ResponseInputItemParam
    from pydantic import TypeAdapter

    TypeAdapter(list[ResponseInputItemParam]).validate_python(payload)
    errors = sdk_errors(payload, list[ResponseInputItemParam])
    assert not errors, "\n".join(errors)


# ---------------------------------------------------------------------------
# shared strategies

_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=24
)
_NAME = st.text(string.ascii_letters + string.digits + "_", min_size=1, max_size=12)
_SUFFIX = st.text(string.ascii_letters + string.digits, min_size=4, max_size=10)
_BYTES = st.binary(max_size=24)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def data_url(media_type: str, data: bytes) -> str:
    return f"data:{media_type};base64,{b64(data)}"


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_NAME, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def arguments(draw: st.DrawFn) -> str:
    """A tool call's arguments text: compact JSON, spaced JSON or not JSON."""
    value = draw(st.dictionaries(_NAME, _JSON, max_size=3))
    style = draw(st.sampled_from(["compact", "spaced", "text", "empty"]))
    if style == "compact":
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if style == "spaced":
        return json.dumps(value)
    if style == "empty":
        return ""
    return draw(_TEXT)


_CACHE = st.sampled_from([{"mode": "explicit"}, {"mode": "explicit", "ttl": "30m"}])
_HTTPS = _NAME.map(lambda n: f"https://example.com/{n}.png")


def _with(draw: st.DrawFn, out: dict[str, Any], key: str, strategy: Any) -> dict[str, Any]:
    """``out`` with ``key`` drawn from ``strategy`` half of the time."""
    if draw(st.booleans()):
        out[key] = draw(strategy)
    return out


def _collapse(items: list[dict[str, Any]], text_type: str) -> Any:
    """Content in its canonical spelling: one plain text part as a string."""
    if len(items) == 1 and items[0].keys() == {"type", "text"} and items[0]["type"] == text_type:
        return items[0]["text"]
    return items


class _Ids:
    """Unique ids for one payload."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}_{self.n:03d}"


# ---------------------------------------------------------------------------
# Chat strategies


@st.composite
def chat_text(draw: st.DrawFn) -> dict[str, Any]:
    return _with(draw, {"type": "text", "text": draw(_TEXT)}, "prompt_cache_breakpoint", _CACHE)


@st.composite
def chat_user_part(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["text", "image", "audio", "file"]))
    if kind == "text":
        return draw(chat_text())
    if kind == "image":
        url = draw(_HTTPS | _BYTES.map(lambda b: data_url("image/png", b)))
        body = _with(draw, {"url": url}, "detail", st.sampled_from(["auto", "low", "high"]))
        return {"type": "image_url", "image_url": body}
    if kind == "audio":
        fmt = draw(st.sampled_from(["wav", "mp3"]))
        return {"type": "input_audio", "input_audio": {"data": b64(draw(_BYTES)), "format": fmt}}
    body: dict[str, Any] = {}
    source = draw(st.sampled_from(["data-url", "base64", "id", "both"]))
    if source in ("data-url", "both"):
        body["file_data"] = data_url("application/pdf", draw(_BYTES))
    if source == "base64":
        body["file_data"] = b64(draw(_BYTES))
    if source in ("id", "both"):
        body["file_id"] = "file-" + draw(_SUFFIX)
    return {"type": "file", "file": _with(draw, body, "filename", _NAME.map(lambda n: n + ".pdf"))}


def _chat_named(draw: st.DrawFn, message: dict[str, Any]) -> dict[str, Any]:
    return _with(draw, message, "name", _NAME)


@st.composite
def chat_system(draw: st.DrawFn) -> dict[str, Any]:
    role = draw(st.sampled_from(["system", "developer"]))
    content = _collapse(draw(st.lists(chat_text(), min_size=1, max_size=3)), "text")
    return _chat_named(draw, {"role": role, "content": content})


@st.composite
def chat_user(draw: st.DrawFn) -> dict[str, Any]:
    content = _collapse(draw(st.lists(chat_user_part(), min_size=1, max_size=4)), "text")
    return _chat_named(draw, {"role": "user", "content": content})


@st.composite
def chat_call(draw: st.DrawFn, ids: _Ids) -> dict[str, Any]:
    if draw(st.booleans()):
        fn = {"name": draw(_NAME), "arguments": draw(arguments())}
        return {"id": ids("call"), "type": "function", "function": fn}
    custom = {"name": draw(_NAME), "input": draw(_TEXT)}
    return {"id": ids("call"), "type": "custom", "custom": custom}


@st.composite
def chat_assistant(draw: st.DrawFn, ids: _Ids, *, calls: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"role": "assistant"}
    refusal = {"type": "refusal", "refusal": draw(_TEXT)}
    items = draw(st.lists(chat_text() | st.just(refusal), max_size=3))
    if len(items) == 1 and items[0]["type"] == "refusal":
        out["refusal"] = items[0]["refusal"]
    elif items:
        out["content"] = _collapse(items, "text")
    if calls:
        out["tool_calls"] = draw(st.lists(chat_call(ids), min_size=1, max_size=3))
    if draw(st.booleans()):
        out["audio"] = {"id": ids("audio")}
    if len(out) == 1:
        out["content"] = ""
    return _chat_named(draw, out)


@st.composite
def chat_tool(draw: st.DrawFn, call_id: str) -> dict[str, Any]:
    content: Any = draw(_TEXT | st.lists(chat_text(), min_size=1, max_size=2))
    return {"role": "tool", "tool_call_id": call_id, "content": content}


@st.composite
def chat_payloads(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A Chat conversation in canonical spelling: system, user and assistant
    messages, and assistant calls each followed by some of their results,
    in any order."""
    ids = _Ids()
    out: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["system", "user", "assistant", "calls"]))
        if kind == "system":
            out.append(draw(chat_system()))
        elif kind == "user":
            out.append(draw(chat_user()))
        elif kind == "assistant":
            out.append(draw(chat_assistant(ids, calls=False)))
        else:
            message = draw(chat_assistant(ids, calls=True))
            out.append(message)
            call_ids = [c["id"] for c in message["tool_calls"]]
            answered = draw(st.permutations(call_ids))[: draw(st.integers(1, len(call_ids)))]
            out.extend(draw(chat_tool(c)) for c in answered)
    return out


# ---------------------------------------------------------------------------
# Responses strategies


@st.composite
def input_text(draw: st.DrawFn) -> dict[str, Any]:
    out = {"type": "input_text", "text": draw(_TEXT)}
    return _with(draw, out, "prompt_cache_breakpoint", _CACHE)


@st.composite
def input_image(draw: st.DrawFn, *, detail_required: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "input_image"}
    detail = st.sampled_from(["auto", "low", "high", "original"])
    if detail_required:
        out["detail"] = draw(detail)
    else:
        _with(draw, out, "detail", detail)
    source = draw(st.sampled_from(["url", "data", "id", "both"]))
    if source in ("url", "both"):
        out["image_url"] = draw(_HTTPS)
    if source == "data":
        out["image_url"] = data_url("image/jpeg", draw(_BYTES))
    if source in ("id", "both"):
        out["file_id"] = "file-" + draw(_SUFFIX)
    return out


@st.composite
def input_file(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "input_file"}
    sources = draw(
        st.lists(st.sampled_from(["id", "data-url", "base64", "url"]), min_size=1, unique=True)
    )
    if "data-url" in sources and "base64" in sources:
        sources.remove("base64")
    if "id" in sources:
        out["file_id"] = "file-" + draw(_SUFFIX)
    if "data-url" in sources:
        out["file_data"] = data_url("application/pdf", draw(_BYTES))
    if "base64" in sources:
        out["file_data"] = b64(draw(_BYTES))
    if "url" in sources:
        out["file_url"] = "https://example.com/" + draw(_NAME) + ".pdf"
    _with(draw, out, "filename", _NAME.map(lambda n: n + ".pdf"))
    _with(draw, out, "detail", st.sampled_from(["auto", "low", "high"]))
    return out


def _input_part(*, detail_required: bool) -> st.SearchStrategy[dict[str, Any]]:
    return input_text() | input_image(detail_required=detail_required) | input_file()


@st.composite
def input_message(draw: st.DrawFn) -> dict[str, Any]:
    role = draw(st.sampled_from(["user", "system", "developer"]))
    items = draw(st.lists(_input_part(detail_required=True), min_size=1, max_size=3))
    return {"role": role, "content": _collapse(items, "input_text")}


@st.composite
def annotation(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["url", "file", "container", "path"]))
    span = {"start_index": draw(st.integers(0, 50)), "end_index": draw(st.integers(0, 50))}
    file = {"file_id": "file-" + draw(_SUFFIX)}
    if kind == "url":
        return {"type": "url_citation", "url": draw(_HTTPS), "title": draw(_TEXT), **span}
    if kind == "file":
        return {"type": "file_citation", **file, "filename": draw(_NAME), "index": 3}
    if kind == "container":
        cid = "cntr_" + draw(_SUFFIX)
        name = {"filename": draw(_NAME)}
        return {"type": "container_file_citation", "container_id": cid, **file, **name, **span}
    return {"type": "file_path", **file, "index": draw(st.integers(0, 9))}


_LOGPROB = st.fixed_dictionaries(
    {
        "token": _NAME,
        "bytes": st.lists(st.integers(0, 255), max_size=3),
        "logprob": st.floats(-20, 0, allow_nan=False),
        "top_logprobs": st.just([]),
    }
)


@st.composite
def output_message(draw: st.DrawFn, ids: _Ids) -> dict[str, Any]:
    content = []
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.integers(0, 3)) == 0:
            content.append({"type": "refusal", "refusal": draw(_TEXT)})
            continue
        text = {
            "type": "output_text",
            "text": draw(_TEXT),
            "annotations": draw(st.lists(annotation(), max_size=2)),
        }
        content.append(_with(draw, text, "logprobs", st.lists(_LOGPROB, min_size=1, max_size=2)))
    texts = any(c["type"] == "output_text" for c in content)
    status = draw(st.sampled_from(["completed", "incomplete", "in_progress"])) if texts else None
    out = {
        "type": "message",
        "id": ids("msg"),
        "role": "assistant",
        "status": status or "completed",
        "content": content,
    }
    return _with(draw, out, "phase", st.sampled_from(["commentary", "final_answer"]))


@st.composite
def easy_assistant(draw: st.DrawFn) -> dict[str, Any]:
    out = {"role": "assistant", "content": draw(_TEXT)}
    return _with(draw, out, "phase", st.sampled_from(["commentary", "final_answer"]))


@st.composite
def reasoning_item(draw: st.DrawFn, ids: _Ids) -> dict[str, Any]:
    summary = draw(st.lists(_TEXT, max_size=2))
    out: dict[str, Any] = {
        "type": "reasoning",
        "id": ids("rs"),
        "summary": [{"type": "summary_text", "text": s} for s in summary],
    }
    texts = draw(st.lists(_TEXT, max_size=2))
    if texts and texts != [""]:
        out["content"] = [{"type": "reasoning_text", "text": t} for t in texts]
    _with(draw, out, "encrypted_content", _SUFFIX.map(lambda s: "gAAAA" + s))
    return _with(draw, out, "status", st.sampled_from(["completed", "in_progress"]))


@st.composite
def function_call(draw: st.DrawFn, call_id: str, ids: _Ids) -> dict[str, Any]:
    out = {"type": "function_call", "call_id": call_id, "name": draw(_NAME)}
    out["arguments"] = draw(arguments())
    _with(draw, out, "id", st.just(ids("fc")))
    _with(draw, out, "status", st.sampled_from(["completed", "in_progress", "incomplete"]))
    return _with(draw, out, "namespace", _NAME)


@st.composite
def custom_call(draw: st.DrawFn, call_id: str, ids: _Ids) -> dict[str, Any]:
    out = {"type": "custom_tool_call", "call_id": call_id, "name": draw(_NAME)}
    out["input"] = draw(_TEXT)
    return _with(draw, out, "id", st.just(ids("ctc")))


@st.composite
def function_output(draw: st.DrawFn, call_id: str, ids: _Ids) -> dict[str, Any]:
    listed = st.lists(_input_part(detail_required=False), min_size=1, max_size=3)
    out: dict[str, Any] = {
        "type": "function_call_output",
        "call_id": call_id,
        "output": draw(_TEXT | listed),
    }
    _with(draw, out, "id", st.just(ids("fco")))
    _with(draw, out, "status", st.sampled_from(["completed", "incomplete"]))
    return _with(draw, out, "name", _NAME)


@st.composite
def custom_output(draw: st.DrawFn, call_id: str, ids: _Ids) -> dict[str, Any]:
    listed = st.lists(_input_part(detail_required=True), min_size=1, max_size=2)
    out = {"type": "custom_tool_call_output", "call_id": call_id, "output": draw(_TEXT | listed)}
    return _with(draw, out, "id", st.just(ids("ctco")))


@st.composite
def hosted_item(draw: st.DrawFn, ids: _Ids) -> list[dict[str, Any]]:
    """A hosted tool item (or a computer or shell call with its output)."""
    kind = draw(st.sampled_from(sorted(HOSTED_MAKERS)))
    return HOSTED_MAKERS[kind](ids, draw(_NAME))


def _web_search(ids: _Ids, word: str) -> list[dict[str, Any]]:
    action = {"type": "search", "query": word, "sources": [{"type": "url", "url": "https://a.b"}]}
    return [
        {"type": "web_search_call", "id": ids("websearch"), "status": "completed", "action": action}
    ]


def _file_search(ids: _Ids, word: str) -> list[dict[str, Any]]:
    result = {"file_id": "file-1", "filename": "a.txt", "score": 0.5, "text": word}
    return [
        {
            "type": "file_search_call",
            "id": ids("fs"),
            "queries": [word],
            "status": "completed",
            "results": [result],
        }
    ]


def _code_interpreter(ids: _Ids, word: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "code_interpreter_call",
            "id": ids("ci"),
            "code": f"print({word!r})",
            "container_id": "cntr_1",
            "outputs": [{"type": "logs", "logs": word}],
            "status": "completed",
        }
    ]


def _image_generation(ids: _Ids, word: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "image_generation_call",
            "id": ids("ig"),
            "result": b64(word.encode()),
            "status": "completed",
        }
    ]


def _computer(ids: _Ids, word: str) -> list[dict[str, Any]]:
    call_id = ids("call")
    return [
        {
            "type": "computer_call",
            "id": ids("cu"),
            "call_id": call_id,
            "action": {"type": "click", "button": "left", "x": 10, "y": 20},
            "pending_safety_checks": [],
            "status": "completed",
        },
        {
            "type": "computer_call_output",
            "call_id": call_id,
            "output": {"type": "computer_screenshot", "image_url": data_url("image/png", b"x")},
        },
    ]


def _local_shell(ids: _Ids, word: str) -> list[dict[str, Any]]:
    item_id = ids("lsh")
    action = {"type": "exec", "command": ["echo", word], "env": {}}
    return [
        {
            "type": "local_shell_call",
            "id": item_id,
            "call_id": ids("call"),
            "action": action,
            "status": "completed",
        },
        {"type": "local_shell_call_output", "id": item_id, "output": word},
    ]


def _mcp(ids: _Ids, word: str) -> list[dict[str, Any]]:
    tool = {"name": word, "input_schema": {"type": "object"}}
    request_id = ids("mcpr")
    return [
        {"type": "mcp_list_tools", "id": ids("mcpl"), "server_label": "deepwiki", "tools": [tool]},
        {
            "type": "mcp_approval_request",
            "id": request_id,
            "arguments": "{}",
            "name": word,
            "server_label": "deepwiki",
        },
        {"type": "mcp_approval_response", "approval_request_id": request_id, "approve": True},
        {
            "type": "mcp_call",
            "id": ids("mcp"),
            "arguments": '{"q": 1}',
            "name": word,
            "server_label": "deepwiki",
            "output": "ok",
            "status": "completed",
        },
    ]


def _item_reference(ids: _Ids, word: str) -> list[dict[str, Any]]:
    return [{"type": "item_reference", "id": ids("msg")}, {"id": ids("rs")}]


HOSTED_MAKERS = {
    "web_search": _web_search,
    "file_search": _file_search,
    "code_interpreter": _code_interpreter,
    "image_generation": _image_generation,
    "computer": _computer,
    "local_shell": _local_shell,
    "mcp": _mcp,
    "item_reference": _item_reference,
}


@st.composite
def responses_payloads(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A list of Responses input items in canonical spelling: messages of
    every role, reasoning, calls with some of their outputs in any order,
    hosted tool items."""
    ids = _Ids()
    out: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(0, 7))):
        kind = draw(st.sampled_from(["input", "output", "easy", "reasoning", "calls", "hosted"]))
        if kind == "input":
            out.append(draw(input_message()))
        elif kind == "output":
            out.append(draw(output_message(ids)))
        elif kind == "easy":
            out.append(draw(easy_assistant()))
        elif kind == "reasoning":
            out.append(draw(reasoning_item(ids)))
        elif kind == "hosted":
            out.extend(draw(hosted_item(ids)))
        else:
            calls = []
            for _ in range(draw(st.integers(1, 3))):
                custom = draw(st.booleans())
                call_id = ids("call")
                maker = custom_call if custom else function_call
                calls.append((call_id, custom, draw(maker(call_id, ids))))
            out.extend(c[2] for c in calls)
            for call_id, custom, _item in draw(st.permutations(calls)):
                if draw(st.booleans()):
                    maker = custom_output if custom else function_output
                    out.append(draw(maker(call_id, ids)))
    return out


# ---------------------------------------------------------------------------
# corpus

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(8))
PDF = b"%PDF-1.7 minimal"
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt "

#: Canonical Chat payloads of the hard cases, by name.
CHAT_CORPUS: dict[str, list[dict[str, Any]]] = {
    "parallel calls, interleaved results": [
        {"role": "developer", "content": "Answer briefly."},
        {"role": "user", "content": "Weather in Paris and Rome?", "name": "alice"},
        {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [
                {
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
                },
                {
                    "id": "call_b",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{ "city": "Rome" }'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_b", "content": '{"temp_c": 24}'},
        {"role": "tool", "tool_call_id": "call_a", "content": [{"type": "text", "text": "18 C"}]},
        {"role": "assistant", "content": "Paris 18 °C, Rome 24 °C."},
    ],
    "multimodal user": [
        {
            "role": "system",
            "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
        },
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in these?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
                {
                    "type": "image_url",
                    "image_url": {"url": data_url("image/png", PNG), "detail": "high"},
                },
                {"type": "input_audio", "input_audio": {"data": b64(WAV), "format": "wav"}},
                {
                    "type": "file",
                    "file": {"file_data": data_url("application/pdf", PDF), "filename": "a.pdf"},
                },
                {"type": "file", "file": {"file_id": "file-abc123"}},
                {
                    "type": "text",
                    "text": "cache up to here",
                    "prompt_cache_breakpoint": {"mode": "explicit", "ttl": "12h"},
                },
            ],
        },
    ],
    "refusal, custom tool, audio, empty content": [
        {"role": "user", "content": ""},
        {"role": "assistant", "refusal": "I can't help with that."},
        {"role": "user", "content": "Then run the grammar tool."},
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "call_c", "type": "custom", "custom": {"name": "sql", "input": "SELECT 1"}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_c", "content": ""},
        {"role": "assistant", "audio": {"id": "audio_abc"}},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Part one."},
                {"type": "refusal", "refusal": "Not part two."},
            ],
        },
        {"role": "assistant", "content": ""},
    ],
    "legacy function call": [
        {"role": "user", "content": "Time?"},
        {"role": "assistant", "function_call": {"name": "clock", "arguments": "{}"}},
        {"role": "function", "name": "clock", "content": "12:00"},
    ],
    "arguments that are not JSON": [
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{oops"}},
                {"id": "c2", "type": "function", "function": {"name": "g", "arguments": ""}},
                {"id": "c3", "type": "function", "function": {"name": "h", "arguments": "null"}},
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "bad arguments"},
        {"role": "tool", "tool_call_id": "c2", "content": "ok"},
        {"role": "tool", "tool_call_id": "c3", "content": "ok"},
    ],
}

#: Chat payloads in another spelling, with what ``to_openai_chat`` writes
#: for them.
CHAT_NORMALISED: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {
    "one text part is a string": (
        [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        [{"role": "user", "content": "hi"}],
    ),
    "null content with calls is left out": (
        [
            {
                "role": "assistant",
                "content": None,
                "refusal": None,
                "tool_calls": [
                    {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            }
        ],
        [
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            }
        ],
    ),
    "a lone refusal part is the refusal field": (
        [{"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}]}],
        [{"role": "assistant", "refusal": "no"}],
    ),
    "an assistant message without content gets an empty one": (
        [{"role": "assistant"}],
        [{"role": "assistant", "content": ""}],
    ),
    "content and refusal field become a list": (
        [{"role": "assistant", "content": "a", "refusal": "b"}],
        [
            {
                "role": "assistant",
                "content": [{"type": "text", "text": "a"}, {"type": "refusal", "refusal": "b"}],
            }
        ],
    ),
}

_FN = {"name": "weather", "arguments": '{"city":"Paris"}'}

#: A chat completion as the API returns it (JSON).
CHAT_COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-123",
    "object": "chat.completion",
    "created": 1_700_000_000,
    "model": "gpt-4o-2024-08-06",
    "choices": [
        {
            "index": 0,
            "finish_reason": "tool_calls",
            "logprobs": None,
            "message": {
                "role": "assistant",
                "content": "Checking. See example.",
                "refusal": None,
                "annotations": [
                    {
                        "type": "url_citation",
                        "url_citation": {
                            "url": "https://example.com",
                            "title": "Example",
                            "start_index": 10,
                            "end_index": 21,
                        },
                    }
                ],
                "tool_calls": [{"id": "call_1", "type": "function", "function": _FN}],
            },
        }
    ],
    "usage": {
        "prompt_tokens": 120,
        "completion_tokens": 30,
        "total_tokens": 150,
        "prompt_tokens_details": {"cached_tokens": 64, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 12, "audio_tokens": 0},
    },
    "system_fingerprint": "fp_1",
}


#: Canonical Responses payloads of the hard cases, by name.
RESPONSES_CORPUS: dict[str, list[dict[str, Any]]] = {
    "reasoning before parallel calls": [
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "type": "reasoning",
            "id": "rs_1",
            "summary": [{"type": "summary_text", "text": "Two cities: two calls."}],
            "encrypted_content": "gAAAAABencrypted",
        },
        {
            "type": "function_call",
            "id": "fc_1",
            "call_id": "call_a",
            "name": "weather",
            "arguments": '{"city":"Paris"}',
            "status": "completed",
        },
        {
            "type": "function_call",
            "id": "fc_2",
            "call_id": "call_b",
            "name": "weather",
            "arguments": '{ "city": "Rome" }',
            "status": "completed",
        },
        {"type": "function_call_output", "call_id": "call_b", "output": '{"temp_c": 24}'},
        {"type": "function_call_output", "call_id": "call_a", "output": "18 C"},
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "status": "completed",
            "phase": "final_answer",
            "content": [{"type": "output_text", "text": "Paris 18, Rome 24.", "annotations": []}],
        },
    ],
    "images and files in tool outputs": [
        {"type": "function_call", "call_id": "call_s", "name": "screenshot", "arguments": "{}"},
        {
            "type": "function_call_output",
            "id": "fco_1",
            "call_id": "call_s",
            "status": "completed",
            "output": [
                {"type": "input_text", "text": "Here it is:"},
                {"type": "input_image", "image_url": data_url("image/png", PNG)},
                {"type": "input_image", "file_id": "file-img", "detail": "low"},
                {
                    "type": "input_file",
                    "file_data": data_url("application/pdf", PDF),
                    "filename": "r.pdf",
                },
            ],
        },
    ],
    "citations, refusal and reasoning text": [
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "Summarise these."},
                {"type": "input_image", "detail": "auto", "image_url": "https://example.com/a.png"},
                {"type": "input_file", "file_id": "file-doc"},
                {"type": "input_file", "file_url": "https://example.com/b.pdf", "detail": "high"},
                {"type": "input_file", "file_data": b64(PDF), "filename": "c.pdf"},
            ],
        },
        {
            "type": "reasoning",
            "id": "rs_2",
            "summary": [],
            "content": [
                {"type": "reasoning_text", "text": "First thought."},
                {"type": "reasoning_text", "text": "Second thought."},
            ],
            "status": "completed",
        },
        {
            "type": "message",
            "id": "msg_2",
            "role": "assistant",
            "status": "incomplete",
            "content": [
                {
                    "type": "output_text",
                    "text": "Per the docs, it works.",
                    "annotations": [
                        {
                            "type": "url_citation",
                            "url": "https://example.com",
                            "title": "Docs",
                            "start_index": 0,
                            "end_index": 12,
                        },
                        {
                            "type": "file_citation",
                            "file_id": "file-doc",
                            "filename": "doc.pdf",
                            "index": 3,
                        },
                        {
                            "type": "container_file_citation",
                            "container_id": "cntr_1",
                            "file_id": "cfile_1",
                            "filename": "out.csv",
                            "start_index": 0,
                            "end_index": 4,
                        },
                        {"type": "file_path", "file_id": "cfile_2", "index": 7},
                    ],
                },
                {"type": "refusal", "refusal": "The rest I won't."},
            ],
        },
        {
            "type": "message",
            "id": "msg_3",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "refusal", "refusal": "No."}],
        },
        {"role": "assistant", "content": "Replayed without an id.", "phase": "commentary"},
    ],
    "custom tool and empty contents": [
        {"role": "user", "content": ""},
        {
            "type": "custom_tool_call",
            "id": "ctc_1",
            "call_id": "call_g",
            "name": "sql",
            "input": "",
        },
        {"type": "custom_tool_call_output", "call_id": "call_g", "output": ""},
        {"type": "function_call_output", "call_id": "call_prev", "output": "", "name": "lookup"},
        {
            "type": "custom_tool_call_output",
            "call_id": "call_prev2",
            "output": "from an earlier turn",
        },
        {"role": "assistant", "content": ""},
    ],
    "hosted tools": [
        item for maker in HOSTED_MAKERS.values() for item in maker(_Ids(), "convostore")
    ],
}


#: A response as the API returns it (JSON).
RESPONSE: dict[str, Any] = {
    "id": "resp_123",
    "object": "response",
    "created_at": 1_700_000_000,
    "status": "completed",
    "model": "o4-mini-2025-04-16",
    "parallel_tool_calls": True,
    "tool_choice": "auto",
    "tools": [],
    "output": [
        {
            "type": "reasoning",
            "id": "rs_9",
            "summary": [{"type": "summary_text", "text": "Need the weather."}],
            "encrypted_content": "gAAAAB9",
        },
        {
            "type": "web_search_call",
            "id": "ws_9",
            "status": "completed",
            "action": {"type": "search", "query": "weather paris"},
        },
        {
            "type": "message",
            "id": "msg_9",
            "role": "assistant",
            "status": "completed",
            "content": [
                {
                    "type": "output_text",
                    "text": "It is sunny.",
                    "annotations": [],
                    "logprobs": [],
                }
            ],
        },
        {
            "type": "function_call",
            "id": "fc_9",
            "call_id": "call_9",
            "name": "book",
            "arguments": "{}",
            "status": "completed",
        },
    ],
    "usage": {
        "input_tokens": 200,
        "input_tokens_details": {"cached_tokens": 128, "cache_write_tokens": 0},
        "output_tokens": 50,
        "output_tokens_details": {"reasoning_tokens": 20},
        "total_tokens": 250,
    },
}
