"""Project-wide test configuration.

Markers (``postgres``, ``stress``, ``crash``) are declared in ``pyproject.toml``,
whose default options leave the ``stress`` runs out (``-m stress`` selects them).
The conformance suite's backend fixtures live in ``tests/contract/conftest.py``.
"""
