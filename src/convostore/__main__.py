"""``python -m convostore``: the command line."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["demo"]:
        from convostore.demo import run

        return run(args[1:])
    print("usage: convostore demo [STORE_URL]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
