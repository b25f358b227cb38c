"""The options of the JSON-file store, as given in code or in a URL query."""

from __future__ import annotations

from convostore.errors import ValidationError

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _seconds(value: object, field: str) -> float:
    if isinstance(value, bool):
        raise ValidationError("must be a number of seconds", field=field)
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValidationError("must be a number of seconds", field=field) from None
    if not seconds >= 0 or seconds == float("inf"):
        raise ValidationError("must be a finite number of seconds, 0 or more", field=field)
    return seconds


def _flag(value: object, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValidationError("must be true or false", field=field)
