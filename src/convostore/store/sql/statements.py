"""Query records and the statements an engine supplies to the shared handlers.

Handlers never write SQL: they yield :class:`Query` records naming a statement
of the engine's :class:`Statements`, which is all that differs between SQLite
and PostgreSQL besides connection handling. A statement's parameters are
either a tuple, in the order documented on the attribute (``?`` or ``%s``
placeholders), or a dict of the names documented (``:name`` or ``%(name)s``).

Values whose form differs per engine go through the statements too:
:meth:`Statements.time` (a time parameter), :meth:`Statements.id_list` (a list
of ids for an ``IN``) and :attr:`Statements.no_limit`. Writes of several rows,
whose parameters differ in shape (one statement of arrays, or one statement
run per row), are built by the methods at the end of the class.

Every thread read (``thread_get``, ``thread_lock``, each row of a listing)
returns the columns of :data:`convostore.store.sql.rows.THREAD_READ` in that
order; ``thread_lock_lookup`` returns one column more, first.
"""

from __future__ import annotations

import datetime as dt
import enum
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from convostore.store.rules.search import Term

__all__ = ["Fetch", "Query", "Statements"]


class Fetch(enum.Enum):
    """What the driver hands back to a handler after running a query."""

    NONE = "none"  # nothing
    ONE = "one"  # the first row, or None
    ALL = "all"  # every row, as a list
    ROWCOUNT = "rowcount"  # the number of rows affected
    STREAM = "stream"
    """The rows as an iterable, to be consumed before the handler's next query:
    a driver may hand over its cursor, so a whole thread is decoded as its rows
    arrive rather than after all of them are held as text."""


class Query(NamedTuple):
    """One statement to run: its text, parameters and what to fetch.

    ``many``: ``params`` is a list of parameter sets, the statement is run once
    for each (``executemany``)."""

    sql: Any  # str or bytes, as the engine's driver takes it
    params: Any = None
    fetch: Fetch = Fetch.ALL
    many: bool = False


#: A message row as the handlers hand it to the insert builders: seq, id,
#: role, execution_id, created_at, pinned, deleted, archived, body
#: (see :func:`convostore.store.sql.rows.message_row`).
MessageRow = tuple[int, str, str, str | None, dt.datetime, bool, bool, bool, str]


