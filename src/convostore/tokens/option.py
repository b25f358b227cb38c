"""The counter a store's ``token_counter`` option names."""

from __future__ import annotations

from convostore.errors import ValidationError
from convostore.tokens.counter import TokenCounter
from convostore.tokens.encodings import KNOWN_ENCODINGS
from convostore.tokens.heuristic import HEURISTIC, HeuristicCounter
from convostore.tokens.packaged import _from_package

__all__ = ["COUNTER_NAMES", "counter_for", "default_counter"]


def default_counter(*, refresh: bool = False) -> TokenCounter:
    """Deprecated: the heuristic, which is what a store counts with unless told.

    This used to return a tiktoken counter when tiktoken had cached an
    encoding on the machine, so the same append stored different counts on
    different machines. A store's counter is now its ``token_counter`` option
    (see :func:`counter_for`); this function is kept for old callers and
    always returns :data:`HEURISTIC`. ``refresh`` is ignored.
    """
    del refresh
    return HEURISTIC


#: Names :func:`counter_for` accepts besides a :class:`TokenCounter`.
COUNTER_NAMES = (
    "heuristic",
    HeuristicCounter.name,
    *KNOWN_ENCODINGS,
    *(f"tiktoken:{e}" for e in KNOWN_ENCODINGS),
)


def counter_for(spec: TokenCounter | str | None) -> TokenCounter:
    """The counter a store option names.

    ``None`` and ``"heuristic"`` are :data:`HEURISTIC` (the default: the same
    counts on every machine, no download, no extra); ``"o200k_base"`` or
    ``"cl100k_base"`` (also with a ``tiktoken:`` prefix) are exact counts from
    the encoding shipped with the ``tokens`` extra
    (:meth:`TiktokenCounter.from_package`); a :class:`TokenCounter` is used as
    it is.

    Raises:
        ValidationError: an unknown name, or something that is not a counter.
        MissingDependencyError: an encoding was named without the ``tokens`` extra.
    """
    if spec is None:
        return HEURISTIC
    if isinstance(spec, str):
        name = spec.strip()
        if name in ("heuristic", HeuristicCounter.name):
            return HEURISTIC
        encoding = name.removeprefix("tiktoken:")
        if encoding in KNOWN_ENCODINGS:
            return _from_package(encoding)
        raise ValidationError(
            f"unknown token counter {spec!r}: use one of {', '.join(COUNTER_NAMES)} "
            "or a TokenCounter",
            field="token_counter",
        )
    if isinstance(spec, TokenCounter):
        return spec
    raise ValidationError("must be a TokenCounter or the name of one", field="token_counter")
