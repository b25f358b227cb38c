"""Checks every backend applies alike before it writes anything.

Bad input is refused with a :class:`~convostore.errors.ValidationError` that
names the field; state checks (an expected revision, a deleted thread, an
import in progress) raise the typed conflict errors.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pydantic

from convostore.errors import (
    ConflictError,
    RevisionConflictError,
    ThreadDeletedError,
    UnsupportedSnapshotVersionError,
    ValidationError,
)
from convostore.model import (
    RESERVED_METADATA_PREFIX,
    Message,
    Role,
    Thread,
    ToolResultPart,
)
from convostore.store.settings import DEFAULT_LIMITS, Limits

if TYPE_CHECKING:
    pass


@contextlib.contextmanager
def translate_validation(prefix: str = "") -> Iterator[None]:
    """Turn a pydantic ``ValidationError`` raised inside into ours."""
    try:
        yield
    except pydantic.ValidationError as exc:
        raise from_pydantic(exc, prefix) from None


def from_pydantic(exc: pydantic.ValidationError, prefix: str = "") -> ValidationError:
    err = exc.errors(include_url=False)[0]
    loc = ".".join(str(p) for p in err.get("loc", ()))
    field = ".".join(p for p in (prefix, loc) if p) or None
    ctx = err.get("ctx") or {}
    inner = ctx.get("error")
    if isinstance(inner, UnsupportedSnapshotVersionError):
        return inner
    msg = str(err.get("msg", "invalid value"))
    if len(exc.errors()) > 1:
        msg += f" (and {len(exc.errors()) - 1} more errors)"
    return ValidationError(msg, field=field)


def find_bad_text(value: Any, path: str) -> tuple[str, str] | None:
    """Locate a NUL character or lone surrogate, returning (field, reason)."""
    if isinstance(value, pydantic.BaseModel):
        value = value.__dict__
    if isinstance(value, str):
        if "\x00" in value:
            return path, "NUL characters are not allowed in text"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path, "lone surrogates are not valid Unicode text"
        return None
    if isinstance(value, Mapping):
        for k, v in value.items():
            # The path names the key, escaped: a bad key must not make the error
            # message itself unencodable.
            name = (
                str(k).encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
            )
            sub = f"{path}.{name}" if path else name
            found = find_bad_text(k, sub) or find_bad_text(v, sub)
            if found:
                return found
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            found = find_bad_text(v, f"{path}.{i}" if path else str(i))
            if found:
                return found
    return None


def check_limit(limit: int | None, default: int, limits: Limits = DEFAULT_LIMITS) -> int:
    if limit is None:
        return default
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValidationError("must be a positive integer", field="limit")
    if limit > limits.max_list_limit:
        raise ValidationError(f"must be at most {limits.max_list_limit}", field="limit")
    return limit


#: The longest text filter: the longest label a thread can hold
#: (``Thread.agent_name``), so a longer one could never match.
MAX_FILTER_LENGTH = 255


def check_filter_text(value: Any, field: str, max_length: int = MAX_FILTER_LENGTH) -> str | None:
    """A text filter of a listing (``agent_name``), refused with the rules of
    stored text: a string of at most ``max_length`` characters without NUL
    characters or lone surrogates. ``None`` (no filter) passes.

    Raises:
        ValidationError: with ``field`` set to the filter's name.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError("must be a string", field=field)
    if len(value) > max_length:
        raise ValidationError(f"must be at most {max_length} characters", field=field)
    found = find_bad_text(value, field)
    if found is not None:
        raise ValidationError(found[1], field=field)
    return value


def check_appendable(message: Message, field: str) -> None:
    """Refuse a message no model could be sent: a tool message that does not say
    which call it answers (neither ``tool_call_id`` nor a tool-result part).

    Checked on append only; stored messages and imported snapshots are read as
    they are.
    """
    if (
        message.role is Role.TOOL
        and not message.tool_call_id
        and not any(isinstance(p, ToolResultPart) for p in message.parts)
    ):
        raise ValidationError(
            "a tool message must name the call it answers: set tool_call_id "
            "(or give it tool-result parts)",
            field=f"{field}.tool_call_id",
        )


def check_revision(thread: Thread, expected: int | None) -> None:
    if expected is not None and thread.revision != expected:
        raise RevisionConflictError(thread.id, expected, thread.revision)


#: The reserved thread metadata key that marks an import still in progress.
IMPORT_KEY = RESERVED_METADATA_PREFIX + "import"


INCOMPLETE = "incomplete"


def is_incomplete_import(thread: Thread) -> bool:
    """Whether ``thread`` is an import begun and not finished: soft-deleted (so
    hidden from every listing and refused to every ordinary write) and marked
    with :data:`IMPORT_KEY`, until :func:`restored` with ``finish_import`` makes
    it whole and visible in one write."""
    return thread.deleted_at is not None and thread.metadata.get(IMPORT_KEY) == INCOMPLETE


def incomplete_import_thread(thread: Thread, now: dt.datetime) -> Thread:
    """``thread``, about to be created, as an import in progress."""
    return thread.model_copy(
        update={"deleted_at": now, "metadata": {**thread.metadata, IMPORT_KEY: INCOMPLETE}}
    )


def check_writable(thread: Thread, *, importing: bool = False) -> None:
    """Refuse a write to a deleted thread; an importing write goes only to an
    incomplete import."""
    if importing:
        if not is_incomplete_import(thread):
            raise ConflictError(f"thread {thread.id!r} is not an import in progress")
        return
    if thread.deleted_at is not None:
        raise ThreadDeletedError(thread.id)
