"""Hypothesis strategies for Gemini payloads in canonical shape (what
``to_gemini`` writes), and the other spellings ``from_gemini`` reads, which
the converter brings back to the canonical one.

Canonical: the google-genai SDK's snake_case keys, every content with its
``role``, roles alternating, ``system_instruction`` without a role, bytes and
thought signatures as standard padded base64, ``thought`` written only when
true, code languages in capitals.
"""

from __future__ import annotations

import base64
import copy
import string
from typing import Any

from hypothesis import strategies as st

Payload = dict[str, Any]

texts = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=24)
words = st.text(string.ascii_letters + string.digits, min_size=1, max_size=10)
names = st.from_regex(r"[a-z][a-z_]{0,11}", fullmatch=True)
b64 = st.binary(max_size=32).map(lambda b: base64.b64encode(b).decode("ascii"))
signatures = st.binary(min_size=8, max_size=48).map(lambda b: base64.b64encode(b).decode())
file_uris = words.map(lambda w: f"https://generativelanguage.googleapis.com/v1beta/files/{w}")

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
objects = st.dictionaries(texts, json_values, max_size=4)

MEDIA = {
    "image": ["image/png", "image/jpeg", "image/webp"],
    "audio": ["audio/wav", "audio/mp3"],
    "file": ["application/pdf", "text/plain", "video/mp4"],
}


@st.composite
def _signed(draw: st.DrawFn, part: st.SearchStrategy[Payload], chance: int = 2) -> Payload:
    out = dict(draw(part))
    if draw(st.integers(0, chance)) == 0:
        out["thought_signature"] = draw(signatures)
    return out


@st.composite
def blobs(draw: st.DrawFn) -> Payload:
    kind = draw(st.sampled_from(list(MEDIA)))
    blob: Payload = {"mime_type": draw(st.sampled_from(MEDIA[kind])), "data": draw(b64)}
    if draw(st.booleans()):
        blob["display_name"] = draw(words)
    return blob


@st.composite
def file_datas(draw: st.DrawFn) -> Payload:
    fd: Payload = {"file_uri": draw(file_uris)}
    if draw(st.integers(0, 3)):
        kind = draw(st.sampled_from(list(MEDIA)))
        fd["mime_type"] = draw(st.sampled_from(MEDIA[kind]))
    if draw(st.booleans()):
        fd["display_name"] = draw(words)
    return fd


@st.composite
def media_parts(draw: st.DrawFn) -> Payload:
    if draw(st.booleans()):
        part: Payload = {"inline_data": draw(blobs())}
        mime = part["inline_data"]["mime_type"]
    else:
        part = {"file_data": draw(file_datas())}
        mime = part["file_data"].get("mime_type", "")
    if mime.startswith("video/") and draw(st.booleans()):
        part["video_metadata"] = {"start_offset": "1s", "end_offset": "4s", "fps": 2.0}
    if mime.startswith("image/") and draw(st.booleans()):
        part["media_resolution"] = {"level": "MEDIA_RESOLUTION_HIGH"}
    return part


@st.composite
def text_parts(draw: st.DrawFn) -> Payload:
    part: Payload = {"text": draw(texts)}
    if draw(st.integers(0, 5)) == 0:
        part["part_metadata"] = draw(objects)
    return part


thought_parts = _signed(st.fixed_dictionaries({"text": texts, "thought": st.just(True)}))
bare_signatures = st.fixed_dictionaries({"thought_signature": signatures})


@st.composite
def code_parts(draw: st.DrawFn, with_ids: bool) -> list[Payload]:
    """Code the model ran with Google's code execution, and its result."""
    code: Payload = {"language": "PYTHON", "code": draw(texts)}
    result: Payload = {
        "outcome": draw(
            st.sampled_from(["OUTCOME_OK", "OUTCOME_FAILED", "OUTCOME_DEADLINE_EXCEEDED"])
        )
    }
    if draw(st.booleans()):
        result["output"] = draw(texts)
    if with_ids:
        code["id"] = result["id"] = f"code_{draw(words)}"
    return [
        draw(_signed(st.just({"executable_code": code}))),
        {"code_execution_result": result},
    ]


@st.composite
def function_responses(draw: st.DrawFn, name: str, call_id: str | None) -> Payload:
    fr: Payload = {"name": name, "response": draw(objects)}
    if call_id is not None:
        fr["id"] = call_id
    if draw(st.integers(0, 3)) == 0:
        pieces = st.builds(lambda b: {"inline_data": b}, blobs()) | st.builds(
            lambda f: {"file_data": f}, file_datas()
        )
        fr["parts"] = draw(st.lists(pieces, min_size=1, max_size=2))
    if draw(st.integers(0, 5)) == 0:
        fr["will_continue"] = draw(st.booleans())
    if draw(st.integers(0, 5)) == 0:
        fr["scheduling"] = draw(st.sampled_from(["SILENT", "WHEN_IDLE", "INTERRUPT"]))
    return {"function_response": fr}


