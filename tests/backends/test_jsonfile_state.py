"""User and app state in the JSON-file store: one file per scope, and a state
change that goes with an append redone from the thread file after a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from convostore import Message, open_store
from convostore.errors import BackendUnavailableError
from convostore.store.jsonfile import backend as jsonfile


def _open(root: Path):  # type: ignore[no-untyped-def]
    return open_store(f"json:///{root}")


def test_a_crash_between_the_thread_file_and_the_state_file_is_redone(tmp_path: Path) -> None:
    root = tmp_path / "store"
    with _open(root) as store:
        store.create_thread(id="t1", user_id="ada")
        store.update_state("user", user_id="ada", changes={"n": 1})
        state_file = root / "default" / ".state" / "user-ada.json"
        before = state_file.read_bytes()
        store.append("t1", Message.user("hi", id="m1"), state={"user": {"changes": {"n": 2}}})
        after = store.get_state("user", user_id="ada")
    # As if the process died after replacing the thread file and before the
    # state file: the state file still holds the state before the append.
    state_file.write_bytes(before)
    with _open(root) as store:
        assert store.get_state("user", user_id="ada") == after
        assert [m.id for m in store.load_messages("t1")] == ["m1"]
    # The redone state was written back: it no longer depends on the thread file.
    assert json.loads(state_file.read_bytes())["state"]["revision"] == after.revision


def test_a_failed_state_file_write_leaves_memory_and_disk_as_they_were(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "store"
    with _open(root) as store:
        store.create_thread(id="t1", user_id="ada")
        store.update_state("app", changes={"n": 1})
        real = jsonfile.JsonFileBackend._write_state

        def failing(self, tenant, state, *, strict):  # type: ignore[no-untyped-def]
            if strict:
                raise OSError(28, "No space left on device")
            return real(self, tenant, state, strict=strict)

        monkeypatch.setattr(jsonfile.JsonFileBackend, "_write_state", failing)
        with pytest.raises(BackendUnavailableError):
            store.append("t1", Message.user("hi"), state={"app": {"changes": {"n": 2}}})
        monkeypatch.undo()
        assert store.get_thread("t1").message_count == 0
        assert store.get_state("app").data == {"n": 1}
    with _open(root) as store:
        assert store.get_thread("t1").message_count == 0
        assert store.get_state("app").data == {"n": 1}


def test_a_damaged_state_file_stops_the_store_from_opening(tmp_path: Path) -> None:
    root = tmp_path / "store"
    with _open(root) as store:
        store.update_state("app", changes={"n": 1})
    (root / "default" / ".state" / "app.json").write_text("{not json")
    with pytest.raises(BackendUnavailableError, match="not a valid state file"):
        _open(root)
