"""Import the logs database of the ``llm`` command-line tool.

``convostore import --from llm logs.db`` stores each of llm's threads as a
thread: every message of its chain, oldest first, with the message exactly as
llm holds it kept as ``native`` (``format="llm"``, the dict of llm's
``Message.to_dict()``) and convostore parts beside it. The model, token usage
and duration of each model call (llm's *turn*) go on the messages that call
produced, and its time on every message it added.

History logged by llm releases before threads existed lives only in llm's
legacy ``responses`` table; each such conversation becomes a thread too, one
user and one assistant message per response (and the system prompt first).

The database is read through llm's own reader (``llm`` must be installed, as
it is wherever its logs are), opened read-only: the import never writes to it.
A database of an older llm, with migrations pending, is read from a migrated
copy in a temporary directory, the original left as it was.

Ids are derived from llm's own keys, so a rerun confirms what is stored and
appends what the log gained: a thread keeps llm's thread id (a legacy
conversation its conversation id), a message's id is the thread id and the
message's content hash (legacy: the response id with ``:user``/``:assistant``).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from convostore.errors import ValidationError
from convostore.importers import SourceThread
from convostore.model import (
    FilePart,
    ImagePart,
    Message,
    MessageMetadata,
    NativePayload,
    Part,
    ReasoningPart,
    Role,
    TextPart,
    Thread,
    TokenUsage,
    ToolCallPart,
    ToolResultPart,
)

__all__ = ["LLMLogsSource", "open_source"]

FORMAT = "llm"

_ROLES = {"system": Role.SYSTEM, "user": Role.USER, "assistant": Role.ASSISTANT, "tool": Role.TOOL}


def open_source(name: str, source: str, options: dict[str, str]) -> LLMLogsSource:
    if options:
        raise ValidationError(f"takes no options, got {', '.join(sorted(options))}", field="option")
    return LLMLogsSource(source)


def _llm() -> Any:
    try:
        import llm.logs
        import llm.migrations
        import sqlite_utils
    except ImportError as exc:  # pragma: no cover - llm is installed where its logs are
        raise ValidationError(
            "reading llm's logs needs the llm package: pip install llm", field="from"
        ) from exc
    return llm, sqlite_utils


class LLMLogsSource:
    """llm's logs database, opened read-only (a migrated copy when it is old)."""

    def __init__(self, path: str) -> None:
        llm, sqlite_utils = _llm()
        file = Path(path)
        if not file.is_file():
            raise ValidationError(f"{path!r} is not a file", field="source")
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        conn = sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True)
        try:
            applied = {r[0] for r in conn.execute("select name from _llm_migrations")}
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise ValidationError(
                f"{path!r} is not an llm logs database ({exc})", field="source"
            ) from exc
        wanted = {fn.__name__ for fn in llm.migrations.MIGRATIONS}
        if not wanted <= applied:
            # An older llm's log: migrate a copy, never the user's file.
            self._tmp = tempfile.TemporaryDirectory(prefix="convostore-llm-")
            copy = Path(self._tmp.name) / "logs.db"
            with contextlib.closing(sqlite3.connect(copy)) as dest:
                conn.backup(dest)
            conn.close()
            conn = sqlite3.connect(copy)
        self._conn = conn
        self._db = sqlite_utils.Database(conn)
        self._store = llm.logs.LogStore(self._db)  # migrations all applied: reads only

    def close(self) -> None:
        self._conn.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def total_messages(self) -> int | None:
        return None  # a thread's length is only known by walking its chain

    def threads(self) -> Iterator[SourceThread]:
        rows = self._conn.execute(
            "select id, name, tip_message_hash, forked_from, datetime_utc from threads "
            "order by datetime_utc, id"
        ).fetchall()
        seen: set[str] = set()
        for thread_id, name, tip, forked_from, created in rows:
            seen.add(thread_id)
            yield self._thread(thread_id, name, tip, forked_from, created)
        if "responses" in self._db.table_names():
            yield from self._legacy(seen)

    # threads and turns ------------------------------------------------------------

    def _thread(
        self,
        thread_id: str,
        name: str | None,
        tip: str | None,
        forked_from: str | None,
        created: str,
    ) -> SourceThread:
        hashes = self._chain(tip)
        turns = self._conn.execute(
            "select parent_message_hash, tip_message_hash, model, resolved_model, input_tokens, "
            "output_tokens, token_details, duration_ms, datetime_utc from turns "
            "where thread_id = ? order by datetime_utc, id",
            (thread_id,),
        ).fetchall()
        at = {h: i for i, h in enumerate(hashes)}
        made = [_time(created)] * len(hashes)  # when each message was added
        meta: dict[int, MessageMetadata] = {}
        start = 0
        models: list[str] = []
        for parent, turn_tip, model, resolved, inp, out, details, duration, when in turns:
            end = at.get(turn_tip)
            if end is None:
                continue  # a turn of a tip the thread moved away from
            first_output = at[parent] + 1 if parent in at else 0
            for i in range(start, end + 1):
                made[i] = _time(when)
            usage = TokenUsage(
                prompt_tokens=inp or 0,
                completion_tokens=out or 0,
                total_tokens=(inp or 0) + (out or 0),
            )
            extra: dict[str, Any] = {}
            if details:
                extra["token_details"] = json.loads(details)
            if resolved:
                extra["resolved_model"] = resolved
            for i in range(first_output, end + 1):
                meta[i] = MessageMetadata(
                    model=resolved or model,
                    token_usage=usage if i == end else None,
                    duration_ms=duration if i == end else None,
                    extra=extra,
                )
            if model:
                models.append(model)
            start = max(start, end + 1)
        metadata: dict[str, Any] = {"llm": {"forked_from": forked_from}} if forked_from else {}
        thread = Thread(
            id=thread_id,
            title=name,
            model=models[-1] if models else None,
            metadata=metadata,
            created_at=_time(created),
        )

        def messages() -> Iterator[Message]:
            loaded = self._store.load_chain(tip)
            for i, (digest, msg) in enumerate(zip(hashes, loaded, strict=True)):
                yield to_message(
                    msg.to_dict(), id=f"{thread_id}:{digest}", created_at=made[i], meta=meta.get(i)
                )

        return SourceThread(thread=thread, count=len(hashes), messages=messages)

    def _chain(self, tip: str | None) -> list[str]:
        hashes: list[str] = []
        digest = tip
        while digest is not None:
            row = self._conn.execute(
                "select parent_hash from messages where hash = ?", (digest,)
            ).fetchone()
            if row is None:
                raise ValidationError(f"message {digest!r} of a thread is missing", field="source")
            hashes.append(digest)
            digest = row[0]
        hashes.reverse()
        return hashes

    # the legacy responses table ---------------------------------------------------

    def _legacy(self, seen: set[str]) -> Iterator[SourceThread]:
        has_turns = "turns" in self._db.table_names()
        skip = "where responses.id not in (select id from turns)" if has_turns else ""
        rows = self._conn.execute(
            "select responses.conversation_id, min(responses.datetime_utc), count(*), "
            "conversations.name, conversations.model from responses "
            "left join conversations on conversations.id = responses.conversation_id "
            f"{skip} group by responses.conversation_id order by 2, 1"
        ).fetchall()
        for conversation_id, first, count, name, model in rows:
            if conversation_id is None or conversation_id in seen:
                continue
            yield self._legacy_thread(conversation_id, first, count, name, model, skip)

    def _legacy_thread(
        self,
        conversation_id: str,
        first: str,
        count: int,
        name: str | None,
        model: str | None,
        skip: str,
    ) -> SourceThread:
        where = f"{skip} and" if skip else "where"
        query = (
            "select id, model, resolved_model, prompt, system, response, reasoning, duration_ms, "
            "datetime_utc, input_tokens, output_tokens from responses "
            f"{where} conversation_id = ? order by datetime_utc, id"
        )
        systems = [
            r[0]
            for r in self._conn.execute(
                f"select system from responses {where} conversation_id = ? "
                "order by datetime_utc, id",
                (conversation_id,),
            )
        ]
        # A system message wherever the system prompt changes (the first included).
        extra = sum(1 for i, s in enumerate(systems) if s and (i == 0 or s != systems[i - 1]))
        thread = Thread(id=conversation_id, title=name, model=model, created_at=_time(first))

        def messages() -> Iterator[Message]:
            last_system = None
            for row in self._conn.execute(query, (conversation_id,)):
                rid, mdl, resolved, prompt, system, response, reasoning, duration, when = row[:9]
                inp, out = row[9], row[10]
                at = _time(when)
                if system and system != last_system:
                    yield Message(
                        id=f"{rid}:system", role=Role.SYSTEM, content=system, created_at=at
                    )
                last_system = system
                yield Message(id=f"{rid}:user", role=Role.USER, content=prompt or "", created_at=at)
                parts: list[Part] = []
                if reasoning:
                    parts.append(ReasoningPart(text=reasoning))
                parts.append(TextPart(text=response or ""))
                usage = TokenUsage(
                    prompt_tokens=inp or 0,
                    completion_tokens=out or 0,
                    total_tokens=(inp or 0) + (out or 0),
                )
                yield Message(
                    id=f"{rid}:assistant",
                    role=Role.ASSISTANT,
                    parts=parts,
                    created_at=at,
                    metadata=MessageMetadata(
                        model=resolved or mdl, token_usage=usage, duration_ms=duration
                    ),
                )

        return SourceThread(thread=thread, count=2 * count + extra, messages=messages)


