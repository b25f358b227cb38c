"""API keys for the HTTP server, kept in the store they protect.

See :mod:`convostore.keys._base` for how a key is stored and checked.
:class:`AsyncKeyManager` is the source; :class:`KeyManager`, its sync twin, is
generated from it.
"""

from convostore.keys._async import AsyncKeyManager
from convostore.keys._base import KEYS_TENANT, TOKEN_PREFIX, ApiKey, parse_token
from convostore.keys._sync import KeyManager

__all__ = [
    "KEYS_TENANT",
    "TOKEN_PREFIX",
    "ApiKey",
    "AsyncKeyManager",
    "KeyManager",
    "parse_token",
]
