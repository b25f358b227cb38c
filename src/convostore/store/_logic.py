"""Transitional: the names moved to :mod:`convostore.store.rules` and
:mod:`convostore.store.settings`. Removed before release."""

# ruff: noqa: F401
from convostore.store.rules.append import (
    CLIENT_FIELDS,
    BatchDelta,
    Contribution,
    add_cost,
    apply_append,
    assign,
    batch_delta,
    contribution,
    fill_slots,
    plan_append,
    plan_checked,
    same_content,
    token_counts,
)
from convostore.store.rules.codec import (
    _EPOCH,
    _OPTIONAL_FIELDS,
    _encode_checked,
    as_stored_dicts,
    bodies_as_dicts,
    collector_paused,
    encode_message,
    encode_thread,
    from_us,
    to_us,
)
from convostore.store.rules.paging import (
    _US_RANGE,
    INT64_MAX,
    MAX_CURSOR_LENGTH,
    CursorField,
    _cursor_value_ok,
    _is_int_in,
    decode_cursor,
    encode_cursor,
    message_page,
    thread_page,
)
from convostore.store.rules.patches import (
    _COUNTED_FIELDS,
    apply_message_patch,
    apply_thread_patch,
    message_deleted,
    message_restored,
    parts_with_text,
    restored,
    soft_deleted,
    touch,
    with_reserved_keys,
)
from convostore.store.rules.snapshots import (
    check_snapshot_version,
    normalize_import,
    rekey_snapshot,
)
from convostore.store.rules.validation import (
    IMPORT_KEY,
    INCOMPLETE,
    MAX_FILTER_LENGTH,
    check_appendable,
    check_filter_text,
    check_limit,
    check_revision,
    check_writable,
    find_bad_text,
    from_pydantic,
    incomplete_import_thread,
    is_incomplete_import,
    translate_validation,
)
from convostore.store.settings import DEFAULT_LIMITS, Limits
