"""Pages: :class:`Page`, one page of a listing of threads, messages or
summaries, with the cursors to the pages around it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a listing; pass ``next_cursor`` back to get the next one."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    items: list[T]
    """The page's items, in the listing's order."""
    next_cursor: str | None = None
    """The cursor of the next page; ``None`` on the last page."""
    prev_cursor: str | None = None
    """The cursor of the previous page; ``None`` on the first page."""

    def __iter__(self) -> Iterator[T]:  # type: ignore[override]
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)
