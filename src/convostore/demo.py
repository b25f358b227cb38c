"""A short tour that stores a conversation and prints it back.

Run with ``python -m convostore demo [--store URL]``. Without a URL the tour runs
on a SQLite file in a temporary directory that is removed when it ends, so trying
the demo never writes into a real store (``convostore.db`` or ``CONVOSTORE_URL``);
with one, the demo thread is stored there and kept.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from convostore import Message, MessageMetadata, TokenUsage, ToolCallPart, open_store


def run(argv: list[str]) -> int:
    """Run the tour on the store URL ``argv[0]``, else on a temporary store."""
    if argv:
        return _tour(argv[0], temporary=False)
    with tempfile.TemporaryDirectory(prefix="convostore-demo-") as tmp:
        return _tour(f"sqlite:///{Path(tmp) / 'demo.db'}", temporary=True)


def _tour(url: str, *, temporary: bool) -> int:
    with open_store(url) as store:
        thread = store.create_thread(
            user_id="demo-user", agent_name="weather-bot", title="What's the weather?"
        )
        store.append(
            thread.id,
            [
                Message.system("You are a helpful weather assistant."),
                Message.user("What's the weather in Paris?"),
                Message.assistant("").with_parts(
                    ToolCallPart(
                        tool_call_id="call_1", tool_name="get_weather", args={"city": "Paris"}
                    )
                ),
                Message.tool('{"temp_c": 18, "sky": "clear"}', "call_1", tool_name="get_weather"),
                Message.assistant("It is 18 °C and clear in Paris.").with_metadata(
                    MessageMetadata(
                        model="gpt-4o", provider="openai", token_usage=TokenUsage.of(120, 14)
                    )
                ),
            ],
        )
        print(
            f"store:  {store.backend.describe()}"
            + (
                "  (temporary, removed when the demo ends; --store URL keeps it)"
                if temporary
                else ""
            )
        )
        print(f"thread: {thread.id}  ({thread.title})")
        for m in store.list_messages(thread.id).items:
            body = m.content or ", ".join(
                f"{p.tool_name}({json.dumps(p.args)})" for p in m.tool_calls
            )
            print(f"  #{m.seq:<2} turn {m.turn}  {m.role.value:<9} {body}")
        s = store.summaries(agent_name="weather-bot", limit=1)[0]
        print(
            f"summary: {s.message_count} messages, {s.turn_count} turn(s), "
            f"{s.tool_call_count} tool call(s), {s.usage.total_tokens} tokens reported"
        )
        print(f"threads in the store: {store.count_threads()}")
    return 0
