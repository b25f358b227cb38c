"""Token counting: how many tokens a message costs in a model's context.

A count always says where it came from. In order of preference:

1. **A count the message carries** (``token_count`` with ``token_counter``).
2. **Provider-reported usage** (``metadata.token_usage.completion_tokens`` of
   an assistant reply), only where it measures the message itself: not when
   it is implausible for the text, nor when one usage is spread over several
   messages of a batch (see :func:`token_count_for`).
3. **The store's counter** (its ``token_counter`` option, see
   :func:`counter_for`): the heuristic by default, the same on every machine;
   or exact counts from a tiktoken encoding, offline, with the ``tokens``
   extra (:meth:`TiktokenCounter.from_package`). Nothing is ever downloaded.

The counter's name is stored next to the count (``Message.token_count`` and
``Message.token_counter``) when a message is written, so a context window is
assembled from stored numbers, never recounted, and can report whether any of
them were estimates.

The package, by concept: :mod:`~convostore.tokens.counter` (the protocol and
the per-message accounting every counter shares), :mod:`~convostore.tokens.heuristic`
(the offline estimate), :mod:`~convostore.tokens.encodings` (exact counts from
a tiktoken encoding), :mod:`~convostore.tokens.packaged` (encoding files
shipped inside an installed package), :mod:`~convostore.tokens.option` (the
counter a store option names) and :mod:`~convostore.tokens.counts` (which
count a message gets).
"""

from __future__ import annotations

from convostore.tokens.counter import TokenCount, TokenCounter, is_estimate
from convostore.tokens.counts import CEILING_RATIO as CEILING_RATIO
from convostore.tokens.counts import CEILING_SLACK as CEILING_SLACK
from convostore.tokens.counts import FLOOR_RATIO as FLOOR_RATIO
from convostore.tokens.counts import (
    count_batch,
    text_floor,
    token_count_for,
    with_token_count,
)
from convostore.tokens.encodings import KNOWN_ENCODINGS, TiktokenCounter
from convostore.tokens.heuristic import HEURISTIC, HeuristicCounter
from convostore.tokens.option import COUNTER_NAMES, counter_for, default_counter
from convostore.tokens.packaged import PACKAGED_ENCODINGS

__all__ = [
    "COUNTER_NAMES",
    "HEURISTIC",
    "KNOWN_ENCODINGS",
    "PACKAGED_ENCODINGS",
    "HeuristicCounter",
    "TiktokenCounter",
    "TokenCount",
    "TokenCounter",
    "count_batch",
    "counter_for",
    "default_counter",
    "is_estimate",
    "text_floor",
    "token_count_for",
    "with_token_count",
]
