"""``export`` and ``import``: round trips, resumable JSONL imports, corrupt files,
and memory that stays bounded however long the imported thread is."""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from convostore.cli import _common
from convostore.cli.transfer import JSONL_FORMAT
from convostore.errors import ThreadDeletedError
from convostore.model import ConversationSnapshot, Message, Thread, ToolCallPart
from convostore.store.settings import DEFAULT_LIMITS

from ._helpers import Run, seed, with_store


def _rich_thread(url: str) -> Thread:
    """A thread with a tool call, metadata, a pinned and a deleted message."""
    thread = seed(
        url, messages=4, title="round trip", user_id="u1", agent_name="bot", metadata={"k": [1, 2]}
    )

    def more(store: Any) -> None:
        stored = store.append(
            thread.id,
            [
                Message.assistant("").with_parts(
                    ToolCallPart(tool_call_id="c1", tool_name="lookup", args={"q": "héllo"})
                ),
                Message.tool("42", "c1", tool_name="lookup"),
                Message.system("pinned note", pinned=True),
            ],
        )
        store.delete_message(stored[1].id)

    with_store(url, more)
    return with_store(url, lambda s: s.get_thread(thread.id))  # type: ignore[no-any-return]


def _messages(url: str, thread_id: str, tenant: str = "default") -> list[dict[str, Any]]:
    keep = {
        "id",
        "seq",
        "turn",
        "role",
        "content",
        "parts",
        "pinned",
        "metadata",
        "tool_call_id",
        "created_at",
    }
    msgs = with_store(url, lambda s: list(s.iter_messages(thread_id, include_deleted=True)), tenant)
    return [
        {**m.model_dump(mode="json", include=keep), "deleted": m.deleted_at is not None}
        for m in msgs
    ]


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_round_trip_into_another_tenant(run: Run, store_url: str, tmp_path: Path, fmt: str) -> None:
    thread = _rich_thread(store_url)
    path = tmp_path / f"t.{fmt}"
    exported = run("export", thread.id, "-o", path, "--store", store_url)
    assert exported.exit_code == 0, exported.output
    assert f"exported 7 messages of thread {thread.id}" in exported.stderr
    result = run("import", path, "--store", store_url, "--tenant", "copy", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "thread_id": thread.id,
        "format": fmt,
        "messages": 7,
        "appended": 7,
        "dry_run": False,
    }
    assert _messages(store_url, thread.id, "copy") == _messages(store_url, thread.id)
    copy = with_store(store_url, lambda s: s.get_thread(thread.id), "copy")
    assert (copy.title, copy.user_id, copy.metadata, copy.message_count, copy.tool_call_count) == (
        thread.title,
        thread.user_id,
        thread.metadata,
        7,
        1,
    )


def test_json_export_is_the_library_snapshot(run: Run, store_url: str) -> None:
    thread = _rich_thread(store_url)
    result = run("export", thread.id, "--store", store_url)
    snapshot = ConversationSnapshot.model_validate_json(result.stdout_bytes)
    expected = with_store(store_url, lambda s: s.export_thread(thread.id))
    assert snapshot.thread == expected.thread
    assert snapshot.messages == expected.messages
    assert snapshot.pinned == expected.pinned == [False] * 6 + [True]


def test_jsonl_export_is_a_header_then_one_message_per_line(run: Run, store_url: str) -> None:
    thread = seed(store_url, messages=3)
    lines = run("export", thread.id, "--format", "jsonl", "--store", store_url).stdout.splitlines()
    header = json.loads(lines[0])
    assert (header["format"], header["version"], header["thread"]["id"]) == (
        JSONL_FORMAT,
        1,
        thread.id,
    )
    assert [json.loads(line)["seq"] for line in lines[1:]] == [1, 2, 3]


def test_export_of_unknown_thread_leaves_no_file(run: Run, store_url: str, tmp_path: Path) -> None:
    result = run("export", "th_missing", "-o", tmp_path / "x.json", "--store", store_url)
    assert result.exit_code == 3
    assert list(tmp_path.glob("x.json*")) == []