# conversion ---------------------------------------------------------------------


def to_message(
    data: dict[str, Any],
    *,
    id: str,
    created_at: dt.datetime,
    meta: MessageMetadata | None = None,
) -> Message:
    """One llm message (the dict of its ``Message.to_dict()``) as a convostore
    message, the dict kept whole as ``native``."""
    role = _ROLES.get(str(data.get("role")), Role.USER)
    parts = [_part(p, f"{id}:{i}") for i, p in enumerate(data.get("parts") or [])]
    results = [p for p in parts if isinstance(p, ToolResultPart)]
    return Message(
        id=id,
        role=role,
        provider_role=None if str(data.get("role")) in _ROLES else str(data.get("role")),
        parts=[p for p in parts if p is not None],
        tool_call_id=results[0].tool_call_id if role is Role.TOOL and results else None,
        name=results[0].tool_name if role is Role.TOOL and results else None,
        created_at=created_at,
        metadata=meta or MessageMetadata(),
        native=NativePayload(format=FORMAT, data=data),
    )


def _part(p: dict[str, Any], fallback_id: str) -> Part:
    kind = p.get("type")
    pm = _provider_metadata(p.get("provider_metadata"))
    if kind == "text":
        return TextPart(text=p.get("text", ""), provider_metadata=pm)
    if kind == "reasoning":
        return ReasoningPart(
            text=p.get("text", ""), redacted=bool(p.get("redacted")), provider_metadata=pm
        )
    if kind == "tool_call":
        return ToolCallPart(
            tool_call_id=p.get("tool_call_id") or fallback_id,
            tool_name=p.get("name", ""),
            args=p.get("arguments"),
            tool_kind="server" if p.get("server_executed") else None,
            provider_metadata=pm,
        )
    if kind == "tool_result":
        return ToolResultPart(
            tool_call_id=p.get("tool_call_id") or fallback_id,
            tool_name=p.get("name", ""),
            result=p.get("output", ""),
            is_error=p.get("exception") is not None,
            provider_metadata=pm,
        )
    if kind == "attachment":
        att = p.get("attachment") or {}
        media = att.get("type") or "application/octet-stream"
        content = att.get("content")
        data = base64.b64decode(content) if isinstance(content, str) else None
        url = att.get("url")
        if media.startswith("image/"):
            return ImagePart(url=url, media_type=media, data=data, provider_metadata=pm)
        return FilePart(
            filename=Path(att.get("path") or url or "attachment").name,
            mime_type=media,
            url=url,
            data=data,
            size_bytes=len(data) if data else 0,
            provider_metadata=pm,
        )
    return TextPart(text="", provider_metadata={"llm": {"unknown_part": p}})


def _provider_metadata(value: Any) -> dict[str, Any]:
    """llm's part metadata, keyed by provider like convostore's when it is."""
    if not value:
        return {}
    if isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()):
        return value
    return {"llm": {"provider_metadata": value}}


def _time(text: str | None) -> dt.datetime:
    if not text:
        return dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    value = dt.datetime.fromisoformat(text)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
