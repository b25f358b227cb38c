"""What a search returns: :class:`SearchHit`, and its :class:`SearchSnippet`.

A snippet is plain text and the offsets of its highlighted words, never
markup: a web page escapes the text and draws the highlights itself, so a
message holding ``<script>`` stays text wherever it is shown.
"""

from __future__ import annotations

from pydantic import Field

from convostore.model._types import Identifier, _Model
from convostore.model.message import Message


class SearchSnippet(_Model):
    """A short passage of a message's searchable text around what matched."""

    text: str
    """The passage, plain text; it starts or ends with ``…`` where the message
    text goes on."""
    highlights: list[tuple[int, int]] = Field(default_factory=list)
    """The matched words: ``(start, end)`` offsets into ``text``, in code
    points, end exclusive, in order and not overlapping."""

    def render(self, before: str = "[", after: str = "]") -> str:
        """The passage with ``before`` and ``after`` around each highlight.

        The markers are inserted as given, the text around them is not
        escaped: for HTML, escape the pieces of :attr:`text` yourself and use
        the highlights to place the tags.
        """
        out: list[str] = []
        pos = 0
        for start, end in self.highlights:
            out += [self.text[pos:start], before, self.text[start:end], after]
            pos = end
        out.append(self.text[pos:])
        return "".join(out)


class SearchHit(_Model):
    """One message a search found."""

    thread_id: Identifier
    """The thread the message is in."""
    score: float
    """How well the message matches, higher is better. Comparable within one
    search only; each backend computes it its own way (see the search docs)."""
    snippet: SearchSnippet
    """The passage that matched, with the matched words highlighted."""
    message: Message
    """The message, as :meth:`~convostore.Store.get_message` returns it."""
