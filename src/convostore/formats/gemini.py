"""Google Gemini: ``{"contents": [...], "system_instruction": {...}}`` in and out.

The payload is spelled as the google-genai Python SDK spells it (snake_case
keys); :func:`from_gemini` also reads the REST API's camelCase spelling and a
``GenerateContentResponse`` (a dict or the SDK's object). Bytes (inline data,
thought signatures) are standard base64 text, as in JSON.

One ``Content`` is one convostore message: ``model`` is ``assistant``, and a
user content of function responses stays a user message holding tool-result
parts. Gemini's ``thought_signature`` stays on the part it came with (in
``signature``, or ``provider_metadata["google"]`` for parts without one).

Function calls often carry no id. :func:`from_gemini` then gives the call a
generated id, ``gemini-call-`` and 16 hex digits (a digest of its place and
content, so reading the same payload twice gives the same ids), and gives a
function response without an id the id of the earliest unanswered call of its
name in the model turn before it. :func:`to_gemini` writes every id except
generated ones, so the round trip is exact.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from convostore.formats._common import (
    AttachmentResolver,
    DropReport,
    FormatError,
    FormatName,
    compact_json,
    dump,
    expect_list,
    expect_mapping,
    own_report,
    part_bytes,
    warn_dropped,
)
from convostore.model import (
    AudioPart,
    Citation,
    CodePart,
    DataPart,
    FilePart,
    FinishReason,
    HostedToolPart,
    ImagePart,
    Message,
    MessageMetadata,
    Part,
    ReasoningPart,
    RefusalPart,
    Role,
    SourcePart,
    TextPart,
    TokenUsage,
    ToolCallPart,
    ToolResultPart,
)

__all__ = ["GENERATED_ID", "from_gemini", "to_gemini"]

FORMAT: FormatName = "gemini"
"""The format's name, and the ``provider`` of the hosted-tool parts it makes."""

PROVIDER = "google"
"""The key of ``provider_metadata`` and the ``metadata.provider`` of replies."""

GENERATED_ID = re.compile(r"gemini-call-[0-9a-f]{16}")
"""The tool-call ids :func:`from_gemini` makes for calls without one (matched
whole); :func:`to_gemini` leaves them out."""

#: The fields of a part that hold its data; a part holds one.
_DATA_KEYS = (
    "text",
    "inline_data",
    "file_data",
    "function_call",
    "function_response",
    "executable_code",
    "code_execution_result",
    "tool_call",
    "tool_response",
)

#: The data kinds kept whole as hosted-tool parts: what Google's own tools did.
_HOSTED = ("code_execution_result", "tool_call", "tool_response")

#: Option objects whose keys are the caller's, never respelled.
_VERBATIM = frozenset({"part_metadata", "args", "response"})

_FINISH: dict[str, FinishReason] = {
    "STOP": FinishReason.STOP,
    "MAX_TOKENS": FinishReason.LENGTH,
    **dict.fromkeys(
        (
            "SAFETY",
            "RECITATION",
            "BLOCKLIST",
            "PROHIBITED_CONTENT",
            "SPII",
            "IMAGE_SAFETY",
            "IMAGE_PROHIBITED_CONTENT",
            "IMAGE_RECITATION",
            "MODEL_ARMOR",
        ),
        FinishReason.CONTENT_FILTER,
    ),
    **dict.fromkeys(
        (
            "MALFORMED_FUNCTION_CALL",
            "UNEXPECTED_TOOL_CALL",
            "TOO_MANY_TOOL_CALLS",
            "MISSING_THOUGHT_SIGNATURE",
            "MALFORMED_RESPONSE",
        ),
        FinishReason.ERROR,
    ),
}

#: The options a part takes from ``provider_metadata["google"]`` ...
_PART_OPTIONS = frozenset(
    {
        "thought",
        "thought_signature",
        "video_metadata",
        "media_resolution",
        "media_processing",
        "part_metadata",
        "document_metadata",
        "spreadsheet_metadata",
        "audio_metadata",
        "speech_metadata",
    }
)
#: ... a piece of a function response takes ...
_PIECE_OPTIONS = frozenset(
    {
        "video_metadata",
        "media_resolution",
        "media_processing",
        "document_metadata",
        "spreadsheet_metadata",
        "audio_metadata",
    }
)
#: ... and the inner objects of a part, under the object's name.
_INNER_OPTIONS: dict[str, frozenset[str]] = {
    "inline_data": frozenset({"display_name"}),
    "file_data": frozenset({"display_name"}),
    "function_call": frozenset({"partial_args", "will_continue"}),
    "function_response": frozenset({"will_continue", "scheduling"}),
    "executable_code": frozenset(),
}

_URLSAFE = str.maketrans("-_", "+/")

_AUDIO_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"ID3", "audio/mp3"),
    (b"\xff\xfb", "audio/mp3"),
    (b"OggS", "audio/ogg"),
    (b"fLaC", "audio/flac"),
)
_IMAGE_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


# reading ---------------------------------------------------------------------


