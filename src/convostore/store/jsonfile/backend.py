"""The JSON-file backend: the memory backend plus one file per thread, replaced
atomically (see the notes of :mod:`convostore.store.jsonfile`)."""

from __future__ import annotations

import contextlib
import json
import os
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pydantic

from convostore.errors import (
    BackendUnavailableError,
    DamagedThreadError,
    SchemaTooNewError,
    ThreadNotFoundError,
    ValidationError,
)
from convostore.model import (
    Attachment,
    AttachmentInfo,
    HealthCheckResult,
    HealthReport,
    Message,
    ScopedState,
    Thread,
)
from convostore.store import _health, ops
from convostore.store.backend import Capabilities
from convostore.store.jsonfile import health, lock
from convostore.store.jsonfile.files import _TMP_SUFFIX, _why, atomic_replace, sync_dir
from convostore.store.jsonfile.layout import (
    _JSON_SUFFIX,
    FORMAT,
    FORMAT_VERSION,
    LOCK_NAME,
    _exact_message,
)
from convostore.store.jsonfile.names import _file_stem
from convostore.store.jsonfile.options import _flag, _seconds
from convostore.store.memory import MemoryBackend, Undo
from convostore.store.rules.attachments import refs_of
from convostore.store.rules.state import state_key
from convostore.store.settings import Limits, StoreSettings

__all__ = ["JsonFileBackend"]

T = TypeVar("T")
Key = tuple[str, str]  # (tenant, thread_id)
#: The directory of a tenant's attachments, beside its thread files: one
#: ``<sha256>.json`` file each, written atomically before the message.
_ATTACHMENTS = ".attachments"
#: The directory of a tenant's user and app state: ``app.json`` and one
#: ``user-<user id>.json`` per user. A thread file written with a state change
#: carries the new states too (``state_redo``): a crash after the thread file
#: was replaced and before a state file was is redone when the store opens.
_STATES = ".state"
_STATE_FORMAT = "convostore.state"


