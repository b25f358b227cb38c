"""Selecting a window: the newest messages that fit a budget, with tool
exchanges kept whole (:func:`select_window`, :class:`WindowSelector`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from convostore.context.shapes import (
    call_ids,
    is_mandatory,
    is_reasoning_only,
    mandatory_messages,
    result_ids,
    shape_of,
)
from convostore.errors import ContextBudgetError, ValidationError
from convostore.model import Message, Role
from convostore.tokens import TokenCount, TokenCounter, token_count_for


class ContextWindow(BaseModel):
    """A model-ready selection of a thread's messages.

    Attributes:
        messages: the window, oldest first (seq order).
        tokens: the sum of the messages' token counts.
        estimated: whether any of those counts is a heuristic estimate.
        counters: the names of the counters behind the counts, sorted.
        max_tokens: the token budget it was built for, if any.
        max_messages: the message budget it was built for, if any.
        truncated: older messages exist that did not fit.
        omitted: ids of messages left out because their tool exchange is
            incomplete (a result without its call, a call without its results).
    """

    model_config = ConfigDict(frozen=True)

    messages: list[Message] = Field(default_factory=list)
    tokens: int = 0
    estimated: bool = False
    counters: list[str] = Field(default_factory=list)
    max_tokens: int | None = None
    max_messages: int | None = None
    truncated: bool = False
    omitted: list[str] = Field(default_factory=list)

    def __len__(self) -> int:
        return len(self.messages)

    def __iter__(self) -> Iterator[Message]:  # type: ignore[override]
        return iter(self.messages)

    def __getitem__(self, index: int) -> Message:
        return self.messages[index]

    @property
    def ids(self) -> list[str]:
        return [m.id for m in self.messages]


_NEWEST = "the newest message (with its tool exchange and the system prompt)"


def _check_budget(value: int | None, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError("must be a non-negative integer or None", field=field)
    return value


@dataclass(slots=True)
class _Comp:
    """A group of messages that must be in or out together."""

    members: list[int]
    open_ids: set[str] = field(default_factory=set)
    bad: bool = False
    mandatory: bool = False


class _Scanner:
    """Union-find over pulled messages (newest first) linked by tool ids and
    reasoning adjacency."""

    def __init__(self, mandatory_ids: set[str]) -> None:
        self.mandatory_ids = mandatory_ids
        self.pulled: list[Message] = []
        self.parent: list[int] = []
        self.comps: dict[int, _Comp] = {}
        self.waiting: dict[str, list[int]] = {}  # result id -> pulled indexes

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> int:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        ca, cb = self.comps[ra], self.comps[rb]
        if len(ca.members) < len(cb.members):
            ra, rb, ca, cb = rb, ra, cb, ca
        self.parent[rb] = ra
        ca.members.extend(cb.members)
        ca.open_ids |= cb.open_ids
        ca.bad = ca.bad or cb.bad
        ca.mandatory = ca.mandatory or cb.mandatory
        del self.comps[rb]
        return ra

    def comp(self, i: int) -> _Comp:
        return self.comps[self.find(i)]

    def add(self, m: Message) -> None:
        i = len(self.pulled)
        self.pulled.append(m)
        self.parent.append(i)
        comp = _Comp([i], mandatory=m.id in self.mandatory_ids)
        self.comps[i] = comp
        calls, results, reasoning_only = shape_of(m)
        for rid in results:
            # A result waits for the nearest call of its id before it (older);
            # results of the same id met before that call answer it too.
            if rid in self.waiting:
                self.waiting[rid].append(i)
                self.union(i, self.waiting[rid][0])
            else:
                self.waiting[rid] = [i]
                comp.open_ids.add(rid)
        for cid in calls:
            # The nearest call of an id claims every result waiting for it; an
            # older result of the same id then waits for an older call (ids
            # reused from turn to turn pair up turn by turn).
            waiting = self.waiting.pop(cid, None)
            if waiting is None:
                self.comp(i).bad = True  # a call with no result after it
                continue
            root = self.find(i)
            for j in waiting:
                root = self.union(root, j)
            self.comps[root].open_ids.discard(cid)
        if reasoning_only:
            if i > 0 and self.pulled[i - 1].role is Role.ASSISTANT:
                self.union(i, i - 1)
            else:
                # Reasoning that nothing follows (yet), or that a non-assistant
                # message follows, belongs to no call or reply: providers refuse it.
                self.comp(i).bad = True

    def needs_more_for_mandatory(self) -> bool:
        """A component holding a mandatory message is still incomplete, or the
        last pulled message of one might have its reasoning just before it."""
        for c in self.comps.values():
            if c.mandatory and c.open_ids:
                return True
        if self.pulled:
            last = len(self.pulled) - 1
            c = self.comp(last)
            m = self.pulled[last]
            if c.mandatory and m.role is Role.ASSISTANT and (call_ids(m) or is_reasoning_only(m)):
                return True
        return False


def _dangling(mandatory: Sequence[Message]) -> set[str]:
    """Ids of mandatory messages whose tool partners are not known to be
    mandatory too, so the selector must read back to them.

    A call pairs with the results after it up to the next call of the same id,
    and any message may lie between them, so a partner counts as known only
    when its id is called once among the mandatory messages.
    """
    call_count: dict[str, int] = {}
    for m in mandatory:
        for c in call_ids(m):
            call_count[c] = call_count.get(c, 0) + 1
    results = {r for m in mandatory for r in result_ids(m)}
    out = set()
    for m in mandatory:
        calls, answers, reasoning_only = shape_of(m)
        if (
            reasoning_only
            or (m.role is Role.ASSISTANT and calls)
            or any(c not in results or call_count[c] > 1 for c in calls)
            or any(call_count.get(r, 0) != 1 for r in answers)
        ):
            out.add(m.id)
    return out


def select_window(
    mandatory: Sequence[Message],
    newest_first: Iterable[Message],
    *,
    max_tokens: int | None,
    max_messages: int | None,
    start_on_user: bool = False,
    counter: TokenCounter | None = None,
) -> ContextWindow:
    """Choose the context window from a lazily read history.

    Args:
        mandatory: the thread's live system and pinned messages, in seq order.
        newest_first: the thread's live (not deleted, not archived) messages
            from the newest backwards, down to the start of the thread; it may
            repeat mandatory ones. Pulled only as far as the budget needs.
        max_tokens: token budget for the whole window, or ``None``.
        max_messages: message budget for the whole window, or ``None``.
        start_on_user: make the non-mandatory part start on a user message.
        counter: counts a message that carries no stored ``token_count``
            (default: the heuristic, :data:`convostore.tokens.HEURISTIC`).

    Returns:
        The window, oldest first.

    Raises:
        ContextBudgetError: the mandatory messages (with the tool exchanges
            they belong to) alone exceed a budget.
        ValidationError: a budget is negative or not an integer.
    """
    selector = WindowSelector(
        mandatory,
        max_tokens=max_tokens,
        max_messages=max_messages,
        start_on_user=start_on_user,
        counter=counter,
    )
    for m in newest_first:
        if not selector.wants_more:
            return selector.finish(reached_start=False)
        selector.feed([m])
    return selector.finish(reached_start=True)


def framed_count(
    m: Message, counter: TokenCounter | None, framing: Callable[[Message], int] | None
) -> TokenCount:
    """``token_count_for(m, counter)`` with ``framing``'s tokens added (never
    below 0): what ``m`` costs in a window."""
    c = token_count_for(m, counter)
    extra = framing(m) if framing is not None else 0
    return c._replace(tokens=max(0, c.tokens + extra)) if extra else c


def select_messages(
    messages: Sequence[Message],
    *,
    max_tokens: int | None = None,
    max_messages: int | None = None,
    start_on_user: bool = False,
    counter: TokenCounter | None = None,
    framing: Callable[[Message], int] | None = None,
) -> ContextWindow:
    """:func:`select_window` over a whole thread already in memory (oldest first).

    Deleted and archived messages are skipped; the system prompt and pinned
    messages are the mandatory part. Messages need not carry ``seq``.
    ``framing`` is as for :class:`WindowSelector`.
    """
    live = [m for m in messages if m.deleted_at is None and m.archived_at is None]
    pos = {m.id: i for i, m in enumerate(live)}
    selector = WindowSelector(
        [m for m in live if is_mandatory(m)],
        max_tokens=max_tokens,
        max_messages=max_messages,
        start_on_user=start_on_user,
        counter=counter,
        position=lambda m: pos.get(m.id),
        framing=framing,
    )
    for m in reversed(live):
        if not selector.wants_more:
            return selector.finish(reached_start=False)
        selector.feed([m])
    return selector.finish(reached_start=True)


class WindowSelector:
    """The push-driven form of :func:`select_window`, for readers that fetch pages.

    Feed it the thread's live messages newest-first, a page at a time, while
    :attr:`wants_more` is true; then call :meth:`finish`, saying whether the
    pages reached the start of the thread. Feeding more than it wanted is
    harmless; stopping early is what keeps a read O(window)::

        sel = WindowSelector(mandatory, max_tokens=4000, max_messages=None)
        while sel.wants_more and (page := read_older_page()):
            sel.feed(reversed(page))
        window = sel.finish(reached_start=page_was_the_first)

    ``framing`` adds tokens to each message's count: what the target wire
    format spends around it beyond the OpenAI Chat framing a stored count
    includes (see :func:`convostore.formats.framing`).

    Raises:
        ContextBudgetError: from the constructor or :meth:`finish`, when the
            mandatory part alone exceeds a budget.
        ValidationError: a budget is negative or not an integer.
    """

    def __init__(
        self,
        mandatory: Sequence[Message],
        *,
        max_tokens: int | None,
        max_messages: int | None,
        start_on_user: bool = False,
        counter: TokenCounter | None = None,
        position: Callable[[Message], int | None] | None = None,
        framing: Callable[[Message], int] | None = None,
    ) -> None:
        self.max_tokens = _check_budget(max_tokens, "max_tokens")
        self.max_messages = _check_budget(max_messages, "max_messages")
        self.start_on_user = bool(start_on_user)
        self._counter = counter
        self._position = position
        self._framing = framing
        self._costs: dict[str, tuple[int, str, bool]] = {}
        candidates: list[Message] = []
        for m in mandatory:
            if all(m.id != x.id for x in candidates):
                candidates.append(m)
        # Of the candidates (every live system and pinned message), the thread's
        # system prompt and the pinned ones are mandatory; a later system
        # message is ordinary history, merged into the stream where it belongs.
        mand = mandatory_messages(candidates, position=self._pos)
        self._system = next((m for m in mand if m.role is Role.SYSTEM), None)
        self._mand = mand
        self._mand_ids = {m.id for m in mand}
        mand_tokens = sum(self._cost(m) for m in mand)
        if self.max_tokens is not None and mand_tokens > self.max_tokens:
            raise ContextBudgetError(mand_tokens, self.max_tokens)
        if self.max_messages is not None and len(mand) > self.max_messages:
            raise ContextBudgetError(len(mand), self.max_messages, "messages")
        self._tok_room = None if self.max_tokens is None else self.max_tokens - mand_tokens
        self._msg_room = None if self.max_messages is None else self.max_messages - len(mand)
        self._merge = all(self._pos(m) is not None for m in candidates)
        self._pending = (
            sorted(candidates, key=lambda m: self._pos(m) or 0, reverse=True) if self._merge else []
        )
        self._dangling = _dangling(mand)
        self._scan = _Scanner(self._mand_ids)
        self._seen: set[str] = set()
        self._cum_tokens = 0
        self._cum_msgs = 0
        self._cut_known = False
        self._finished = False

    def _pos(self, m: Message) -> int | None:
        return self._position(m) if self._position is not None else m.seq

    def _cost(self, m: Message) -> int:
        c = self._costs.get(m.id)
        if c is None:
            c = self._costs[m.id] = framed_count(m, self._counter, self._framing)
        return c[0]

    def _take(self, m: Message) -> None:
        self._seen.add(m.id)
        self._dangling.discard(m.id)
        self._scan.add(m)
        if m.id not in self._mand_ids:
            self._cum_tokens += self._cost(m)
            self._cum_msgs += 1

    @property
    def wants_more(self) -> bool:
        """Whether older messages could still change the window."""
        if self._finished:
            return False
        over = (self._tok_room is not None and self._cum_tokens > self._tok_room) or (
            self._msg_room is not None and self._cum_msgs > self._msg_room
        )
        if not over or self._dangling or self._scan.needs_more_for_mandatory():
            return True
        # Over budget: older messages cannot join the window, but read on until
        # the newest unit of the conversation is known whole, so that a window
        # it does not fit in is refused with what it needs (see finish).
        return not self._has_cut()

    def _has_cut(self) -> bool:
        """Some pulled prefix holding a message that is neither mandatory nor
        broken can be cut from the older rest (the answer never turns false)."""
        if self._cut_known:
            return True
        scan = self._scan
        n = len(scan.pulled)
        cover = self._cover(reached_start=False)
        spanning = 0
        free = False
        for k in range(n - 1):
            spanning += cover[k]
            c = scan.comp(k)
            free = free or not (c.bad or c.mandatory)
            if free and not spanning and self._user_start_ok(k):
                self._cut_known = True
                return True
        return False

    def _user_start_ok(self, k: int) -> bool:
        if not self.start_on_user:
            return True
        scan = self._scan
        for i in range(k, -1, -1):
            c = scan.comp(i)
            if not (c.bad or c.mandatory):
                return scan.pulled[i].role is Role.USER
        return True

    def _cover(self, *, reached_start: bool) -> list[int]:
        """A difference array over pulled indexes of the groups that are not
        fixed: a cut between k and k+1 is allowed when the prefix sum at k is 0.
        An unresolved group reaches past everything pulled."""
        scan = self._scan
        n = len(scan.pulled)
        cover = [0] * (n + 1)
        for c in scan.comps.values():
            if c.bad or c.mandatory or (len(c.members) < 2 and not c.open_ids):
                continue
            cover[min(c.members)] += 1
            cover[n if c.open_ids else max(c.members)] -= 1
        return cover

    def feed(self, newest_first: Iterable[Message]) -> None:
        """Take the next older messages (newest first); repeats are ignored."""
        for m in newest_first:
            if m.id in self._seen:
                continue
            p = self._pos(m)
            if p is not None:
                while self._pending and (self._pos(self._pending[0]) or 0) > p:
                    mm = self._pending.pop(0)
                    if mm.id not in self._seen:
                        self._take(mm)  # a mandatory message newer than m goes first
            self._take(m)

    def finish(self, *, reached_start: bool) -> ContextWindow:
        """Choose the window from what was fed.

        Args:
            reached_start: the messages fed go back to the start of the thread.
        """
        self._finished = True
        scan = self._scan
        if reached_start:
            for mm in self._pending:
                if mm.id not in self._seen:
                    self._take(mm)
            self._pending = []
            for c in scan.comps.values():
                if c.open_ids:
                    c.bad = True  # results whose call is not in the thread
        max_tokens, max_messages = self.max_tokens, self.max_messages
        # Every message here was counted when it was taken (mandatory ones in
        # the constructor), so the counts are read, never made, from here on.
        costs = self._costs
        pulled = scan.pulled
        n = len(pulled)
        comp_of = [scan.comps[scan.find(i)] for i in range(n)]
        fixed = {i for i in range(n) if comp_of[i].mandatory and not comp_of[i].bad}
        bad = {i for i in range(n) if comp_of[i].bad}
        unpulled = [m for m in self._mand if m.id not in self._seen]
        fixed_msgs = unpulled + [pulled[i] for i in sorted(fixed)]
        fixed_tokens = sum(costs[m.id][0] for m in fixed_msgs)
        if max_tokens is not None and fixed_tokens > max_tokens:
            raise ContextBudgetError(fixed_tokens, max_tokens)
        if max_messages is not None and len(fixed_msgs) > max_messages:
            raise ContextBudgetError(len(fixed_msgs), max_messages, "messages")

        # Cutting between pulled[k] and pulled[k+1] is allowed when no group that
        # is not already fixed spans the cut.
        cover = self._cover(reached_start=reached_start)
        best = -1
        tokens = count = spanning = 0
        over = False
        needed: tuple[int, int] | None = None  # the smallest window with a message
        oldest: Message | None = None
        for k in range(n):
            spanning += cover[k]
            if k not in fixed and k not in bad:
                tokens += costs[pulled[k].id][0]
                count += 1
                oldest = pulled[k]
            over = over or (
                (max_tokens is not None and fixed_tokens + tokens > max_tokens)
                or (max_messages is not None and len(fixed_msgs) + count > max_messages)
            )
            if over and needed is not None:
                break
            if spanning or (k == n - 1 and not reached_start):
                continue
            if self.start_on_user and oldest is not None and oldest.role is not Role.USER:
                continue
            if needed is None and count:
                needed = (fixed_tokens + tokens, len(fixed_msgs) + count)
            if not over:
                best = k
        if (
            needed is not None
            and all(m.role is Role.SYSTEM for m in fixed_msgs)
            and not any(i not in fixed and i not in bad for i in range(best + 1))
        ):
            # Not even the newest message (with its tool exchange) fits beside
            # the system prompt: refuse rather than send a window holding the
            # system prompt alone, without the conversation.
            need_tokens, need_msgs = needed
            if max_tokens is not None and need_tokens > max_tokens:
                raise ContextBudgetError(need_tokens, max_tokens, what=_NEWEST)
            if max_messages is not None and need_msgs > max_messages:
                raise ContextBudgetError(need_msgs, max_messages, "messages", what=_NEWEST)

        chosen = [i for i in range(best + 1) if i not in fixed and i not in bad]
        omitted = [pulled[i].id for i in sorted(bad) if i <= best or comp_of[i].mandatory]
        window = unpulled + [pulled[i] for i in sorted(set(chosen) | fixed, reverse=True)]
        if self._merge and all(self._pos(m) is not None for m in window):
            window.sort(key=lambda m: self._pos(m) or 0)
        system = self._system
        if system is not None and window and window[0].id != system.id:
            # The system prompt leads the window whatever its place in the thread.
            window = [system] + [m for m in window if m.id != system.id]
        return ContextWindow(
            messages=window,
            tokens=sum(costs[m.id][0] for m in window),
            estimated=any(costs[m.id][2] for m in window),
            counters=sorted({costs[m.id][1] for m in window}),
            max_tokens=max_tokens,
            max_messages=max_messages,
            truncated=not reached_start
            or any(i not in fixed and i not in bad for i in range(best + 1, n)),
            omitted=omitted,
        )
