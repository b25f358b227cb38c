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

:class:`AsyncKeyManager` (``_async.py``) is written by hand and
:class:`KeyManager` (``_sync.py``) is generated from it, so the two have the
same methods; their pure parts live in :class:`KeyLogic` (this module).
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
from convostore.errors import NotFoundError, ValidationError
from convostore.model import Thread, utcnow
from convostore.store.api import check_id

__all__ = ["AGENT", "KEYS_TENANT", "PAGE", "TOKEN_PREFIX", "ApiKey", "KeyLogic", "parse_token"]

KEYS_TENANT = "_keys"
"""The reserved tenant that holds the keys; no key may be issued for it."""

TOKEN_PREFIX = "cs"
AGENT = "convostore.api-key"
# Used with fullmatch only: "$" would also match before a final newline.
_KEY_ID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")  # a ULID: no "_", so tokens split cleanly
_SECRET = re.compile(r"[A-Za-z0-9_-]{43}")  # 32 random bytes, urlsafe base64
# Compared against when a key id is unknown, so a miss costs what a hit costs.
_DUMMY_HASH = hashlib.sha256(b"convostore: no such key").hexdigest()
PAGE = 500


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


class KeyLogic:
    """What both managers share: token making, record layout, checks. No I/O."""

    @staticmethod
    def _check_tenant(tenant: str) -> str:
        check_id(tenant, "tenant")
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
            agent_name=AGENT,
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
        return record.agent_name == AGENT and isinstance(record.metadata.get("hash"), str)

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
