"""The sync and async faces have the same public names, signatures and docs,
and every generated sync twin is what the generator makes of its source."""

from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

import pytest

from convostore import AsyncStore, Store

ROOT = Path(__file__).resolve().parent.parent


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("gen_sync", ROOT / "scripts" / "gen_sync.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_sync", module)
    spec.loader.exec_module(module)
    return module


gen = _generator()


def _pairs() -> list[tuple[type, type]]:
    from convostore import conversation as conv
    from convostore import keys

    return [
        (Store, AsyncStore),
        (keys.KeyManager, keys.AsyncKeyManager),
        (conv.Conversation, conv.AsyncConversation),
        (conv.ConversationManager, conv.AsyncConversationManager),
        (conv.SessionState, conv.AsyncSessionState),
    ]


PAIRS = _pairs()
_DUNDER_TWINS = {"__enter__": "__aenter__", "__exit__": "__aexit__"}


def _public(cls: type) -> set[str]:
    names = {n for n in dir(cls) if not n.startswith("_")}
    return names | {n for n in (*_DUNDER_TWINS, *_DUNDER_TWINS.values()) if hasattr(cls, n)}


def _sync_text(text: str) -> str:
    return gen._swap(text)


@pytest.mark.parametrize(("sync", "async_"), PAIRS, ids=lambda c: c.__name__)
def test_same_public_names(sync: type, async_: type) -> None:
    expected = {_DUNDER_TWINS.get(n, n) for n in _public(sync)}
    assert {n for n in _public(async_)} == expected


@pytest.mark.parametrize(("sync", "async_"), PAIRS, ids=lambda c: c.__name__)
def test_same_signatures_and_docs(sync: type, async_: type) -> None:
    for name in sorted(_public(sync)):
        s_attr = inspect.getattr_static(sync, name)
        a_attr = inspect.getattr_static(async_, _DUNDER_TWINS.get(name, name))
        assert type(s_attr) is type(a_attr), name
        if isinstance(s_attr, property):
            assert _sync_text(str(inspect.signature(a_attr.fget))) == str(
                inspect.signature(s_attr.fget)
            ), name
            continue
        if not callable(s_attr) and not isinstance(s_attr, staticmethod | classmethod):
            continue
        s_fn = getattr(sync, name)
        a_fn = getattr(async_, _DUNDER_TWINS.get(name, name))
        sig_s, sig_a = inspect.signature(s_fn), inspect.signature(a_fn)
        assert _sync_text(str(sig_a)) == str(sig_s), name
        assert not inspect.iscoroutinefunction(s_fn), name
        assert not inspect.isasyncgenfunction(s_fn), name
        if not name.startswith("__"):
            assert (s_fn.__doc__ or "").strip(), f"{sync.__name__}.{name} has no docstring"
            assert (a_fn.__doc__ or "").strip(), f"{async_.__name__}.{name} has no docstring"


def test_store_io_methods_are_awaitable() -> None:
    pure = {"tenant"}
    for name in _public(Store) - set(_DUNDER_TWINS) - pure:
        attr = inspect.getattr_static(AsyncStore, name)
        if isinstance(attr, property):
            continue
        fn = getattr(AsyncStore, name)
        assert inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn), name


@pytest.mark.parametrize(("source", "target"), gen.TWINS, ids=[t for _, t in gen.TWINS])
def test_generated_twin_is_fresh(source: str, target: str) -> None:
    src, dst = gen.PKG / source, gen.PKG / target
    assert src.exists(), f"{source} is listed as a source but does not exist"
    assert dst.read_text(encoding="utf-8") == gen.render(src, dst), (
        f"{target} is stale: run `make generate`"
    )


def test_unasync_rules() -> None:
    source = (
        "import asyncio\n"
        "from x import AsyncStore\n"
        "\n"
        "\n"
        "class AsyncThing:\n"
        '    """Use it as an async context manager; await store.get()."""\n'
        "\n"
        "    async def get(self, s: AsyncStore) -> None:\n"
        "        async with s:\n"
        "            await asyncio.sleep(0)\n"
        "        async for m in s.iter_messages('t'):\n"
        "            print(m)\n"
        "        print('only async')  # sync: drop\n"
        "        x = await s.load()\n"
        "        # sync: x = s.load_sync()\n"
    )
    out = gen.unasync(source)
    assert "async" not in out.replace("AsyncThing", "")
    assert "await" not in out
    assert "import time" in out and "time.sleep(0)" in out
    assert "from x import Store" in out and "s: Store" in out
    assert "Use it as a context manager; store.get()." in out
    assert "with s:" in out and "for m in s.iter_messages" in out
    assert "only async" not in out
    assert "x = s.load_sync()" in out and "x = s.load()" not in out


def test_check_mode_reports_a_stale_twin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "src" / "convostore"
    (pkg / "mod").mkdir(parents=True)
    (pkg / "mod" / "_async.py").write_text(
        '"""Doc."""\n\n\nasync def f() -> None:\n    """F."""\n', encoding="utf-8"
    )
    monkeypatch.setattr(gen, "PKG", pkg)
    monkeypatch.setattr(gen, "ROOT", tmp_path)
    monkeypatch.setattr(gen, "TWINS", [("mod/_async.py", "mod/_sync.py")])
    assert gen.main(["--check"]) == 1
    assert gen.main([]) == 0
    assert "def f() -> None:" in (pkg / "mod" / "_sync.py").read_text(encoding="utf-8")
    assert gen.main(["--check"]) == 0
    (pkg / "mod" / "_sync.py").write_text("# edited by hand\n", encoding="utf-8")
    assert gen.main(["--check"]) == 1
