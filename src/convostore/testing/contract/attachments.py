"""Attachments: bytes of images, audio and files stored once per tenant by
their SHA-256, referenced from parts, carried by snapshots, removed when
nothing references them. Runs on backends that declare the ``attachments``
capability; and every part kind round-trips on every backend."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pydantic
import pytest

from convostore.errors import (
    AttachmentNotFoundError,
    AttachmentTooLargeError,
    ThreadNotFoundError,
    ValidationError,
)
from convostore.model import (
    AudioPart,
    Citation,
    CodePart,
    DataPart,
    FilePart,
    HostedToolPart,
    ImagePart,
    Message,
    MessageMetadata,
    ReasoningPart,
    RefusalPart,
    SourcePart,
    TextPart,
    TokenUsage,
    ToolCallPart,
    ToolResultPart,
)
from convostore.testing.contract.base import (
    ContractBase,
    StoreLike,
    all_messages,
    fingerprint,
    require_capability,
)
from convostore.testing.contract.clock import ManualClock

__all__ = ["AttachmentContract", "every_part_kind"]

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


def _ref(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def every_part_kind() -> list[Message]:
    """Messages holding one part of every kind, with the provider fields set."""
    return [
        Message.user("look").with_parts(
            TextPart(
                text="look",
                provider_metadata={"anthropic": {"cache_control": {"type": "ephemeral"}}},
            ),
            ImagePart(url="https://example.com/a.png", media_type="image/png", detail="high"),
            FilePart(filename="q3.pdf", mime_type="application/pdf", provider_file_id="file-1"),
            AudioPart(media_type="audio/wav", transcript="hello", provider_id="audio_1"),
        ),
        Message.assistant().with_parts(
            ReasoningPart(
                text="",
                summary=["thinking about it"],
                encrypted_content="gAAA",
                provider_id="rs_1",
                status="completed",
            ),
            ReasoningPart(text="step", signature="sig==", redacted=False),
            ReasoningPart(text="", encrypted_content="opaque", redacted=True),
            ToolCallPart(
                tool_call_id="call_1",
                tool_name="search",
                args={"q": "x"},
                args_text='{"q": "x"}',
                provider_id="fc_1",
                status="completed",
                signature="c2ln",
            ),
            HostedToolPart(
                provider="openai-responses",
                item_type="web_search_call",
                payload={"type": "web_search_call", "id": "ws_1", "status": "completed"},
                tool_name="web_search",
                tool_call_id="ws_1",
                status="completed",
            ),
        ),
        Message.tool("found", "call_1", tool_name="search").with_parts(
            ToolResultPart(
                tool_call_id="call_1",
                tool_name="search",
                result=None,
                content=[TextPart(text="found"), ImagePart(url="https://example.com/b.png")],
                provider_id="fco_1",
            )
        ),
        Message.assistant("See [1].")
        .with_parts(
            TextPart(
                text="See [1].",
                citations=[
                    Citation(
                        kind="url_citation",
                        url="https://example.com",
                        title="Example",
                        start_index=4,
                        end_index=7,
                    )
                ],
                provider_id="msg_1",
                status="completed",
            ),
            SourcePart(source_id="s1", url="https://example.com", title="Example"),
            CodePart(language="python", code="print(1)", provider_id="ci_1"),
            RefusalPart(text="I can't help with that."),
            DataPart(name="weather", data={"temp": 18}, data_id="d1"),
        )
        .with_metadata(
            MessageMetadata(
                model="gpt-5",
                token_usage=TokenUsage(
                    prompt_tokens=10,
                    completion_tokens=5,
                    total_tokens=15,
                    cached_input_tokens=4,
                    cache_write_tokens=2,
                    reasoning_tokens=3,
                ),
                finish_reason="pause_turn",
                provider_finish_reason="pause_turn",
                response_id="resp_1",
                extra={"trace": {"spans": [1, 2]}, "ok": True},
            )
        ),
        # A lone text part equal to ``content``, which holds more than its text.
        Message.assistant("done").with_parts(
            TextPart(text="done", provider_id="msg_2", status="completed", signature="c2ln")
        ),
    ]


class AttachmentContract(ContractBase):
    """Every part kind is stored whole; bytes are attachments of the tenant."""

    def _fields(self, m: Message) -> dict[str, object]:
        return m.model_dump(
            exclude={"thread_id", "seq", "turn", "token_count", "token_counter", "updated_at"}
        )

    def test_every_part_kind_reads_back_unchanged(self, store: StoreLike) -> None:
        t = store.create_thread()
        sent = every_part_kind()
        stored = store.append(t.id, sent)
        dicts = [Message.model_validate(d) for d in store.load_messages(t.id, as_dicts=True)]
        for got in (stored, all_messages(store, t.id), store.load_messages(t.id), dicts):
            assert [self._fields(m) for m in got] == [self._fields(m) for m in sent]
        usage = store.get_thread(t.id).usage
        assert (usage.prompt_tokens, usage.total_tokens) == (10, 15)

    def test_inline_bytes_become_a_stored_attachment(self, store: StoreLike) -> None:
        require_capability(store, "attachments")
        t = store.create_thread()
        msg = Message.user("see").with_parts(
            TextPart(text="see"), ImagePart(data=PNG, media_type="image/png")
        )
        stored = store.append(t.id, msg)[0]
        part = stored.parts[1]
        assert isinstance(part, ImagePart)
        assert (part.data, part.attachment, part.size_bytes) == (None, _ref(PNG), len(PNG))
        again = store.get_message(stored.id).parts[1]
        assert isinstance(again, ImagePart) and again.attachment == _ref(PNG)
        assert '"data":' not in store.get_message(stored.id).model_dump_json()
        found = store.get_attachment(part.attachment)
        assert (found.data, found.media_type, found.size_bytes) == (PNG, "image/png", len(PNG))
        info = store.attachment_info(found.sha256)
        assert (info.ref, info.size_bytes) == (found.ref, len(PNG))

    def test_the_same_bytes_are_stored_once(self, store: StoreLike, clock: ManualClock) -> None:
        require_capability(store, "attachments")
        t = store.create_thread()
        first = store.append(t.id, Message.user("a").with_parts(ImagePart(data=PNG)))[0]
        batch = [Message.user(str(i)).with_parts(ImagePart(data=PNG)) for i in range(20)]
        stored = store.append(t.id, batch)
        refs = {p.attachment for m in [first, *stored] for p in m.parts if isinstance(p, ImagePart)}
        assert refs == {_ref(PNG)}
        info = store.attachment_info(_ref(PNG))
        clock.advance(60)  # stored again, it would be stored at another time
        assert store.put_attachment(PNG, "image/png").created_at == info.created_at

    def test_bytes_inside_tool_results_and_files_and_audio(self, store: StoreLike) -> None:
        require_capability(store, "attachments")
        t = store.create_thread()
        pdf, wav = b"%PDF-1.7 test", b"RIFF....WAVE"
        call = Message.assistant().with_parts(ToolCallPart(tool_call_id="c1", tool_name="shot"))
        result = Message.tool("", "c1").with_parts(
            ToolResultPart(tool_call_id="c1", content=[ImagePart(data=PNG, media_type="image/png")])
        )
        files = Message.user("docs").with_parts(
            FilePart(filename="a.pdf", mime_type="application/pdf", data=pdf),
            AudioPart(media_type="audio/wav", data=wav),
        )
        stored = store.append(t.id, [call, result, files])
        inner = stored[1].parts[0]
        assert isinstance(inner, ToolResultPart)
        assert inner.content[0].attachment == _ref(PNG)  # type: ignore[union-attr]
        f, a = stored[2].parts
        assert isinstance(f, FilePart) and isinstance(a, AudioPart)
        assert (f.attachment, f.size_bytes, a.attachment) == (_ref(pdf), len(pdf), _ref(wav))
        assert store.get_attachment(_ref(pdf)).media_type == "application/pdf"
        assert store.get_attachment(_ref(wav)).data == wav

    def test_a_reference_to_missing_bytes_is_refused_and_nothing_written(
        self, store: StoreLike
    ) -> None:
        require_capability(store, "attachments")
        t = store.create_thread(id="ta")
        before = fingerprint(store, "ta")
        missing = _ref(b"never stored")
        with pytest.raises(AttachmentNotFoundError):
            store.append(t.id, Message.user("x").with_parts(ImagePart(attachment=missing)))
        assert fingerprint(store, "ta") == before
        with pytest.raises(AttachmentNotFoundError):
            store.get_attachment(missing)

    def test_an_uploaded_attachment_may_be_referenced(self, store: StoreLike) -> None:
        require_capability(store, "attachments")
        t = store.create_thread()
        info = store.put_attachment(PNG, "image/png")
        assert info.ref == _ref(PNG) and info.media_type == "image/png"
        stored = store.append(t.id, Message.user("x").with_parts(ImagePart(attachment=info.ref)))
        assert stored[0].parts[0].attachment == info.ref

    def test_bytes_over_the_limit_are_refused_and_nothing_written(self, store: StoreLike) -> None:
        require_capability(store, "attachments")
        t = store.create_thread(id="tl")
        limit = store.limits.max_attachment_bytes
        before = fingerprint(store, "tl")
        big = b"\0" * (limit + 1)
        with pytest.raises(AttachmentTooLargeError) as err:
            store.append(
                t.id, [Message.user("ok"), Message.user("x").with_parts(ImagePart(data=big))]
            )
        assert err.value.field == "messages.1.parts.0.data"
        assert isinstance(err.value, ValidationError)
        with pytest.raises(AttachmentTooLargeError):
            store.put_attachment(big)
        assert fingerprint(store, "tl") == before
        with pytest.raises(AttachmentNotFoundError):
            store.get_attachment(_ref(big))

    def test_bad_references_are_refused(self, store: StoreLike) -> None:
        require_capability(store, "attachments")
        for bad in ("sha256:xyz", "md5:" + "0" * 32, "", 42):
            with pytest.raises(ValidationError) as err:
                store.get_attachment(bad)
            assert err.value.field == "ref"
        with pytest.raises(pydantic.ValidationError):
            ImagePart(attachment="sha256:nothex")

    def test_tenants_are_walls(self, store: StoreLike) -> None:
        require_capability(store, "attachments")
        t = store.create_thread()
        store.append(t.id, Message.user("x").with_parts(ImagePart(data=PNG)))
        other = store.tenant("other")
        with pytest.raises(AttachmentNotFoundError) as err:
            other.get_attachment(_ref(PNG))
        assert str(err.value) == str(raised_for(store.tenant("nobody"), _ref(PNG)))
        dest_thread = other.create_thread()
        with pytest.raises(AttachmentNotFoundError):
            other.append(
                dest_thread.id, Message.user("y").with_parts(ImagePart(attachment=_ref(PNG)))
            )
        # The same bytes sent by the other tenant are its own.
        other.append(dest_thread.id, Message.user("y").with_parts(ImagePart(data=PNG)))
        assert other.get_attachment(_ref(PNG)).data == PNG

    def test_export_carries_the_bytes_and_import_restores_them(self, store: StoreLike) -> None:
        require_capability(store, "attachments")
        t = store.create_thread(id="src")
        store.append(
            t.id, Message.user("x").with_parts(ImagePart(data=PNG, media_type="image/png"))
        )
        snap = store.export_thread("src")
        assert [a.ref for a in snap.attachments] == [_ref(PNG)]
        again = type(snap).model_validate_json(snap.model_dump_json())
        assert again.attachments[0].data == PNG
        dest = store.tenant("restore")
        dest.import_thread(again)
        assert dest.get_attachment(_ref(PNG)).data == PNG
        msg = all_messages(dest, "src")[0]
        assert msg.parts[0].attachment == _ref(PNG)  # type: ignore[union-attr]
        plain = store.create_thread(id="plain")
        store.append(plain.id, Message.user("no bytes"))
        assert '"attachments"' not in store.export_thread("plain").model_dump_json()

    def test_a_snapshot_whose_bytes_do_not_match_their_hash_is_refused(
        self, store: StoreLike
    ) -> None:
        require_capability(store, "attachments")
        t = store.create_thread(id="src")
        store.append(t.id, Message.user("x").with_parts(ImagePart(data=PNG)))
        doc = store.export_thread("src").model_dump(mode="json")
        doc["attachments"][0]["data"] = "AAAA"
        with pytest.raises(ValidationError):
            store.tenant("restore").import_thread(doc)
        with pytest.raises(ThreadNotFoundError):
            store.tenant("restore").get_thread("src")

    def test_purge_removes_the_bytes_nothing_else_references(self, store: StoreLike) -> None:
        require_capability(store, "attachments")
        shared, own = PNG, b"only in one thread"
        a, b = store.create_thread(), store.create_thread()
        store.append(
            a.id, Message.user("x").with_parts(ImagePart(data=shared), ImagePart(data=own))
        )
        store.append(b.id, Message.user("y").with_parts(ImagePart(data=shared)))
        store.purge_thread(a.id)
        assert store.get_attachment(_ref(shared)).data == shared
        with pytest.raises(AttachmentNotFoundError):
            store.get_attachment(_ref(own))
        store.purge_thread(b.id)
        with pytest.raises(AttachmentNotFoundError):
            store.get_attachment(_ref(shared))

    def test_purge_attachments_collects_unreferenced_uploads_after_the_grace(
        self, store: StoreLike, clock: ManualClock
    ) -> None:
        require_capability(store, "attachments")
        t = store.create_thread()
        unused = store.put_attachment(b"never used")
        used = store.put_attachment(PNG)
        store.append(t.id, Message.user("x").with_parts(ImagePart(attachment=used.ref)))
        assert store.purge_attachments() == 0  # within the grace period
        clock.advance(2 * 3600)
        assert store.purge_attachments() == 1
        with pytest.raises(AttachmentNotFoundError):
            store.get_attachment(unused.ref)
        assert store.get_attachment(used.ref).data == PNG
        with pytest.raises(ValidationError):
            store.purge_attachments(older_than=-1)

    def test_an_edit_may_add_bytes(self, store: StoreLike) -> None:
        require_capability(store, "attachments")
        t = store.create_thread()
        m = store.append(t.id, Message.user("x"))[0]
        edited = store.update_message(m.id, parts=[TextPart(text="x"), ImagePart(data=PNG)])
        assert edited.parts[1].attachment == _ref(PNG)
        assert store.get_attachment(_ref(PNG)).data == PNG
        store.purge_thread(t.id)
        with pytest.raises(AttachmentNotFoundError):
            store.get_attachment(_ref(PNG))

    def test_attachments_survive_a_reopen(
        self, store: StoreLike, reopen: Callable[[], StoreLike] | None
    ) -> None:
        require_capability(store, "attachments")
        reopen = self.durable_reopen(store, reopen)
        t = store.create_thread(id="kept")
        store.append(t.id, Message.user("x").with_parts(ImagePart(data=PNG)))
        again = reopen()
        assert again.get_attachment(_ref(PNG)).data == PNG
        again.purge_thread("kept")
        with pytest.raises(AttachmentNotFoundError):
            again.get_attachment(_ref(PNG))


def raised_for(store: StoreLike, ref: str) -> AttachmentNotFoundError:
    try:
        store.get_attachment(ref)
    except AttachmentNotFoundError as exc:
        return exc
    raise AssertionError("found")