def from_gemini(payload: Any) -> list[Message]:
    """Messages from a Gemini payload.

    ``payload`` is a request history (``{"contents": [...],
    "system_instruction": ...}``, in either spelling; other request keys are
    ignored), a bare list of contents, one content, or a
    ``GenerateContentResponse`` (a dict or the SDK's object), which gives one
    assistant message from its first candidate with the model version, usage,
    finish reason and response id in ``metadata``.

    Raises:
        FormatError: the payload is not in the shape of the format; ``field``
            names where.
    """
    data = dump(payload)
    if isinstance(data, list | tuple):
        return _Reader().history(None, data, "contents")
    body = _keys(expect_mapping(data, "payload"), "payload")
    if "contents" in body:
        contents = expect_list(body["contents"], "contents")
        return _Reader().history(body.get("system_instruction"), contents, "contents")
    if "candidates" in body or "usage_metadata" in body or "prompt_feedback" in body:
        return [_Reader().response(body)]
    if "parts" in body:
        return _Reader().history(None, [body], "contents")
    raise FormatError(
        "must be a request history (with 'contents'), a list of contents or a "
        "GenerateContentResponse",
        field="payload",
    )


@dataclass
class _Reader:
    """Reads contents into messages, pairing function responses without an id
    with the calls they answer."""

    response_id: str = ""
    #: The calls not answered yet, in order: (tool name, tool-call id).
    pending: list[tuple[str, str]] = field(default_factory=list)

    def history(self, system: Any, contents: Sequence[Any], where: str) -> list[Message]:
        """The messages of a history: the system instruction first, when given."""
        out: list[Message] = []
        if system is not None:
            if isinstance(system, str):
                parts: list[Part] = [TextPart(text=system)] if system else []
            else:
                sys = _keys(
                    expect_mapping(dump(system), "system_instruction"), "system_instruction"
                )
                parts = self.parts(sys.get("parts"), "system_instruction.parts", -1)
            out.append(Message(role=Role.SYSTEM, parts=parts))
        previous = None
        for i, raw in enumerate(contents):
            at = f"{where}[{i}]"
            c = _keys(expect_mapping(dump(raw), at), at)
            role = c.get("role", "user")
            if role not in ("user", "model"):
                raise FormatError(f"must be 'user' or 'model', not {role!r}", field=f"{at}.role")
            if role == "model" and previous != "model":
                # Function responses answer the calls of the model turn before them.
                self.pending = []
            previous = role
            parts = self.parts(c.get("parts"), f"{at}.parts", i)
            if role == "model":
                meta = MessageMetadata(provider=PROVIDER)
                out.append(Message(role=Role.ASSISTANT, parts=parts, metadata=meta))
            else:
                out.append(Message(role=Role.USER, parts=parts))
        return out

    def response(self, body: Mapping[str, Any]) -> Message:
        """The assistant message of a ``GenerateContentResponse``."""
        rid = body.get("response_id")
        self.response_id = rid if isinstance(rid, str) else ""
        candidates = expect_list(body.get("candidates") or [], "candidates")
        parts: list[Part] = []
        raw_reason: Any = None
        reason: FinishReason | None = None
        if candidates:
            cand = _keys(expect_mapping(dump(candidates[0]), "candidates[0]"), "candidates[0]")
            if cand.get("content") is not None:
                content = _keys(expect_mapping(cand["content"], "candidates[0].content"), "content")
                parts = self.parts(content.get("parts"), "candidates[0].content.parts", 0)
            parts = _cite(parts, cand)
            raw_reason = cand.get("finish_reason")
            if raw_reason is not None:
                reason = _FINISH.get(str(raw_reason), FinishReason.OTHER)
                if reason is FinishReason.STOP and any(isinstance(p, ToolCallPart) for p in parts):
                    reason = FinishReason.TOOL_CALLS
        else:
            feedback = body.get("prompt_feedback")
            if isinstance(feedback, Mapping):
                raw_reason = _keys(feedback, "prompt_feedback").get("block_reason")
                if raw_reason is not None:
                    reason = FinishReason.CONTENT_FILTER
        model = body.get("model_version")
        metadata = MessageMetadata(
            model=model if isinstance(model, str) else None,
            provider=PROVIDER,
            token_usage=_usage(body.get("usage_metadata")),
            finish_reason=reason,
            provider_finish_reason=None if raw_reason is None else str(raw_reason),
            response_id=self.response_id or None,
        )
        return Message(role=Role.ASSISTANT, parts=parts, metadata=metadata)

    def parts(self, raw: Any, where: str, content_index: int) -> list[Part]:
        if raw is None:
            return []
        return [
            self.part(p, f"{where}[{k}]", content_index, k)
            for k, p in enumerate(expect_list(raw, where))
        ]

    def part(self, raw: Any, where: str, ci: int, pi: int) -> Part:
        """The convostore part one Gemini part becomes."""
        p = _keys(expect_mapping(dump(raw), where), where)
        kinds = [k for k in _DATA_KEYS if k in p and p[k] is not None]
        if len(kinds) > 1:
            raise FormatError(f"holds {' and '.join(kinds)}; a part holds one", field=where)
        signature = _signature(p.get("thought_signature"), f"{where}.thought_signature")
        if kinds and kinds[0] in _HOSTED:
            return _hosted(p, kinds[0], signature, where)
        extra = {
            k: _deep(v, k) for k, v in p.items() if k not in _DATA_KEYS and k != "thought_signature"
        }
        if not kinds:
            if signature is None:
                raise FormatError(f"holds no data (one of {', '.join(_DATA_KEYS)})", field=where)
            # A bare signature: reasoning the model kept to itself.
            return ReasoningPart(
                text="", signature=signature, redacted=True, provider_metadata=_metadata(extra)
            )
        kind = kinds[0]
        at = f"{where}.{kind}"
        if kind == "text":
            text = p["text"]
            if not isinstance(text, str):
                raise FormatError("must be a string", field=at)
            if extra.get("thought") is True:
                del extra["thought"]
                return ReasoningPart(
                    text=text, signature=signature, provider_metadata=_metadata(extra)
                )
            return TextPart(text=text, signature=signature, provider_metadata=_metadata(extra))
        if signature is not None and kind not in ("function_call", "executable_code"):
            extra["thought_signature"] = signature
        inner = _keys(expect_mapping(p[kind], at), at)
        if kind == "inline_data":
            return _inline(inner, at, extra)
        if kind == "file_data":
            return _file_data(inner, at, extra)
        if kind == "function_call":
            return self.call(inner, at, extra, signature, ci, pi)
        if kind == "function_response":
            return self.result(inner, at, extra, ci, pi)
        code = inner.get("code")
        language = inner.get("language")
        cid = inner.get("id")
        if not isinstance(code, str):
            raise FormatError("must be a string", field=f"{at}.code")
        _nest(extra, kind, inner, ("code", "language", "id"))
        return CodePart(
            code=code,
            language=str(language).lower() if language is not None else None,
            provider_id=cid if isinstance(cid, str) else None,
            signature=signature,
            provider_metadata=_metadata(extra),
        )

    def call(
        self,
        fc: Mapping[str, Any],
        where: str,
        extra: dict[str, Any],
        signature: str | None,
        ci: int,
        pi: int,
    ) -> ToolCallPart:
        name = fc.get("name")
        if not isinstance(name, str):
            raise FormatError("must be a string", field=f"{where}.name")
        args = fc.get("args")
        if args is not None and not isinstance(args, Mapping):
            raise FormatError("must be an object", field=f"{where}.args")
        call_id = fc.get("id")
        if not isinstance(call_id, str) or not call_id:
            call_id = self.generated(ci, pi, name, args)
        self.pending.append((name, call_id))
        _nest(extra, "function_call", fc, ("id", "name", "args"))
        return ToolCallPart(
            tool_call_id=call_id,
            tool_name=name,
            args=None if args is None else dict(args),
            signature=signature,
            provider_metadata=_metadata(extra),
        )

    def result(
        self, fr: Mapping[str, Any], where: str, extra: dict[str, Any], ci: int, pi: int
    ) -> ToolResultPart:
        name = fr.get("name", "")
        if not isinstance(name, str):
            raise FormatError("must be a string", field=f"{where}.name")
        response = fr.get("response")
        if response is not None and not isinstance(response, Mapping):
            raise FormatError("must be an object", field=f"{where}.response")
        call_id = fr.get("id")
        if isinstance(call_id, str) and call_id:
            self.pending = [c for c in self.pending if c[1] != call_id]
        else:
            call_id = self.answer(name) or self.generated(ci, pi, name, "result")
        pieces: list[Any] = []
        raw_parts = fr.get("parts")
        if raw_parts is not None:
            for k, rp in enumerate(expect_list(raw_parts, f"{where}.parts")):
                pieces.append(_response_piece(rp, f"{where}.parts[{k}]"))
        _nest(extra, "function_response", fr, ("id", "name", "response", "parts"))
        is_error = response is not None and "error" in response and "output" not in response
        return ToolResultPart(
            tool_call_id=call_id,
            tool_name=name,
            result=None if response is None else dict(response),
            is_error=is_error,
            content=pieces,
            provider_metadata=_metadata(extra),
        )

    def answer(self, name: str) -> str | None:
        """The id of the earliest unanswered call of ``name``, now answered."""
        for k, (called, call_id) in enumerate(self.pending):
            if called == name:
                del self.pending[k]
                return call_id
        return None

    def generated(self, ci: int, pi: int, name: str, what: Any) -> str:
        """A stable id for a call (or an unpaired response) that has none."""
        seed = compact_json([self.response_id, ci, pi, name, what])
        return "gemini-call-" + hashlib.sha256(seed.encode("utf-8")).hexdigest()[:16]


