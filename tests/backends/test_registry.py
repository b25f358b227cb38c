"""Backends found by URL scheme: built in, registered, or from an entry point."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from pathlib import Path

import pytest
from tests.contract.dict_backend import DictBackend

from convostore import Limits, Message, ValidationError, open_async_store, open_store
from convostore.store import registry
from convostore.store.registry import BackendSpec, register_backend
from convostore.store.settings import StoreSettings


@pytest.fixture
def entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An installed distribution (a dist-info on sys.path) whose entry point in
    the ``convostore.backends`` group opens ``dictep://``."""
    info = tmp_path / "convostore_dict-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: convostore-dict\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[{registry.ENTRY_POINT_GROUP}]\ndictep = tests.contract.dict_backend:open_dict\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return "dictep://"


def test_entry_point_backend_opens_in_both_faces(entry_point: str) -> None:
    assert "dictep" in registry.schemes()
    with open_store(entry_point) as store:
        assert isinstance(store.backend, DictBackend)
        store.create_thread(id="t1")
        assert store.append("t1", Message.user("hi"))[0].seq == 1

    async def main() -> None:
        async with open_async_store(entry_point) as store:
            await store.create_thread(id="t1")
            assert [m.seq for m in await store.append("t1", Message.user("hi"))] == [1]

    asyncio.run(main())


def test_store_settings_reach_a_third_party_backend(entry_point: str) -> None:
    when = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    limits = Limits(max_batch=2)
    with open_store(
        entry_point, settings=StoreSettings(clock=lambda: when), limits=limits
    ) as store:
        assert store.settings.limits is limits and store.settings.now() == when
        thread = store.create_thread(id="t1")
        assert thread.created_at == thread.updated_at == when
        with pytest.raises(ValidationError, match="at most 2"):
            store.append("t1", [Message.user(str(i)) for i in range(3)])
        store.append("t1", Message.user("hi"))
        assert store.get_thread("t1").updated_at == when


def test_registered_backend_replaces_a_scheme(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_registered", {})
    register_backend(
        "mine", BackendSpec("mine", lambda url, *, settings, **o: DictBackend(settings=settings))
    )
    with open_store("mine://x") as store:
        assert isinstance(store.backend, DictBackend)


def test_unknown_scheme_names_the_known_ones() -> None:
    with pytest.raises(ValidationError) as info:
        open_store("nosuch://x")
    assert info.value.field == "url"
    for scheme in ("memory://", "json://", "sqlite://", "postgresql://"):
        assert scheme in str(info.value)


def test_unknown_option_is_a_typed_error() -> None:
    with pytest.raises(ValidationError, match="unsupported store option"):
        open_store("memory://", no_such_option=1)


def test_async_face_extras_are_awaitable_off_the_loop(tmp_path: Path) -> None:
    """An extra of a blocking backend (``schema_version``) reached through the
    async face is awaited and runs on a worker thread, never on the loop."""
    ran_on: list[threading.Thread] = []

    async def main() -> None:
        async with open_async_store(f"sqlite:///{tmp_path / 'x.db'}") as store:
            real = store.backend.backend.schema_version

            def spy() -> int:
                ran_on.append(threading.current_thread())
                return real()

            store.backend.backend.schema_version = spy
            version = await store.backend.schema_version()
            assert isinstance(version, int) and version > 0
            assert ran_on and ran_on[0] is not threading.current_thread()

    asyncio.run(main())
