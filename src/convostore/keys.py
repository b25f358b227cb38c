"""API keys for the HTTP server, kept in the store they protect.

A key is stored as a thread of the reserved tenant ``_keys`` whose metadata
holds the key's tenant, flags and the SHA-256 hash of its secret. Keeping keys
in the store itself means every backend (memory, JSON, SQLite, PostgreSQL)
holds them without any change to the backend contract, and a server pointed at
a store needs no second database.

Why SHA-256 and not a slow password hash: the secret is 256 random bits made
here, not a human password, so it cannot be guessed from a dictionary and a
fast hash is enough; a slow one would only add latency to every request.

A token reads ``cs_<key_id>_<secret>``: the key id finds the record in one
lookup, the secret is checked against the stored hash with
:func:`hmac.compare_digest`. The secret is returned once, by ``create``, and
never stored.

:class:`KeyManager` (sync) and :class:`AsyncKeyManager` (async) are twins with
the same methods; their pure parts live in :class:`_KeyLogic`.
"""

from __future__ import annotations

import builtins
import datetime as dt
import hashlib
import hmac
import re
import secrets
from typing import Any

from pydantic import BaseModel, ConfigDict

from convostore._ids import new_ulid
from convostore.errors import NotFoundError, RevisionConflictError, ValidationError
from convostore.model import Thread, utcnow
from convostore.store.facade import AsyncStore, Store, _check_id

__all__ = [
    "KEYS_TENANT",
    "TOKEN_PREFIX",
    "ApiKey",
    "AsyncKeyManager",
    "KeyManager",
    "parse_token",
]

KEYS_TENANT = "_keys"
"""The reserved tenant that holds the keys; no key may be issued for it."""

TOKEN_PREFIX = "cs"
_AGENT = "convostore.api-key"
# Used with fullmatch only: "$" would also match before a final newline.
_KEY_ID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")  # a ULID: no "_", so tokens split cleanly
_SECRET = re.compile(r"[A-Za-z0-9_-]{43}")  # 32 random bytes, urlsafe base64
# Compared against when a key id is unknown, so a miss costs what a hit costs.
_DUMMY_HASH = hashlib.sha256(b"convostore: no such key").hexdigest()
_PAGE = 500


