"""Importers: whole histories from other projects' stores.

``convostore import --from NAME SOURCE`` reads another project's store (the
OpenAI Agents SDK's sessions, LangChain's SQL chat history, LlamaIndex's SQL
chat store, Google ADK's database session service, the ``llm`` logs database)
and stores each of its conversations as a thread, through the same hidden,
checked and resumable import as a convostore export file: a thread becomes
visible only once all its messages are stored, a stopped run resumes where it
stopped, and a rerun stores only what the source gained since.

An importer is a module of this package with an ``open_source(source,
options)`` function returning a :class:`Source`. Re-running relies on what a
source gives being the same every time: thread ids and message ids are derived
from the source's own keys, never made up.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from convostore.errors import ValidationError
from convostore.model import Attachment, Message, Thread

__all__ = ["IMPORTERS", "Source", "SourceThread", "open_source"]


def _no_attachments() -> Iterable[Attachment]:
    return ()


@dataclass(frozen=True, slots=True)
class SourceThread:
    """One conversation of a source, read lazily."""

    thread: Thread
    """The thread to store it as: its id derived from the source's key, with the
    user, title, metadata and times the source holds."""
    count: int
    """How many messages ``messages()`` yields; checked before the thread is
    made visible."""
    messages: Callable[[], Iterator[Message]]
    """The messages in order, without store-assigned fields, ids derived from
    the source's keys; read a row at a time."""
    attachments: Callable[[], Iterable[Attachment]] = field(default=_no_attachments)
    """The attachments the messages reference, stored before them."""


class Source(Protocol):
    """An opened source: its conversations, and their size for a progress bar."""

    def threads(self) -> Iterator[SourceThread]:
        """Every conversation, in a stable order."""
        ...

    def total_messages(self) -> int | None:
        """How many messages all conversations hold, or ``None`` if unknown."""
        ...

    def close(self) -> None:
        """Release the source's connection."""
        ...


#: The names ``--from`` takes, and the module of each importer.
IMPORTERS: dict[str, str] = {
    "openai-agents-sqlite": "convostore.importers.openai_agents",
    "openai-agents-sqlalchemy": "convostore.importers.openai_agents",
    "langchain-sql": "convostore.importers.langchain",
    "llama-index-sql": "convostore.importers.llama_index",
    "adk-database": "convostore.importers.adk",
    "llm": "convostore.importers.llm",
}


def open_source(name: str, source: str, options: Mapping[str, str] | None = None) -> Source:
    """Open ``source`` (a path or a database URL) with the importer ``name``.

    ``options`` are the importer's own settings (e.g. a table name), as given by
    ``--option KEY=VALUE``.

    Raises:
        ValidationError: an unknown importer name or option, or a source the
            importer cannot read.
    """
    module_name = IMPORTERS.get(name)
    if module_name is None:
        raise ValidationError(
            f"unknown source format {name!r}; expected one of {', '.join(sorted(IMPORTERS))}",
            field="from",
        )
    module = importlib.import_module(module_name)
    opened: Source = module.open_source(name, source, dict(options or {}))
    return opened
