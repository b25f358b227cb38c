"""Upgrading a PostgreSQL schema that version-1 code wrote to the latest version.

At version 1 a thread row kept the whole thread as JSON in ``body`` (its
counters, usage and cost included) and a message row kept ``deleted_at`` as a
column and its other flags (``pinned``, ``archived_at``) inside its JSON.
Migration 2 adds the live message count to the thread JSON; migration 3 moves
the counters and the flags into columns and rewrites the rows in place.

The rows below are what version-1 code wrote, member for member and in its
member order: the lean bodies of its last release (``None`` fields, ``pinned``
false, empty message metadata, and usage and cost at zero left out) and one
thread, ``th_early``, in the full form of its first release (every field,
``"pinned": false``, ``"archived_at": null``). Their JSON text is produced by
pydantic-core's serialiser, as version 1 produced it. They go into a schema
built by migration 1 alone, with the statements version 1 ran, and then the
current code opens that schema.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pydantic_core
import pytest

from convostore import (
    ConversationSnapshot,
    Message,
    SchemaTooOldError,
    Thread,
    ThreadSummary,
)
from convostore.keys import KeyManager
from convostore.store import Store, open_store
from convostore.store.postgres import PostgresBackend, drop_schema, render_ddl
from convostore.store.postgres.migrations import (
    BOOTSTRAP,
    LATEST,
    MIGRATIONS,
    MIGRATIONS_TABLE,
    quote_ident,
    render,
)

pytestmark = pytest.mark.postgres

# --- the rows version 1 wrote ---------------------------------------------------------
#
# Written by version-1 code: three API keys (tenant ``_keys``; secrets below),
# and in tenant ``acme`` a long support thread (system prompt, tool calls and
# results, usage and cost, every part type, a native payload; pinned,
# soft-deleted, archived, pinned-and-deleted and archived-and-deleted
# messages), a soft-deleted thread with EUR costs, an empty ended thread, a
# thread of mixed currencies and the early full-form thread; in tenant
# ``globex`` a thread with the same id as acme's.

V1_THREADS = [
    {
        "id": "01HXAAAAAAAAAAAAAAAAAAAAAA",
        "tenant_id": "_keys",
        "user_id": "acme",
        "agent_name": "convostore.api-key",
        "model": None,
        "title": None,
        "metadata": {
            "hash": "110d2f9a46f31b31706395a2b7cd0f4d1fb9a1d69dbb56615f7f8d42c0ea4d2b",
            "tenant": "acme",
            "read_only": False,
            "label": None,
            "revoked_at": None,
        },
        "state": {"variables": {}, "data": {}},
        "created_at": "2024-05-01T13:20:00Z",
        "updated_at": "2024-05-01T13:20:00Z",
        "ended_at": None,
        "deleted_at": None,
        "revision": 0,
        "message_count": 0,
        "turn_count": 0,
        "tool_call_count": 0,
        "token_count": 0,
    },
    {
        "id": "01HXBBBBBBBBBBBBBBBBBBBBBB",
        "tenant_id": "_keys",
        "user_id": "globex",
        "agent_name": "convostore.api-key",
        "model": None,
        "title": "dashboard",
        "metadata": {
            "hash": "63b7988a6409c41831f6394c8405a72b62b46d58c4a47ab029c85abd73e220f1",
            "tenant": "globex",
            "read_only": True,
            "label": "dashboard",
            "revoked_at": None,
        },
        "state": {"variables": {}, "data": {}},
        "created_at": "2024-05-01T13:21:00Z",
        "updated_at": "2024-05-01T13:21:00Z",
        "ended_at": None,
        "deleted_at": None,
        "revision": 0,
        "message_count": 0,
        "turn_count": 0,
        "tool_call_count": 0,
        "token_count": 0,
    },
    {
        "id": "01HXCCCCCCCCCCCCCCCCCCCCCC",
        "tenant_id": "_keys",
        "user_id": "acme",
        "agent_name": "convostore.api-key",
        "model": None,
        "title": "old",
        "metadata": {
            "hash": "4002bf7073dca69f8749a4cca464e0b8b1abbabddd4e28ff6c778406fe719bb9",
            "tenant": "acme",
            "read_only": False,
            "label": "old",
            "revoked_at": "2024-05-01T13:23:00+00:00",
        },
        "state": {"variables": {}, "data": {}},
        "created_at": "2024-05-01T13:22:00Z",
        "updated_at": "2024-05-01T13:30:16Z",
        "ended_at": None,
        "deleted_at": None,
        "revision": 1,
        "message_count": 0,
        "turn_count": 0,
        "tool_call_count": 0,
        "token_count": 0,
    },
    {
        "id": "th_empty",
        "tenant_id": "acme",
        "user_id": None,
        "agent_name": None,
        "model": None,
        "title": "nothing said",
        "metadata": {},
        "state": {"variables": {}, "data": {}},
        "created_at": "2024-05-01T12:50:00Z",
        "updated_at": "2024-05-01T13:30:13.123456Z",
        "ended_at": "2024-05-01T12:51:00Z",
        "deleted_at": None,
        "revision": 1,
        "message_count": 0,
        "turn_count": 0,
        "tool_call_count": 0,
        "token_count": 0,
    },
    {
        "id": "th_gone",
        "tenant_id": "acme",
        "user_id": "u_bob",
        "agent_name": "support-bot",
        "model": None,
        "title": "Old chat",
        "metadata": {"keep": False},
        "state": {"variables": {}, "data": {}},
        "created_at": "2024-05-01T12:40:00Z",
        "updated_at": "2024-05-01T13:30:12Z",
        "ended_at": None,
        "deleted_at": "2024-05-01T13:30:12Z",
        "revision": 2,
        "message_count": 2,
        "turn_count": 1,
        "tool_call_count": 0,
        "token_count": 3,
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        "cost": {
            "input_cost": 0.1,
            "output_cost": 0.2,
            "total_cost": 0.30000000000000004,
            "currency": "EUR",
        },
    },
    {
        "id": "th_mixed",
        "tenant_id": "acme",
        "user_id": "u_alice",
        "agent_name": "router",
        "model": None,
        "title": None,
        "metadata": {},
        "state": {"variables": {}, "data": {}},
        "created_at": "2024-05-01T13:00:00Z",
        "updated_at": "2024-05-01T13:30:14Z",
        "ended_at": None,
        "deleted_at": None,
        "revision": 1,
        "message_count": 3,
        "turn_count": 1,
        "tool_call_count": 0,
        "token_count": 8,
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
        "cost": {
            "input_cost": 0.50001,
            "output_cost": 0.25002,
            "total_cost": 0.75003,
            "currency": "mixed",
        },
    },
    {
        "id": "th_support",
        "tenant_id": "acme",
        "user_id": "u_alice",
        "agent_name": "support-bot",
        "model": "gpt-4o",
        "title": "Refund for order #1234 — café ☕",
        "metadata": {
            "channel": "web",
            "priority": 2,
            "tags": ["refund", "vip"],
            "nested": {"a": None, "b": 1.5},
            "convostore.conversation": {"turn_offset": 0},
        },
        "state": {
            "variables": {"locale": "fr-FR", "step": "confirm"},
            "data": {
                "cart": {"items": [1, 2], "total": 19.99},
                "score": 0.75,
                "flag": True,
                "none": None,
            },
        },
        "created_at": "2024-05-01T12:00:00Z",
        "updated_at": "2024-05-01T13:30:10Z",
        "ended_at": None,
        "deleted_at": None,
        "revision": 10,
        "message_count": 12,
        "turn_count": 4,
        "tool_call_count": 2,
        "token_count": 122,
        "usage": {"prompt_tokens": 250, "completion_tokens": 50, "total_tokens": 300},
        "cost": {
            "input_cost": 0.0025,
            "output_cost": 0.005,
            "total_cost": 0.0075,
            "currency": "USD",
        },
    },
    {
        "id": "th_support",
        "tenant_id": "globex",
        "user_id": "u_zed",
        "agent_name": None,
        "model": None,
        "title": None,
        "metadata": {"big": 1e16, "tiny": 1e-07, "int": 12345678901234567890, "neg": -0.0},
        "state": {"variables": {"x": "y"}, "data": {}},
        "created_at": "2024-05-01T13:10:00Z",
        "updated_at": "2024-05-01T13:30:15.123456Z",
        "ended_at": None,
        "deleted_at": None,
        "revision": 1,
        "message_count": 1,
        "turn_count": 1,
        "tool_call_count": 0,
        "token_count": 5,
    },
    {
        "id": "th_early",
        "tenant_id": "acme",
        "user_id": "u_carol",
        "agent_name": "coder",
        "model": None,
        "title": None,
        "metadata": {},
        "state": {"variables": {"lang": "en"}, "data": {}},
        "created_at": "2024-04-01T08:00:00Z",
        "updated_at": "2024-04-01T09:00:04Z",
        "ended_at": None,
        "deleted_at": None,
        "revision": 4,
        "message_count": 4,
        "turn_count": 2,
        "tool_call_count": 1,
        "token_count": 5,
        "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9},
        "cost": {
            "input_cost": 0.25,
            "output_cost": 0.5,
            "total_cost": 0.75,
            "currency": "USD",
        },
    },
]
V1_MESSAGES = {
    ("acme", "th_gone"): [
        {
            "id": "m_g1",
            "thread_id": "th_gone",
            "seq": 1,
            "role": "user",
            "content": "hello",
            "turn": 1,
            "token_count": 1,
            "created_at": "2024-05-01T12:41:00Z",
        },
        {
            "id": "m_g2",
            "thread_id": "th_gone",
            "seq": 2,
            "role": "assistant",
            "content": "hi there",
            "turn": 1,
            "metadata": {
                "completed_at": None,
                "duration_ms": None,
                "model": None,
                "provider": None,
                "token_usage": {
                    "prompt_tokens": 10,
                    "completion_tokens": 5,
                    "total_tokens": 15,
                },
                "stats": None,
                "finish_reason": None,
                "cost": {
                    "input_cost": 0.1,
                    "output_cost": 0.2,
                    "total_cost": 0.30000000000000004,
                    "currency": "EUR",
                },
                "extra": {},
            },
            "token_count": 2,
            "created_at": "2024-05-01T12:42:00Z",
        },
    ],
    ("acme", "th_mixed"): [
        {
            "id": "m_x1",
            "thread_id": "th_mixed",
            "seq": 1,
            "role": "user",
            "content": "q",
            "turn": 1,
            "token_count": 4,
            "token_counter": "heuristic-v1",
            "created_at": "2024-05-01T13:01:00Z",
        },
        {
            "id": "m_x2",
            "thread_id": "th_mixed",
            "seq": 2,
            "role": "assistant",
            "content": "a1",
            "turn": 1,
            "metadata": {
                "completed_at": None,
                "duration_ms": None,
                "model": None,
                "provider": None,
                "token_usage": {
                    "prompt_tokens": 1,
                    "completion_tokens": 1,
                    "total_tokens": 2,
                },
                "stats": None,
                "finish_reason": None,
                "cost": {
                    "input_cost": 1e-05,
                    "output_cost": 2e-05,
                    "total_cost": 3e-05,
                    "currency": "USD",
                },
                "extra": {},
            },
            "token_count": 1,
            "token_counter": "usage",
            "created_at": "2024-05-01T13:02:00Z",
        },
        {
            "id": "m_x3",
            "thread_id": "th_mixed",
            "seq": 3,
            "role": "assistant",
            "content": "a2",
            "turn": 1,
            "metadata": {
                "completed_at": None,
                "duration_ms": None,
                "model": None,
                "provider": None,
                "token_usage": {
                    "prompt_tokens": 2,
                    "completion_tokens": 3,
                    "total_tokens": 5,
                },
                "stats": None,
                "finish_reason": None,
                "cost": {
                    "input_cost": 0.5,
                    "output_cost": 0.25,
                    "total_cost": 0.75,
                    "currency": "EUR",
                },
                "extra": {},
            },
            "token_count": 3,
            "token_counter": "usage",
            "created_at": "2024-05-01T13:03:00Z",
        },
    ],
    ("acme", "th_support"): [
        {
            "id": "m_sys",
            "thread_id": "th_support",
            "seq": 1,
            "role": "system",
            "content": "You are a helpful support agent.",
            "parent_type": "system",
            "turn": 0,
            "pinned": True,
            "token_count": 12,
            "token_counter": "heuristic-v1",
            "created_at": "2024-05-01T12:01:00Z",
            "updated_at": "2024-05-01T13:30:10Z",
        },
        {
            "id": "m_u1",
            "thread_id": "th_support",
            "seq": 2,
            "role": "user",
            "content": "I want a refund for order #1234",
            "turn": 1,
            "metadata": {
                "completed_at": None,
                "duration_ms": None,
                "model": None,
                "provider": None,
                "token_usage": None,
                "stats": None,
                "finish_reason": None,
                "cost": None,
                "extra": {"ip": "203.0.113.7"},
            },
            "token_count": 9,
            "token_counter": "heuristic",
            "created_at": "2024-05-01T12:02:00Z",
        },
        {
            "id": "m_a1",
            "thread_id": "th_support",
            "seq": 3,
            "role": "assistant",
            "parts": [
                {"type": "reasoning", "text": "Look the order up first."},
                {"type": "text", "text": "Let me check."},
                {
                    "type": "tool-call",
                    "tool_call_id": "call_1",
                    "tool_name": "lookup_order",
                    "args": {"order": 1234},
                },
                {
                    "type": "tool-call",
                    "tool_call_id": "call_2",
                    "tool_name": "refund_policy",
                    "args": None,
                },
            ],
            "execution_id": "exec_1",
            "parent_id": "m_u1",
            "parent_type": "user_message",
            "turn": 1,
            "metadata": {
                "completed_at": 1714564980000,
                "duration_ms": 850,
                "model": "gpt-4o",
                "provider": "openai",
                "token_usage": {
                    "prompt_tokens": 100,
                    "completion_tokens": 20,
                    "total_tokens": 120,
                },
                "stats": {
                    "llm_calls": 1,
                    "tool_calls": 2,
                    "sub_agents": 0,
                    "steps": 1,
                    "decisions": 0,
                    "artifacts": 0,
                },
                "finish_reason": "tool_calls",
                "cost": {
                    "input_cost": 0.001,
                    "output_cost": 0.002,
                    "total_cost": 0.003,
                    "currency": "USD",
                },
                "extra": {"trace": "abc"},
            },
            "token_count": 42,
            "token_counter": "heuristic",
            "created_at": "2024-05-01T12:03:00Z",
        },
        {
            "id": "m_t1",
            "thread_id": "th_support",
            "seq": 4,
            "role": "tool",
            "name": "lookup_order",
            "tool_call_id": "call_1",
            "parts": [
                {
                    "type": "tool-result",
                    "tool_call_id": "call_1",
                    "tool_name": "lookup_order",
                    "result": '{"status": "shipped"}',
                    "is_error": False,
                }
            ],
            "execution_id": "exec_1",
            "turn": 1,
            "token_count": 7,
            "created_at": "2024-05-01T12:04:00Z",
        },
        {
            "id": "m_t2",
            "thread_id": "th_support",
            "seq": 5,
            "role": "tool",
            "name": "refund_policy",
            "tool_call_id": "call_2",
            "parts": [
                {
                    "type": "tool-result",
                    "tool_call_id": "call_2",
                    "tool_name": "refund_policy",
                    "result": "refunds within 30 days",
                    "is_error": False,
                }
            ],
            "execution_id": "exec_1",
            "turn": 1,
            "token_count": 6,
            "created_at": "2024-05-01T12:05:00Z",
        },
        {
            "id": "m_a2",
            "thread_id": "th_support",
            "seq": 6,
            "role": "assistant",
            "content": "Your refund is on its way.",
            "execution_id": "exec_1",
            "parent_id": "m_u1",
            "parent_type": "user_message",
            "turn": 1,
            "metadata": {
                "completed_at": None,
                "duration_ms": None,
                "model": "gpt-4o",
                "provider": "openai",
                "token_usage": {
                    "prompt_tokens": 150,
                    "completion_tokens": 30,
                    "total_tokens": 180,
                },
                "stats": None,
                "finish_reason": "stop",
                "cost": {
                    "input_cost": 0.0015,
                    "output_cost": 0.003,
                    "total_cost": 0.0045,
                    "currency": "USD",
                },
                "extra": {},
            },
            "native": {
                "format": "openai.chat",
                "data": {"role": "assistant", "content": "Your refund is on its way."},
            },
            "token_count": 8,
            "created_at": "2024-05-01T12:06:00Z",
        },
        {
            "id": "m_u2",
            "thread_id": "th_support",
            "seq": 7,
            "role": "user",
            "content": "Thanks! Please remember my order number.",
            "turn": 2,
            "pinned": True,
            "token_count": 10,
            "created_at": "2024-05-01T12:07:00Z",
            "updated_at": "2024-05-01T13:30:03.123456Z",
        },
        {
            "id": "m_u3",
            "thread_id": "th_support",
            "seq": 8,
            "role": "user",
            "content": "oops, wrong window",
            "turn": 3,
            "token_count": 5,
            "created_at": "2024-05-01T12:08:00Z",
            "updated_at": "2024-05-01T13:30:04Z",
            "deleted_at": "2024-05-01T13:30:04Z",
        },
        {
            "id": "m_a3",
            "thread_id": "th_support",
            "seq": 9,
            "role": "assistant",
            "parts": [
                {"type": "text", "text": "Here is a summary."},
                {"type": "code", "language": "python", "code": "print(1)"},
                {
                    "type": "image",
                    "image_id": "img_1",
                    "url": "https://example.com/i.png",
                    "alt_text": "chart",
                },
                {
                    "type": "file",
                    "file_id": "f_1",
                    "filename": "r.pdf",
                    "mime_type": "application/pdf",
                    "size_bytes": 2048,
                },
                {
                    "type": "source",
                    "source_id": "s_1",
                    "url": "https://example.com",
                    "title": "Policy",
                },
            ],
            "turn": 3,
            "token_count": 4,
            "created_at": "2024-05-01T12:09:00Z",
            "updated_at": "2024-05-01T13:30:05.123456Z",
            "archived_at": "2024-05-01T12:30:00Z",
        },
        {
            "id": "m_u4",
            "thread_id": "th_support",
            "seq": 10,
            "role": "user",
            "parts": [
                {
                    "type": "tool-result",
                    "tool_call_id": "call_x",
                    "tool_name": "calc",
                    "result": {"v": 2},
                    "is_error": True,
                }
            ],
            "turn": 3,
            "token_count": 14,
            "token_counter": "heuristic-v1",
            "created_at": "2024-05-01T12:10:00Z",
        },
        {
            "id": "m_u5",
            "thread_id": "th_support",
            "seq": 11,
            "role": "user",
            "content": "A pinned note that is later deleted",
            "turn": 4,
            "pinned": True,
            "token_count": 3,
            "created_at": "2024-05-01T12:11:00Z",
            "updated_at": "2024-05-01T13:30:07.123456Z",
            "deleted_at": "2024-05-01T13:30:07.123456Z",
        },
        {
            "id": "m_a4",
            "thread_id": "th_support",
            "seq": 12,
            "role": "assistant",
            "content": "An archived then deleted reply",
            "turn": 4,
            "token_count": 2,
            "created_at": "2024-05-01T12:12:00Z",
            "updated_at": "2024-05-01T13:30:09.123456Z",
            "deleted_at": "2024-05-01T13:30:09.123456Z",
            "archived_at": "2024-05-01T12:31:00Z",
        },
    ],
    ("globex", "th_support"): [
        {
            "id": "m_o1",
            "thread_id": "th_support",
            "seq": 1,
            "role": "user",
            "content": "other tenant",
            "turn": 1,
            "token_count": 5,
            "token_counter": "heuristic-v1",
            "created_at": "2024-05-01T13:11:00Z",
        },
    ],
    ("acme", "th_early"): [
        {
            "id": "e_sys",
            "thread_id": "th_early",
            "seq": 1,
            "role": "system",
            "name": None,
            "tool_call_id": None,
            "parts": [{"type": "text", "text": "Be terse."}],
            "content": "Be terse.",
            "execution_id": None,
            "parent_id": None,
            "parent_type": "system",
            "turn": 0,
            "pinned": False,
            "metadata": {
                "completed_at": None,
                "duration_ms": None,
                "model": None,
                "provider": None,
                "token_usage": None,
                "stats": None,
                "finish_reason": None,
                "cost": None,
                "extra": {},
            },
            "native": None,
            "token_count": None,
            "token_counter": None,
            "created_at": "2024-04-01T08:01:00Z",
            "updated_at": None,
            "deleted_at": None,
            "archived_at": None,
        },
        {
            "id": "e_u1",
            "thread_id": "th_early",
            "seq": 2,
            "role": "user",
            "name": None,
            "tool_call_id": None,
            "parts": [{"type": "text", "text": "fix my bug"}],
            "content": "fix my bug",
            "execution_id": None,
            "parent_id": None,
            "parent_type": None,
            "turn": 1,
            "pinned": True,
            "metadata": {
                "completed_at": None,
                "duration_ms": None,
                "model": None,
                "provider": None,
                "token_usage": None,
                "stats": None,
                "finish_reason": None,
                "cost": None,
                "extra": {},
            },
            "native": None,
            "token_count": 3,
            "token_counter": None,
            "created_at": "2024-04-01T08:02:00Z",
            "updated_at": "2024-04-01T09:00:02Z",
            "deleted_at": None,
            "archived_at": None,
        },
        {
            "id": "e_a1",
            "thread_id": "th_early",
            "seq": 3,
            "role": "assistant",
            "name": None,
            "tool_call_id": None,
            "parts": [
                {"type": "text", "text": "Running tests."},
                {
                    "type": "tool-call",
                    "tool_call_id": "c9",
                    "tool_name": "pytest",
                    "args": {"k": "x"},
                },
            ],
            "content": "Running tests.",
            "execution_id": None,
            "parent_id": None,
            "parent_type": None,
            "turn": 1,
            "pinned": False,
            "metadata": {
                "completed_at": None,
                "duration_ms": None,
                "model": None,
                "provider": None,
                "token_usage": {
                    "prompt_tokens": 7,
                    "completion_tokens": 2,
                    "total_tokens": 9,
                },
                "stats": None,
                "finish_reason": None,
                "cost": {
                    "input_cost": 0.25,
                    "output_cost": 0.5,
                    "total_cost": 0.75,
                    "currency": "USD",
                },
                "extra": {},
            },
            "native": None,
            "token_count": None,
            "token_counter": None,
            "created_at": "2024-04-01T08:03:00Z",
            "updated_at": "2024-04-01T09:00:03Z",
            "deleted_at": None,
            "archived_at": "2024-04-01T08:20:00Z",
        },
        {
            "id": "e_u2",
            "thread_id": "th_early",
            "seq": 4,
            "role": "user",
            "name": None,
            "tool_call_id": None,
            "parts": [{"type": "text", "text": "never mind"}],
            "content": "never mind",
            "execution_id": None,
            "parent_id": None,
            "parent_type": None,
            "turn": 2,
            "pinned": False,
            "metadata": {
                "completed_at": None,
                "duration_ms": None,
                "model": None,
                "provider": None,
                "token_usage": None,
                "stats": None,
                "finish_reason": None,
                "cost": None,
                "extra": {},
            },
            "native": None,
            "token_count": 2,
            "token_counter": None,
            "created_at": "2024-04-01T08:04:00Z",
            "updated_at": "2024-04-01T09:00:04Z",
            "deleted_at": "2024-04-01T09:00:04Z",
            "archived_at": None,
        },
    ],
}

KEY_SECRETS = {
    "01HXAAAAAAAAAAAAAAAAAAAAAA": "A" * 43,
    "01HXBBBBBBBBBBBBBBBBBBBBBB": "b" * 42 + "-",
    "01HXCCCCCCCCCCCCCCCCCCCCCC": "C" * 42 + "_",  # revoked at version 1
}
TOKENS = {key_id: f"cs_{key_id}_{secret}" for key_id, secret in KEY_SECRETS.items()}

#: The live (not soft-deleted) messages of each thread, counted by hand.
LIVE_COUNTS = {
    ("_keys", "01HXAAAAAAAAAAAAAAAAAAAAAA"): 0,
    ("_keys", "01HXBBBBBBBBBBBBBBBBBBBBBB"): 0,
    ("_keys", "01HXCCCCCCCCCCCCCCCCCCCCCC"): 0,
    ("acme", "th_empty"): 0,
    ("acme", "th_gone"): 2,
    ("acme", "th_mixed"): 3,
    ("acme", "th_support"): 9,
    ("globex", "th_support"): 1,
    ("acme", "th_early"): 3,
}

#: The thread members migration 3 takes out of the JSON: columns from then on.
MOVED = frozenset(
    {
        "updated_at",
        "deleted_at",
        "revision",
        "message_count",
        "live_message_count",
        "turn_count",
        "tool_call_count",
        "token_count",
        "usage",
        "cost",
    }
)
COUNTER_COLUMNS = (
    "message_count",
    "live_message_count",
    "turn_count",
    "tool_call_count",
    "token_count",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "input_cost",
    "output_cost",
    "total_cost",
    "currency",
)
FLAG_COLUMNS = ("pinned", "deleted", "archived")


def _text(body: dict[str, Any]) -> str:
    """A body's JSON text, byte for byte as version 1's encoder wrote it."""
    return pydantic_core.to_json(body).decode()


def _time(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(text)


def _key(body: dict[str, Any]) -> tuple[str, str]:
    return body["tenant_id"], body["id"]


def _messages_of(thread: dict[str, Any]) -> list[dict[str, Any]]:
    return V1_MESSAGES.get(_key(thread), [])


def _thread(tenant: str, thread_id: str) -> dict[str, Any]:
    return next(b for b in V1_THREADS if _key(b) == (tenant, thread_id))


def _expected_thread(body: dict[str, Any]) -> Thread:
    """The thread a version-1 body describes, with the live count migration 2 adds."""
    return Thread.model_validate_json(
        _text({**body, "live_message_count": LIVE_COUNTS[_key(body)]})
    )


def _expected_messages(thread: dict[str, Any]) -> list[Message]:
    return [Message.model_validate_json(_text(m)) for m in _messages_of(thread)]


def _counters(body: dict[str, Any]) -> dict[str, Any]:
    """The counter columns a version-1 thread body implies (usage and cost at
    zero were left out of it)."""
    usage = body.get("usage", {})
    cost = body.get("cost", {})
    return {
        "message_count": body["message_count"],
        "live_message_count": LIVE_COUNTS[_key(body)],
        "turn_count": body["turn_count"],
        "tool_call_count": body["tool_call_count"],
        "token_count": body["token_count"],
        "prompt_tokens": usage.get("prompt_tokens", 0),
        "completion_tokens": usage.get("completion_tokens", 0),
        "total_tokens": usage.get("total_tokens", 0),
        "input_cost": cost.get("input_cost", 0.0),
        "output_cost": cost.get("output_cost", 0.0),
        "total_cost": cost.get("total_cost", 0.0),
        "currency": cost.get("currency", "USD"),
    }


def _flags(body: dict[str, Any]) -> dict[str, bool]:
    """The flag columns a version-1 message body implies."""
    return {
        "pinned": bool(body.get("pinned", False)),
        "deleted": body.get("deleted_at") is not None,
        "archived": body.get("archived_at") is not None,
    }


# --- building a version-1 schema ------------------------------------------------------


def _build_version_1(url: str, schema: str) -> None:
    """Migration 1 alone, recorded as version 1 did, and the rows above inserted
    with the statements and parameters version 1 used."""
    first = MIGRATIONS[0]
    assert (first.version, first.name) == (1, "threads and messages")
    q = quote_ident(schema)
    insert_thread = (
        f"INSERT INTO {q}.convostore_threads (tenant_id, id, user_id, agent_name, "
        "created_at, updated_at, deleted_at, revision, body) VALUES (%(tenant_id)s, %(id)s, "
        "%(user_id)s, %(agent_name)s, %(created_at)s, %(updated_at)s, %(deleted_at)s, "
        "%(revision)s, %(body)s::json)"
    )
    insert_message = (
        f"INSERT INTO {q}.convostore_messages (tenant_id, thread_id, seq, id, role, "
        "execution_id, created_at, deleted_at, body) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::json)"
    )
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        conn.execute(f"CREATE SCHEMA {q}")
        for statement in (*BOOTSTRAP, *first.statements):
            conn.execute(render(statement, schema))
        conn.execute(
            f"INSERT INTO {q}.{MIGRATIONS_TABLE} (version, name) VALUES (%s, %s)",
            (first.version, first.name),
        )
        for body in V1_THREADS:
            conn.execute(
                insert_thread,
                {
                    "tenant_id": body["tenant_id"],
                    "id": body["id"],
                    "user_id": body["user_id"],
                    "agent_name": body["agent_name"],
                    "created_at": _time(body["created_at"]),
                    "updated_at": _time(body["updated_at"]),
                    "deleted_at": _time(body["deleted_at"]),
                    "revision": body["revision"],
                    "body": _text(body),
                },
            )
        for (tenant, thread_id), bodies in V1_MESSAGES.items():
            for m in bodies:
                conn.execute(
                    insert_message,
                    (
                        tenant,
                        thread_id,
                        m["seq"],
                        m["id"],
                        m["role"],
                        m.get("execution_id"),
                        _time(m["created_at"]),
                        _time(m.get("deleted_at")),
                        _text(m),
                    ),
                )


def _columns(conn: psycopg.Connection[Any], schema: str, table: str) -> dict[str, tuple[Any, ...]]:
    rows = conn.execute(
        "SELECT column_name, data_type, is_nullable, column_default, collation_name "
        "FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
        "ORDER BY ordinal_position",
        (schema, table),
    ).fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


def _catalog(conn: psycopg.Connection[Any], schema: str) -> list[tuple[Any, ...]]:
    """Columns, indexes and constraints of ``schema``, its name replaced by ``<s>``."""

    def norm(text: str) -> str:
        return text.replace(quote_ident(schema), "<s>").replace(f"{schema}.", "<s>.")

    columns = conn.execute(
        "SELECT 'column', table_name, column_name, data_type, is_nullable, "
        "coalesce(column_default, ''), coalesce(collation_name, '') "
        "FROM information_schema.columns WHERE table_schema = %s "
        "ORDER BY table_name, ordinal_position",
        (schema,),
    ).fetchall()
    indexes = conn.execute(
        "SELECT 'index', tablename, indexname, indexdef FROM pg_indexes "
        "WHERE schemaname = %s ORDER BY tablename, indexname",
        (schema,),
    ).fetchall()
    constraints = conn.execute(
        "SELECT 'constraint', c.conrelid::regclass::text, c.conname, "
        "pg_get_constraintdef(c.oid) FROM pg_constraint c "
        "JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = %s "
        "ORDER BY 2, 3",
        (schema,),
    ).fetchall()
    return [
        tuple(norm(v) if isinstance(v, str) else v for v in row)
        for row in [*columns, *indexes, *constraints]
    ]


def _dump(url: str, schema: str) -> dict[str, Any]:
    """Every row of the schema's tables as text (bodies as stored), the
    migrations recorded, and the catalog."""
    q = quote_ident(schema)
    with psycopg.connect(url) as conn:
        threads = conn.execute(
            f"SELECT row_to_json(t)::text FROM {q}.convostore_threads t ORDER BY tenant_id, id"
        ).fetchall()
        messages = conn.execute(
            f"SELECT row_to_json(m)::text FROM {q}.convostore_messages m "
            "ORDER BY tenant_id, thread_id, seq"
        ).fetchall()
        migrations = conn.execute(
            f"SELECT version, name FROM {q}.{MIGRATIONS_TABLE} ORDER BY version"
        ).fetchall()
        return {
            "threads": [r[0] for r in threads],
            "messages": [r[0] for r in messages],
            "migrations": migrations,
            "catalog": _catalog(conn, schema),
        }


@pytest.fixture
def new_schema(pg_url: str) -> Iterator[Callable[[], str]]:
    """Makes more fresh schema names; each is dropped after the test."""
    made: list[str] = []

    def make() -> str:
        made.append(f"cs_test_{uuid.uuid4().hex[:12]}")
        return made[-1]

    yield make
    for name in made:
        drop_schema(pg_url, name)


@pytest.fixture
def upgraded(pg_url: str, schema: str) -> Iterator[Store]:
    """A version-1 schema with the rows above, opened (and so migrated) by the
    current code."""
    _build_version_1(pg_url, schema)
    with open_store(pg_url, schema=schema, auto_migrate=True) as store:
        yield store


# --- the tests ------------------------------------------------------------------------


def test_the_bodies_are_the_text_version_1_wrote() -> None:
    # Two rows as a version-1 store holds them, byte for byte.
    assert _text(_thread("acme", "th_gone")) == (
        '{"id":"th_gone","tenant_id":"acme","user_id":"u_bob","agent_name":"support-bot",'
        '"model":null,"title":"Old chat","metadata":{"keep":false},'
        '"state":{"variables":{},"data":{}},"created_at":"2024-05-01T12:40:00Z",'
        '"updated_at":"2024-05-01T13:30:12Z","ended_at":null,'
        '"deleted_at":"2024-05-01T13:30:12Z","revision":2,"message_count":2,"turn_count":1,'
        '"tool_call_count":0,"token_count":3,'
        '"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15},'
        '"cost":{"input_cost":0.1,"output_cost":0.2,"total_cost":0.30000000000000004,'
        '"currency":"EUR"}}'
    )
    assert _text(V1_MESSAGES["acme", "th_gone"][1]) == (
        '{"id":"m_g2","thread_id":"th_gone","seq":2,"role":"assistant","content":"hi there",'
        '"turn":1,"metadata":{"completed_at":null,"duration_ms":null,"model":null,'
        '"provider":null,"token_usage":{"prompt_tokens":10,"completion_tokens":5,'
        '"total_tokens":15},"stats":null,"finish_reason":null,"cost":{"input_cost":0.1,'
        '"output_cost":0.2,"total_cost":0.30000000000000004,"currency":"EUR"},"extra":{}},'
        '"token_count":2,"created_at":"2024-05-01T12:42:00Z"}'
    )
    # Every thread has its live messages counted by hand, and its messages name it.
    assert set(LIVE_COUNTS) == {_key(t) for t in V1_THREADS}
    assert set(V1_MESSAGES) <= set(LIVE_COUNTS)
    for (_, thread_id), bodies in V1_MESSAGES.items():
        assert [m["thread_id"] for m in bodies] == [thread_id] * len(bodies)
        assert [m["seq"] for m in bodies] == list(range(1, len(bodies) + 1))


def test_the_version_1_schema_is_refused_until_migrated(pg_url: str, schema: str) -> None:
    _build_version_1(pg_url, schema)
    with psycopg.connect(pg_url) as conn:
        threads = _columns(conn, schema, "convostore_threads")
        messages = _columns(conn, schema, "convostore_messages")
    assert "message_count" not in threads and "deleted_at" in threads
    assert "deleted_at" in messages and "pinned" not in messages
    with pytest.raises(SchemaTooOldError) as info:
        open_store(pg_url, schema=schema)
    assert (info.value.found, info.value.expected) == (1, LATEST)
    with open_store(pg_url, schema=schema, check_schema=False) as store:
        backend = store.backend
        assert isinstance(backend, PostgresBackend)
        assert backend.schema_version() == 1
        assert backend.migrate() == [m.version for m in MIGRATIONS[1:]]
        assert backend.schema_version() == LATEST


def test_every_thread_reads_back_as_version_1_wrote_it(upgraded: Store) -> None:
    for body in V1_THREADS:
        tenant, thread_id = _key(body)
        got = upgraded.tenant(tenant).get_thread(thread_id)
        assert got == _expected_thread(body), thread_id
        dumped = got.model_dump(mode="json")
        for member, value in body.items():
            if isinstance(value, str) and member.endswith("_at"):
                assert _time(dumped[member]) == _time(value), (thread_id, member)
            else:
                assert dumped[member] == value, (thread_id, member)

    # The values, spelled out, of the threads that carry the most.
    acme = upgraded.tenant("acme")
    t = acme.get_thread("th_support")
    assert (t.user_id, t.agent_name, t.model) == ("u_alice", "support-bot", "gpt-4o")
    assert t.title == "Refund for order #1234 \u2014 caf\u00e9 \u2615"
    assert (t.revision, t.message_count, t.live_message_count) == (10, 12, 9)
    assert (t.turn_count, t.tool_call_count, t.token_count) == (4, 2, 122)
    assert (t.usage.prompt_tokens, t.usage.completion_tokens, t.usage.total_tokens) == (
        250,
        50,
        300,
    )
    assert (t.cost.input_cost, t.cost.output_cost, t.cost.total_cost) == (0.0025, 0.005, 0.0075)
    assert t.cost.currency == "USD"
    assert t.created_at == dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    assert t.updated_at == dt.datetime(2024, 5, 1, 13, 30, 10, tzinfo=dt.UTC)
    assert t.deleted_at is None and t.ended_at is None
    assert t.metadata == {
        "channel": "web",
        "priority": 2,
        "tags": ["refund", "vip"],
        "nested": {"a": None, "b": 1.5},
        "convostore.conversation": {"turn_offset": 0},
    }
    assert t.state.variables == {"locale": "fr-FR", "step": "confirm"}
    assert t.state.data == {
        "cart": {"items": [1, 2], "total": 19.99},
        "score": 0.75,
        "flag": True,
        "none": None,
    }
    gone = acme.get_thread("th_gone")
    assert gone.deleted_at == dt.datetime(2024, 5, 1, 13, 30, 12, tzinfo=dt.UTC)
    assert (gone.cost.total_cost, gone.cost.currency) == (0.30000000000000004, "EUR")
    assert (gone.message_count, gone.live_message_count, gone.usage.total_tokens) == (2, 2, 15)
    mixed = acme.get_thread("th_mixed")
    assert (mixed.cost.input_cost, mixed.cost.total_cost, mixed.cost.currency) == (
        0.50001,
        0.75003,
        "mixed",
    )
    empty = acme.get_thread("th_empty")
    assert (empty.message_count, empty.user_id, empty.title) == (0, None, "nothing said")
    assert empty.ended_at == dt.datetime(2024, 5, 1, 12, 51, tzinfo=dt.UTC)
    assert empty.usage.total_tokens == 0 and empty.cost.currency == "USD"
    early = acme.get_thread("th_early")
    assert (early.message_count, early.live_message_count, early.tool_call_count) == (4, 3, 1)
    assert (early.usage.total_tokens, early.cost.total_cost) == (9, 0.75)
    other = upgraded.tenant("globex").get_thread("th_support")
    assert (other.user_id, other.state.variables) == ("u_zed", {"x": "y"})
    assert other.metadata == {
        "big": 1e16,
        "tiny": 1e-07,
        "int": 12345678901234567890,
        "neg": -0.0,
    }


def test_listings_and_summaries_read_the_counters(upgraded: Store) -> None:
    acme = upgraded.tenant("acme")
    by_activity = ["th_mixed", "th_empty", "th_support", "th_early"]
    assert [t.id for t in acme.list_threads()] == by_activity
    every = ["th_mixed", "th_empty", "th_gone", "th_support", "th_early"]
    assert [t.id for t in acme.list_threads(include_deleted=True)] == every
    for t in acme.list_threads(include_deleted=True):
        assert t == _expected_thread(_thread("acme", t.id))
    first = acme.list_threads(limit=2)
    assert [t.id for t in first] == by_activity[:2] and first.next_cursor is not None
    rest = acme.list_threads(limit=2, cursor=first.next_cursor)
    assert [t.id for t in rest] == by_activity[2:]
    assert [t.id for t in acme.list_threads(user_id="u_alice")] == ["th_mixed", "th_support"]
    assert [t.id for t in acme.list_threads(agent_name="support-bot")] == ["th_support"]
    assert [t.id for t in acme.list_threads(agent_name="support-bot", include_deleted=True)] == [
        "th_gone",
        "th_support",
    ]
    assert acme.count_threads() == 4 and acme.count_threads(include_deleted=True) == 5
    assert acme.count_threads(user_id="u_bob", include_deleted=True) == 1

    summaries = acme.summaries(include_deleted=True)
    assert summaries == [ThreadSummary.of(_expected_thread(_thread("acme", i))) for i in every]
    support = next(s for s in summaries if s.id == "th_support")
    assert (support.message_count, support.live_message_count, support.turn_count) == (12, 9, 4)
    assert (support.tool_call_count, support.token_count, support.usage.total_tokens) == (
        2,
        122,
        300,
    )
    assert support.cost.total_cost == 0.0075
    assert [s.id for s in acme.summaries()] == by_activity

    globex = upgraded.tenant("globex")
    assert [t.id for t in globex.list_threads()] == ["th_support"]
    assert globex.summaries()[0].message_count == 1


def test_every_message_reads_back_with_its_flags(upgraded: Store) -> None:
    for thread in V1_THREADS:
        tenant, thread_id = _key(thread)
        store = upgraded.tenant(tenant)
        expected = _expected_messages(thread)
        assert store.load_messages(thread_id, include_deleted=True) == expected, thread_id
        live = [m for m in expected if m.deleted_at is None]
        assert store.load_messages(thread_id) == live, thread_id
        as_dicts = store.load_messages(thread_id, include_deleted=True, as_dicts=True)
        assert [Message.model_validate(d) for d in as_dicts] == expected, thread_id
        for m in expected:
            assert store.get_message(m.id) == m
        paged: list[Message] = []
        cursor = None
        while True:
            page = store.list_messages(thread_id, limit=5, cursor=cursor, include_deleted=True)
            paged.extend(page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert paged == expected, thread_id
        assert store.recent(thread_id, 3) == live[-3:], thread_id

    acme = upgraded.tenant("acme")
    flags = {
        m.id: (m.pinned, m.is_deleted, m.is_archived)
        for m in acme.load_messages("th_support", include_deleted=True)
    }
    assert flags == {
        "m_sys": (True, False, False),
        "m_u1": (False, False, False),
        "m_a1": (False, False, False),
        "m_t1": (False, False, False),
        "m_t2": (False, False, False),
        "m_a2": (False, False, False),
        "m_u2": (True, False, False),
        "m_u3": (False, True, False),
        "m_a3": (False, False, True),
        "m_u4": (False, False, False),
        "m_u5": (True, True, False),
        "m_a4": (False, True, True),
    }
    early = acme.load_messages("th_early", include_deleted=True)
    assert [(m.id, m.pinned, m.is_deleted, m.is_archived) for m in early] == [
        ("e_sys", False, False, False),
        ("e_u1", True, False, False),
        ("e_a1", False, False, True),
        ("e_u2", False, True, False),
    ]
    u3 = acme.get_message("m_u3")
    assert u3.deleted_at == dt.datetime(2024, 5, 1, 13, 30, 4, tzinfo=dt.UTC)
    a3 = acme.get_message("m_a3")
    assert a3.archived_at == dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC)
    a1 = acme.get_message("m_a1")
    assert [(c.tool_call_id, c.tool_name, c.args) for c in a1.tool_calls] == [
        ("call_1", "lookup_order", {"order": 1234}),
        ("call_2", "refund_policy", None),
    ]
    assert (a1.token_count, a1.turn, a1.parent_id, a1.execution_id) == (42, 1, "m_u1", "exec_1")
    assert a1.metadata.token_usage is not None and a1.metadata.token_usage.total_tokens == 120
    assert a1.metadata.cost is not None and a1.metadata.cost.total_cost == 0.003
    assert a1.metadata.extra == {"trace": "abc"}
    t1 = acme.get_message("m_t1")
    assert (t1.role, t1.tool_call_id, t1.content) == ("tool", "call_1", '{"status": "shipped"}')
    a2 = acme.get_message("m_a2")
    assert a2.native is not None and a2.native.format == "openai.chat"
    assert [p.type for p in acme.get_message("m_a3").parts] == [
        "text",
        "code",
        "image",
        "file",
        "source",
    ]
    assert [m.id for m in acme.messages_by_execution("exec_1")] == ["m_a1", "m_t1", "m_t2", "m_a2"]
    assert [m.id for m in upgraded.tenant("globex").load_messages("th_support")] == ["m_o1"]


def test_exports_hold_the_thread_the_messages_and_the_pins(upgraded: Store) -> None:
    for thread in V1_THREADS:
        tenant, thread_id = _key(thread)
        snapshot = upgraded.tenant(tenant).export_thread(thread_id)
        expected = _expected_messages(thread)
        assert snapshot.thread == _expected_thread(thread), thread_id
        assert snapshot.messages == expected, thread_id
        assert snapshot.pinned == [m.pinned for m in expected], thread_id
        again = ConversationSnapshot.model_validate_json(snapshot.model_dump_json())
        assert again.messages == expected
    snapshot = upgraded.tenant("acme").export_thread("th_support")
    assert snapshot.pinned == [
        m["id"] in {"m_sys", "m_u2", "m_u5"} for m in _messages_of(_thread("acme", "th_support"))
    ]


def test_context_windows_leave_out_archived_and_deleted_messages(upgraded: Store) -> None:
    acme = upgraded.tenant("acme")
    snapshot = acme.export_thread("th_support")
    with open_store("memory://") as memory:  # the same thread where nothing was migrated
        memory.tenant("acme").import_thread(snapshot)
        for size in (50, 3):
            window = acme.context("th_support", max_messages=size)
            same = memory.tenant("acme").context("th_support", max_messages=size)
            assert window.messages == same.messages, size
            ids = {m.id for m in window.messages}
            assert {"m_sys", "m_u2"} <= ids, size  # the system prompt and the pin
            assert not ids & {"m_a3", "m_u3", "m_u5", "m_a4"}, size  # archived or deleted
    window = acme.context("th_support", max_messages=50)
    assert [m.id for m in window.messages][:7] == [
        "m_sys",
        "m_u1",
        "m_a1",
        "m_t1",
        "m_t2",
        "m_a2",
        "m_u2",
    ]


def test_the_columns_hold_what_the_bodies_said(upgraded: Store, pg_url: str, schema: str) -> None:
    q = quote_ident(schema)
    with psycopg.connect(pg_url) as conn:
        threads = _columns(conn, schema, "convostore_threads")
        messages = _columns(conn, schema, "convostore_messages")
        for column in COUNTER_COLUMNS:
            kind = (
                "text"
                if column == "currency"
                else ("double precision" if column.endswith("_cost") else "bigint")
            )
            default = "'USD'::text" if column == "currency" else "0"
            assert threads[column] == (kind, "NO", default, None), column
        for column in FLAG_COLUMNS:
            assert messages[column] == ("boolean", "NO", "false", None), column
        assert "deleted_at" not in messages  # the time stays in the body
        assert threads["deleted_at"][0] == "timestamp with time zone"

        rows = conn.execute(
            f"SELECT tenant_id, id, {', '.join(COUNTER_COLUMNS)}, revision, updated_at, "
            f"deleted_at, body::text FROM {q}.convostore_threads ORDER BY tenant_id, id"
        ).fetchall()
        assert sorted((r[0], r[1]) for r in rows) == sorted(_key(b) for b in V1_THREADS)
        for row in rows:
            v1 = _thread(row[0], row[1])
            n = len(COUNTER_COLUMNS)
            assert dict(zip(COUNTER_COLUMNS, row[2 : 2 + n], strict=True)) == _counters(v1), row[1]
            revision, updated_at, deleted_at, body = row[2 + n :]
            assert (revision, updated_at, deleted_at) == (
                v1["revision"],
                _time(v1["updated_at"]),
                _time(v1["deleted_at"]),
            ), row[1]
            kept = json.loads(body)
            assert kept == {k: v for k, v in v1.items() if k not in MOVED}, row[1]
            assert not MOVED & kept.keys(), row[1]

        rows = conn.execute(
            f"SELECT tenant_id, thread_id, seq, id, role, execution_id, created_at, "
            f"{', '.join(FLAG_COLUMNS)}, body::text FROM {q}.convostore_messages "
            "ORDER BY tenant_id, thread_id, seq"
        ).fetchall()
        stored = {(r[0], r[1], r[2]): r for r in rows}
        expected = {(t, th, m["seq"]): m for (t, th), ms in V1_MESSAGES.items() for m in ms}
        assert stored.keys() == expected.keys()
        for key, m in expected.items():
            _, _, _, mid, role, execution_id, created_at, pinned, deleted, archived, body = stored[
                key
            ]
            assert (mid, role, execution_id, created_at) == (
                m["id"],
                m["role"],
                m.get("execution_id"),
                _time(m["created_at"]),
            )
            assert {"pinned": pinned, "deleted": deleted, "archived": archived} == _flags(m), mid
            assert body == _text(m), mid  # a message's JSON is not touched

        def ids(condition: str) -> set[str]:
            found = conn.execute(f"SELECT id FROM {q}.convostore_messages WHERE {condition}")
            return {r[0] for r in found}

        assert ids("pinned") == {"m_sys", "m_u2", "m_u5", "e_u1"}
        assert ids("deleted") == {"m_u3", "m_u5", "m_a4", "e_u2"}
        assert ids("archived") == {"m_a3", "m_a4", "e_a1"}
        # The rows the rebuilt window indexes hold.
        indexes = dict(
            conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s", (schema,)
            ).fetchall()
        )
        assert "(NOT deleted) AND (NOT archived)" in indexes["convostore_messages_live"]
        assert "pinned OR" in indexes["convostore_messages_live_mandatory"]
        assert "body" not in indexes["convostore_messages_live_mandatory"]
        assert ids("NOT deleted AND NOT archived AND (pinned OR role = 'system')") == {
            "m_sys",
            "m_u2",
            "e_sys",
            "e_u1",
        }


def test_api_keys_written_at_version_1_still_verify(upgraded: Store) -> None:
    for key_id, secret in KEY_SECRETS.items():  # the records are what KeyManager made
        stored = _thread("_keys", key_id)["metadata"]["hash"]
        assert stored == hashlib.sha256(f"{key_id}:{secret}".encode()).hexdigest()
    keys = KeyManager(upgraded)
    a, b, c = KEY_SECRETS
    acme = keys.verify(TOKENS[a])
    assert acme is not None
    assert (acme.id, acme.tenant, acme.read_only, acme.label, acme.active) == (
        a,
        "acme",
        False,
        None,
        True,
    )
    assert acme.created_at == dt.datetime(2024, 5, 1, 13, 20, tzinfo=dt.UTC)
    globex = keys.verify(TOKENS[b])
    assert globex is not None
    assert (globex.tenant, globex.read_only, globex.label) == ("globex", True, "dashboard")
    assert keys.verify(TOKENS[c]) is None  # revoked at version 1
    assert keys.verify(f"cs_{a}_{'B' * 43}") is None  # a wrong secret
    listed = keys.list()
    assert [k.id for k in listed] == [a, b, c]
    assert listed[2].revoked_at == dt.datetime(2024, 5, 1, 13, 23, tzinfo=dt.UTC)
    assert [k.id for k in keys.list("acme")] == [a, c]
    # Keys keep working: revoke one, issue one.
    assert keys.revoke(a).revoked_at is not None
    assert keys.verify(TOKENS[a]) is None
    key, token = keys.create("acme", label="after the upgrade")
    assert keys.verify(token) == key


def test_writes_after_the_upgrade_keep_columns_and_bodies_in_step(
    upgraded: Store, pg_url: str, schema: str
) -> None:
    acme = upgraded.tenant("acme")
    [added] = acme.append("th_support", Message.user("one more question", id="m_u6", token_count=4))
    assert (added.seq, added.turn) == (13, 5)
    t = acme.get_thread("th_support")
    assert (t.revision, t.message_count, t.live_message_count, t.turn_count, t.token_count) == (
        11,
        13,
        10,
        5,
        126,
    )
    assert t.usage.total_tokens == 300 and t.state.variables["step"] == "confirm"
    acme.restore_message("m_u3")
    acme.update_message("m_u2", pinned=False)
    acme.update_message("m_a3", archived_at=None)
    acme.delete_message("m_a2")
    acme.restore_thread("th_gone")
    acme.update_thread("th_support", title="Refund done")
    acme.append("th_early", Message.user("one more", id="e_u3"))
    t = acme.get_thread("th_support")
    assert (t.title, t.message_count, t.live_message_count, t.metadata["channel"]) == (
        "Refund done",
        13,
        10,
        "web",
    )
    assert acme.get_thread("th_gone").deleted_at is None
    early = acme.get_thread("th_early")
    assert (early.message_count, early.live_message_count, early.turn_count) == (5, 4, 3)
    window = [m.id for m in acme.context("th_support", max_messages=50).messages]
    assert "m_u3" in window and "m_a3" in window and "m_a2" not in window

    q = quote_ident(schema)
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(
            f"SELECT id, pinned, deleted, archived, body::text FROM {q}.convostore_messages "
            "WHERE tenant_id = 'acme' ORDER BY thread_id, seq"
        ).fetchall()
        for mid, pinned, deleted, archived, body in rows:
            assert {"pinned": pinned, "deleted": deleted, "archived": archived} == _flags(
                json.loads(body)
            ), mid
        for thread in acme.list_threads(include_deleted=True):
            row = conn.execute(
                f"SELECT {', '.join(COUNTER_COLUMNS)} FROM {q}.convostore_threads "
                "WHERE tenant_id = 'acme' AND id = %s",
                (thread.id,),
            ).fetchone()
            assert row is not None
            u, c = thread.usage, thread.cost
            assert row == (
                thread.message_count,
                thread.live_message_count,
                thread.turn_count,
                thread.tool_call_count,
                thread.token_count,
                u.prompt_tokens,
                u.completion_tokens,
                u.total_tokens,
                c.input_cost,
                c.output_cost,
                c.total_cost,
                c.currency,
            ), thread.id
            live = conn.execute(
                f"SELECT count(*) FROM {q}.convostore_messages "
                "WHERE tenant_id = 'acme' AND thread_id = %s AND NOT deleted",
                (thread.id,),
            ).fetchone()
            assert live == (thread.live_message_count,), thread.id


def test_migrating_again_changes_nothing(
    upgraded: Store, pg_url: str, schema: str, new_schema: Callable[[], str]
) -> None:
    backend = upgraded.backend
    assert isinstance(backend, PostgresBackend)
    assert backend.schema_version() == LATEST == MIGRATIONS[-1].version == 7
    before = _dump(pg_url, schema)
    assert before["migrations"] == [(m.version, m.name) for m in MIGRATIONS]
    assert backend.migrate() == []
    with open_store(pg_url, schema=schema, auto_migrate=True) as again:
        again_backend = again.backend
        assert isinstance(again_backend, PostgresBackend)
        assert again_backend.migrate() == []
        assert again_backend.schema_version() == LATEST
        assert again.health_check().ok
    assert _dump(pg_url, schema) == before
    # An upgraded schema is the schema a new database gets.
    fresh = new_schema()
    with open_store(pg_url, schema=fresh, auto_migrate=True):
        pass
    assert _dump(pg_url, fresh)["catalog"] == before["catalog"]


def test_the_printed_upgrade_script_does_what_migrate_does(
    pg_url: str, schema: str, new_schema: Callable[[], str]
) -> None:
    by_hand = new_schema()
    script = render_ddl(by_hand, after=1)
    q = quote_ident(by_hand)
    lines = script.splitlines()
    assert (
        lines[0]
        == f"-- convostore schema version {LATEST}, in schema {q}, upgrading from version 1"
    )
    assert lines[1] == "BEGIN;" and lines[-1] == "COMMIT;"
    assert "-- migration 1:" not in script
    assert "-- migration 2: live message count and live window indexes" in script
    assert "-- migration 3: thread counters and message flags as columns" in script
    assert f"CREATE TABLE {q}.convostore_threads" not in script  # version 1 has it
    for column in COUNTER_COLUMNS:
        if column != "live_message_count":  # migration 2 puts that in the body first
            assert f"ADD COLUMN {column} " in script, column
    assert "ADD COLUMN live_message_count " in script
    for flag in FLAG_COLUMNS:
        assert f"ADD COLUMN {flag} " in script, flag
    assert "DROP COLUMN deleted_at" in script
    for m in MIGRATIONS[1:]:
        assert f"VALUES ({m.version}, '{m.name}');" in script
    assert "{s}" not in script and quote_ident(schema) not in script
    assert script.count(f"{q}.") >= 10 and "public" not in script

    _build_version_1(pg_url, schema)
    _build_version_1(pg_url, by_hand)
    with open_store(pg_url, schema=schema, auto_migrate=True):
        pass
    with psycopg.connect(pg_url, autocommit=True) as conn:  # as a DBA runs the script
        conn.execute(script.encode())
    with open_store(pg_url, schema=by_hand) as store:  # found current: no migration needed
        backend = store.backend
        assert isinstance(backend, PostgresBackend)
        assert backend.schema_version() == LATEST
        assert backend.migrate() == []
        assert store.tenant("acme").get_thread("th_support") == _expected_thread(
            _thread("acme", "th_support")
        )
    assert _dump(pg_url, by_hand) == _dump(pg_url, schema)


def test_a_thread_json_keeps_its_member_order_and_number_forms(upgraded: Store) -> None:
    t = upgraded.tenant("acme").get_thread("th_support")
    v1 = _thread("acme", "th_support")
    assert list(t.metadata) == list(v1["metadata"])
    assert list(t.state.data) == list(v1["state"]["data"])
    meta = upgraded.tenant("globex").get_thread("th_support").metadata
    assert isinstance(meta["big"], float)
    assert math.copysign(1.0, meta["neg"]) == -1.0
