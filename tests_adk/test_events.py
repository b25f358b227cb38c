"""Events come back exactly as appended, and convostore sees what they say:
roles, parts, tool calls, token usage, model, execution and time. A
property test runs random event sequences through the service and ADK's
InMemorySessionService and compares what each gives back."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from google.adk.events.event import Event
from google.adk.events.event_actions import EventActions
from google.adk.sessions import InMemorySessionService
from google.genai import types
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convostore.errors import ValidationError
from convostore.integrations.adk import ConvostoreSessionService
from convostore.model import Role

pytestmark = pytest.mark.anyio


@pytest.fixture
async def ours(store_url: str) -> AsyncIterator[ConvostoreSessionService]:
    svc = ConvostoreSessionService(store_url)
    yield svc
    await svc.close()


def rich_events() -> list[Event]:
    """One of each kind of event a run writes, with every field ADK sets."""
    call = types.FunctionCall(id="adk-call-1", name="weather", args={"city": "Paris"})
    return [
        Event(
            invocation_id="e-1",
            author="user",
            content=types.Content(
                role="user",
                parts=[
                    types.Part(text="Weather in Paris? See the map."),
                    types.Part.from_bytes(data=b"\x89PNG\r\n\x00\xff", mime_type="image/png"),
                ],
            ),
            timestamp=1_700_000_000.123456,
        ),
        Event(
            invocation_id="e-1",
            author="weather_agent",
            branch="root.weather_agent",
            content=types.Content(
                role="model",
                parts=[
                    types.Part(text="Let me think.", thought=True),
                    types.Part(function_call=call, thought_signature=b"sig\x00\x01\xfe"),
                ],
            ),
            usage_metadata=types.GenerateContentResponseUsageMetadata(
                prompt_token_count=12, candidates_token_count=7, total_token_count=19
            ),
            model_version="gemini-2.5-flash",
            finish_reason=types.FinishReason.STOP,
            long_running_tool_ids={"adk-call-1"},
            timestamp=1_700_000_001.5,
        ),
        Event(
            invocation_id="e-1",
            author="weather_agent",
            content=types.Content(
                role="user",
                parts=[
                    types.Part(
                        function_response=types.FunctionResponse(
                            id="adk-call-1", name="weather", response={"output": "18 C"}
                        )
                    )
                ],
            ),
            actions=EventActions(
                state_delta={"city": "Paris", "user:last_city": "Paris", "app:calls": 1},
                artifact_delta={"map.png": 0},
                skip_summarization=True,
            ),
            timestamp=1_700_000_002.25,
        ),
        Event(
            invocation_id="e-1",
            author="weather_agent",
            content=types.Content(role="model", parts=[types.Part(text="It is 18 C in Paris.")]),
            grounding_metadata=types.GroundingMetadata(web_search_queries=["paris weather"]),
            citation_metadata=types.CitationMetadata(),
            custom_metadata={"k": [1, 2]},
            turn_complete=True,
            actions=EventActions(transfer_to_agent="root", escalate=True),
            input_transcription=types.Transcription(text="weather", finished=True),
            error_code="E1",
            error_message="none really",
            interrupted=False,
            timestamp=1_700_000_003.0,
        ),
        Event(invocation_id="e-2", author="root", actions=EventActions(state_delta={"n": None})),
    ]


async def test_events_round_trip_exactly(ours: ConvostoreSessionService) -> None:
    s = await ours.create_session(app_name="app", user_id="ada", session_id="s1")
    events = rich_events()
    for event in events:
        await ours.append_event(s, event)
    got = await ours.get_session(app_name="app", user_id="ada", session_id="s1")
    assert got is not None
    assert got.events == events
    assert got == s
    # Exactly what ADK's database service stores for them.
    assert [e.model_dump(mode="json", exclude_none=True) for e in got.events] == [
        e.model_dump(mode="json", exclude_none=True) for e in events
    ]


async def test_convostore_sees_roles_parts_and_usage(ours: ConvostoreSessionService) -> None:
    s = await ours.create_session(app_name="app", user_id="ada", session_id="s1")
    for event in rich_events():
        await ours.append_event(s, event)
    tenant = ours.store.tenant("app")
    thread = await tenant.get_thread("ada:s1")
    assert thread.user_id == "ada" and thread.agent_name == "app"
    assert thread.metadata["adk"] == {"app_name": "app", "user_id": "ada", "session_id": "s1"}
    msgs = await tenant.load_messages("ada:s1")
    assert [m.role for m in msgs] == [
        Role.USER,
        Role.ASSISTANT,
        Role.USER,
        Role.ASSISTANT,
        Role.ASSISTANT,
    ]
    user, call, result, answer, state_only = msgs
    assert user.content.startswith("Weather in Paris?")
    assert [p.type for p in user.parts] == ["text", "image"]
    assert call.tool_calls[0].tool_name == "weather"
    assert call.tool_calls[0].args == {"city": "Paris"}
    assert call.name == "weather_agent" and call.execution_id == "e-1"
    assert call.metadata.model == "gemini-2.5-flash"
    assert call.metadata.token_usage is not None
    assert call.metadata.token_usage.total_tokens == 19
    assert result.tool_results[0].tool_call_id == "adk-call-1"
    assert answer.content == "It is 18 C in Paris."
    assert state_only.parts == [] and state_only.native is not None
    assert user.created_at.timestamp() == pytest.approx(1_700_000_000.123456, abs=1e-6)
    assert all(m.native is not None and m.native.format == "adk" for m in msgs)
    # The event's state delta went to the scopes, with the event.
    assert (await tenant.get_state("user", user_id="ada")).data == {"last_city": "Paris"}
    assert (await tenant.get_state("app")).data == {"calls": 1}
    hits = await tenant.search("Paris", user_id="ada")
    assert {h.message.id for h in hits.items} >= {user.id, answer.id}


async def test_thought_signature_bytes_survive(ours: ConvostoreSessionService) -> None:
    s = await ours.create_session(app_name="app", user_id="ada")
    event = rich_events()[1]
    await ours.append_event(s, event)
    got = await ours.get_session(app_name="app", user_id="ada", session_id=s.id)
    assert got is not None
    part = got.events[0].content.parts[1]  # type: ignore[union-attr]
    assert part.thought_signature == b"sig\x00\x01\xfe"
    msgs = await ours.store.tenant("app").load_messages(f"ada:{s.id}")
    signature = msgs[0].tool_calls[0].signature
    assert signature is not None
    assert base64.b64decode(signature) == b"sig\x00\x01\xfe"


async def test_nul_refused_whole(ours: ConvostoreSessionService) -> None:
    """Text with NUL characters is refused (no backend stores them in text):
    neither the event nor its state delta is stored."""
    s = await ours.create_session(app_name="app", user_id="ada")
    bad = Event(
        author="user",
        content=types.Content(role="user", parts=[types.Part(text="a\x00b")]),
        actions=EventActions(state_delta={"k": 1, "user:k": 1}),
    )
    with pytest.raises(ValidationError, match="NUL"):
        await ours.append_event(s, bad)
    got = await ours.get_session(app_name="app", user_id="ada", session_id=s.id)
    assert got is not None and got.events == [] and got.state == {}


# Property: any sequence of events and deltas, same result as the reference. ---

# Stored text holds no NUL and no lone surrogate (on every backend): see
# test_nul_refused_whole.
_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=20)
_keys = st.sampled_from(["a", "b", "app:a", "app:b", "user:a", "user:b", "temp:a"])
_values = st.none() | st.integers(-5, 5) | _text | st.lists(st.booleans(), max_size=3)
_event = st.builds(
    lambda text, delta, author, partial, dt: Event(
        invocation_id="inv",
        author=author,
        partial=partial or None,
        content=types.Content(
            role="user" if author == "user" else "model", parts=[types.Part(text=text)]
        )
        if text is not None
        else None,
        actions=EventActions(state_delta=delta),
        timestamp=1_700_000_000 + dt,
    ),
    st.none() | _text.filter(bool),
    st.dictionaries(_keys, _values, max_size=4),
    st.sampled_from(["user", "agent"]),
    st.booleans(),
    st.floats(0, 1_000, allow_nan=False),
)
_plan = st.lists(
    st.tuples(st.sampled_from(["u1", "u2"]), st.sampled_from(["s1", "s2"]), _event),
    max_size=12,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=_plan)
def test_same_as_reference(plan: list[tuple[str, str, Event]]) -> None:
    asyncio.run(_compare(plan))


async def _compare(plan: list[tuple[str, str, Event]]) -> None:
    ours = ConvostoreSessionService("memory://")
    ref = InMemorySessionService()
    try:
        for svc in (ours, ref):
            for user in ("u1", "u2"):
                for sid in ("s1", "s2"):
                    await svc.create_session(app_name="app", user_id=user, session_id=sid)
        for user, sid, event in plan:
            results = []
            for svc in (ours, ref):
                session = await svc.get_session(app_name="app", user_id=user, session_id=sid)
                assert session is not None
                results.append(
                    (await svc.append_event(session, event.model_copy(deep=True)), session)
                )
            assert results[0][0] == results[1][0]
            assert results[0][1].state == results[1][1].state
        for user in ("u1", "u2"):
            for sid in ("s1", "s2"):
                a = await ours.get_session(app_name="app", user_id=user, session_id=sid)
                b = await ref.get_session(app_name="app", user_id=user, session_id=sid)
                assert a is not None and b is not None
                assert a.events == b.events and a.state == b.state
                assert a.last_update_time == b.last_update_time or not a.events
            assert await ours.get_user_state(app_name="app", user_id=user) == (
                await ref.get_user_state(app_name="app", user_id=user)
            )
        listed = [
            (s.user_id, s.id, s.state) for s in (await ours.list_sessions(app_name="app")).sessions
        ]
        expected = [
            (s.user_id, s.id, s.state) for s in (await ref.list_sessions(app_name="app")).sessions
        ]
        assert sorted(listed) == sorted(expected)
    finally:
        await ours.close()


def test_cli_reads_the_sessions(tmp_path: Path) -> None:
    """The CLI lists, shows and searches what the service stored, by tenant."""
    from click.testing import CliRunner

    from convostore.cli import cli

    url = f"sqlite:///{tmp_path / 'cli.db'}"

    async def write() -> None:
        async with ConvostoreSessionService(url) as svc:
            s = await svc.create_session(app_name="weather", user_id="ada", session_id="s1")
            for event in rich_events():
                await svc.append_event(s, event)

    asyncio.run(write())

    def run(*args: str) -> str:
        result = CliRunner().invoke(cli, [*args, "--store", url, "--tenant", "weather"])
        assert result.exit_code == 0, result.output
        return result.output

    assert "ada:s1" in run("threads", "list", "--user", "ada")
    assert "It is 18 C in Paris." in run("messages", "tail", "ada:s1")
    assert "ada:s1" in run("search", "Paris", "--user", "ada")
    assert "last_city" in run("state", "show", "--user", "ada")
