"""The ``convostore`` command line: one click group, one module per noun.

``cli`` is the click group (for embedding and for ``CliRunner`` in tests);
``main`` runs it and returns the exit code. The exit codes are documented in
:mod:`convostore.cli.errors`.
"""

from convostore.cli.app import cli, main

__all__ = ["cli", "main"]