class JsonFileBackend(MemoryBackend):
    """Threads kept in memory and persisted as one JSON file per thread.

    Layout: ``<dir>/<tenant>/<thread id>.json``, each holding the format version,
    the tenant, the thread record and all its messages;
    ``<dir>/<tenant>/.attachments/<sha256>.json`` for each stored attachment.
    ``<dir>/.lock`` is the lock file. Open it with ``open_store("json:///relative/dir")`` or
    ``open_store("json:////absolute/dir")``.

    Args:
        path: the store directory; created when missing (a missing directory is
            an empty store).
        limits: size limits applied to every write.
        lock_timeout: seconds to wait for another process to close the store
            before raising :class:`~convostore.errors.StoreLockedError`; ``0``
            fails at once. Strings from a URL query (``?lock_timeout=0.5``) are
            accepted.
        fsync: ``False`` skips ``fsync``: writes stay atomic if the process
            dies, but a power loss may lose the latest ones. For tests and
            throw-away data only. Accepts ``"true"``/``"false"`` strings.

    Raises:
        StoreLockedError: another open store holds the directory.
        BackendUnavailableError: the directory cannot be read (a damaged thread
            file does not stop the store from opening: calls on that thread raise
            :class:`~convostore.errors.DamagedThreadError`).
        SchemaTooNewError: a file was written by a newer convostore.
        ValidationError: an option has a bad value or is unknown.
    """

    kind: ClassVar[str] = "json"
    capabilities: ClassVar[Capabilities] = Capabilities(
        durable=True,
        multi_process=False,
        attachments=True,
        branches=True,
        scoped_state=True,
    )

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        settings: StoreSettings | None = None,
        limits: Limits | None = None,
        lock_timeout: float | str = 5.0,
        fsync: bool | str = True,
        **options: Any,
    ) -> None:
        if options:
            name = sorted(options)[0]
            raise ValidationError(
                "unknown option of the JSON-file store (known: lock_timeout, fsync)", field=name
            )
        super().__init__(settings=settings, limits=limits)
        self._lock_timeout = _seconds(lock_timeout, "lock_timeout")
        self._fsync = _flag(fsync, "fsync")
        try:
            self._root = Path(os.path.abspath(os.fspath(path)))
        except (TypeError, ValueError):
            raise ValidationError("must be a directory path", field="path") from None
        self._encoded: dict[Key, dict[str, tuple[Message, str]]] = {}
        self._dirs: set[Path] = set()  # tenant directories known to exist durably
        self._disk_changed = False  # set once a write has replaced or removed a file
        self._broken: str | None = None
        self._damaged: dict[Path, str] = {}  # thread files that could not be loaded: why
        self._redo: list[tuple[str, ScopedState]] = []  # state_redo of thread files, at load
        self._repair_states: list[tuple[str, ScopedState]] = []  # of the write in progress
        self._make_root()
        self._lock_fd = lock.acquire(self._root, self._lock_timeout)
        self._release = weakref.finalize(self, os.close, self._lock_fd)
        try:
            self._load()
            self._load_attachments()
            self._load_states()
        except BaseException:
            self._release()
            raise

    # the public extras ---------------------------------------------------------

    @property
    def directory(self) -> Path:
        """The absolute path of the store directory."""
        return self._root

    def describe(self) -> str:
        return f"json:///{self._root}"

    def close(self) -> None:
        """Release the directory lock; the store refuses every call afterwards."""
        with self._lock:
            self._closed = True
            self._release()

    def execute(self, op: ops.Op[T]) -> T:
        if self._closed and not isinstance(op, ops.HealthCheck):
            raise BackendUnavailableError(f"the JSON-file store {self._root} is closed")
        return super().execute(op)

    def health_check(self, op: ops.HealthCheck) -> HealthReport:
        """``open``, ``writable``, ``disk-space`` and ``integrity``.

        A damaged thread file costs only its thread, so by default it is listed
        (``detail["damaged"]``) without failing the report; ``full`` reads and
        parses every thread file again and fails on any that does not parse.
        """
        with self._lock:
            threads = len(self._records)
            problem = "the store is closed" if self._closed else self._broken
            damaged = dict(self._damaged)
            held = {self._path(key) for key in self._records} if op.full else set()
        root = str(self._root)
        detail: dict[str, Any] = {"directory": root, "threads": threads, "fsync": self._fsync}
        if damaged:
            detail["damaged"] = {str(p): why for p, why in sorted(damaged.items())}
        checks = [
            HealthCheckResult(name="open", ok=problem is None, detail=problem or self.describe())
        ]
        why = _health.not_writable((str(self._root / LOCK_NAME),), root) or health.probe(self._root)
        checks.append(
            HealthCheckResult(
                name="writable", ok=why is None, detail=why or "a file was created and removed"
            )
        )
        checks.append(_health.disk_space(root))
        checks.append(
            health.integrity(self._root, damaged, held)
            if op.full
            else HealthCheckResult(
                name="integrity",
                ok=True,
                detail=(
                    f"{len(damaged)} thread file(s) could not be loaded (detail.damaged); "
                    "the other threads are served"
                )
                if damaged
                else "every thread file loaded when the store opened",
            )
        )
        return HealthReport.of(self.kind, checks, detail, full=op.full)

    # opening -------------------------------------------------------------------

    def _make_root(self) -> None:
        if self._root.is_dir():
            return
        try:
            self._root.mkdir(parents=True, exist_ok=True)
            self._sync_dir(self._root.parent, strict=False)
        except OSError as exc:
            raise BackendUnavailableError(
                f"cannot create the JSON-file store directory {self._root}: {_why(exc)}"
            ) from exc

    def _load(self) -> None:
        """Read every thread file, removing temporary files a crash left behind."""
        cleaned: set[Path] = set()
        try:
            tenants = sorted(os.scandir(self._root), key=lambda e: e.name)
        except OSError as exc:
            raise BackendUnavailableError(
                f"cannot read the directory {self._root}: {_why(exc)}"
            ) from exc
        for tenant_entry in tenants:
            name = tenant_entry.name
            if name.startswith("."):
                if name.endswith(_TMP_SUFFIX):
                    self._remove_stray(Path(tenant_entry.path), cleaned)
                continue
            if not tenant_entry.is_dir():
                continue
            tenant_dir = Path(tenant_entry.path)
            try:
                files = sorted(os.scandir(tenant_dir), key=lambda e: e.name)
            except OSError as exc:
                raise BackendUnavailableError(
                    f"cannot read the directory {tenant_dir}: {_why(exc)}"
                ) from exc
            self._dirs.add(tenant_dir)
            for entry in files:
                if entry.name.startswith(".") and entry.name.endswith(_TMP_SUFFIX):
                    self._remove_stray(Path(entry.path), cleaned)
                elif (
                    entry.name.endswith(_JSON_SUFFIX)
                    and not entry.name.startswith(".")
                    and entry.is_file()
                ):
                    path = Path(entry.path)
                    try:
                        self._load_file(path)
                    except DamagedThreadError as exc:
                        self._damaged[path] = exc.reason
        for directory in cleaned:
            self._sync_dir(directory, strict=False)

    def _side_files(self, name: str) -> Iterator[Path]:
        """The JSON files of every tenant's directory ``name`` (attachments,
        state), removing the temporary files a crash left there."""
        for tenant_dir in list(self._dirs):
            where = tenant_dir / name
            if not where.is_dir():
                continue
            for entry in sorted(os.scandir(where), key=lambda e: e.name):
                if entry.name.startswith(".") and entry.name.endswith(_TMP_SUFFIX):
                    self._remove_stray(Path(entry.path), set())
                elif entry.name.endswith(_JSON_SUFFIX):
                    yield Path(entry.path)

    def _load_attachments(self) -> None:
        """Read every tenant's attachments and the references its messages hold."""
        for path in self._side_files(_ATTACHMENTS):
            try:
                doc = json.loads(path.read_bytes())
                tenant = doc["tenant"]
                blob = Attachment.model_validate(doc["attachment"])
            except (OSError, ValueError, KeyError, TypeError, pydantic.ValidationError) as exc:
                self._damaged[path] = f"not a valid attachment file: {exc}"
                continue
            self._blobs[(tenant, blob.ref)] = blob
        for (tenant, thread_id), msgs in self._msgs.items():
            for m in msgs:
                for ref in refs_of(m):
                    held = self._blobs.get((tenant, ref))
                    if held is not None:
                        holders = self._refs.setdefault((tenant, ref), {})
                        holders[(thread_id, m.id)] = held.created_at

    def _load_states(self) -> None:
        """Read every tenant's user and app state, then redo the state changes
        thread files carry that are newer than the state files."""
        for path in self._side_files(_STATES):
            try:
                doc = json.loads(path.read_bytes())
                if doc.get("format") != _STATE_FORMAT:
                    raise ValueError(f'no "format": "{_STATE_FORMAT}" field')
                tenant = doc["tenant"]
                state = ScopedState.model_validate(doc["state"])
            except (OSError, ValueError, KeyError, TypeError, pydantic.ValidationError) as exc:
                # Refused rather than served empty: a write would overwrite it.
                raise BackendUnavailableError(f"{path} is not a valid state file: {exc}") from None
            self._states[self._state_key(tenant, state)] = state
        redone = {}
        for tenant, state in self._redo:
            key = self._state_key(tenant, state)
            have = self._states.get(key)
            if have is None or have.revision < state.revision:
                self._states[key] = state
                redone[key] = (tenant, state)
        self._redo = []
        for tenant, state in redone.values():
            self._write_state(tenant, state, strict=False)

    @staticmethod
    def _state_key(tenant: str, state: ScopedState) -> tuple[str, str, str]:
        return (tenant, state.scope.value, state_key(state.scope, state.user_id))

    def _state_path(self, tenant: str, state: ScopedState) -> Path:
        name = "app" if state.user_id is None else "user-" + _file_stem(state.user_id, "user_id")
        return self._root / _file_stem(tenant, "tenant") / _STATES / (name + _JSON_SUFFIX)

    def _write_state(self, tenant: str, state: ScopedState, *, strict: bool) -> None:
        path = self._state_path(tenant, state)
        doc = {"format": _STATE_FORMAT, "tenant": tenant, "state": state.model_dump(mode="json")}
        self._ensure_dir(path.parent.parent)
        self._ensure_dir(path.parent)
        self._replace(path, json.dumps(doc).encode(), strict=strict)

    def _persist_states(self, tenant: str, written: list[ScopedState]) -> None:
        self._repair_states = [(tenant, s) for s in written]
        for state in written:
            try:
                self._write_state(tenant, state, strict=True)
            except OSError as exc:
                path = self._state_path(tenant, state)
                raise BackendUnavailableError(
                    f"cannot write {path}: {_why(exc)}; the change was not made"
                ) from exc

    def _blob_path(self, tenant: str, ref: str) -> Path:
        return self._root / _file_stem(tenant, "tenant") / _ATTACHMENTS / (ref[7:] + _JSON_SUFFIX)

    def _persist_blob(self, tenant: str, blob: Attachment) -> None:
        path = self._blob_path(tenant, blob.ref)
        doc = {
            "format": "convostore.attachment",
            "tenant": tenant,
            "attachment": blob.model_dump(mode="json"),
        }
        try:
            self._ensure_dir(path.parent.parent)
            self._ensure_dir(path.parent)
            self._replace(path, json.dumps(doc).encode(), strict=True)
        except OSError as exc:
            raise BackendUnavailableError(
                f"cannot write {path}: {_why(exc)}; the change was not made"
            ) from exc

    def _drop_blob(self, tenant: str, ref: str) -> None:
        path = self._blob_path(tenant, ref)
        try:
            self._unlink(path, strict=True)
        except OSError as exc:
            raise BackendUnavailableError(f"cannot remove {path}: {_why(exc)}") from exc

    # The attachment writes do not go through ``_writing`` (they touch no
    # thread file), so they refuse a store a failed write left broken here;
    # ``execute`` refuses a closed one.

    def attach(self, op: ops.Attach) -> list[AttachmentInfo]:
        self._refuse_broken()
        return super().attach(op)

    def release_attachments(self, op: ops.ReleaseAttachments) -> int:
        self._refuse_broken()
        return super().release_attachments(op)

    def purge_attachments(self, op: ops.PurgeAttachments) -> int:
        self._refuse_broken()
        return super().purge_attachments(op)

    def _refuse_broken(self) -> None:
        if self._broken is not None:
            raise BackendUnavailableError(self._broken)

    def _remove_stray(self, path: Path, cleaned: set[Path]) -> None:
        try:
            path.unlink()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise BackendUnavailableError(
                f"cannot remove the temporary file {path} left by an interrupted write: {_why(exc)}"
            ) from exc
        cleaned.add(path.parent)

    def _load_file(self, path: Path) -> None:
        """Load one thread file; :class:`DamagedThreadError` if it is not a valid one."""

        def bad(why: str) -> DamagedThreadError:
            return DamagedThreadError(str(path), f"not a valid thread file: {why}")

        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise DamagedThreadError(str(path), f"unreadable: {_why(exc)}") from exc
        try:
            doc = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise bad(f"invalid JSON: {exc}") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise bad(f'no "format": "{FORMAT}" field')
        version = doc.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise bad("missing or malformed version")
        if version > FORMAT_VERSION:
            raise SchemaTooNewError(
                f"{path} was written by a newer convostore (file format {version}; this "
                f"version reads up to {FORMAT_VERSION}); upgrade convostore",
                found=version,
                expected=FORMAT_VERSION,
            )
        tenant = doc.get("tenant")
        raw_msgs = doc.get("messages")
        if not isinstance(tenant, str) or not isinstance(raw_msgs, list):
            raise bad("missing tenant or messages")
        try:
            thread = Thread.model_validate(doc.get("thread"))
            msgs = [_exact_message(m) for m in raw_msgs]
        except pydantic.ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in err.get("loc", ()))
            raise bad(f"{where}: {err.get('msg')}") from None
        key = (tenant, thread.id)
        try:
            expected = self._path(key)
        except ValidationError as exc:
            raise bad(str(exc)) from None
        if expected != path:
            raise bad(
                f"it holds thread {thread.id!r} of tenant {tenant!r}, whose file is {expected}"
            )
        if key in self._records:
            raise bad(f"thread {thread.id!r} is stored twice")
        base = thread.fork_seq or 0  # a branch stores the messages after its fork point
        if base + len(msgs) != thread.message_count:
            raise bad(f"{len(msgs)} messages but a message count of {thread.message_count}")
        for n, m in enumerate(msgs, base + 1):
            if m.seq != n or m.thread_id != thread.id:
                raise bad(f"message {m.id!r} is out of sequence")
            other = self._by_id.get((tenant, m.id))
            if other is not None:
                raise bad(f"message {m.id!r} is also stored in thread {other[0]!r}")
        redo = doc.get("state_redo")
        if redo is not None:
            try:
                self._redo.extend((tenant, ScopedState.model_validate(x)) for x in redo)
            except (TypeError, pydantic.ValidationError) as exc:
                raise bad(f"state_redo: {exc}") from None
        if "live_message_count" not in doc["thread"]:
            # Written before the live count existed: counted once, then kept.
            live = sum(1 for m in msgs if m.deleted_at is None)
            thread = thread.model_copy(update={"live_message_count": live})
        self._records[key] = thread
        self._msgs[key] = msgs
        discard: list[Undo] = []
        self._add_to_tree(tenant, thread, discard)
        for n, m in enumerate(msgs, base + 1):
            self._by_id[(tenant, m.id)] = (thread.id, n)
            if m.execution_id:
                self._index_exec(tenant, m, discard)

    # damaged threads -----------------------------------------------------------

    def _thread(self, tenant: str, thread_id: str) -> Thread:
        try:
            return super()._thread(tenant, thread_id)
        except ThreadNotFoundError:
            if self._damaged:
                self._refuse_damaged((tenant, thread_id))
            raise

    def _refuse_damaged(self, key: Key) -> None:
        """Raise :class:`DamagedThreadError` if the file of ``key`` failed to load."""
        path = self._path(key)
        why = self._damaged.get(path)
        if why is not None:
            raise DamagedThreadError(str(path), why, thread_id=key[1])

    def _refuse_foreign_file(self, key: Key) -> None:
        """Refuse a write to a thread not in memory whose file exists anyway.

        The file is a damaged one, or one the file system reports under the name
        of this thread although it belongs to another (a case- or
        normalization-insensitive file system); either way it must not be replaced.
        """
        self._refuse_damaged(key)
        path = self._path(key)
        if os.path.lexists(path):
            raise BackendUnavailableError(
                f"cannot write thread {key[1]!r}: {path} already exists but was not loaded "
                "as this thread (the file system may treat two thread names as one); "
                "it is left untouched"
            )

    # writing -------------------------------------------------------------------

    def _path(self, key: Key) -> Path:
        tenant, thread_id = key
        return (
            self._root
            / _file_stem(tenant, "tenant")
            / (_file_stem(thread_id, "thread_id") + _JSON_SUFFIX)
        )

    @contextlib.contextmanager
    def _writing(self, key: Key, *, thread: bool = True) -> Iterator[list[Undo]]:
        """The memory backend's write bracket, refusing writes once closed.

        If persisting failed after the file had already been replaced (the
        directory fsync failed), memory has been rolled back by then, so the file
        is rewritten from memory to match it again.
        """
        with self._lock:
            if self._closed:
                raise BackendUnavailableError(f"the JSON-file store {self._root} is closed")
            if self._broken is not None:
                raise BackendUnavailableError(self._broken)
            if thread and key not in self._records:
                self._refuse_foreign_file(key)
            self._disk_changed = False
            self._repair_states = []
            try:
                with super()._writing(key, thread=thread) as undo:
                    yield undo
            except BaseException:
                if self._disk_changed:
                    if thread:
                        self._repair(key)
                    self._repair_state_files()
                raise
            finally:
                self._disk_changed = False
                self._repair_states = []

    def _repair_state_files(self) -> None:
        """Make the state files a failed write touched match memory again."""
        for tenant, written in self._repair_states:
            key = self._state_key(tenant, written)
            state = self._states.get(key)
            path = self._state_path(tenant, written)
            try:
                if state is None:
                    self._unlink(path, strict=False)
                else:
                    self._write_state(tenant, state, strict=False)
            except (OSError, BackendUnavailableError) as exc:
                self._broken = (
                    f"a failed write left {path} ahead of memory and it could not be rolled "
                    f"back ({exc}); reopen the store to continue"
                )

    def _persist(self, key: Key) -> None:
        path = self._path(key)
        try:
            if key in self._records:
                data = self._encode(key)
                self._ensure_dir(path.parent)
                self._replace(path, data, strict=True)
            else:
                self._encoded.pop(key, None)
                self._unlink(path, strict=True)
        except OSError as exc:
            raise BackendUnavailableError(
                f"cannot write {path}: {_why(exc)}; the change was not made"
            ) from exc

    def _repair(self, key: Key) -> None:
        """Make the file of ``key`` match memory again after a failed write."""
        path = self._path(key)
        try:
            if key in self._records:
                self._replace(path, self._encode(key), strict=False)
            else:
                self._unlink(path, strict=False)
        except (OSError, BackendUnavailableError) as exc:
            self._broken = (
                f"a failed write left {path} ahead of memory and it could not be rolled back "
                f"({exc}); reopen the store to continue"
            )

    def _encode(self, key: Key) -> bytes:
        """The file content of thread ``key``, reusing the JSON of unchanged messages."""
        tenant = key[0]
        previous = self._encoded.get(key, {})
        current: dict[str, tuple[Message, str]] = {}
        lines = []
        try:
            for m in self._msgs[key]:
                hit = previous.get(m.id)
                text = hit[1] if hit is not None and hit[0] is m else m.model_dump_json()
                current[m.id] = (m, text)
                lines.append(text)
            thread = self._records[key].model_dump_json()
        except (ValueError, RecursionError) as exc:  # checked on the way in; not expected
            raise BackendUnavailableError(f"cannot encode thread {key[1]!r}: {exc}") from exc
        self._encoded[key] = current
        head = json.dumps({"format": FORMAT, "version": FORMAT_VERSION, "tenant": tenant})
        body = ",\n".join(lines)
        if self._written_states:  # redone at open if a state file lags behind
            redo = json.dumps([s.model_dump(mode="json") for s in self._written_states])
            head = f'{head[:-1]}, "state_redo": {redo}}}'
        return f'{head[:-1]}, "thread": {thread},\n"messages": [\n{body}\n]}}\n'.encode()

    def _ensure_dir(self, directory: Path) -> None:
        if directory in self._dirs:
            return
        with contextlib.suppress(FileExistsError):
            directory.mkdir()
        self._sync_dir(directory.parent, strict=True)
        self._dirs.add(directory)

    def _replace(self, path: Path, data: bytes, *, strict: bool) -> None:
        atomic_replace(path, data, fsync=self._fsync, strict=strict)
        self._disk_changed = True
        self._sync_dir(path.parent, strict)

    def _unlink(self, path: Path, *, strict: bool) -> None:
        try:
            path.unlink()
        except FileNotFoundError:
            return
        self._disk_changed = True
        self._sync_dir(path.parent, strict)

    def _sync_dir(self, directory: Path, strict: bool) -> None:
        sync_dir(directory, fsync=self._fsync, strict=strict)
