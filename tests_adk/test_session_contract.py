"""ADK's session-service contract, point by point, on ConvostoreSessionService
over every backend and on ADK's InMemorySessionService (the reference).

The google-adk 2.15 source distribution ships no tests, so these follow the
contract its base class documents and its own services keep (read in
``google/adk/sessions``): scoped state, temp state, event filters, ordering,
duplicates, partial events, and the stale-session check.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from google.adk.errors._stale_session_error import StaleSessionError
from google.adk.errors.already_exists_error import AlreadyExistsError
from google.adk.errors.session_not_found_error import SessionNotFoundError
from google.adk.events.event import Event
from google.adk.events.event_actions import EventActions
from google.adk.sessions import InMemorySessionService
from google.adk.sessions.base_session_service import BaseSessionService, GetSessionConfig
from google.adk.sessions.session import Session
from google.genai import types

from conftest import BACKENDS, url_of
from convostore.integrations.adk import ConvostoreSessionService

pytestmark = pytest.mark.anyio


@pytest.fixture(params=[*BACKENDS, "reference"])
async def service(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    """Ours on each backend, and ADK's InMemorySessionService."""
    if request.param == "reference":
        yield InMemorySessionService()
        return
    svc = ConvostoreSessionService(url_of(request, tmp_path))
    yield svc
    await svc.close()


@pytest.fixture
async def ours(store_url: str) -> AsyncIterator[ConvostoreSessionService]:
    svc = ConvostoreSessionService(store_url)
    yield svc
    await svc.close()


def delta(**state: Any) -> EventActions:
    return EventActions(state_delta=state)


def ev(inv: str = "inv", author: str = "user", **fields: Any) -> Event:
    return Event(invocation_id=inv, author=author, **fields)


async def test_is_a_session_service(ours: ConvostoreSessionService) -> None:
    assert isinstance(ours, BaseSessionService)


async def test_missing_session_reads_as_none(service: Any) -> None:
    assert await service.get_session(app_name="app", user_id="u", session_id="nope") is None


async def test_create_get_delete(service: Any) -> None:
    before = time.time()
    created = await service.create_session(app_name="app", user_id="u", state={"k": "v"})
    assert created.id and created.app_name == "app" and created.user_id == "u"
    assert created.state == {"k": "v"} and created.events == []
    assert before <= created.last_update_time <= time.time()
    got = await service.get_session(app_name="app", user_id="u", session_id=created.id)
    assert got == created
    await service.delete_session(app_name="app", user_id="u", session_id=created.id)
    assert await service.get_session(app_name="app", user_id="u", session_id=created.id) is None
    # Deleting what is not there is no error.
    await service.delete_session(app_name="app", user_id="u", session_id=created.id)


async def test_given_id_taken_raises(service: Any) -> None:
    await service.create_session(app_name="app", user_id="u", session_id="s1")
    with pytest.raises(AlreadyExistsError):
        await service.create_session(app_name="app", user_id="u", session_id="s1")


async def test_same_session_id_for_two_users(service: Any) -> None:
    one = await service.create_session(app_name="app", user_id="u1", session_id="s1")
    await service.append_event(one, ev())
    await service.create_session(app_name="app", user_id="u2", session_id="s1")
    two = await service.get_session(app_name="app", user_id="u2", session_id="s1")
    assert two.user_id == "u2" and two.events == []
    assert len((await service.get_session(app_name="app", user_id="u1", session_id="s1")).events)


async def test_list_sessions_by_user_and_all(service: Any) -> None:
    for user, sid in [("u1", "a"), ("u1", "b"), ("u2", "c")]:
        await service.create_session(app_name="app", user_id=user, session_id=sid, state={"k": sid})
    await service.create_session(app_name="other", user_id="u1", session_id="z")
    mine = (await service.list_sessions(app_name="app", user_id="u1")).sessions
    assert {s.id: s.state for s in mine} == {"a": {"k": "a"}, "b": {"k": "b"}}
    every = (await service.list_sessions(app_name="app")).sessions
    assert sorted(s.id for s in every) == ["a", "b", "c"]
    assert all(s.events == [] for s in every)
    assert (await service.list_sessions(app_name="app", user_id="nobody")).sessions == []


async def test_list_sessions_oldest_update_first(service: Any) -> None:
    a = await service.create_session(app_name="app", user_id="u", session_id="a")
    b = await service.create_session(app_name="app", user_id="u", session_id="b")
    await service.append_event(a, ev(timestamp=b.last_update_time + 5))
    listed = (await service.list_sessions(app_name="app", user_id="u")).sessions
    assert [s.id for s in listed] == ["b", "a"]