def _hosted(p: Mapping[str, Any], kind: str, signature: str | None, where: str) -> HostedToolPart:
    """A part of Google's own tools (code execution results, server-side tool
    calls and responses), kept whole in its snake_case spelling."""
    inner = _keys(expect_mapping(p[kind], f"{where}.{kind}"), f"{where}.{kind}")
    payload: dict[str, Any] = {
        k: _deep(v, k) for k, v in p.items() if k not in (kind, "thought_signature")
    }
    payload[kind] = {k: (v if k in _VERBATIM else _deep(v, k)) for k, v in inner.items()}
    if signature is not None:
        payload["thought_signature"] = signature
    outcome = inner.get("outcome")
    call_id = inner.get("id")
    tool = inner.get("tool_type")
    return HostedToolPart(
        provider=FORMAT,
        item_type=kind,
        payload=payload,
        tool_name="code_execution" if kind == "code_execution_result" else _opt_str(tool),
        tool_call_id=_opt_str(call_id) or None,
        status=_opt_str(outcome),
        is_error=outcome is not None and str(outcome) != "OUTCOME_OK",
    )


def _inline(blob: Mapping[str, Any], where: str, extra: dict[str, Any]) -> Part:
    mime = blob.get("mime_type")
    if mime is not None and not isinstance(mime, str):
        raise FormatError("must be a string", field=f"{where}.mime_type")
    data = _b64(blob.get("data"), f"{where}.data")
    name = blob.get("display_name")
    if mime is not None and mime.startswith(("image/", "audio/")):
        _nest(extra, "inline_data", blob, ("mime_type", "data"))
        if mime.startswith("image/"):
            return ImagePart(media_type=mime, data=data, provider_metadata=_metadata(extra))
        return AudioPart(media_type=mime, data=data, provider_metadata=_metadata(extra))
    _nest(extra, "inline_data", blob, ("mime_type", "data", "display_name"))
    return FilePart(
        mime_type=mime or "",
        data=data,
        filename=name if isinstance(name, str) else "",
        provider_metadata=_metadata(extra),
    )