def test_progress_bars_can_be_forced_on(run: Run, store_url: str, tmp_path: Path) -> None:
    thread = seed(store_url, messages=3)
    path = tmp_path / "t.jsonl"
    assert run("export", thread.id, "-o", path, "--progress", "--store", store_url).exit_code == 0
    result = run("import", path, "--progress", "--tenant", "b", "--store", store_url)
    assert result.exit_code == 0, result.output
    assert "3 messages" in result.stderr


def test_import_reads_stdin_and_sniffs_the_format(run: Run, store_url: str) -> None:
    thread = seed(store_url, messages=2)
    data = run("export", thread.id, "--format", "jsonl", "--store", store_url).stdout_bytes
    result = run("import", "-", "--tenant", "other", "--store", store_url, "--json", input=data)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["format"] == "jsonl"


def test_jsonl_reimport_is_idempotent_and_resumes(run: Run, store_url: str, tmp_path: Path) -> None:
    thread = seed(store_url, messages=9)
    full = tmp_path / "t.jsonl"
    run("export", thread.id, "-o", full, "--store", store_url)
    partial = tmp_path / "partial.jsonl"
    partial.write_bytes(b"".join(full.read_bytes().splitlines(keepends=True)[:5]))

    def imported(path: Path) -> dict[str, Any]:
        result = run(
            "import", path, "--tenant", "b", "--batch", "2", "--store", store_url, "--json"
        )
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)  # type: ignore[no-any-return]

    # A file cut at a line boundary is well-formed but short: it is refused, and
    # what it stored stays hidden, as after an import that died after 4 messages.
    cut = run("import", partial, "--tenant", "b", "--batch", "2", "--store", store_url)
    assert cut.exit_code == 2 and "cut short" in cut.stderr, cut.output
    assert with_store(store_url, lambda s: s.list_threads().items, "b") == []
    listed = run("threads", "list", "--deleted", "--tenant", "b", "--store", store_url, "--json")
    [row] = json.loads(listed.stdout)["items"]
    assert row["metadata"]["convostore.import"] == "incomplete"
    assert row["message_count"] == 4 and row["deleted_at"] is not None
    table = run("threads", "list", "--deleted", "--tenant", "b", "--store", store_url)
    assert "importing" in table.stdout
    doctor = run("doctor", "--tenant", "b", "--store", store_url)
    assert any(
        line.startswith("imports\twarn\t1 incomplete") for line in doctor.stdout.splitlines()
    ), doctor.stdout
    assert imported(full)["appended"] == 5  # resumes
    assert imported(full)["appended"] == 0
    assert _messages(store_url, thread.id, "b") == _messages(store_url, thread.id)
    shown = with_store(store_url, lambda s: s.get_thread(thread.id), "b")
    assert shown.deleted_at is None and "convostore.import" not in shown.metadata


