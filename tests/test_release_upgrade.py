"""Stores written by the previous release (0.1, before the richer part model)
read back unchanged with the current code."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import convostore
from convostore import ImagePart, ToolResultPart

FIXTURE = Path(__file__).parent / "fixtures" / "release-0.1"


@pytest.fixture
def old_stores(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURE, tmp_path / "release", ignore=shutil.ignore_patterns("expected.json"))
    return tmp_path / "release"


@pytest.mark.parametrize("kind", ["sqlite", "json"])
def test_messages_written_by_the_previous_release_read_back_unchanged(
    old_stores: Path, kind: str
) -> None:
    expected = json.loads((FIXTURE / "expected.json").read_text())[kind]
    url = (
        f"sqlite:///{old_stores / 'sqlite.db'}"
        if kind == "sqlite"
        else f"json:///{old_stores / 'json'}"
    )
    with convostore.open_store(url) as store:
        messages = store.load_messages("t-release")
        assert [m.model_dump(mode="json") for m in messages] == expected
        # The old parts are the new model's parts, and the new fields read unset.
        image = next(p for m in messages for p in m.parts if isinstance(p, ImagePart))
        assert (image.image_id, image.data, image.attachment) == ("img-1", None, None)
        error = next(
            p for m in messages for p in m.parts if isinstance(p, ToolResultPart) and p.is_error
        )
        assert error.content == [] and error.provider_id is None
        # And the old thread takes new messages.
        store.append("t-release", [convostore.Message.user("more")])
        assert store.get_thread("t-release").message_count == len(expected) + 1