def _file_data(fd: Mapping[str, Any], where: str, extra: dict[str, Any]) -> Part:
    uri = fd.get("file_uri")
    if not isinstance(uri, str):
        raise FormatError("must be a string", field=f"{where}.file_uri")
    mime = fd.get("mime_type")
    if mime is not None and not isinstance(mime, str):
        raise FormatError("must be a string", field=f"{where}.mime_type")
    name = fd.get("display_name")
    if mime is not None and mime.startswith("image/"):
        _nest(extra, "file_data", fd, ("file_uri", "mime_type"))
        return ImagePart(media_type=mime, provider_file_id=uri, provider_metadata=_metadata(extra))
    if mime is not None and mime.startswith("audio/"):
        _nest(extra, "file_data", fd, ("file_uri", "mime_type"))
        return AudioPart(media_type=mime, url=uri, provider_metadata=_metadata(extra))
    _nest(extra, "file_data", fd, ("file_uri", "mime_type", "display_name"))
    return FilePart(
        mime_type=mime or "",
        provider_file_id=uri,
        filename=name if isinstance(name, str) else "",
        provider_metadata=_metadata(extra),
    )


def _response_piece(raw: Any, where: str) -> Any:
    """A piece of a function response's ``parts``: an image, audio or file."""
    p = _keys(expect_mapping(dump(raw), where), where)
    extra = {k: _deep(v, k) for k, v in p.items() if k not in ("inline_data", "file_data")}
    if p.get("inline_data") is not None:
        blob = _keys(expect_mapping(p["inline_data"], f"{where}.inline_data"), where)
        return _inline(blob, f"{where}.inline_data", extra)
    if p.get("file_data") is not None:
        fd = _keys(expect_mapping(p["file_data"], f"{where}.file_data"), where)
        return _file_data(fd, f"{where}.file_data", extra)
    raise FormatError("holds neither inline_data nor file_data", field=where)


def _cite(parts: list[Part], cand: Mapping[str, Any]) -> list[Part]:
    """``parts`` with the candidate's citations and grounding as citations of
    its text parts.

    Citation metadata goes to the first text part (its indexes are into the
    candidate's text); a grounding support goes to the text part its segment
    names, one citation per grounding chunk it cites.
    """
    texts = [k for k, p in enumerate(parts) if isinstance(p, TextPart)]
    if not texts:
        return parts
    found: dict[int, list[Citation]] = {}
    meta = cand.get("citation_metadata")
    if isinstance(meta, Mapping):
        for c in _keys(meta, "citation_metadata").get("citations") or []:
            c = _keys(expect_mapping(c, "citation_metadata.citations"), "citation")
            details = {k: c[k] for k in ("license", "publication_date") if c.get(k) is not None}
            found.setdefault(texts[0], []).append(
                Citation(
                    kind="citation",
                    url=_opt_str(c.get("uri")),
                    title=_opt_str(c.get("title")),
                    start_index=_opt_int(c.get("start_index")),
                    end_index=_opt_int(c.get("end_index")),
                    details=_deep(details, ""),
                )
            )
    grounding = cand.get("grounding_metadata")
    if isinstance(grounding, Mapping):
        g = _keys(grounding, "grounding_metadata")
        chunks = [_chunk(c) for c in g.get("grounding_chunks") or []]
        for support in g.get("grounding_supports") or []:
            s = _keys(expect_mapping(support, "grounding_supports"), "grounding_support")
            seg = _keys(s.get("segment") or {}, "segment")
            at = _opt_int(seg.get("part_index"))
            home = at if at is not None and at in texts else texts[0]
            for index in s.get("grounding_chunk_indices") or []:
                if not isinstance(index, int) or not 0 <= index < len(chunks):
                    continue
                url, title = chunks[index]
                found.setdefault(home, []).append(
                    Citation(
                        kind="grounding",
                        url=url,
                        title=title,
                        start_index=_opt_int(seg.get("start_index")),
                        end_index=_opt_int(seg.get("end_index")),
                        cited_text=_opt_str(seg.get("text")),
                        details={"chunk_index": index},
                    )
                )
    out = list(parts)
    for k, cites in found.items():
        part = out[k]
        assert isinstance(part, TextPart)
        out[k] = part.model_copy(update={"citations": [*part.citations, *cites]})
    return out


