"""What a store directory holds: thread files in the ``convostore.thread``
format, named ``<tenant>/<thread id>.json``, and the lock file; how a thread
file is checked again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pydantic

from convostore.model import Message, Thread
from convostore.store.jsonfile.files import _why

__all__ = ["FORMAT", "FORMAT_VERSION", "LOCK_NAME"]

#: Value of the ``format`` field of every thread file.
FORMAT = "convostore.thread"
#: Version of the thread file layout this code writes and the newest it reads.
FORMAT_VERSION = 1

LOCK_NAME = ".lock"
_JSON_SUFFIX = ".json"


def _unparsable(path: Path) -> str | None:
    """Why the thread file at ``path`` does not parse, or ``None``."""
    try:
        doc = json.loads(path.read_bytes())
    except OSError as exc:
        return f"unreadable: {_why(exc)}"
    except (ValueError, RecursionError) as exc:
        return f"invalid JSON: {exc}"
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        return f'no "format": "{FORMAT}" field'
    if not isinstance(doc.get("messages"), list):
        return "no messages"
    try:
        Thread.model_validate(doc.get("thread"))
        for m in doc["messages"]:
            _exact_message(m)
    except pydantic.ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err.get("loc", ()))
        return f"{where}: {err.get('msg')}"
    return None


def _exact_message(raw: Any) -> Message:
    """Validate a stored message without the builder conveniences of the model.

    ``Message`` fills ``parts`` from ``content`` (and the reverse) when one is
    empty, which is right for new messages but would change a stored message
    whose ``parts`` or ``content`` was deliberately emptied by an update.
    """
    msg = Message.model_validate(raw)
    fix: dict[str, Any] = {}
    if isinstance(raw, dict):
        if raw.get("parts") == [] and msg.parts:
            fix["parts"] = []
        if isinstance(raw.get("content"), str) and raw["content"] != msg.content:
            fix["content"] = raw["content"]
    return msg.model_copy(update=fix) if fix else msg
