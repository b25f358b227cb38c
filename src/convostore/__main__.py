"""``python -m convostore`` and the ``convostore`` console script.

The command line itself lives in :mod:`convostore.cli`; this entry point only
runs it, so importing the package never pulls in click.
"""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """Run the ``convostore`` CLI and return its exit code."""
    from convostore.cli import main as run

    return run(argv)


if __name__ == "__main__":
    raise SystemExit(main())