class ApiKey(BaseModel):
    """An API key as listed and verified; it never carries the secret.

    Attributes:
        id: the key id, also the middle part of the token.
        tenant: the tenant every request made with the key is scoped to.
        read_only: the key may read but not write.
        label: a free note telling people what the key is for.
        created_at: when the key was made.
        revoked_at: when the key was revoked; a revoked key verifies as ``None``.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    tenant: str
    read_only: bool = False
    label: str | None = None
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def parse_token(token: str) -> tuple[str, str] | None:
    """Split ``cs_<key_id>_<secret>`` into ``(key_id, secret)``; ``None`` if malformed."""
    if not isinstance(token, str):
        return None
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    key_id, secret = parts[1], parts[2]
    if not _KEY_ID.fullmatch(key_id) or not _SECRET.fullmatch(secret):
        return None
    return key_id, secret


def _hash(key_id: str, secret: str) -> str:
    # The key id is hashed with the secret so a hash copied onto another
    # record does not verify there.
    return hashlib.sha256(f"{key_id}:{secret}".encode()).hexdigest()


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


class _KeyLogic:
    """What both managers share: token making, record layout, checks. No I/O."""

    @staticmethod
    def _check_tenant(tenant: str) -> str:
        _check_id(tenant, "tenant")
        if tenant == KEYS_TENANT:
            raise ValidationError(f"{KEYS_TENANT!r} is reserved for API keys", field="tenant")
        return tenant

    @staticmethod
    def _check_label(label: str | None) -> str | None:
        if label is not None and (not isinstance(label, str) or len(label) > 200):
            raise ValidationError("must be a string of at most 200 characters", field="label")
        return label

    @staticmethod
    def _check_key_id(key_id: str) -> str:
        if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
            raise ValidationError("is not an API key id", field="key_id")
        return key_id

    @classmethod
    def _new_record(cls, tenant: str, read_only: bool, label: str | None) -> tuple[Thread, str]:
        tenant = cls._check_tenant(tenant)
        label = cls._check_label(label)
        key_id = new_ulid()
        secret = secrets.token_urlsafe(32)
        record = Thread(
            id=key_id,
            tenant_id=KEYS_TENANT,
            user_id=tenant,
            agent_name=_AGENT,
            title=label,
            metadata={
                "hash": _hash(key_id, secret),
                "tenant": tenant,
                "read_only": bool(read_only),
                "label": label,
                "revoked_at": None,
            },
        )
        return record, f"{TOKEN_PREFIX}_{key_id}_{secret}"

    @staticmethod
    def _to_key(record: Thread) -> ApiKey:
        meta = record.metadata
        revoked = meta.get("revoked_at")
        label = meta.get("label")
        return ApiKey(
            id=record.id,
            tenant=str(meta.get("tenant")),
            read_only=bool(meta.get("read_only")),
            label=label if isinstance(label, str) else None,
            created_at=record.created_at,
            revoked_at=dt.datetime.fromisoformat(revoked) if isinstance(revoked, str) else None,
        )

    @staticmethod
    def _is_key(record: Thread) -> bool:
        return record.agent_name == _AGENT and isinstance(record.metadata.get("hash"), str)

    @staticmethod
    def _revoked_metadata(record: Thread) -> dict[str, Any]:
        return {**record.metadata, "revoked_at": _iso(utcnow())}

    @classmethod
    def _check_secret(cls, record: Thread | None, secret: str) -> ApiKey | None:
        stored = record.metadata.get("hash") if record is not None else None
        expected = stored if isinstance(stored, str) else _DUMMY_HASH
        key_id = record.id if record is not None else "-"
        match = hmac.compare_digest(expected.encode(), _hash(key_id, secret).encode())
        if record is None or not match or not cls._is_key(record):
            return None
        key = cls._to_key(record)
        if not key.active or key.tenant == KEYS_TENANT:
            return None
        return key

    @staticmethod
    def _sorted(keys: builtins.list[ApiKey]) -> builtins.list[ApiKey]:
        return sorted(keys, key=lambda k: (k.created_at, k.id))

    @staticmethod
    def _missing(key_id: str) -> NotFoundError:
        return NotFoundError(f"API key {key_id!r} not found")


class KeyManager(_KeyLogic):
    """Create, list, revoke and verify API keys kept in a sync :class:`Store`.

    Args:
        store: any store; the keys live in its reserved tenant ``_keys`` whatever
            tenant the store itself is bound to.
    """

    def __init__(self, store: Store) -> None:
        self._store = store.tenant(KEYS_TENANT)

    def create(
        self, tenant: str, *, read_only: bool = False, label: str | None = None
    ) -> tuple[ApiKey, str]:
        """Issue a key for ``tenant``.

        Returns:
            ``(key, token)``: the token is shown here once and cannot be read back.

        Raises:
            ValidationError: the tenant is not a valid id or is the reserved ``_keys``.
        """
        record, token = self._new_record(tenant, read_only, label)
        return self._to_key(self._store.create_thread(record)), token

    def list(self, tenant: str | None = None) -> builtins.list[ApiKey]:
        """Every key (revoked ones included), oldest first; only ``tenant``'s if given."""
        user_id = None if tenant is None else _check_id(tenant, "tenant")
        out: builtins.list[ApiKey] = []
        cursor = None
        while True:
            page = self._store.list_threads(
                user_id=user_id, agent_name=_AGENT, limit=_PAGE, cursor=cursor
            )
            out.extend(self._to_key(r) for r in page.items if self._is_key(r))
            if page.next_cursor is None:
                return self._sorted(out)
            cursor = page.next_cursor

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key at once; revoking a revoked key changes nothing.

        Raises:
            NotFoundError: there is no such key.
        """
        self._check_key_id(key_id)
        while True:
            try:
                record = self._store.get_thread(key_id)
            except NotFoundError:
                raise self._missing(key_id) from None
            if not self._is_key(record):
                raise self._missing(key_id)
            if record.metadata.get("revoked_at"):
                return self._to_key(record)
            try:
                return self._to_key(
                    self._store.update_thread(
                        key_id,
                        expected_revision=record.revision,
                        metadata=self._revoked_metadata(record),
                    )
                )
            except RevisionConflictError:
                continue

    def verify(self, token: str) -> ApiKey | None:
        """The active key a token belongs to, or ``None`` for any other token."""
        parsed = parse_token(token)
        if parsed is None:
            return None
        key_id, secret = parsed
        try:
            record: Thread | None = self._store.get_thread(key_id)
        except NotFoundError:
            record = None
        return self._check_secret(record, secret)


class AsyncKeyManager(_KeyLogic):
    """The async twin of :class:`KeyManager`, over an :class:`AsyncStore`."""

    def __init__(self, store: AsyncStore) -> None:
        self._store = store.tenant(KEYS_TENANT)

    async def create(
        self, tenant: str, *, read_only: bool = False, label: str | None = None
    ) -> tuple[ApiKey, str]:
        record, token = self._new_record(tenant, read_only, label)
        return self._to_key(await self._store.create_thread(record)), token

    async def list(self, tenant: str | None = None) -> builtins.list[ApiKey]:
        user_id = None if tenant is None else _check_id(tenant, "tenant")
        out: builtins.list[ApiKey] = []
        cursor = None
        while True:
            page = await self._store.list_threads(
                user_id=user_id, agent_name=_AGENT, limit=_PAGE, cursor=cursor
            )
            out.extend(self._to_key(r) for r in page.items if self._is_key(r))
            if page.next_cursor is None:
                return self._sorted(out)
            cursor = page.next_cursor

    async def revoke(self, key_id: str) -> ApiKey:
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
        parsed = parse_token(token)
        if parsed is None:
            return None
        key_id, secret = parsed
        try:
            record: Thread | None = await self._store.get_thread(key_id)
        except NotFoundError:
            record = None
        return self._check_secret(record, secret)
