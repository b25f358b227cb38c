"""The two faces of a store: :class:`Store` and :class:`AsyncStore`.

``AsyncStore`` (``_async.py``) is written by hand; ``Store`` (``_sync.py``) is
generated from it by ``scripts/gen_sync.py``, so both have the same methods,
arguments and documentation. What they share is in :mod:`._base`.
"""

from convostore.store.api._async import AsyncStore
from convostore.store.api._base import MessageLike, StoreBase, check_id, check_revision
from convostore.store.api._sync import Store

__all__ = ["AsyncStore", "MessageLike", "Store", "StoreBase", "check_id", "check_revision"]
