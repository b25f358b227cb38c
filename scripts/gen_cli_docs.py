"""Write docs/cli.md from the CLI's own --help, so the reference cannot drift.

Usage: python scripts/gen_cli_docs.py [--check]

With --check, write nothing and exit with 1 when docs/cli.md is out of date
(the test suite runs the same comparison).
"""

from __future__ import annotations

import sys
from pathlib import Path

from convostore.cli import cli
from convostore.cli._docs import render

TARGET = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def main(argv: list[str]) -> int:
    text = render(cli)
    if "--check" in argv:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print(
                f"{TARGET.name} is out of date: run python scripts/gen_cli_docs.py", file=sys.stderr
            )
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
