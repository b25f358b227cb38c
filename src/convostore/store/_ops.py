"""Transitional: moved to :mod:`convostore.store.ops`."""

# ruff: noqa: F403
from convostore.store.ops import *
