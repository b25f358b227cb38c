"""Write the sync twin of each async face, so the two cannot drift.

Usage: python scripts/gen_sync.py [--check]

The async classes are the source. Each file listed in :data:`TWINS` is turned
into its sync twin token by token:

* ``async def`` / ``async for`` / ``async with`` lose ``async``; ``await``
  goes;
* the names in :data:`NAMES` are swapped for their sync twins (in code,
  comments and docstrings alike, as whole words);
* a line ending in ``# sync: drop`` is left out of the twin, and a comment
  ``# sync: <code>`` on a line of its own becomes that line of code (in place of
  the code line just above it), for the rare statement that differs beyond
  names.

The result is run through ``ruff format`` and ``ruff check --fix`` (import
order), so it reads like hand-written code. With ``--check`` nothing is
written and the exit status is 1 when a twin is stale; CI and the pre-commit
hook run the check, and ``make generate`` writes the twins.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "src" / "convostore"

#: (async source, sync twin), relative to the package.
TWINS: list[tuple[str, str]] = [
    ("store/api/_async.py", "store/api/_sync.py"),
    ("keys/_async.py", "keys/_sync.py"),
    ("conversation/_async.py", "conversation/_sync.py"),
    ("conversation/_async_manager.py", "conversation/_sync_manager.py"),
]

#: Async name -> sync name, swapped as whole words everywhere.
NAMES: dict[str, str] = {
    "AsyncStore": "Store",
    "AsyncBackend": "Backend",
    "AsyncIterator": "Iterator",
    "AsyncIterable": "Iterable",
    "AsyncGenerator": "Generator",
    "AsyncKeyManager": "KeyManager",
    "AsyncConversation": "Conversation",
    "AsyncConversationManager": "ConversationManager",
    "AsyncSessionState": "SessionState",
    "__aenter__": "__enter__",
    "__aexit__": "__exit__",
    "__aiter__": "__iter__",
    "__anext__": "__next__",
    "aopen": "open",
    "aclose": "close",
    "open_async_store": "open_store",
    "asyncio": "time",
    "_async": "_sync",
    "_async_manager": "_sync_manager",
    "async_store": "store",
}

HEADER = (
    "# Generated from {source} by scripts/gen_sync.py: do not edit.\n"
    "# Change the async source and run `make generate`.\n"
)
#: The twin's module docstring, in place of the source's.
DOCSTRING = (
    '"""The sync twin of :mod:`{module}`, generated from it.\n\n'
    "The same classes, methods, arguments and documentation, called without\n"
    '``await``; see the source module for how it is built.\n"""\n'
)
#: Phrases of prose that read differently in the sync twin.
PHRASES: dict[str, str] = {
    "an async context manager": "a context manager",
    "async iterator": "iterator",
}

_WORDS = re.compile(r"\b(" + "|".join(map(re.escape, NAMES)) + r")\b")
# In prose (docstrings, comments): "await x" -> "x", "async with" -> "with".
_PROSE = re.compile(r"\bawait (?=\S)|\basync (?=def\b|for\b|with\b)")
_BLOCKS = ("def", "for", "with")
_DROP = "# sync: drop"
_SUBST = re.compile(r"^(\s*)# sync: (.+)$")


def _swap(text: str) -> str:
    for phrase, sync in PHRASES.items():
        text = text.replace(phrase, sync)
    return _PROSE.sub("", _WORDS.sub(lambda m: NAMES[m.group(1)], text))


def _module_docstring(source: str) -> tuple[int, int] | None:
    """Where the module docstring of ``source`` starts and ends, if it has one."""
    toks = tokenize.generate_tokens(io.StringIO(source).readline)
    for tok in toks:
        if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.ENCODING):
            continue
        if tok.type == tokenize.STRING:
            return tok.start[0], tok.end[0]
        return None
    return None


def _line_pragmas(source: str) -> str:
    """Apply the ``# sync:`` line pragmas."""
    out: list[str] = []
    for line in source.splitlines(keepends=True):
        if line.rstrip().endswith(_DROP):
            continue
        m = _SUBST.match(line.rstrip("\n"))
        if m and m.group(2) != "drop":
            if not out:
                raise ValueError("a '# sync:' replacement needs a line above it")
            out[-1] = f"{m.group(1)}{m.group(2)}\n"
            continue
        out.append(line)
    return "".join(out)


def unasync(source: str) -> str:
    """The sync twin of ``source``, before formatting."""
    source = _line_pragmas(source)
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(pos: tuple[int, int]) -> int:
        return starts[pos[0] - 1] + pos[1]

    edits: list[tuple[int, int, str]] = []
    toks = list(tokenize.generate_tokens(io.StringIO(source).readline))
    for i, tok in enumerate(toks):
        start, end = offset(tok.start), offset(tok.end)
        if tok.type == tokenize.NAME:
            nxt = toks[i + 1] if i + 1 < len(toks) else None
            drops = nxt is not None and (
                tok.string == "await" or (tok.string == "async" and nxt.string in _BLOCKS)
            )
            if drops and nxt is not None:
                edits.append((start, offset(nxt.start), ""))
            elif tok.string in NAMES:
                edits.append((start, end, NAMES[tok.string]))
        elif tok.type in (tokenize.STRING, tokenize.COMMENT):
            new = _swap(tok.string)
            if new != tok.string:
                edits.append((start, end, new))
    for start, end, new in reversed(edits):
        source = source[:start] + new + source[end:]
    return source


def _ruff(args: list[str], text: str, filename: Path) -> str:
    ruff = Path(sys.executable).parent / "ruff"
    done = subprocess.run(
        [str(ruff), *args, "--stdin-filename", str(filename), "-"],
        input=text,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if done.returncode not in (0, 1) or not done.stdout:
        raise RuntimeError(f"ruff {' '.join(args)} failed on {filename}: {done.stderr}")
    return done.stdout


def render(source_path: Path, target_path: Path) -> str:
    """The full text of the sync twin of ``source_path``."""
    source = source_path.read_text(encoding="utf-8")
    module = ".".join(source_path.relative_to(PKG.parent).with_suffix("").parts)
    doc = _module_docstring(source)
    if doc is not None:
        lines = source.splitlines(keepends=True)
        source = "".join(lines[doc[1] :])
    text = unasync(source)
    rel = source_path.relative_to(ROOT).as_posix()
    text = HEADER.format(source=rel) + DOCSTRING.format(module=module) + text
    # Import order and unused imports after the swaps; `for x in xs: yield x`
    # (the async spelling, since async generators cannot `yield from`) becomes
    # `yield from xs`.
    fixes = ["check", "--fix", "--unsafe-fixes", "--quiet", "--select", "I,F401,UP028"]
    text = _ruff(fixes, text, target_path)
    return _ruff(["format", "--quiet"], text, target_path)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale: list[str] = []
    for source, target in TWINS:
        src, dst = PKG / source, PKG / target
        text = render(src, dst)
        current = dst.read_text(encoding="utf-8") if dst.exists() else ""
        if current == text:
            continue
        if check:
            stale.append(dst.relative_to(ROOT).as_posix())
        else:
            dst.write_text(text, encoding="utf-8")
            print(f"wrote {dst.relative_to(ROOT).as_posix()}")
    if stale:
        print(
            "stale generated sync twins: " + ", ".join(stale) + "; run `make generate`",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
