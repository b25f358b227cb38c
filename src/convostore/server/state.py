"""Routes on user and app state: read, replace, and merge keys.

``/v1/state/app`` is the state of the caller's tenant, shared by all its
threads; ``/v1/state/users/{user_id}`` the state one user's threads share.
Responses carry the state's revision as ETag; writes take
``If-Match: "<revision>"`` as the expected revision (409 when stale). A PATCH
without If-Match is still safe against concurrent writers: its keys are set
and removed in one atomic write, so writers of other keys keep theirs.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Response

from convostore.model import ScopedState, StateScope

from .deps import ExpectedRevision, PathId, TenantStore, etag
from .schemas import StateReplace

__all__ = ["router"]

router = APIRouter(prefix="/v1/state", tags=["state"])

UserId = Annotated[
    PathId,
    Path(description="A user id of the caller's tenant, percent-encoded as one path segment."),
]
MergePatch = Annotated[
    dict[str, Any],
    Body(
        description="A JSON merge patch (RFC 7396) of the values: each key is set to its "
        "value, a ``null`` value removes the key. Keys cannot start with ``app:``, "
        "``user:`` or ``temp:``.",
        examples=[{"language": "fr", "draft": None}],
    ),
]


def _answer(response: Response, state: ScopedState) -> ScopedState:
    response.headers["ETag"] = etag(state.revision)
    return state


async def _patch(
    store: Any, scope: StateScope, user_id: str | None, patch: dict[str, Any], expected: int | None
) -> ScopedState:
    changes = {k: v for k, v in patch.items() if v is not None}
    remove = [k for k, v in patch.items() if v is None]
    state: ScopedState = await store.update_state(
        scope, user_id=user_id, changes=changes, remove=remove, expected_revision=expected
    )
    return state


@router.get("/app", operation_id="getAppState", response_model=ScopedState)
async def get_app_state(store: TenantStore, response: Response) -> ScopedState:
    """The tenant's app state (empty at revision 0 until first written)."""
    return _answer(response, await store.get_state(StateScope.APP))


@router.put("/app", operation_id="replaceAppState", response_model=ScopedState)
async def put_app_state(
    store: TenantStore, body: StateReplace, expected: ExpectedRevision, response: Response
) -> ScopedState:
    """Replace all of the app state's values (``{"data": {}}`` empties it)."""
    state = await store.update_state(StateScope.APP, replace=body.data, expected_revision=expected)
    return _answer(response, state)


@router.patch("/app", operation_id="patchAppState", response_model=ScopedState)
async def patch_app_state(
    store: TenantStore, patch: MergePatch, expected: ExpectedRevision, response: Response
) -> ScopedState:
    """Set and remove keys of the app state in one write."""
    return _answer(response, await _patch(store, StateScope.APP, None, patch, expected))


@router.get("/users/{user_id}", operation_id="getUserState", response_model=ScopedState)
async def get_user_state(store: TenantStore, user_id: UserId, response: Response) -> ScopedState:
    """The state shared by the user's threads (empty at revision 0 until first written)."""
    return _answer(response, await store.get_state(StateScope.USER, user_id=user_id))


@router.put("/users/{user_id}", operation_id="replaceUserState", response_model=ScopedState)
async def put_user_state(
    store: TenantStore,
    user_id: UserId,
    body: StateReplace,
    expected: ExpectedRevision,
    response: Response,
) -> ScopedState:
    """Replace all of the user state's values (``{"data": {}}`` empties it: the way
    to delete what is kept about a user)."""
    state = await store.update_state(
        StateScope.USER, user_id=user_id, replace=body.data, expected_revision=expected
    )
    return _answer(response, state)


@router.patch("/users/{user_id}", operation_id="patchUserState", response_model=ScopedState)
async def patch_user_state(
    store: TenantStore,
    user_id: UserId,
    patch: MergePatch,
    expected: ExpectedRevision,
    response: Response,
) -> ScopedState:
    """Set and remove keys of the user state in one write."""
    return _answer(response, await _patch(store, StateScope.USER, user_id, patch, expected))