async def test_app_state_shared_by_every_user_of_the_app(service: Any) -> None:
    s1 = await service.create_session(app_name="app", user_id="u1")
    await service.append_event(s1, ev(actions=delta(**{"app:k2": "v2"})))
    s2 = await service.create_session(app_name="app", user_id="u2")
    assert s2.state == {"app:k2": "v2"}
    other = await service.create_session(app_name="other", user_id="u1")
    assert other.state == {}


async def test_user_state_shared_by_the_users_sessions_only(service: Any) -> None:
    s1 = await service.create_session(app_name="app", user_id="u1")
    await service.append_event(s1, ev(actions=delta(**{"user:k": "v"})))
    again = await service.create_session(app_name="app", user_id="u1")
    assert again.state == {"user:k": "v"}
    assert (await service.create_session(app_name="app", user_id="u2")).state == {}
    assert await service.get_user_state(app_name="app", user_id="u1") == {"k": "v"}
    assert await service.get_user_state(app_name="app", user_id="u2") == {}
    assert await service.get_user_state(app_name="other", user_id="u1") == {}


async def test_session_state_not_shared(service: Any) -> None:
    s1 = await service.create_session(app_name="app", user_id="u", state={"a": 1})
    await service.append_event(s1, ev(actions=delta(b=2)))
    got = await service.get_session(app_name="app", user_id="u", session_id=s1.id)
    assert got.state == {"a": 1, "b": 2}
    assert (await service.create_session(app_name="app", user_id="u")).state == {}


async def test_none_is_a_value(service: Any) -> None:
    s = await service.create_session(app_name="app", user_id="u", state={"a": 1})
    await service.append_event(s, ev(actions=delta(a=None, **{"user:x": None})))
    got = await service.get_session(app_name="app", user_id="u", session_id=s.id)
    assert got.state == {"a": None, "user:x": None}


async def test_temp_state_in_memory_only(service: Any) -> None:
    s = await service.create_session(app_name="app", user_id="u", state={"temp:t0": 0})
    assert "temp:t0" not in s.state
    event = ev(actions=delta(**{"temp:t": 1, "k": 2}))
    await service.append_event(s, event)
    assert s.state["temp:t"] == 1 and s.state["k"] == 2
    assert event.actions.state_delta == {"k": 2}
    got = await service.get_session(app_name="app", user_id="u", session_id=s.id)
    assert got.state == {"k": 2}
    assert got.events[0].actions.state_delta == {"k": 2}


async def test_partial_events_not_stored(service: Any) -> None:
    s = await service.create_session(app_name="app", user_id="u")
    partial = ev(partial=True, actions=delta(k=1))
    assert await service.append_event(s, partial) is partial
    assert s.events == [] and "k" not in s.state
    got = await service.get_session(app_name="app", user_id="u", session_id=s.id)
    assert got.events == [] and got.state == {}


async def test_last_update_time_is_the_last_events(service: Any) -> None:
    s = await service.create_session(app_name="app", user_id="u")
    stamp = s.last_update_time + 10
    await service.append_event(s, ev(timestamp=stamp))
    assert s.last_update_time == stamp
    got = await service.get_session(app_name="app", user_id="u", session_id=s.id)
    assert got.last_update_time == stamp


async def test_get_session_config(service: Any) -> None:
    s = await service.create_session(app_name="app", user_id="u")
    for i in range(1, 6):
        await service.append_event(s, ev(timestamp=float(i)))

    async def stamps(**config: Any) -> list[float]:
        got = await service.get_session(
            app_name="app", user_id="u", session_id=s.id, config=GetSessionConfig(**config)
        )
        return [e.timestamp for e in got.events]

    assert await stamps() == [1, 2, 3, 4, 5]
    assert await stamps(num_recent_events=0) == []
    assert await stamps(num_recent_events=3) == [3, 4, 5]
    assert await stamps(num_recent_events=9) == [1, 2, 3, 4, 5]
    assert await stamps(after_timestamp=4.0) == [4, 5]
    assert await stamps(after_timestamp=50.0) == []
    assert await stamps(after_timestamp=2.0, num_recent_events=2) == [4, 5]
    assert await stamps(after_timestamp=4.0, num_recent_events=3) == [4, 5]
    with pytest.raises(ValueError):
        GetSessionConfig(num_recent_events=-1)


