"""``convostore export`` and ``convostore import``: move whole threads in and out.

Two file formats, because they answer different needs:

* **JSON** is the :class:`~convostore.model.ConversationSnapshot` document the
  library itself exports and imports. Export streams it; import parses the whole
  document and stores it atomically through ``import_thread`` (exact copy: times,
  deletions and counters), so its memory grows with the thread.
* **JSONL** is for threads of any size. Line 1 is a header
  ``{"format": "convostore.thread+jsonl", "version": 1, "thread": {...}}``, then
  one message per line in seq order. Import reads a line at a time and appends
  batches to a freshly created thread, so memory stays bounded by the batch size,
  however long the thread. Message ids are kept, so re-running an interrupted or
  completed import resumes it (the messages already stored are checked, not added
  again); a thread holding other messages is a conflict. The thread's
  ``updated_at`` becomes the import time and deleted messages are marked deleted
  at import time.

The package, by concept: :mod:`~convostore.cli.transfer.formats` (the two
formats and how a file's is told), :mod:`~convostore.cli.transfer.exporting`,
:mod:`~convostore.cli.transfer.reading` (a file's thread and messages, read as
a stream), :mod:`~convostore.cli.transfer.importing` (storing them as a hidden,
checked and resumable import), :mod:`~convostore.cli.transfer.progress` and
:mod:`~convostore.cli.transfer.commands` (the ``export`` and ``import``
commands).
"""

from __future__ import annotations

from convostore.cli.transfer.commands import export as export
from convostore.cli.transfer.commands import import_ as import_
from convostore.cli.transfer.exporting import export_stream
from convostore.cli.transfer.formats import DEFAULT_BATCH as DEFAULT_BATCH
from convostore.cli.transfer.formats import JSONL_FORMAT
from convostore.cli.transfer.formats import Tick as Tick
from convostore.cli.transfer.formats import sniff_format as sniff_format
from convostore.cli.transfer.importing import ImportResult, import_stream
from convostore.cli.transfer.progress import progress_option as progress_option

__all__ = ["JSONL_FORMAT", "ImportResult", "export_stream", "import_stream"]
