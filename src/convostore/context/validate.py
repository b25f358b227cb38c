"""Checking a list of messages against the tool-pairing rules of each wire
format of :mod:`convostore.formats` (:func:`validate_context`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from convostore.context.shapes import call_ids, is_reasoning_only, result_ids
from convostore.formats._common import FORMATS, FormatName, format_name
from convostore.model import Message, Role

Dialect = FormatName
"""A format name of :mod:`convostore.formats`; the names of earlier releases
(``anthropic-messages``, ``openai.chat``...) are accepted too."""

DIALECTS: tuple[Dialect, ...] = FORMATS


IssueCode = Literal[
    "result_without_call",
    "call_without_result",
    "result_before_call",
    "results_not_adjacent",
    "duplicate_call_id",
    "duplicate_result",
    "reasoning_not_followed",
    "first_not_user",
]


class ContextIssue(BaseModel):
    """One way a list of messages breaks a provider's rules.

    Attributes:
        code: what is wrong (``result_without_call``, ``call_without_result``,
            ``result_before_call``, ``results_not_adjacent``, ``duplicate_call_id``,
            ``duplicate_result``, ``reasoning_not_followed``, ``first_not_user``).
        index: position of the offending message in the list.
        message_id: its id.
        tool_call_id: the tool call concerned, if any.
        detail: a sentence for people.
    """

    model_config = ConfigDict(frozen=True)

    code: IssueCode
    index: int
    message_id: str
    tool_call_id: str | None = None
    detail: str


def validate_context(
    messages: Sequence[Message],
    dialect: str = "openai-chat",
    *,
    require_user_first: bool | None = None,
) -> list[ContextIssue]:
    """Check tool-call pairing as a provider would, before sending.

    Rules for every dialect: each tool result answers the nearest call of its
    id made earlier in the list; each call gets exactly one result; a call id
    is not used again while its call waits for its result. An id may be
    reused once its call is answered (some OpenAI-compatible servers number
    calls ``call_0``, ``call_1``... in every turn), except for
    ``anthropic``, which wants every ``tool_use`` id of a request to
    be unique (``duplicate_call_id``).

    ``openai-chat``: the results of an assistant message's calls follow it
    directly, before any other message (Chat Completions rejects anything in
    between). ``anthropic`` and ``gemini``: the same, since all ``tool_result``
    blocks must be in the message right after the ``tool_use``; and the first
    message after the system prompt must be the user's (``require_user_first``,
    on by default for this dialect). ``openai-responses``: outputs may come
    anywhere after their call, but a reasoning item must be followed by the
    assistant item it belongs to.

    Returns:
        The issues found, in list order; empty when the list is valid.
    """
    dialect = format_name(dialect, field="dialect")
    if require_user_first is None:
        require_user_first = dialect in ("anthropic", "gemini")
    adjacent = dialect in ("openai-chat", "anthropic", "gemini")
    issues: list[ContextIssue] = []

    def issue(code: IssueCode, i: int, detail: str, call_id: str | None = None) -> None:
        issues.append(
            ContextIssue(
                code=code, index=i, message_id=messages[i].id, tool_call_id=call_id, detail=detail
            )
        )

    # A result answers the nearest call of its id before it. An id may be used
    # again once its call is answered (some servers number calls per turn);
    # Anthropic wants every id of a request to be unique.
    current: dict[str, int] = {}  # call id -> index of its nearest call so far
    answered: set[tuple[str, int]] = set()  # (call id, index of the call)
    made: list[tuple[str, int]] = []
    later_calls = {c: i for i, m in enumerate(messages) for c in call_ids(m)}
    open_block: set[tuple[str, int]] = set()  # calls of the last caller not yet answered
    block_closed_for: set[tuple[str, int]] = set()
    for i, m in enumerate(messages):
        results = result_ids(m)
        mcalls = call_ids(m)
        if open_block and not results:
            block_closed_for |= open_block
            open_block = set()
        for rid in results:
            at = current.get(rid)
            if at is None:
                if later_calls.get(rid, -1) > i:
                    issue("result_before_call", i, f"result for {rid!r} precedes its call", rid)
                else:
                    issue(
                        "result_without_call",
                        i,
                        f"result for {rid!r} has no call in the context",
                        rid,
                    )
            elif (rid, at) in answered:
                issue("duplicate_result", i, f"call {rid!r} is answered twice", rid)
            else:
                answered.add((rid, at))
                if adjacent and (rid, at) in block_closed_for:
                    issue(
                        "results_not_adjacent",
                        i,
                        f"result for {rid!r} does not directly follow its call",
                        rid,
                    )
                open_block.discard((rid, at))
        if mcalls:
            block_closed_for |= open_block
            open_block = set()
            for cid in mcalls:
                before = current.get(cid)
                if before is not None:
                    if before == i or (cid, before) not in answered:
                        issue(
                            "duplicate_call_id",
                            i,
                            f"call id {cid!r} is used again before its call is answered",
                            cid,
                        )
                        continue
                    if dialect == "anthropic":
                        issue(
                            "duplicate_call_id",
                            i,
                            f"call id {cid!r} is used twice; Anthropic wants each "
                            "tool_use id of a request to be unique",
                            cid,
                        )
                current[cid] = i
                made.append((cid, i))
                open_block.add((cid, i))
        if dialect in ("openai-responses", "vercel-ui") and is_reasoning_only(m):
            nxt = messages[i + 1] if i + 1 < len(messages) else None
            if nxt is None or nxt.role is not Role.ASSISTANT:
                issue(
                    "reasoning_not_followed",
                    i,
                    "a reasoning item must be followed by the assistant item it precedes",
                )
    for cid, i in made:
        if (cid, i) not in answered:
            issue("call_without_result", i, f"call {cid!r} has no result in the context", cid)
    if require_user_first:
        first = next((i for i, m in enumerate(messages) if m.role is not Role.SYSTEM), None)
        if first is not None and messages[first].role is not Role.USER:
            issue("first_not_user", first, "the first non-system message must be the user's")
    issues.sort(key=lambda x: x.index)
    return issues
