"""API key management over an :class:`~convostore.AsyncStore`: the source of both faces.

:class:`~convostore.keys.KeyManager` is generated from this file by
``scripts/gen_sync.py``.
"""

from __future__ import annotations

import builtins

from convostore.errors import NotFoundError, RevisionConflictError
from convostore.keys._base import AGENT, KEYS_TENANT, PAGE, ApiKey, KeyLogic, parse_token
from convostore.model import Thread
from convostore.store.api import AsyncStore, check_id

__all__ = ["AsyncKeyManager"]


class AsyncKeyManager(KeyLogic):
    """Create, list, revoke and verify API keys kept in an :class:`AsyncStore`.

    Args:
        store: any store; the keys live in its reserved tenant ``_keys`` whatever
            tenant the store itself is bound to.
    """

    def __init__(self, store: AsyncStore) -> None:
        self._store = store.tenant(KEYS_TENANT)

    async def create(
        self, tenant: str, *, read_only: bool = False, label: str | None = None
    ) -> tuple[ApiKey, str]:
        """Issue a key for ``tenant``.

        Returns:
            ``(key, token)``: the token is shown here once and cannot be read back.

        Raises:
            ValidationError: the tenant is not a valid id or is the reserved ``_keys``.
        """
        record, token = self._new_record(tenant, read_only, label)
        return self._to_key(await self._store.create_thread(record)), token

    async def list(self, tenant: str | None = None) -> builtins.list[ApiKey]:
        """Every key (revoked ones included), oldest first; only ``tenant``'s if given."""
        user_id = None if tenant is None else check_id(tenant, "tenant")
        out: builtins.list[ApiKey] = []
        cursor = None
        while True:
            page = await self._store.list_threads(
                user_id=user_id, agent_name=AGENT, limit=PAGE, cursor=cursor
            )
            out.extend(self._to_key(r) for r in page.items if self._is_key(r))
            if page.next_cursor is None:
                return self._sorted(out)
            cursor = page.next_cursor

    async def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key at once; revoking a revoked key changes nothing.

        Raises:
            NotFoundError: there is no such key.
        """
        self._check_key_id(key_id)
        while True:
            try:
                record = await self._store.get_thread(key_id)
            except NotFoundError:
                raise self._missing(key_id) from None
            if not self._is_key(record):
                raise self._missing(key_id)
            if record.metadata.get("revoked_at"):
                return self._to_key(record)
            try:
                return self._to_key(
                    await self._store.update_thread(
                        key_id,
                        expected_revision=record.revision,
                        metadata=self._revoked_metadata(record),
                    )
                )
            except RevisionConflictError:
                continue

    async def verify(self, token: str) -> ApiKey | None:
        """The active key a token belongs to, or ``None`` for any other token."""
        parsed = parse_token(token)
        if parsed is None:
            return None
        key_id, secret = parsed
        try:
            record: Thread | None = await self._store.get_thread(key_id)
        except NotFoundError:
            record = None
        return self._check_secret(record, secret)