class Statements(ABC):
    """The statement text of one engine (and one schema, for PostgreSQL).

    Attributes are statements, ``Any`` because an engine keeps them in the
    form its driver takes (text or bytes). The parameters of each are
    documented with it.
    """

    engine: str
    """``sqlite`` or ``postgres``."""
    no_limit: Any
    """The value of a ``LIMIT`` parameter that means no limit."""

    # threads -------------------------------------------------------------------
    thread_get: Any
    """(tenant, id) -> a THREAD_READ row."""
    thread_lock: Any
    """(tenant, id) -> a THREAD_READ row, the thread locked until the write
    transaction ends."""
    thread_lock_lookup: Any
    """(tenant, ids, tenant, id) -> (the stored bodies of the tenant's messages
    among ``ids`` as one JSON array, *THREAD_READ), the thread locked."""
    thread_exists: Any
    """(tenant, id) -> a row if the thread exists."""
    thread_insert: Any
    """The named values of ``rows.thread_values`` -> a row, none when the id is taken."""
    thread_update: Any
    """The named values of ``rows.thread_values``: every column of the thread."""
    thread_delete: Any
    """(tenant, id)."""
    thread_lineage: Any = None
    """(tenant, id) -> (lineage,): the JSON array of the thread's ``lineage``,
    NULL unless it is a branch; no row when there is no such thread."""
    messages_mandatory_in: Any = None
    """(tenant, threads) -> (thread_id, seq, body) of the live, unarchived
    system and pinned messages of the threads (an :meth:`id_list`)."""
    thread_tree: Any = None
    """(tenant, root, root) -> THREAD_READ rows of the root and of every thread
    whose ``root_id`` is ``root``."""
    thread_advance: Any = None
    """An append's counter changes, relative, on a live thread (an import in
    progress when ``importing``) at the expected revision (when not NULL):
    named ``n, turns, tools, tokens, prompt, completion, total, currency,
    input_cost, output_cost, total_cost, now, tenant, id, rev, importing`` ->
    (message_count, turn_count) after the change, none when no row matched.
    Engines that append another way leave it ``None``."""
    thread_advance_counts: Any = None
    """The same for a batch without usage or cost, positional: (n, turns,
    tools, tokens, now, tenant, id, rev, importing)."""

    # messages ------------------------------------------------------------------
    message_get: Any
    """(tenant, id) -> (body,)."""
    message_thread: Any
    """(tenant, id) -> (thread_id,)."""
    message_in_thread: Any
    """(tenant, thread, id) -> (body,)."""
    message_update: Any
    """(pinned, deleted, archived, body, tenant, thread, seq)."""
    messages_delete: Any
    """(tenant, thread): every message of the thread."""
    messages_delete_from: Any
    """(tenant, thread, seq): the thread's messages at ``seq`` and above."""
    message_ids_taken: Any
    """(tenant, ids) -> (id,) of each stored message among ``ids``."""
    messages_all: Any
    """(tenant, thread) -> (body,) of every message, in seq order."""
    messages_all_live: Any
    """(tenant, thread) -> (body,) of every message not soft-deleted, in seq order."""
    messages_all_active: Any
    """(tenant, thread) -> (body,) of every active (live, unarchived) message, in seq
    order, through the index holding exactly them."""
    messages_mandatory: Any
    """(tenant, thread) -> (body,) of the live, unarchived system and pinned
    messages, in seq order."""
    context_start: Any
    """Named ``tenant, thread, before, limit`` -> (tag, seq, body): the
    mandatory messages (tag 0) and up to ``limit`` live, unarchived messages
    below ``before``, newest first (tag 1), in one read."""
    context_page: Any
    """Named ``tenant, thread, before, limit`` -> (seq, body) of up to
    ``limit`` live, unarchived messages below ``before``, newest first."""
    messages_by_execution: Any
    """(tenant, execution_id, limit) -> (body,) of live messages, (thread, seq) order."""
    messages_by_execution_in_thread: Any
    """(tenant, execution_id, thread, limit) -> the same, in one thread."""

    # attachments -----------------------------------------------------------------
    attachment_insert: Any = None
    """(tenant, sha256, media_type, size_bytes, created, data): stored unless
    the tenant holds that hash."""
    attachment_infos: Any = None
    """(tenant, hashes) -> (sha256, media_type, size_bytes, created) of each
    stored among ``hashes`` (an :meth:`id_list`), share-locked where the engine
    has concurrent writers."""
    attachments_lock: Any = None
    """(tenant, hashes) -> (sha256,) of those stored, locked against the
    writes that reference them (``attachment_infos`` takes the shared lock),
    so that a purge deciding what is unreferenced sees their references."""
    attachments_gc_candidates: Any = None
    """(tenant, before) -> (sha256,) of attachments stored before ``before``
    that no reference is left for."""
    attachment_get: Any = None
    """(tenant, sha256) -> (media_type, size_bytes, created, data)."""
    attachment_ref_insert: Any = None
    """(tenant, sha256, thread, message, created): one reference; one already
    recorded is kept."""
    attachment_refs_release: Any = None
    """(tenant, thread) -> (sha256,) of each reference of the thread, deleted."""
    attachment_ref_delete: Any = None
    """(tenant, sha256, thread, message) -> (sha256,) of the one reference, deleted."""
    attachments_unreferenced_delete: Any = None
    """(tenant, hashes) -> a row per attachment deleted: those among ``hashes``
    no reference is left for."""
    attachment_refs_gc: Any = None
    """(tenant, before): delete references recorded before ``before`` whose
    message is not stored."""

    # user and app state ------------------------------------------------------------
    state_get: Any = None
    """(tenant, scope, user) -> (revision, updated, body); ``user`` is ``""``
    for app state, ``updated`` a :meth:`time` as stored."""
    state_claim: Any = None
    """(tenant, scope, user, updated): an empty row at revision 0 unless there
    is one, so that :attr:`state_lock` has a row to lock."""
    state_lock: Any = None
    """(tenant, scope, user) -> (revision, updated, body), the row locked until
    the write transaction ends."""
    state_write: Any = None
    """(revision, updated, body, tenant, scope, user)."""

    # parameter forms -------------------------------------------------------------

    @abstractmethod
    def time(self, value: dt.datetime) -> Any:
        """A time as this engine's statements take it."""

    @abstractmethod
    def id_list(self, ids: Sequence[str]) -> Any:
        """A list of ids as the ``ids`` parameter of this engine's statements."""

    # statements built per shape ----------------------------------------------------

    @abstractmethod
    def thread_listing(
        self, *, what: str, user: bool, agent: bool, include_deleted: bool, after: bool
    ) -> Any:
        """Threads of a tenant, newest activity first, filtered as asked.

        ``what`` is ``rows`` (THREAD_READ rows, at most ``limit``) or
        ``count``. Named parameters: tenant, user_id, agent_name, after_at (a
        :meth:`time`), after_id, limit."""

    @abstractmethod
    def messages_page(self, *, backward: bool, include_deleted: bool) -> Any:
        """(tenant, thread, seq bound, limit) -> (body,) of the messages after
        the bound in seq order, or, ``backward``, below it newest first."""

    def lineage_page(self, segments: int, with_mandatory: bool) -> Any:
        """Named ``tenant``, ``limit``, ``thread<i>`` and ``before<i>`` for
        each of ``segments`` threads, and, ``with_mandatory``, ``threads`` (a
        list) -> (tag, thread_id, seq, body): up to ``limit`` live, unarchived
        messages, newest first, each thread's below its bound (tag 1), and the
        mandatory messages of ``threads`` (tag 0); or ``None`` where reading
        the threads one by one costs no round trips."""
        return None

    @abstractmethod
    def insert_messages(
        self, tenant: str, thread_id: str, rows: Sequence[MessageRow], *, skip_taken: bool = False
    ) -> Query:
        """Insert ``rows`` into the thread. ``skip_taken``: a row whose id or
        seq is taken is skipped instead of failing the statement (the query
        fetches the row count, so the handler sees it)."""

    @abstractmethod
    def append_write(
        self,
        tenant: str,
        thread_id: str,
        counters: dict[str, Any],
        rows: Sequence[MessageRow],
    ) -> tuple[Query, ...]:
        """An append's writes on a locked thread: ``rows`` and the thread's new
        counters (the named values of ``rows.counter_values``)."""

    def append_if_unchanged(
        self,
        tenant: str,
        thread_id: str,
        counters: dict[str, Any],
        known_counters: dict[str, Any],
        known_body: str,
        rows: Sequence[MessageRow],
    ) -> Query:
        """An append's writes in one statement without a lock query, made only
        if the thread row still holds ``known_counters`` and ``known_body``
        and no id of ``rows`` is stored; fetches the row count (0: nothing was
        written). Engines whose appends take no round trips to speak of need
        not offer it."""
        raise NotImplementedError(f"{self.engine} statements have no append_if_unchanged")

    @abstractmethod
    def search(self, *, filters: frozenset[str], after: bool) -> Any:
        """A full-text search of a tenant's messages, best first. Parameters
        (a dict): ``tenant``, ``query`` (the engine's query text), ``limit``,
        one per name in ``filters`` (``user_id``, ``thread_id``,
        ``agent_name``, ``role``, ``model``, ``tool_name``, ``execution_id``,
        ``since``, ``until`` as :meth:`search_time` forms, and ``deleted`` when
        deleted messages are included), and with ``after`` ``after_score`` and
        ``after_id``. Rows: (score, body), score descending then id
        descending."""

    @abstractmethod
    def search_query(self, terms: Sequence[Term]) -> str:
        """Parsed search terms as the engine's full-text query text."""

    @abstractmethod
    def search_time(self, value: dt.datetime) -> Any:
        """A time filter of a search as the parameter :meth:`search` takes."""
