"""The exception tree of convostore.

Every error the public API raises derives from :class:`ConvostoreError`; no
``sqlite3``, ``psycopg`` or pydantic exception escapes a store. The tree is
shallow on purpose, so callers catch by meaning rather than by backend::

    ConvostoreError
    ├── NotFoundError
    │   ├── ThreadNotFoundError
    │   ├── MessageNotFoundError
    │   ├── AttachmentNotFoundError    no stored bytes of that hash in the tenant
    │   └── StoreNotFoundError         opened without creating, and nothing is there
    ├── ConflictError
    │   ├── RevisionConflictError      stale ``expected_revision``
    │   ├── StateConflictError         stale ``expected_revision`` of user or app state
    │   ├── DuplicateMessageError      message id re-sent with other content
    │   ├── ThreadExistsError          create/import of an id already taken
    │   └── ThreadDeletedError         write to a soft-deleted thread
    ├── ValidationError (ValueError)   bad input; names the offending field
    │   ├── UnsupportedSnapshotVersionError
    │   ├── AttachmentTooLargeError    bytes over ``Limits.max_attachment_bytes``
    │   └── ContextBudgetError         mandatory context exceeds the budget
    ├── SchemaVersionError
    │   ├── SchemaTooOldError          database needs ``migrate()``
    │   └── SchemaTooNewError          database written by a newer convostore
    ├── BackendUnavailableError        cannot reach or open the backend
    │   ├── StoreLockedError           another process holds the store
    │   └── DamagedThreadError         one thread's stored data cannot be read
    └── MissingDependencyError (ImportError)  optional extra not installed

A :class:`NotFoundError` carries no hint of *why* the object was not found: a
thread of another tenant is reported exactly like one that never existed.
"""

from __future__ import annotations

__all__ = [
    "AttachmentNotFoundError",
    "AttachmentTooLargeError",
    "BackendUnavailableError",
    "ConflictError",
    "ContextBudgetError",
    "ConvostoreError",
    "DamagedThreadError",
    "DuplicateMessageError",
    "MessageNotFoundError",
    "MissingDependencyError",
    "NotFoundError",
    "RevisionConflictError",
    "SchemaTooNewError",
    "SchemaTooOldError",
    "SchemaVersionError",
    "StateConflictError",
    "StoreLockedError",
    "StoreNotFoundError",
    "ThreadDeletedError",
    "ThreadExistsError",
    "ThreadNotFoundError",
    "UnsupportedSnapshotVersionError",
    "ValidationError",
]


class ConvostoreError(Exception):
    """Root of every error raised by convostore."""


class NotFoundError(ConvostoreError, LookupError):
    """The thread or message does not exist for this tenant."""


class ThreadNotFoundError(NotFoundError):
    def __init__(self, thread_id: str) -> None:
        super().__init__(f"thread {thread_id!r} not found")
        self.thread_id = thread_id


class MessageNotFoundError(NotFoundError):
    def __init__(self, message_id: str) -> None:
        super().__init__(f"message {message_id!r} not found")
        self.message_id = message_id


class AttachmentNotFoundError(NotFoundError):
    def __init__(self, ref: str) -> None:
        super().__init__(f"attachment {ref!r} not found")
        self.ref = ref


class StoreNotFoundError(NotFoundError):
    """A store opened in a mode that must not create one does not exist yet."""

    def __init__(self, url: str, path: str, hint: str = "") -> None:
        super().__init__(
            f"store {url} does not exist (there is no {path})" + (f"; {hint}" if hint else "")
        )
        self.url = url
        self.path = path


class ConflictError(ConvostoreError):
    """The write conflicts with the current state of the store."""


class RevisionConflictError(ConflictError):
    def __init__(self, thread_id: str, expected: int, actual: int) -> None:
        super().__init__(
            f"thread {thread_id!r} is at revision {actual}, not the expected {expected}"
        )
        self.thread_id = thread_id
        self.expected = expected
        self.actual = actual


class StateConflictError(ConflictError):
    """A stale ``expected_revision`` on user or app state."""

    def __init__(self, scope: str, user_id: str | None, expected: int, actual: int) -> None:
        what = f"the state of user {user_id!r}" if user_id is not None else f"{scope} state"
        super().__init__(f"{what} is at revision {actual}, not the expected {expected}")
        self.scope = scope
        self.user_id = user_id
        self.expected = expected
        self.actual = actual


class DuplicateMessageError(ConflictError):
    def __init__(self, message_id: str, detail: str = "with different content") -> None:
        super().__init__(f"message {message_id!r} already stored {detail}")
        self.message_id = message_id


class ThreadExistsError(ConflictError):
    def __init__(self, thread_id: str) -> None:
        super().__init__(f"thread {thread_id!r} already exists")
        self.thread_id = thread_id


class ThreadDeletedError(ConflictError):
    def __init__(self, thread_id: str, hint: str = "restore it before writing") -> None:
        super().__init__(f"thread {thread_id!r} is deleted; {hint}")
        self.thread_id = thread_id


class ValidationError(ConvostoreError, ValueError):
    """Input was rejected; nothing was written.

    Attributes:
        field: dotted path of the offending field, when one can be named.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.reason = message


class UnsupportedSnapshotVersionError(ValidationError):
    def __init__(self, version: object, supported: tuple[int, ...]) -> None:
        super().__init__(
            f"snapshot version {version!r} is not supported (known: {list(supported)})",
            field="version",
        )
        self.version = version


class AttachmentTooLargeError(ValidationError):
    """An attachment's bytes exceed the store's ``Limits.max_attachment_bytes``."""

    def __init__(self, size: int, limit: int, *, field: str | None = None) -> None:
        super().__init__(f"is {size} bytes, over the attachment limit of {limit}", field=field)
        self.size = size
        self.limit = limit


class ContextBudgetError(ValidationError):
    """The messages that must be in a context window do not fit its budget."""

    def __init__(
        self,
        required: int,
        budget: int,
        unit: str = "tokens",
        *,
        what: str = "the mandatory part of the context",
    ) -> None:
        super().__init__(f"{what} needs {required} {unit}, over the budget of {budget}")
        self.required = required
        self.budget = budget


class SchemaVersionError(ConvostoreError):
    """The database schema does not match this version of convostore."""

    def __init__(self, message: str, *, found: int, expected: int) -> None:
        super().__init__(message)
        self.found = found
        self.expected = expected


class SchemaTooOldError(SchemaVersionError):
    pass


class SchemaTooNewError(SchemaVersionError):
    pass


class BackendUnavailableError(ConvostoreError):
    """The backend cannot be reached, opened or used right now."""


class StoreLockedError(BackendUnavailableError):
    """Another process holds the store's write lock."""


class DamagedThreadError(BackendUnavailableError):
    """The stored data of one thread cannot be read: a damaged or unreadable file.

    The rest of the store stays usable; reads and writes of this thread are
    refused (a write never replaces the damaged data) until it is restored.
    ``path`` names the file, ``reason`` says what is wrong with it.
    """

    def __init__(self, path: str, reason: str, *, thread_id: str | None = None) -> None:
        which = "its thread" if thread_id is None else f"thread {thread_id!r}"
        super().__init__(
            f"the thread file {path} is damaged ({reason}); {which} cannot be read or "
            "changed until the file is restored from a backup or moved out of the store "
            "directory"
        )
        self.path = path
        self.reason = reason
        self.thread_id = thread_id


class MissingDependencyError(ConvostoreError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"{package} is required for this feature: pip install 'convostore[{extra}]'"
        )
        self.package = package
        self.extra = extra
