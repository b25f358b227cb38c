"""Full-text search rules shared by every backend: the query language, the
text a message is found by, snippets, scan scoring and the search cursor.

A query is words, all of which must occur (AND). ``"two words"`` in double
quotes is a phrase, its words next to each other in that order; a word
holding punctuation (``foo-bar``, ``v1.2``) is a phrase of its pieces; a word
ending with ``*`` matches any word it begins. There are no operators: every
other character separates words, so no input is a syntax error of the
engine, and the only malformed queries are those with an unbalanced quote,
no word at all, or past the size limits (a ValidationError says which).

A word is a run of letters and digits; case does not matter. The engines
are handed the parsed query in their own syntax (:func:`fts5_query`,
:func:`tsquery`), built from those words alone, never from the raw input.

What a message is found by (:func:`search_text`): its ``content`` (the text
parts and string tool results), its ``name``, and the tool name, the
arguments and the non-string result of each tool-call and tool-result part,
the first :data:`MAX_INDEXED_CHARS` characters of it. The SQL backends build
the same text in the database (their schema's triggers and generated
column), so the index is kept by every write that changes a message row.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from convostore.errors import ValidationError
from convostore.model import (
    Message,
    Page,
    Role,
    SearchHit,
    SearchSnippet,
    ToolCallPart,
    ToolResultPart,
)
from convostore.store import ops
from convostore.store.rules.paging import decode_cursor, encode_cursor

__all__ = [
    "MAX_INDEXED_CHARS",
    "MAX_QUERY_LENGTH",
    "MAX_TERMS",
    "Term",
    "fts5_query",
    "matches",
    "parse_query",
    "scan_score",
    "search_text",
    "snippet",
    "tokens",
    "tsquery",
]

#: A message's searchable text is indexed up to this many characters
#: (PostgreSQL refuses a text search vector over 1 MB).
MAX_INDEXED_CHARS = 100_000
MAX_QUERY_LENGTH = 1000
MAX_TERMS = 16
MAX_WORD_LENGTH = 255

_WORD = re.compile(r"[^\W_]+")
_SNIPPET_BEFORE = 60
_SNIPPET_LENGTH = 240
_FLAT = str.maketrans("\r\n\t\f\v", "     ")


@dataclass(frozen=True, slots=True)
class Term:
    """One thing a message must contain: a word, or a phrase of several;
    with ``prefix`` the last word is a prefix."""

    words: tuple[str, ...]
    prefix: bool = False


def tokens(text: str) -> list[str]:
    """The words of ``text``, lower case."""
    return _WORD.findall(text.lower())


def _term(text: str, prefix: bool) -> Term | None:
    words = tuple(tokens(text))
    if not words:
        return None
    for w in words:
        if len(w) > MAX_WORD_LENGTH:
            raise ValidationError(
                f"has a word of {len(w)} characters, over {MAX_WORD_LENGTH}", field="query"
            )
    return Term(words, prefix)


def parse_query(query: Any) -> tuple[Term, ...]:
    """The terms of a query (see the module docs), all of which must match.

    Raises:
        ValidationError: ``field="query"``: not a string, too long, an
            unbalanced ``"``, no word, or too many terms.
    """
    if not isinstance(query, str):
        raise ValidationError("must be a string", field="query")
    if len(query) > MAX_QUERY_LENGTH:
        raise ValidationError(f"must be at most {MAX_QUERY_LENGTH} characters", field="query")
    pieces = query.split('"')
    if len(pieces) % 2 == 0:
        raise ValidationError('has an unbalanced double quote (")', field="query")
    terms: list[Term] = []
    for i, piece in enumerate(pieces):
        found: list[Term | None]
        if i % 2:  # inside quotes: one phrase
            found = [_term(piece, False)]
        else:
            found = [_term(w.rstrip("*"), w.endswith("*")) for w in piece.split()]
        terms.extend(t for t in found if t is not None and t not in terms)
    if not terms:
        raise ValidationError("has no word to search for", field="query")
    if len(terms) > MAX_TERMS:
        raise ValidationError(f"has more than {MAX_TERMS} words and phrases", field="query")
    return tuple(terms)


def fts5_query(terms: Sequence[Term]) -> str:
    """The terms as an SQLite FTS5 query: each a quoted phrase (words are
    letters and digits only, so nothing in them is FTS5 syntax)."""
    return " ".join('"' + " ".join(t.words) + '"' + ("*" if t.prefix else "") for t in terms)


def tsquery(terms: Sequence[Term]) -> str:
    """The terms as PostgreSQL ``to_tsquery`` text: words quoted, phrases
    with ``<->``, prefixes with ``:*``, all of them with ``&``."""

    def phrase(t: Term) -> str:
        quoted = [f"'{w}'" for w in t.words]
        if t.prefix:
            quoted[-1] += ":*"
        return "(" + " <-> ".join(quoted) + ")"

    return " & ".join(phrase(t) for t in terms)


def _json_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def search_text(message: Message) -> str:
    """What ``message`` is found by (see the module docs), as indexed."""
    pieces = [message.content, message.name or ""]
    for part in message.parts:
        if isinstance(part, ToolCallPart):
            pieces += [part.tool_name, _json_text(part.args)]
        elif isinstance(part, ToolResultPart):
            result = "" if isinstance(part.result, str) else _json_text(part.result)
            pieces += [part.tool_name, result]
    return "\n".join(pieces)[:MAX_INDEXED_CHARS]


def _spans(text: str, terms: Sequence[Term]) -> list[tuple[int, int, int]]:
    """Where the terms occur in ``text``: (start, end, term index), in order."""
    found = [(m.start(), m.end(), m.group().lower()) for m in _WORD.finditer(text)]
    words = [w for _, _, w in found]
    out: list[tuple[int, int, int]] = []
    for k, term in enumerate(terms):
        n = len(term.words)
        for i in range(len(words) - n + 1):
            if _at(words, i, term):
                out.append((found[i][0], found[i + n - 1][1], k))
    out.sort()
    return out


def _at(words: list[str], i: int, term: Term) -> bool:
    n = len(term.words)
    if words[i : i + n - 1] != list(term.words[:-1]):
        return False
    last = words[i + n - 1]
    return last.startswith(term.words[-1]) if term.prefix else last == term.words[-1]


def matches(message: Message, terms: Sequence[Term]) -> tuple[bool, float]:
    """Whether every term occurs in the message's searchable text, and the
    scan score: the sum over the terms of ``1 + log(occurrences)``, divided
    by ``1 + log(1 + words)`` so a short message that holds the terms ranks
    above a long one."""
    text = search_text(message)
    spans = _spans(text, terms)
    counts = [0] * len(terms)
    for _, _, k in spans:
        counts[k] += 1
    if not all(counts):
        return False, 0.0
    length = len(_WORD.findall(text))
    return True, scan_score(counts, length)


def scan_score(counts: Sequence[int], length: int) -> float:
    """The score of a message whose searchable text has ``length`` words,
    the terms occurring ``counts`` times (see :func:`matches`)."""
    return sum(1 + math.log(c) for c in counts) / (1 + math.log(1 + length))


def snippet(message: Message, terms: Sequence[Term]) -> SearchSnippet:
    """A passage of the message's searchable text around its first match
    (its start when nothing matches there, which an engine's own reading of
    the words may cause), with every match inside it highlighted."""
    text = search_text(message).translate(_FLAT)
    spans = _spans(text, terms)
    first = spans[0][0] if spans else 0
    start = max(0, first - _SNIPPET_BEFORE)
    if start > 0:  # begin at a word
        space = text.find(" ", start, first)
        start = space + 1 if space != -1 else start
    while start < first and text[start] == " ":
        start += 1
    end = min(len(text), start + _SNIPPET_LENGTH)
    if end < len(text):
        space = text.rfind(" ", max(start, first + 1), end)
        end = space if space != -1 else end
    while end > start and text[end - 1] == " ":
        end -= 1
    lead = "…" if text[:start].strip() else ""
    tail = "…" if text[end:].strip() else ""
    shift = len(lead) - start
    highlights: list[tuple[int, int]] = []
    for s, e, _ in spans:
        if s >= start and e <= end and (not highlights or s - shift >= highlights[-1][1]):
            highlights.append((s + shift, e + shift))
    return SearchSnippet(text=lead + text[start:end] + tail, highlights=highlights)


def hit(message: Message, score: float, terms: Sequence[Term]) -> SearchHit:
    """A search hit for ``message``."""
    return SearchHit(
        thread_id=message.thread_id or "",
        score=score,
        snippet=snippet(message, terms),
        message=message,
    )


def fingerprint(query: str, flt: ops.SearchFilter) -> str:
    """A short digest of a search's query and filters, kept in its cursors so
    that another search refuses them."""
    raw = json.dumps([query, repr(flt)], ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def decode_search_cursor(cursor: str, key: str) -> tuple[float, str]:
    """The (score, id) a search cursor holds. Raises ValidationError, also
    for the cursor of another search."""
    found, score, mid = decode_cursor(cursor, "search", ("id", "score", "id"))
    if found != key:
        raise ValidationError("belongs to another search", field="cursor")
    return float(score), mid


def _tool_of(message: Message, tool: str) -> bool:
    if message.role is Role.TOOL and message.name == tool:
        return True
    return any(
        isinstance(p, ToolCallPart | ToolResultPart) and p.tool_name == tool for p in message.parts
    )


def passes(message: Message, flt: ops.SearchFilter) -> bool:
    """Whether ``message`` passes the message filters of ``flt`` (the thread
    filters are the caller's): what a scanning backend checks."""
    meta_model = message.metadata.model if message.metadata is not None else None
    return (
        (flt.include_deleted or message.deleted_at is None)
        and (flt.role is None or message.role == flt.role)
        and (flt.execution_id is None or message.execution_id == flt.execution_id)
        and (flt.model is None or meta_model == flt.model)
        and (flt.tool_name is None or _tool_of(message, flt.tool_name))
        and (flt.since is None or message.created_at >= flt.since)
        and (flt.until is None or message.created_at < flt.until)
    )


def search_page(scored: Sequence[tuple[float, Message]], op: ops.Search) -> Page[SearchHit]:
    """The page of ``op`` from scored messages in any order (only those after
    ``op.after`` are used), best first: score, then id, both descending."""
    ranked = sorted(scored, key=lambda sm: (sm[0], sm[1].id), reverse=True)
    if op.after is not None:
        after = op.after
        ranked = [sm for sm in ranked if (sm[0], sm[1].id) < after]
    items = [hit(m, score, op.terms) for score, m in ranked[: op.limit]]
    nxt = None
    if len(ranked) > op.limit and items:
        last = items[-1]
        nxt = encode_cursor("search", [op.key, last.score, last.message.id])
    return Page[SearchHit](items=items, next_cursor=nxt)
