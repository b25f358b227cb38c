"""Every hot SQLite query reads through the index meant for it.

Costs that do not grow with a thread's history depend on the query planner
choosing the right index; without table statistics it once preferred the
clustered key and read a whole thread for the system prompt. The plans are
checked here, deterministically, instead of with timings.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from convostore import Message, open_store
from convostore.store.sqlite import _statements

pytestmark = pytest.mark.performance

THREAD_COLS = _statements.THREAD_READ_COLUMNS
CASES = {
    "get message by id": (_statements.GET_MESSAGE, ("default", "m"), "INDEX messages_by_id"),
    "a batch of ids": (
        _statements.MESSAGES_BY_IDS.format(marks=",".join("?" * 50)),
        ("default", *(f"m{i}" for i in range(50))),
        "INDEX messages_by_id",
    ),
    "messages of an execution": (
        _statements.MESSAGES_BY_EXECUTION.format(thread=""),
        ("default", "e", 1000),
        "INDEX messages_by_execution",
    ),
    "newest page": (
        _statements.MESSAGES_BACKWARD.format(deleted="AND deleted = 0"),
        ("default", "t", 9, 20),
        "PRIMARY KEY (tenant_id=? AND thread_id=? AND seq<?)",
    ),
    "oldest page": (
        _statements.MESSAGES_FORWARD.format(deleted=""),
        ("default", "t", 0, 20),
        "PRIMARY KEY (tenant_id=? AND thread_id=? AND seq>?)",
    ),
    # Windows read only live, unarchived rows: archived or deleted history is
    # never stepped over, however long it is.
    "a context window's first read": (
        _statements.CONTEXT_START,
        ("default", "t", 9, 20),
        "INDEX messages_live (tenant_id=? AND thread_id=? AND seq<?)",
    ),
    "a context window's next page": (
        _statements.CONTEXT_PAGE,
        ("default", "t", 9, 20),
        "INDEX messages_live (tenant_id=? AND thread_id=? AND seq<?)",
    ),
    "whole thread": (
        _statements.MESSAGES_ALL_LIVE,
        ("default", "t"),
        "PRIMARY KEY (tenant_id=? AND thread_id=?)",
    ),
    "a user's threads": (
        f"SELECT {THREAD_COLS} FROM threads WHERE tenant_id = ? AND user_id = ? "
        "AND deleted_us IS NULL ORDER BY updated_us DESC, id DESC LIMIT ?",
        ("default", "u", 100),
        "INDEX threads_by_user",
    ),
    "a tenant's threads": (
        f"SELECT {THREAD_COLS} FROM threads WHERE tenant_id = ? "
        "AND deleted_us IS NULL ORDER BY updated_us DESC, id DESC LIMIT ?",
        ("default", 100),
        "INDEX threads_by_activity",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hot_query_uses_its_index(name: str, tmp_path: Path) -> None:
    query, params, expected = CASES[name]
    with open_store(f"sqlite:///{tmp_path / 'plans.db'}") as store:
        thread = store.create_thread(id="t", user_id="u")
        store.append(
            thread.id,
            [Message.system("s")]
            + [Message.user(f"m{i}", execution_id="e" if i % 7 == 0 else None) for i in range(200)],
        )
        conn = store.backend._conn()
        plan = " | ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {query}", params))
    assert expected in plan, plan
    if query is _statements.CONTEXT_START:
        assert "INDEX messages_live_mandatory (tenant_id=? AND thread_id=?)" in plan, plan
    # scanning a LIMITed subquery's own rows is fine; scanning a table is not
    tables = plan.replace("SCAN (subquery-", "(subquery-")
    assert "SCAN" not in tables and "TEMP B-TREE" not in plan, plan