def _chunk(raw: Any) -> tuple[str | None, str | None]:
    """The URL and title of a grounding chunk (web, retrieved context or maps)."""
    if not isinstance(raw, Mapping):
        return None, None
    for source in _keys(raw, "grounding_chunk").values():
        if isinstance(source, Mapping):
            s = _keys(source, "grounding_chunk")
            return _opt_str(s.get("uri")), _opt_str(s.get("title"))
    return None, None


def _usage(raw: Any) -> TokenUsage | None:
    """Token usage: the prompt counts tool-use prompt tokens too, and the
    completion counts the thoughts, so that the two add up to the total."""
    if raw is None:
        return None
    u = _keys(expect_mapping(dump(raw), "usage_metadata"), "usage_metadata")

    def count(key: str) -> int | None:
        value = u.get(key)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise FormatError("must be a non-negative integer", field=f"usage_metadata.{key}")
        return value

    thoughts = count("thoughts_token_count")
    prompt = (count("prompt_token_count") or 0) + (count("tool_use_prompt_token_count") or 0)
    completion = (count("candidates_token_count") or 0) + (thoughts or 0)
    total = count("total_token_count")
    return TokenUsage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion if total is None else total,
        cached_input_tokens=count("cached_content_token_count"),
        reasoning_tokens=thoughts,
    )


def _snake(key: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key).lower()


