"""API keys: issued once, stored hashed, verified in constant time, revocable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from convostore import open_async_store, open_store
from convostore.errors import NotFoundError, ValidationError
from convostore.keys import KEYS_TENANT, ApiKey, AsyncKeyManager, KeyManager, parse_token

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", "sqlite"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return "memory://" if request.param == "memory" else f"sqlite:///{tmp_path}/keys.db"


def test_create_verify_list_revoke(url: str) -> None:
    with open_store(url) as store:
        km = KeyManager(store)
        key, token = km.create("acme", read_only=True, label="ci")
        assert isinstance(key, ApiKey) and key.tenant == "acme" and key.read_only
        assert key.label == "ci" and key.revoked_at is None
        assert token.startswith(f"cs_{key.id}_")
        assert km.verify(token) == key
        other, _ = km.create("globex")
        assert [k.id for k in km.list()] == [key.id, other.id]
        assert [k.id for k in km.list("acme")] == [key.id]
        assert km.list("nobody") == []

        revoked = km.revoke(key.id)
        assert revoked.revoked_at is not None
        assert km.verify(token) is None
        assert km.revoke(key.id) == revoked  # revoking again changes nothing
        assert km.list("acme")[0].revoked_at == revoked.revoked_at


def test_keys_survive_reopening(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/keys.db"
    with open_store(url) as store:
        key, token = KeyManager(store).create("acme")
    with open_store(url) as store:
        assert KeyManager(store).verify(token) == key


def _secret(token: str) -> str:
    # The secret is urlsafe base64 and may itself hold "_": split from the left.
    parsed = parse_token(token)
    assert parsed is not None
    return parsed[1]


def test_only_a_hash_is_stored(url: str) -> None:
    with open_store(url) as store:
        km = KeyManager(store)
        key, token = km.create("acme")
        secret = _secret(token)
        record = store.tenant(KEYS_TENANT).get_thread(key.id)
        dumped = record.model_dump_json()
        assert secret not in dumped
        assert len(record.metadata["hash"]) == 64  # type: ignore[arg-type]
        # The tenant's own view holds no trace of its keys.
        assert store.tenant("acme").list_threads().items == []


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "cs",
        "cs__",
        "nope",
        "Bearer x",
        "cs_x_y",
        "xx_01ARZ3NDEKTSV4RRFFQ69G5FAV_" + "a" * 43,
        "cs_01ARZ3NDEKTSV4RRFFQ69G5FAV_" + "a" * 42,
        "cs_01ARZ3NDEKTSV4RRFFQ69G5FAV_" + "a" * 43,  # well formed, unknown id
    ],
)
def test_malformed_or_unknown_tokens_do_not_verify(bad: str) -> None:
    with open_store("memory://") as store:
        km = KeyManager(store)
        km.create("acme")
        assert km.verify(bad) is None


def test_tampered_secret_and_swapped_id_do_not_verify() -> None:
    with open_store("memory://") as store:
        km = KeyManager(store)
        a, token_a = km.create("acme")
        b, _ = km.create("globex")
        secret_a = _secret(token_a)
        flipped = secret_a[:-1] + ("A" if secret_a[-1] != "A" else "B")
        assert km.verify(f"cs_{a.id}_{flipped}") is None
        assert km.verify(f"cs_{b.id}_{secret_a}") is None  # a's secret on b's id


def test_parse_token() -> None:
    token = "cs_01ARZ3NDEKTSV4RRFFQ69G5FAV_" + "a_b-" * 10 + "xyz"
    assert parse_token(token) == ("01ARZ3NDEKTSV4RRFFQ69G5FAV", "a_b-" * 10 + "xyz")
    assert parse_token("cs_01ARZ3NDEKTSV4RRFFQ69G5FAV") is None


def test_a_trailing_newline_never_passes_a_key_check() -> None:
    # A "$" anchor matches before a final newline: such a key id must be no key
    # id at all, not one the store's id check refuses later under another field.
    with open_store("memory://") as store:
        km = KeyManager(store)
        key, token = km.create("acme")
        secret = _secret(token)
        assert parse_token(f"cs_{key.id}\n_{secret}") is None
        assert parse_token(f"{token}\n") is None
        assert km.verify(f"cs_{key.id}\n_{secret}") is None
        with pytest.raises(ValidationError) as info:
            km.revoke(f"{key.id}\n")
        assert info.value.field == "key_id"
        assert km.verify(token) == key


async def test_a_trailing_newline_never_passes_a_key_check_async() -> None:
    async with open_async_store("memory://") as store:
        km = AsyncKeyManager(store)
        key, token = await km.create("acme")
        assert await km.verify(f"cs_{key.id}\n_{_secret(token)}") is None
        with pytest.raises(ValidationError) as info:
            await km.revoke(f"{key.id}\n")
        assert info.value.field == "key_id"


@pytest.mark.parametrize("tenant", [KEYS_TENANT, "", "bad\ttenant", "nul\x00", "a" * 256, "acme\n"])
def test_create_refuses_reserved_and_invalid_tenants(tenant: str) -> None:
    with open_store("memory://") as store, pytest.raises(ValidationError) as info:
        KeyManager(store).create(tenant)
    assert info.value.field == "tenant"


def test_create_refuses_oversized_label() -> None:
    with open_store("memory://") as store, pytest.raises(ValidationError) as info:
        KeyManager(store).create("acme", label="x" * 201)
    assert info.value.field == "label"


def test_revoke_unknown_or_malformed_id() -> None:
    with open_store("memory://") as store:
        km = KeyManager(store)
        with pytest.raises(NotFoundError):
            km.revoke("01ARZ3NDEKTSV4RRFFQ69G5FAV")
        with pytest.raises(ValidationError):
            km.revoke("not a key id")


def test_a_thread_of_the_keys_tenant_that_is_not_a_key_never_verifies() -> None:
    with open_store("memory://") as store:
        km = KeyManager(store)
        key, token = km.create("acme")
        raw = store.tenant(KEYS_TENANT)
        raw.update_thread(key.id, agent_name="something-else")
        assert km.verify(token) is None
        with pytest.raises(NotFoundError):
            km.revoke(key.id)


def test_list_pages_through_many_keys() -> None:
    with open_store("memory://") as store:
        km = KeyManager(store)
        made = [km.create(f"t{i % 3}")[0].id for i in range(1203)]
        assert [k.id for k in km.list()] == made
        assert len(km.list("t1")) == 401


async def test_async_twin_matches(url: str) -> None:
    async with open_async_store(url) as store:
        km = AsyncKeyManager(store)
        key, token = await km.create("acme", label="a")
        assert await km.verify(token) == key
        assert [k.id for k in await km.list("acme")] == [key.id]
        assert (await km.revoke(key.id)).revoked_at is not None
        assert await km.verify(token) is None
        with pytest.raises(NotFoundError):
            await km.revoke("01ARZ3NDEKTSV4RRFFQ69G5FAV")


def test_twins_have_the_same_methods() -> None:
    public = {n for n in dir(KeyManager) if not n.startswith("_")}
    assert public == {n for n in dir(AsyncKeyManager) if not n.startswith("_")}
    assert public == {"create", "list", "revoke", "verify"}


def test_api_key_serialises_without_secret() -> None:
    with open_store("memory://") as store:
        key, token = KeyManager(store).create("acme")
    data = json.loads(key.model_dump_json())
    assert set(data) == {"id", "tenant", "read_only", "label", "created_at", "revoked_at"}
    assert _secret(token) not in key.model_dump_json()
