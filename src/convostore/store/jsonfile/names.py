"""File names for thread ids and tenants: plain ids as they are, any other id
percent-encoded, long names shortened and made unique by a digest."""

from __future__ import annotations

import hashlib
import re

from convostore.errors import ValidationError
from convostore.model import ID_RULE, is_identifier

# Ids used as file names as they are: the ids older versions accepted, so their
# files keep their names. Starting with a letter, digit or "_" rules out ".",
# ".." and the dot-files the store keeps for itself.
_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._:@+=-]*\Z")
# Bytes an encoded name keeps as they are; "%" is not one of them, so every
# encoded name holds a "%" and no plain name does.
_KEEP_FIRST = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_KEEP = _KEEP_FIRST | frozenset(b".:@+=-")
# A file name may have at most 255 bytes, and an encoded id up to 3 x 1,020, so
# long names are shortened and made unique again with a digest. "~" occurs in
# neither a plain nor an encoded name, so a shortened name equals neither.
_PLAIN_MAX = 200


def _encode_name(name: str) -> str:
    """``name`` as an ASCII file name: percent-encoded UTF-8 unless it is plain."""
    if _SAFE_NAME.match(name):
        return name
    out = []
    for i, byte in enumerate(name.encode()):
        out.append(chr(byte) if byte in (_KEEP if i else _KEEP_FIRST) else f"%{byte:02X}")
    return "".join(out)


def _file_stem(name: str, field: str) -> str:
    """The file-system name for a thread id or tenant, refusing anything not an id."""
    if not is_identifier(name):
        raise ValidationError(ID_RULE, field=field)
    stem = _encode_name(name)
    if len(stem) <= _PLAIN_MAX:
        return stem
    head = stem[:100]
    cut = head.rfind("%", 98)  # keep a %XX escape whole
    if cut >= 0:
        head = head[:cut]
    digest = hashlib.sha256(name.encode()).hexdigest()[:32]
    return f"{head}~{digest}"