def _keys(obj: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``obj`` with its keys in snake_case (the REST API writes camelCase)."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = _snake(key) if isinstance(key, str) else key
        if name in out:
            raise FormatError(f"gives {name!r} twice (in two spellings)", field=where)
        out[name] = value
    return out


def _deep(value: Any, key: str) -> Any:
    """An option's value with the keys of its objects in snake_case, except
    objects the caller spells (``part_metadata``); bytes as base64 text."""
    if key in _VERBATIM:
        return value
    if isinstance(value, Mapping):
        return {_snake(k): _deep(v, _snake(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_deep(v, "") for v in value]
    if isinstance(value, bytes | bytearray):
        return _b64text(bytes(value))
    return value


def _nest(extra: dict[str, Any], kind: str, inner: Mapping[str, Any], typed: Iterable[str]) -> None:
    """Keep the keys of the part's ``kind`` object that typed fields do not hold
    under ``extra[kind]``."""
    rest = {k: _deep(v, k) for k, v in inner.items() if k not in typed}
    if rest:
        extra[kind] = rest


def _metadata(extra: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {PROVIDER: extra} if extra else {}


def _signature(value: Any, where: str) -> str | None:
    """A thought signature as standard base64 text (the SDK gives bytes, and
    URL-safe text once dumped); text that is not base64 is kept as given."""
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        return _b64text(bytes(value))
    if not isinstance(value, str):
        raise FormatError("must be base64 text", field=where)
    try:
        return _b64text(_b64(value, where))
    except FormatError:
        return value


def _b64(value: Any, where: str) -> bytes:
    """Bytes from base64 text (standard or URL-safe, padded or not) or bytes."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if not isinstance(value, str):
        raise FormatError("must be base64 text", field=where)
    text = value.translate(_URLSAFE) + "=" * (-len(value) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise FormatError("must be base64 text", field=where) from None


def _b64text(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# writing ---------------------------------------------------------------------


@dataclass
class _Item:
    """One Gemini part of a content, with the convostore id of the call it makes
    or answers (to put results after their calls)."""

    part: dict[str, Any]
    call_id: str | None = None
    result: bool = False


@dataclass
class _Run:
    """Consecutive parts of one role: one ``Content`` once merged."""

    role: str
    items: list[_Item]
    keep_empty: bool = False


def to_gemini(
    messages: Iterable[Message],
    *,
    report: DropReport | None = None,
    attachments: AttachmentResolver | None = None,
) -> dict[str, Any]:
    """``messages`` as a Gemini request history: ``{"contents": [...],
    "system_instruction": {...}}``, ``system_instruction`` left out when there
    is none.

    The system messages before the first other message form the system
    instruction; a later one becomes a user turn (reported). Assistant
    messages are ``model`` contents, tool results become user
    ``function_response`` parts in the turn right after their calls, and
    consecutive contents of one role are merged. What Gemini cannot hold goes
    to ``report`` (or a :class:`DroppedContentWarning` without one).
    """
    rep, owned = own_report(report, FORMAT)
    out = _Writer(rep, attachments).write(list(messages))
    warn_dropped(rep, owned)
    return out


@dataclass
class _Writer:
    report: DropReport
    attachments: AttachmentResolver | None
    runs: list[_Run] = field(default_factory=list)
    #: Tool names by call id, for results that do not repeat theirs.
    names: dict[str, str] = field(default_factory=dict)
    #: The ids of the calls the conversation makes, which results must answer.
    calls: set[str] = field(default_factory=set)

    def write(self, messages: list[Message]) -> dict[str, Any]:
        self.calls = {p.tool_call_id for m in messages for p in m.tool_calls}
        for m in messages:
            for p in m.parts:
                if isinstance(p, ToolCallPart):
                    self.names.setdefault(p.tool_call_id, p.tool_name)
        system: list[dict[str, Any]] = []
        leading = True
        for i, m in enumerate(messages):
            if m.name is not None and m.role is not Role.TOOL:
                self.drop(i, m, None, "name", "Gemini contents have no author name")
            if m.role is Role.SYSTEM and leading:
                system.extend(x.part for x in self.items(i, m))
                continue
            if m.role is Role.SYSTEM:
                self.drop(
                    i, m, None, "system-role", "Gemini has no system role in contents: sent as user"
                )
            leading = False
            self.message(i, m)
        payload: dict[str, Any] = {
            "contents": [
                {"role": r.role, "parts": [x.part for x in r.items]}
                for r in _merge(_group_results(self.runs))
            ]
        }
        if system:
            payload["system_instruction"] = {"parts": system}
        return payload

    def drop(self, i: int, m: Message, j: int | None, what: str, reason: str) -> None:
        self.report.add(i, m, j, what, reason)

    def unheld(self, i: int, m: Message, j: int, p: Any, kind: str, names: Iterable[str]) -> None:
        """Report each field of ``names`` that ``p`` sets: Gemini has no place
        for it."""
        for name in names:
            if getattr(p, name) not in (None, "", [], False):
                self.drop(i, m, j, f"{kind}.{name}", "Gemini has no place for it")

    def add(self, role: str, item: _Item | None, *, keep_empty: bool = False) -> None:
        items = [] if item is None else [item]
        if self.runs and self.runs[-1].role == role:
            self.runs[-1].items.extend(items)
            self.runs[-1].keep_empty = self.runs[-1].keep_empty or keep_empty
        else:
            self.runs.append(_Run(role, items, keep_empty))

    def message(self, i: int, m: Message) -> None:
        role = "model" if m.role is Role.ASSISTANT else "user"
        items = self.items(i, m)
        if not m.parts and not m.content:
            self.add(role, None, keep_empty=True)
        for item in items:
            self.add("user" if item.result else role, item)

    def items(self, i: int, m: Message) -> list[_Item]:
        """The Gemini parts of a message."""
        indexed = list(enumerate(_parts(m)))
        out: list[_Item] = []
        if m.role is Role.TOOL and not any(isinstance(p, ToolResultPart) for _, p in indexed):
            pieces = [p for _, p in indexed if isinstance(p, _PIECES)]
            if pieces:
                out += self.tool_message(i, m, pieces)
            indexed = [(j, p) for j, p in indexed if not isinstance(p, _PIECES)]
        for j, p in indexed:
            item = self.part(i, m, j, p)
            if item is not None:
                out.append(item)
        return out

    def tool_message(self, i: int, m: Message, pieces: list[Any]) -> list[_Item]:
        """A tool message without tool-result parts: its text, images and files
        are the result of the call ``tool_call_id``."""
        if not m.tool_call_id:
            self.drop(i, m, None, "tool-message", "a tool result needs the id of its call")
            return []
        if not self.answers(m.tool_call_id):
            self.drop(i, m, None, "tool-message", "the call it answers is not in the conversation")
            return []
        texts = [p.text for p in pieces if isinstance(p, TextPart)]
        result = ToolResultPart(
            tool_call_id=m.tool_call_id,
            tool_name=m.name or "",
            result=(m.content or "\n".join(texts)) if texts else None,
            content=[p for p in pieces if not isinstance(p, TextPart)],
        )
        return [self.tool_result(i, m, 0, result)]

    def answers(self, call_id: str) -> bool:
        """Whether a result of ``call_id`` answers a call of the conversation (a
        generated id is a Gemini response of a call Gemini gave no id)."""
        return call_id in self.calls or GENERATED_ID.fullmatch(call_id) is not None

    def part(self, i: int, m: Message, j: int, p: Any) -> _Item | None:
        """The Gemini part of a convostore part, or ``None`` when Gemini cannot
        hold it (then it is reported)."""
        if isinstance(p, HostedToolPart):
            if p.provider != FORMAT:
                self.drop(
                    i, m, j, "hosted-tool", f"a tool hosted by {p.provider} cannot be replayed"
                )
                return None
            return _Item(dict(p.payload))
        if isinstance(p, DataPart):
            self.drop(i, m, j, "data", "application data is not sent to models")
            return None
        if isinstance(p, SourcePart):
            self.drop(i, m, j, "source", "Gemini requests have no source part")
            return None
        if isinstance(p, ToolResultPart):
            if not self.answers(p.tool_call_id):
                self.drop(i, m, j, "tool-result", "the call it answers is not in the conversation")
                return None
            return self.tool_result(i, m, j, p)
        out: dict[str, Any] | None = None
        if isinstance(p, ReasoningPart):
            out = self.reasoning(i, m, j, p)
            if out is None:
                return None
        options = self.options(i, m, j, p, _PART_OPTIONS)
        if isinstance(p, TextPart):
            out = {"text": p.text}
            self.sign(i, m, j, p, out)
            if p.citations:
                self.drop(i, m, j, "text.citations", "Gemini requests carry no citations")
            self.unheld(i, m, j, p, "text", ("provider_id", "status"))
        elif isinstance(p, ToolCallPart):
            return self.tool_call(i, m, j, p, options)
        elif isinstance(p, ImagePart | FilePart | AudioPart):
            out = self.media(i, m, j, p, options)
        elif isinstance(p, CodePart):
            out = {"executable_code": self.code(p, options)}
            self.sign(i, m, j, p, out)
        elif isinstance(p, RefusalPart):
            # A refusal is text the model wrote; Gemini has no refusal part.
            out = {"text": p.text}
        if out is None:
            return None
        return _Item({**out, **options} if options else out)

    def options(
        self, i: int, m: Message, j: int, p: Any, allowed: frozenset[str]
    ) -> dict[str, Any]:
        """The Google options of ``p`` that a Gemini part takes (keys in
        snake_case, the options of its inner object under that object's
        name); any other is reported."""
        given = p.provider_metadata.get(PROVIDER) if p.provider_metadata else None
        if not given:
            return {}
        out: dict[str, Any] = {}
        for key, value in given.items():
            name = _snake(key)
            inner = _INNER_OPTIONS.get(name)
            if inner is not None and isinstance(value, Mapping):
                kept = {}
                for k, v in value.items():
                    if _snake(k) in inner:
                        kept[_snake(k)] = v
                    else:
                        self.drop(
                            i, m, j, f"{p.type}.provider_metadata", f"{name}.{k} is no option"
                        )
                if kept:
                    out[name] = kept
            elif name in allowed:
                out[name] = value
            else:
                self.drop(i, m, j, f"{p.type}.provider_metadata", f"{key!r} is no option of a part")
        return out

    def sign(self, i: int, m: Message, j: int, p: Any, out: dict[str, Any]) -> None:
        """Put the part's signature on ``out`` when it is Google's."""
        if p.signature is None:
            return
        if _foreign(m):
            self.drop(i, m, j, f"{p.type}.signature", f"a signature of {m.metadata.provider}")
        else:
            out["thought_signature"] = p.signature

    def reasoning(self, i: int, m: Message, j: int, p: ReasoningPart) -> dict[str, Any] | None:
        if _foreign(m):
            self.drop(
                i, m, j, "reasoning", f"reasoning of {m.metadata.provider} cannot be sent to Gemini"
            )
            return None
        if not p.text and p.signature is None and (p.summary or p.encrypted_content):
            # Summarised or encrypted reasoning (OpenAI's) has nothing Gemini reads.
            self.drop(i, m, j, "reasoning", "only its summary or encrypted content is known")
            return None
        self.unheld(
            i, m, j, p, "reasoning", ("summary", "encrypted_content", "provider_id", "status")
        )
        if p.redacted and not p.text:
            if p.signature is None:
                self.drop(i, m, j, "reasoning", "redacted reasoning without a signature")
                return None
            return {"thought_signature": p.signature}
        out: dict[str, Any] = {"text": p.text, "thought": True}
        self.sign(i, m, j, p, out)
        return out

    def tool_call(
        self, i: int, m: Message, j: int, p: ToolCallPart, options: dict[str, Any]
    ) -> _Item:
        call: dict[str, Any] = {}
        if not GENERATED_ID.fullmatch(p.tool_call_id):
            call["id"] = p.tool_call_id
        call["name"] = p.tool_name
        if isinstance(p.args, dict):
            call["args"] = p.args
        elif p.args is not None or p.args_text:
            self.drop(i, m, j, "tool-call.args", "Gemini function arguments must be a JSON object")
        call.update(options.pop("function_call", {}))
        out: dict[str, Any] = {"function_call": call}
        self.sign(i, m, j, p, out)
        self.unheld(i, m, j, p, "tool-call", ("tool_kind", "provider_id", "status"))
        return _Item({**out, **options} if options else out, call_id=p.tool_call_id)

    def tool_result(self, i: int, m: Message, j: int, p: ToolResultPart) -> _Item:
        options = self.options(i, m, j, p, _PART_OPTIONS)
        fr: dict[str, Any] = {}
        if not GENERATED_ID.fullmatch(p.tool_call_id):
            fr["id"] = p.tool_call_id
        name = p.tool_name or self.names.get(p.tool_call_id) or (m.name or "")
        if name:
            fr["name"] = name
        texts = [x.text for x in p.content if isinstance(x, TextPart)]
        key = "error" if p.is_error else "output"
        if isinstance(p.result, str) or (p.result is None and texts):
            pieces = [p.result] if isinstance(p.result, str) else []
            fr["response"] = {key: "\n".join([*pieces, *texts])}
        elif p.result is not None:
            fr["response"] = p.result if isinstance(p.result, dict) else {key: p.result}
            if texts:
                self.drop(
                    i, m, j, "tool-result.content.text", "the response object holds the result"
                )
        media = []
        for x in p.content:
            if isinstance(x, TextPart):
                continue
            piece = self.media(i, m, j, x, self.options(i, m, j, x, _PIECE_OPTIONS))
            if piece is not None:
                media.append(piece)
        if media:
            fr["parts"] = media
        fr.update(options.pop("function_response", {}))
        self.unheld(i, m, j, p, "tool-result", ("provider_id", "status"))
        return _Item({"function_response": fr, **options}, call_id=p.tool_call_id, result=True)

    def code(self, p: CodePart, options: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"code": p.code}
        if p.language is not None:
            out["language"] = p.language.upper()
        if p.provider_id is not None:
            out["id"] = p.provider_id
        out.update(options.pop("executable_code", {}))
        return out

    def media(
        self,
        i: int,
        m: Message,
        j: int,
        p: ImagePart | FilePart | AudioPart,
        options: dict[str, Any],
    ) -> dict[str, Any] | None:
        """An image, audio or file as ``inline_data`` (bytes) or ``file_data``
        (a file URI or URL); ``options`` loses the keys it used."""
        inline_opts = options.pop("inline_data", {})
        file_opts = options.pop("file_data", {})
        mime = (p.mime_type or None) if isinstance(p, FilePart) else p.media_type
        name = (p.filename or p.title or None) if isinstance(p, FilePart) else None
        data = part_bytes(p, self.attachments)
        url = p.url
        if data is None and url is not None and url.startswith("data:"):
            mime, data = _data_url(url, mime)
        if data is None and isinstance(p, FilePart) and p.text is not None:
            data, mime = p.text.encode("utf-8"), "text/plain"
        uri = url if isinstance(p, AudioPart) else (_google_uri(p.provider_file_id) or url)
        if data is not None:
            mime = mime or _sniff(data)
            if mime is None:
                self.drop(i, m, j, p.type, "its media type is unknown")
                return None
            blob: dict[str, Any] = {"mime_type": mime, "data": _b64text(data)}
            if name:
                blob["display_name"] = name
            out = {"inline_data": {**blob, **inline_opts}}
        elif uri is not None:
            fd: dict[str, Any] = {"file_uri": uri}
            if mime:
                fd["mime_type"] = mime
            if name:
                fd["display_name"] = name
            out = {"file_data": {**fd, **file_opts}}
        else:
            self.drop(i, m, j, p.type, "neither its bytes nor a URI is available")
            return None
        if isinstance(p, ImagePart):
            self.unheld(i, m, j, p, "image", ("alt_text", "detail"))
        elif isinstance(p, AudioPart):
            self.unheld(i, m, j, p, "audio", ("transcript", "provider_id"))
        else:
            self.unheld(i, m, j, p, "file", ("context", "citations_enabled"))
            if p.filename and p.title:
                self.unheld(i, m, j, p, "file", ("title",))
        return {**out, **options}


#: The parts that make up a tool's result.
_PIECES = (TextPart, ImagePart, FilePart, AudioPart)


def _parts(m: Message) -> list[Any]:
    """A message's parts; its ``content`` as one text part when it has none."""
    if m.parts:
        return m.parts
    return [TextPart(text=m.content)] if m.content else []


def _google_uri(file_id: str | None) -> str | None:
    """``file_id`` when it is a URI (Gemini's files are; other providers' file
    ids are not, and mean nothing to Gemini)."""
    return file_id if file_id is not None and "://" in file_id else None


def _foreign(m: Message) -> bool:
    """Whether the message came from another provider's model (its reasoning and
    signatures are not Google's)."""
    return m.metadata.provider is not None and m.metadata.provider != PROVIDER


def _group_results(runs: list[_Run]) -> list[_Run]:
    """``runs`` with every tool result moved to the user run right after the
    model run of its call, when it sits later."""
    merged = _merge(runs)
    calls: dict[str, int] = {}
    for k, run in enumerate(merged):
        if run.role == "model":
            for item in run.items:
                if item.call_id is not None and not item.result:
                    calls[item.call_id] = k
    moved: dict[int, list[_Item]] = {}
    for k, run in enumerate(merged):
        if run.role != "user":
            continue
        kept: list[_Item] = []
        for item in run.items:
            home = calls.get(item.call_id) if item.result and item.call_id else None
            if home is not None and home + 1 < k and merged[home + 1].role == "user":
                moved.setdefault(home + 1, []).append(item)
            else:
                kept.append(item)
        if len(kept) < len(run.items) and not kept:
            run.keep_empty = False
        run.items = kept
    for k, items in moved.items():
        run = merged[k]
        lead = 0
        while lead < len(run.items) and run.items[lead].result:
            lead += 1
        run.items[lead:lead] = items
    return [r for r in merged if r.items or r.keep_empty]


def _merge(runs: list[_Run]) -> list[_Run]:
    """``runs`` with consecutive runs of one role joined (``runs`` itself when
    no two consecutive runs share one)."""
    if all(a.role != b.role for a, b in itertools.pairwise(runs)):
        return runs
    out: list[_Run] = []
    for run in runs:
        if out and out[-1].role == run.role:
            out[-1].items.extend(run.items)
            out[-1].keep_empty = out[-1].keep_empty or run.keep_empty
        else:
            out.append(_Run(run.role, list(run.items), run.keep_empty))
    return out


def _data_url(url: str, media_type: str | None) -> tuple[str | None, bytes | None]:
    """The media type and bytes of a base64 ``data:`` URL (``None`` bytes when
    it is not one)."""
    head, sep, body = url[5:].partition(",")
    if not sep or not head.endswith(";base64"):
        return media_type, None
    try:
        data = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return media_type, None
    return media_type or head[: -len(";base64")] or None, data


def _sniff(data: bytes) -> str | None:
    """The media type of image, audio or PDF bytes, from their first bytes."""
    for magic, media_type in (*_IMAGE_MAGIC, *_AUDIO_MAGIC):
        if data.startswith(magic):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data.startswith(b"%PDF"):
        return "application/pdf"
    return None
