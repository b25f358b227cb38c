"""What every model of the package shares: the id rule, bounded integers, UTC
times and the base class.

:data:`Identifier` and :data:`UTCDateTime` are checked in pydantic's core where
they can be, since every message read validates several of each.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, TypeGuard

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler
from pydantic_core import core_schema

#: The longest id, in characters (Unicode code points; up to 1,020 bytes of UTF-8).
ID_MAX_LENGTH = 255
#: What an id is, as a regular expression both pydantic's engine and Python's
#: ``re`` read: one or more characters, none of them a control character
#: (category Cc: C0 U+0000-U+001F, DEL U+007F, C1 U+0080-U+009F) or a line or
#: paragraph separator (U+2028, U+2029). Lone surrogates are refused too, by the
#: string check itself; see :func:`is_identifier` for the whole rule in Python.
#: With Python's ``re`` use ``re.fullmatch``, never ``re.match``: there ``$``
#: also matches before a final newline (pydantic's engine and JSON Schema read
#: ``$`` as the end of the text).
ID_PATTERN = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]+$"
#: The rule as said in every error about an id.
ID_RULE = (
    f"must be a string of 1-{ID_MAX_LENGTH} characters with no control characters "
    "(U+0000-U+001F, U+007F-U+009F), line or paragraph separators (U+2028, "
    "U+2029) or lone surrogates"
)
_ID_TEXT = re.compile(r"[^\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]{1,255}")


def is_identifier(value: object) -> TypeGuard[str]:
    """Whether ``value`` is a valid id (the rule of :data:`Identifier`)."""
    return isinstance(value, str) and _ID_TEXT.fullmatch(value) is not None


class _IdentifierSchema:
    """The id rule as one pydantic-core string check with one error message.

    Checked in pydantic's core, without a call into Python, since every message
    read validates several ids.
    """

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.custom_error_schema(
            core_schema.str_schema(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN),
            custom_error_type="identifier",
            custom_error_message=ID_RULE,
        )


Identifier = Annotated[str, _IdentifierSchema()]
"""Ids of tenants, users, threads, messages and executions: any Unicode text of
1-255 characters without control characters, line or paragraph separators or lone
surrogates (``auth0|64b7f0c2e1``, ``José``, ``slack/C123``). Format characters such
as U+200F (right-to-left mark) or U+200D (the zero-width joiner of emoji sequences)
are allowed. Ids are compared exactly, code point for code point: no case folding
and no Unicode normalization."""

NonNegInt = Annotated[int, Field(ge=0, le=2**63 - 1)]


def utcnow() -> dt.datetime:
    """The current time as an aware UTC datetime, at microsecond precision."""
    return dt.datetime.now(dt.UTC)


def _to_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


class _NormalisedToUTC:
    """Validation for :data:`UTCDateTime`.

    JSON text is parsed into a fixed offset, so a time written at offset zero
    (every stored time, and the ``Z`` times of the wire format) is kept as parsed,
    without leaving pydantic's core; other offsets call Python to be converted.
    An after-validator would call Python for every time read (about a tenth of a
    page of threads' validation, and 3,000 instructions per decoded message).
    Python objects always go through the conversion: a zone such as
    ``Europe/London`` is at offset zero in winter only, and must not be kept. The
    time is parsed once, so a bad value gets one error.
    """

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        parsed = handler(source)
        convert = core_schema.no_info_after_validator_function(_to_utc, core_schema.any_schema())
        at_utc = core_schema.datetime_schema(tz_constraint=0, strict=True)
        from_text = core_schema.chain_schema(
            [parsed, core_schema.union_schema([at_utc, convert], mode="left_to_right")]
        )
        return core_schema.json_or_python_schema(
            json_schema=from_text,
            python_schema=core_schema.no_info_after_validator_function(_to_utc, parsed),
        )


UTCDateTime = Annotated[dt.datetime, _NormalisedToUTC]
"""A datetime normalised to aware UTC (offset zero); naive values are taken to be UTC.

Its ``tzinfo`` is an offset-zero zone equal to :data:`datetime.UTC`, not always
that very object: compare times, or their ``utcoffset()``, rather than ``tzinfo``
identity.
"""


class _Model(BaseModel):
    """The base of the stored models: unknown fields and non-finite floats are
    refused, and each field's docstring is its description in the JSON schema."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        populate_by_name=True,
        use_attribute_docstrings=True,
    )