async def test_append_to_missing_session(service: Any) -> None:
    ghost = Session(id="ghost", app_name="app", user_id="u")
    with pytest.raises(SessionNotFoundError):
        await service.append_event(ghost, ev())


async def test_append_events_in_order(service: Any) -> None:
    s = await service.create_session(app_name="app", user_id="u")
    batch = [ev("i1", actions=delta(a=1)), ev("i2", partial=True), ev("i3", actions=delta(a=2))]
    out = await service.append_events(s, batch)
    assert [e.invocation_id for e in out] == ["i1", "i2", "i3"]
    got = await service.get_session(app_name="app", user_id="u", session_id=s.id)
    assert [e.invocation_id for e in got.events] == ["i1", "i3"]
    assert got.state == {"a": 2} and got == s


# What only a persistent service has: the stale-session check. -----------------


async def test_stale_session_refused(ours: ConvostoreSessionService) -> None:
    first = await ours.create_session(app_name="app", user_id="u")
    await ours.append_event(first, ev("i1", actions=delta(a=1)))
    fresh = await ours.get_session(app_name="app", user_id="u", session_id=first.id)
    assert fresh is not None
    await ours.append_event(fresh, ev("i2", actions=delta(b=2)))
    with pytest.raises(StaleSessionError, match="modified in storage"):
        await ours.append_event(first, ev("i3", actions=delta(c=3, **{"app:x": 1})))
    final = await ours.get_session(app_name="app", user_id="u", session_id=first.id)
    assert final is not None
    assert [e.invocation_id for e in final.events] == ["i1", "i2"]
    assert final.state == {"a": 1, "b": 2}


async def test_concurrent_stale_copies_one_wins(ours: ConvostoreSessionService) -> None:
    s = await ours.create_session(app_name="app", user_id="u")
    for i in range(4):
        latest = await ours.get_session(app_name="app", user_id="u", session_id=s.id)
        assert latest is not None
        copies = [latest.model_copy(deep=True) for _ in range(2)]
        results = await asyncio.gather(
            *(
                ours.append_event(c, ev(f"i{i}-{j}", actions=delta(**{f"k{i}": j})))
                for j, c in enumerate(copies)
            ),
            return_exceptions=True,
        )
        assert sum(isinstance(r, StaleSessionError) for r in results) == 1
    final = await ours.get_session(app_name="app", user_id="u", session_id=s.id)
    assert final is not None and len(final.events) == 4


async def test_session_without_marker_appends(ours: ConvostoreSessionService) -> None:
    s = await ours.create_session(app_name="app", user_id="u", session_id="s")
    built = Session(id="s", app_name="app", user_id="u")
    await ours.append_event(built, ev("i1"))
    with pytest.raises(StaleSessionError):
        await ours.append_event(s, ev("i2"))  # s is stale now
    got = await ours.get_session(app_name="app", user_id="u", session_id="s")
    assert got is not None and [e.invocation_id for e in got.events] == ["i1"]


async def test_initial_shared_state(ours: ConvostoreSessionService) -> None:
    """An initial ``app:``/``user:`` state is created with the thread in one
    transaction, shared by the user's and the app's other sessions; a taken id
    writes none of it."""
    state = {"app:a": 1, "user:b": 2, "c": 3, "temp:t": 4}
    s = await ours.create_session(app_name="app", user_id="u", session_id="s", state=state)
    assert s.state == {"app:a": 1, "user:b": 2, "c": 3}
    other = await ours.create_session(app_name="app", user_id="u")
    assert other.state == {"app:a": 1, "user:b": 2}
    stranger = await ours.create_session(app_name="app", user_id="v")
    assert stranger.state == {"app:a": 1}
    with pytest.raises(AlreadyExistsError):
        await ours.create_session(
            app_name="app", user_id="u", session_id="s", state={"user:b": 9, "app:a": 9}
        )
    assert await ours.get_user_state(app_name="app", user_id="u") == {"b": 2}


async def test_content_bytes_and_grounding(service: Any) -> None:
    s = await service.create_session(app_name="app", user_id="u")
    content = types.Content(
        role="user", parts=[types.Part.from_bytes(data=b"\x89PNG\x00", mime_type="image/png")]
    )
    grounding = types.GroundingMetadata(search_entry_point=types.SearchEntryPoint(sdk_blob=b"blob"))
    await service.append_event(s, ev(content=content, grounding_metadata=grounding))
    got = await service.get_session(app_name="app", user_id="u", session_id=s.id)
    assert got.events[0].content == content
    assert got.events[0].grounding_metadata == grounding
