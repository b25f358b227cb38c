"""LangChain's own chat history tests, run against the adapter.

The installed ``langchain-core`` and ``langchain-community`` releases' source
distributions are fetched from the package index at test time (cached beside
pytest's temporary directories, never kept in this repository), their chat
history test files extracted, and run in a pytest of their own with
``_langchain_upstream_plugin`` replacing LangChain's ``InMemoryChatMessageHistory``
and ``SQLChatMessageHistory`` by :class:`ConvostoreChatMessageHistory`.

Which files: ``langchain-core``'s ``tests/unit_tests/chat_history/`` (the
``BaseChatMessageHistory`` contract and the in-memory history) and
``tests/unit_tests/runnables/test_history.py`` (``RunnableWithMessageHistory``
over the in-memory history), and ``langchain-community``'s
``tests/unit_tests/chat_message_histories/test_sql.py`` (the SQL history, on
SQLite, sync and async). ``langchain-tests`` has no standard suite for chat
message histories.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from tests._harness import unavailable

HERE = Path(__file__).resolve().parent

#: (distribution, the files of its sdist that are run)
SUITES = {
    "langchain-core": [
        "tests/__init__.py",
        "tests/unit_tests/__init__.py",
        "tests/unit_tests/pydantic_utils.py",
        "tests/unit_tests/chat_history/__init__.py",
        "tests/unit_tests/chat_history/test_chat_history.py",
        "tests/unit_tests/runnables/__init__.py",
        "tests/unit_tests/runnables/test_history.py",
    ],
    "langchain-community": [
        "tests/unit_tests/chat_message_histories/test_sql.py",
    ],
}

#: Tests left out, and why.
DESELECTED = {
    # Checks that LangChain's own classes say they are deprecated (since
    # 1.6.4, in favour of LangGraph memory); convostore's history is not.
    "test_chat_history.py::test_chat_history_deprecated[InMemoryOverConvostore]": "",
    # Builds SQLChatMessageHistory with a custom SQLAlchemy model that has no
    # session column and expects ValueError: a SQL table mapping no store has.
    "test_sql.py::test_model_no_session_id_field_error": "",
}


def sdist(name: str, cache: Path) -> Path:
    version = importlib.metadata.version(name)
    stem = f"{name.replace('-', '_')}-{version}"
    found = cache / f"{stem}.tar.gz"
    if not found.exists():
        cache.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
             "--quiet", "--dest", str(cache), f"{name}=={version}"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        if done.returncode != 0 or not found.exists():
            unavailable(f"cannot download the {name} {version} sdist: {done.stderr[-500:]}")
    return found


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.getbasetemp().parent / "convostore-langchain-sdists"
    root = tmp_path_factory.mktemp("langchain-upstream")
    for name, files in SUITES.items():
        archive = sdist(name, cache)
        with tarfile.open(archive) as tar:
            prefix = tar.getnames()[0].split("/")[0]
            for member in files:
                data = tar.extractfile(f"{prefix}/{member}")
                assert data is not None, member
                target = root / (member if name == "langchain-core" else f"community/{member}")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data.read())
    (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    return root


def test_langchain_chat_history_tests_pass_against_the_adapter(suite: Path) -> None:
    args = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
        "-p", "anyio", "-p", "_langchain_upstream_plugin",
        "-c", str(suite / "pytest.ini"), "--rootdir", str(suite),
        "-W", "ignore::DeprecationWarning",
        "tests/unit_tests/chat_history", "tests/unit_tests/runnables/test_history.py",
        "community/tests/unit_tests/chat_message_histories/test_sql.py",
    ]  # fmt: skip
    for test in DESELECTED:
        file, _, name = test.partition("::")
        path = next(suite.rglob(file)).relative_to(suite)
        args += ["--deselect", f"{path}::{name}"]
    done = subprocess.run(
        args,
        cwd=suite,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": f"{HERE}:{suite}"},
    )
    tail = done.stdout[-3000:] + done.stderr[-2000:]
    assert done.returncode == 0, tail
    summary = re.search(r"(\d+) passed(?:, (\d+) deselected)?", done.stdout)
    assert summary is not None, tail
    assert int(summary.group(1)) >= 30, tail
    assert int(summary.group(2) or 0) == len(DESELECTED), tail
    assert "failed" not in done.stdout.splitlines()[-1], tail
