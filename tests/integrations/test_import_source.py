"""The importer driver (``import_source``) on a source of the test's own: a
rerun of messages holding inline bytes confirms them instead of conflicting."""

from __future__ import annotations

from collections.abc import Iterator

from convostore import open_store
from convostore.cli.transfer.importing import import_source
from convostore.importers import SourceThread
from convostore.model import ImagePart, Message, Thread


class _Source:
    def __init__(self, extra: int = 0) -> None:
        self.extra = extra

    def threads(self) -> Iterator[SourceThread]:
        def messages() -> Iterator[Message]:
            yield Message(
                id="s:1",
                role="user",
                parts=[ImagePart(media_type="image/png", data=b"\x89PNG....")],
            )
            yield Message.assistant("a cat", id="s:2")
            for i in range(self.extra):
                yield Message.user(f"more {i}", id=f"s:{3 + i}")

        yield SourceThread(thread=Thread(id="s"), count=2 + self.extra, messages=messages)

    def total_messages(self) -> int | None:
        return 2 + self.extra

    def close(self) -> None:
        pass


def test_a_rerun_with_inline_bytes_confirms_and_appends_only_the_new(tmp_path: object) -> None:
    with open_store("memory://") as store:
        [first] = import_source(store, _Source(), "test")
        assert (first.messages, first.appended) == (2, 2)
        stored = store.load_messages("s")[0].parts[0]
        assert isinstance(stored, ImagePart) and stored.attachment is not None
        [again] = import_source(store, _Source(), "test")
        assert (again.messages, again.appended) == (2, 0)
        [grown] = import_source(store, _Source(extra=1), "test")
        assert (grown.messages, grown.appended) == (3, 1)
