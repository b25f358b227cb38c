"""Moved: the faces of a store live in :mod:`convostore.store.api`."""

from convostore.store.api import AsyncStore, Store
from convostore.store.api import check_id as _check_id

__all__ = ["AsyncStore", "Store", "_check_id"]
