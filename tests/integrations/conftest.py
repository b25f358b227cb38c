"""Shared setup of the framework adapter tests (each framework's own fixtures
live in its test modules)."""