def test_a_failed_jsonl_import_stays_hidden_until_resumed(
    run: Run, store_url: str, tmp_path: Path
) -> None:
    thread = seed(store_url, messages=6)
    full = tmp_path / "t.jsonl"
    run("export", thread.id, "-o", full, "--store", store_url)
    lines = full.read_bytes().splitlines(keepends=True)
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"".join([*lines[:5], b'{"role": "nobody"}\n', *lines[6:]]))
    result = run("import", bad, "--tenant", "b", "--batch", "2", "--store", store_url)
    assert result.exit_code == 2 and "line 6" in result.stderr, result.output
    assert with_store(store_url, lambda s: s.list_threads().items, "b") == []
    assert with_store(store_url, lambda s: s.summaries(), "b") == []
    hidden = with_store(store_url, lambda s: s.get_thread(thread.id), "b")
    assert hidden.deleted_at is not None and hidden.message_count == 4

    def ordinary_append(store: Any) -> None:
        with pytest.raises(ThreadDeletedError):
            store.append(thread.id, [Message.user("x")])

    with_store(store_url, ordinary_append, "b")
    result = run("import", full, "--tenant", "b", "--store", store_url, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["appended"] == 2
    assert _messages(store_url, thread.id, "b") == _messages(store_url, thread.id)


def test_a_json_file_whose_count_is_short_is_refused(
    run: Run, store_url: str, tmp_path: Path
) -> None:
    thread = seed(store_url, messages=3)
    path = tmp_path / "t.json"
    run("export", thread.id, "-o", path, "--store", store_url)
    doc = json.loads(path.read_bytes())
    doc["messages"] = doc["messages"][:2]
    path.write_text(json.dumps(doc))
    result = run("import", path, "--tenant", "b", "--store", store_url)
    assert result.exit_code == 2 and "cut short" in result.stderr
    assert with_store(store_url, lambda s: s.list_threads().items, "b") == []


def test_jsonl_import_over_other_messages_is_a_conflict(
    run: Run, store_url: str, tmp_path: Path
) -> None:
    thread = seed(store_url, messages=3)
    path = tmp_path / "t.jsonl"
    run("export", thread.id, "-o", path, "--store", store_url)
    seed(store_url, tenant="b", id=thread.id, messages=2)
    before = _messages(store_url, thread.id, "b")
    result = run("import", path, "--tenant", "b", "--store", store_url)
    assert result.exit_code == 4
    assert "already exists with other messages" in result.stderr
    assert _messages(store_url, thread.id, "b") == before


def test_json_reimport_confirms_and_over_other_messages_conflicts(
    run: Run, store_url: str, tmp_path: Path
) -> None:
    """JSON imports like JSONL: re-running it confirms what is stored."""
    thread = seed(store_url)
    path = tmp_path / "t.json"
    run("export", thread.id, "-o", path, "--store", store_url)
    result = run("import", path, "--store", store_url, "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["appended"] == 0
    seed(store_url, tenant="b", id=thread.id, messages=2)
    result = run("import", path, "--tenant", "b", "--store", store_url)
    assert result.exit_code == 4
    assert "already exists with other messages" in result.stderr


def test_import_under_a_new_id_in_another_tenant(run: Run, store_url: str, tmp_path: Path) -> None:
    thread = seed(store_url, messages=2)
    path = tmp_path / "t.jsonl"
    run("export", thread.id, "-o", path, "--store", store_url)
    assert (
        run("import", path, "--as", "th_copy", "--tenant", "b", "--store", store_url).exit_code == 0
    )
    assert len(_messages(store_url, "th_copy", "b")) == 2


def test_a_failed_import_leaves_no_empty_thread(run: Run, store_url: str, tmp_path: Path) -> None:
    thread = seed(store_url, messages=2)
    path = tmp_path / "t.jsonl"
    run("export", thread.id, "-o", path, "--store", store_url)
    # same tenant, new thread id, message ids kept: they are already taken
    result = run("import", path, "--as", "th_copy", "--keep-ids", "--store", store_url)
    assert result.exit_code == 4
    assert run("threads", "show", "th_copy", "--store", store_url).exit_code == 3


def test_dry_run_validates_and_writes_nothing(run: Run, store_url: str, tmp_path: Path) -> None:
    thread = seed(store_url, messages=3)
    path = tmp_path / "t.jsonl"
    run("export", thread.id, "-o", path, "--store", store_url)
    result = run("import", path, "--dry-run", "--tenant", "b", "--store", store_url)
    assert result.exit_code == 0
    assert "3 messages (nothing written)" in result.stderr
    assert run("threads", "show", thread.id, "--tenant", "b", "--store", store_url).exit_code == 3


HEADER = json.dumps({"format": JSONL_FORMAT, "version": 1, "thread": {"id": "th_file"}}) + "\n"
MSG = json.dumps({"id": "m1", "role": "user", "content": "hi"}) + "\n"


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("empty.jsonl", "", "line 1: the file is empty"),
        ("header.jsonl", '{"format": "other"}\n' + MSG, "line 1: is not a header"),
        ("version.jsonl", HEADER.replace('"version": 1', '"version": 99'), "version 99"),
        ("garbage.jsonl", HEADER + MSG + "{not json\n", "line 3"),
        ("array.jsonl", HEADER + "[1, 2]\n", "line 2"),
        ("role.jsonl", HEADER + MSG.replace("user", "robot"), "line 2.role"),
        (
            "seq.jsonl",
            HEADER + json.dumps({"id": "m1", "role": "user", "seq": 7}) + "\n",
            "line 2: seq 7 is out of order",
        ),
        ("garbage.json", '{"version": 1, "thread": ', "file: not a JSON document"),
        ("noversion.json", '{"thread": {"id": "t"}}', "missing snapshot version"),
        ("future.json", '{"version": 2, "thread": {"id": "t"}}', "version 2"),
        ("list.json", "[]", "file: must be a JSON object"),
        (
            "badmsg.json",
            '{"version": 1, "thread": {"id": "t"}, "messages": [{"role": 1}]}',
            "file.messages.0",
        ),
    ],
)
def test_corrupt_files_are_refused_with_the_place_named(
    run: Run, store_url: str, tmp_path: Path, name: str, content: str, needle: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    result = run("import", path, "--store", store_url)
    assert result.exit_code == 2, result.output
    assert needle in result.stderr
    assert len(result.stderr.splitlines()) == 1
    listed = run("threads", "list", "--store", store_url, "--deleted", "--json")
    assert json.loads(listed.stdout)["items"] == []


def test_missing_import_file_is_a_usage_error(run: Run, store_url: str, tmp_path: Path) -> None:
    result = run("import", tmp_path / "nope.json", "--store", store_url)
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


# --- bounded memory -------------------------------------------------------------------


def _write_big_jsonl(path: Path, n: int, body: int) -> int:
    text = "x" * body
    with path.open("w") as fh:
        fh.write(
            json.dumps({"format": JSONL_FORMAT, "version": 1, "thread": {"id": "th_big"}}) + "\n"
        )
        for i in range(n):
            fh.write(
                json.dumps(
                    {
                        "id": f"m{i:08d}",
                        "role": "user" if i % 2 == 0 else "assistant",
                        "content": text,
                        "seq": i + 1,
                    }
                )
                + "\n"
            )
    return path.stat().st_size


class SinkStore:
    """Just enough of a store for an import: counts what it is sent, keeps nothing,
    so the measured memory is the import's own."""

    tenant_id = "default"
    limits = DEFAULT_LIMITS

    def __init__(self) -> None:
        self.appended = 0
        self.batches: list[int] = []

    def begin_import(self, thread: Thread) -> Thread:
        return thread

    def import_append(self, thread_id: str, messages: list[Message]) -> list[Message]:
        self.appended += len(messages)
        self.batches.append(len(messages))
        return messages

    def import_delete_message(self, message_id: str) -> Message:
        raise AssertionError("the file has no deleted messages")

    def finish_import(self, thread_id: str, *, expected_count: int | None = None) -> Thread:
        assert expected_count == self.appended
        return self.get_thread(thread_id)

    def get_thread(self, thread_id: str) -> Thread:
        return Thread(id=thread_id, message_count=self.appended)

    def iter_messages(self, *_: Any, **__: Any) -> Iterator[Message]:
        return iter(())

    def close(self) -> None:
        pass


@pytest.mark.performance
def test_jsonl_import_memory_is_bounded_by_the_batch(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """10^5 messages (~110 MB) go through the import command while tracemalloc
    watches: the peak, about one batch of parsed messages, stays a small fraction
    of the file."""
    n = 100_000
    path = tmp_path / "big.jsonl"
    size = _write_big_jsonl(path, n, body=1000)
    sink = SinkStore()
    monkeypatch.setattr(_common, "_open", lambda url, **kw: sink)
    import rich.progress  # noqa: F401  # one-time import cost, not the import's memory

    tracemalloc.start()
    try:
        result = run("import", path, "--store", "sink://", "--json")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        path.unlink()
    assert result.exit_code == 0, result.output
    assert sink.appended == n
    assert max(sink.batches) == 1000
    assert peak < size / 10, f"peak {peak} bytes for a file of {size} bytes"


def test_jsonl_import_into_sqlite_appends_in_batches(
    run: Run, sqlite_url: str, tmp_path: Path
) -> None:
    n = 5_000
    path = tmp_path / "big.jsonl"
    _write_big_jsonl(path, n, body=50)
    result = run("import", path, "--store", sqlite_url, "--json")
    assert result.exit_code == 0, result.output
    thread = with_store(sqlite_url, lambda s: s.get_thread("th_big"))
    assert (thread.message_count, thread.turn_count) == (n, n // 2)
    last = with_store(sqlite_url, lambda s: s.recent("th_big", 1))[0]
    assert (last.id, last.seq) == (f"m{n - 1:08d}", n)


# Started by a small launcher, not by the test process itself: a child spawned
# from pytest starts with pytest's own peak (a vfork'd or forked child's peak
# survives its exec on Linux), which with the whole suite collected is far above
# what the import uses. The launcher's own few MiB are all the child inherits.
_LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def _peak_rss_of(args: list[str]) -> tuple[int, int, str]:
    """(exit code, peak resident set size in bytes, stderr) of a child process."""
    done = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, *args], capture_output=True, text=True, check=True
    )
    code, maxrss = (int(x) for x in done.stdout.split())
    factor = 1 if sys.platform == "darwin" else 1024
    return code, maxrss * factor, done.stderr


@pytest.mark.stress
def test_million_message_import_into_sqlite_in_bounded_memory(tmp_path: Path) -> None:
    """The real command in its own process: 10^6 messages (~450 MB) into SQLite
    while the process's peak memory stays far below the size of the file."""
    n = 1_000_000
    path = tmp_path / "huge.jsonl"
    size = _write_big_jsonl(path, n, body=400)
    db = tmp_path / "huge.db"
    code, rss, err = _peak_rss_of(
        [
            sys.executable,
            "-m",
            "convostore",
            "import",
            str(path),
            "--store",
            f"sqlite:///{db}",
            "--no-progress",
        ]
    )
    assert code == 0, err
    assert rss < size / 3, f"peak RSS {rss} bytes for a file of {size} bytes"
    with _common.opened_store(f"sqlite:///{db}", create=True) as store:
        assert store.get_thread("th_big").message_count == n


def _with_parent_link(url: str) -> Thread:
    thread = seed(url, messages=0, title="copy me")
    with_store(
        url,
        lambda s: s.append(
            thread.id,
            [
                Message.user("q", id="m1"),
                Message.assistant("a", id="m2", parent_id="m1", parent_type="user_message"),
                Message.user("q2", id="m3"),
                Message.assistant("a2", id="m4", parent_id="m3", parent_type="user_message"),
            ],
        ),
    )
    with_store(url, lambda s: s.delete_message("m3"))
    return with_store(url, lambda s: s.get_thread(thread.id))  # type: ignore[no-any-return]


def _shape(url: str, thread_id: str) -> list[tuple[Any, ...]]:
    """Each message's role, text and deletion, and the position of its parent."""
    msgs = _messages(url, thread_id)
    at = {m["id"]: i for i, m in enumerate(msgs)}
    full = with_store(url, lambda s: list(s.iter_messages(thread_id, include_deleted=True)))
    return [
        (m["role"], m["content"], m["deleted"], at.get(f.parent_id))
        for m, f in zip(msgs, full, strict=True)
    ]


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_import_as_copies_a_thread_within_its_tenant(
    run: Run, store_url: str, tmp_path: Path, fmt: str
) -> None:
    thread = _with_parent_link(store_url)
    path = tmp_path / f"t.{fmt}"
    assert run("export", thread.id, "-o", path, "--store", store_url).exit_code == 0
    result = run("import", path, "--as", "th_copy", "--store", store_url, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["thread_id"] == "th_copy"
    copy_ids = {m["id"] for m in _messages(store_url, "th_copy")}
    assert copy_ids.isdisjoint({"m1", "m2", "m3", "m4"}) and len(copy_ids) == 4
    assert _shape(store_url, "th_copy") == _shape(store_url, thread.id)
    assert [m["id"] for m in _messages(store_url, thread.id)] == ["m1", "m2", "m3", "m4"]


def test_a_copy_by_jsonl_resumes_like_any_jsonl_import(
    run: Run, store_url: str, tmp_path: Path
) -> None:
    thread = _with_parent_link(store_url)
    full = tmp_path / "t.jsonl"
    run("export", thread.id, "-o", full, "--store", store_url)
    partial = tmp_path / "partial.jsonl"
    partial.write_bytes(b"".join(full.read_bytes().splitlines(keepends=True)[:3]))

    def appended(path: Path) -> int:
        result = run(
            "import", path, "--as", "th_copy", "--batch", "1", "--store", store_url, "--json"
        )
        assert result.exit_code == 0, result.output
        return int(json.loads(result.stdout)["appended"])

    cut = run("import", partial, "--as", "th_copy", "--batch", "1", "--store", store_url)
    assert cut.exit_code == 2 and "cut short" in cut.stderr  # 2 stored, hidden
    assert [appended(full), appended(full)] == [2, 0]
    assert _shape(store_url, "th_copy") == _shape(store_url, thread.id)


def test_import_as_with_keep_ids_keeps_the_message_ids(
    run: Run, store_url: str, tmp_path: Path
) -> None:
    thread = seed(store_url, messages=2)
    path = tmp_path / "t.jsonl"
    run("export", thread.id, "-o", path, "--store", store_url)
    assert (
        run(
            "import", path, "--as", "th_copy", "--keep-ids", "--tenant", "b", "--store", store_url
        ).exit_code
        == 0
    )
    assert _messages(store_url, "th_copy", "b") == _messages(store_url, thread.id)


def test_a_dry_run_import_validates_without_creating_the_store(
    run: Run, store_url: str, tmp_path: Path
) -> None:
    thread = seed(store_url, messages=2)
    for fmt in ("json", "jsonl"):
        path = tmp_path / f"t.{fmt}"
        run("export", thread.id, "-o", path, "--store", store_url)
        target = tmp_path / "new" / "x.db"
        result = run("import", path, "--dry-run", "--store", f"sqlite:///{target}", "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["messages"] == 2
        assert not target.parent.exists()


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_an_export_is_cut_at_the_thread_as_first_read(store_url: str, fmt: str) -> None:
    """Messages appended while an export runs are left out, so the file holds the
    count its header declares and imports whole."""
    import io

    from convostore.cli.transfer import export_stream, import_stream

    thread = seed(store_url, messages=3)

    class AppendsDuringExport:
        def __init__(self, store: Any) -> None:
            self.store = store

        def __getattr__(self, name: str) -> Any:
            return getattr(self.store, name)

        def get_thread(self, thread_id: str) -> Thread:
            first = self.store.get_thread(thread_id)
            self.store.append(thread_id, [Message.user("late")])  # lands after the read
            return first  # type: ignore[no-any-return]

    out = io.BytesIO()
    n = with_store(store_url, lambda s: export_stream(AppendsDuringExport(s), thread.id, out, fmt))
    assert n == 3
    lines = iter(out.getvalue().splitlines(keepends=True))
    done = with_store(store_url, lambda s: import_stream(s, lines, fmt), "b")
    assert done.messages == 3


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_an_export_carries_its_attachments_to_another_tenant(
    run: Run, store_url: str, tmp_path: Path, fmt: str
) -> None:
    from convostore import ImagePart

    image = b"\x89PNG" + bytes(range(256))
    thread = seed(store_url, messages=2)
    with_store(
        store_url,
        lambda s: s.append(thread.id, Message.user("see").with_parts(ImagePart(data=image))),
    )
    path = tmp_path / f"out.{fmt}"
    run("export", thread.id, "--format", fmt, "-o", str(path), "--store", store_url)
    run("import", str(path), "--format", fmt, "--tenant", "copy", "--store", store_url)

    def read(s: Any) -> bytes:
        copy = s.tenant("copy")
        ref = copy.recent(thread.id, 1)[0].parts[0].attachment
        return bytes(copy.get_attachment(ref).data)

    assert with_store(store_url, read) == image
    if fmt == "json":
        assert (
            ConversationSnapshot.model_validate_json(path.read_bytes()).attachments[0].data == image
        )