@st.composite
def payloads(draw: st.DrawFn) -> Payload:
    """A canonical history: up to four user/model turns, calls answered (in
    order) in the next user turn, with or without call ids."""
    with_ids = draw(st.booleans())
    counter = iter(range(10_000))
    contents: list[Payload] = []
    pending: list[tuple[str, str | None]] = []
    for _ in range(draw(st.integers(1, 4))):
        user = [draw(function_responses(name, call_id)) for name, call_id in pending]
        user += draw(st.lists(text_parts() | media_parts(), min_size=0 if user else 1, max_size=3))
        contents.append({"role": "user", "parts": user})
        if draw(st.integers(0, 4)) == 0:
            break
        model = draw(st.lists(thought_parts | bare_signatures, max_size=2))
        for _ in range(draw(st.integers(0, 2))):
            choice = draw(st.integers(0, 3))
            if choice == 0:
                model += draw(code_parts(with_ids))
            elif choice == 1:
                model.append(draw(_signed(st.builds(lambda b: {"inline_data": b}, blobs()))))
            else:
                model.append(draw(_signed(text_parts(), chance=4)))
        pending = []
        for _ in range(draw(st.integers(0, 3))):
            name = draw(names)
            call: Payload = {"name": name}
            call_id = f"fc_{next(counter):03d}{draw(words)}" if with_ids else None
            if call_id is not None:
                call = {"id": call_id, **call}
            if draw(st.integers(0, 4)):
                call["args"] = draw(objects)
            model.append(draw(_signed(st.just({"function_call": call}))))
            pending.append((name, call_id))
        contents.append({"role": "model", "parts": model})
    payload: Payload = {"contents": contents}
    if draw(st.booleans()):
        payload["system_instruction"] = {
            "parts": draw(st.lists(text_parts(), min_size=1, max_size=2))
        }
    return payload


# the other spellings ---------------------------------------------------------------

#: Objects whose keys are the caller's: never respelled.
_OWN_KEYS = frozenset({"args", "response", "part_metadata"})


def _camel_key(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(w.capitalize() for w in rest)


def camel(value: Any, key: str = "") -> Any:
    """``value`` in the REST API's camelCase spelling."""
    if key in _OWN_KEYS:
        return value
    if isinstance(value, dict):
        return {_camel_key(k): camel(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value


def _urlsafe(text: str) -> str:
    return base64.urlsafe_b64encode(base64.b64decode(text)).decode().rstrip("=")


def _walk_parts(payload: Payload) -> list[Payload]:
    parts = [p for c in payload["contents"] for p in c["parts"]]
    parts += [
        piece
        for p in parts
        if "function_response" in p
        for piece in p["function_response"].get("parts", [])
    ]
    return parts


@st.composite
def variants(draw: st.DrawFn, payload: Payload) -> Payload:
    """``payload`` in other spellings ``from_gemini`` reads and ``to_gemini``
    writes back as ``payload``: bytes as bytes or URL-safe unpadded base64,
    signatures as bytes, a user content without its role, a role on the system
    instruction, a lower-case code language, a content split in two of its
    role, and, over all, camelCase keys."""
    out = copy.deepcopy(payload)
    for part in _walk_parts(out):
        blob = part.get("inline_data")
        if blob is not None and draw(st.integers(0, 2)) == 0:
            raw = base64.b64decode(blob["data"])
            blob["data"] = raw if draw(st.booleans()) else _urlsafe(blob["data"])
        if "thought_signature" in part and draw(st.integers(0, 2)) == 0:
            part["thought_signature"] = base64.b64decode(part["thought_signature"])
        code = part.get("executable_code")
        if code is not None and draw(st.booleans()):
            code["language"] = code["language"].lower()
    contents = out["contents"]
    for c in contents:
        if c["role"] == "user" and draw(st.integers(0, 3)) == 0:
            del c["role"]
    if "system_instruction" in out and draw(st.booleans()):
        out["system_instruction"]["role"] = draw(st.sampled_from(["user", "system"]))
    splittable = [k for k, c in enumerate(contents) if len(c["parts"]) > 1]
    if splittable and draw(st.booleans()):
        k = draw(st.sampled_from(splittable))
        c = contents[k]
        cut = draw(st.integers(1, len(c["parts"]) - 1))
        contents[k : k + 1] = [{**c, "parts": c["parts"][:cut]}, {**c, "parts": c["parts"][cut:]}]
    if draw(st.booleans()):
        out = camel(out)
    return out
