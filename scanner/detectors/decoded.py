"""Base64 values of YAML and JSON keys, decoded so the named token rules see what they hold."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass

_STRUCTURED = (".yaml", ".yml", ".json")
MIN_ENCODED = 16  # shorter base64 holds no token a named rule reports
MAX_ENCODED = 16384
# Starts with its literal ":" so `re` skips ahead fast; the key is read backwards from there.
_VALUE = re.compile(
    rb""":[ \t]*["']?([A-Za-z0-9+/_-]{%d,%d}={0,2})(?![A-Za-z0-9+/=_-])""" % (MIN_ENCODED, MAX_ENCODED)
)
_INDENT = re.compile(rb"[ \t-]*")
_KEY_BEFORE = re.compile(rb"""([\w.-]{1,128})["']?[ \t]*$""")
_YAML_PARENT = re.compile(rb"""([ \t]*)(?:-[ \t]+)?["']?([\w.-]{1,128})["']?[ \t]*:[ \t]*\r?$""")
_PRINTABLE = re.compile(rb"[\t\n\r\x20-\x7e]+")
_PARENT_LINES = 64  # how far up a YAML value's parent key is looked for


@dataclass(frozen=True)
class DecodedValue:
    """A base64 value: its key path (`data.token`), byte span in the file, and the decoded text."""

    key: str
    start: int
    end: int
    decoded: bytes


def is_structured(path: str) -> bool:
    return path.lower().endswith(_STRUCTURED)


def decoded_values(data: bytes) -> Iterator[DecodedValue]:
    """Every `key: <base64>` / `"key": "<base64>"` value whose decoding is printable text."""
    for m in _VALUE.finditer(data):
        line_start = data.rfind(b"\n", 0, m.start()) + 1
        key = _KEY_BEFORE.search(data, max(line_start, m.start() - 160), m.start())
        if key is None:
            continue
        decoded = _decode(m.group(1))
        if decoded is None:
            continue
        name = key.group(1).decode("ascii", "replace")
        parent = _yaml_parent(data, line_start)
        yield DecodedValue(f"{parent}.{name}" if parent else name, m.start(1), m.end(1), decoded)


def _decode(text: bytes) -> bytes | None:
    try:
        urlsafe = b"-" in text or b"_" in text
        raw = base64.b64decode(text + b"=" * (-len(text) % 4), b"-_" if urlsafe else None, validate=True)
    except (binascii.Error, ValueError):
        return None
    # Random bytes are printable with negligible odds: this keeps hashes and keys-as-binary out cheaply.
    if len(raw) < MIN_ENCODED // 2 or not _PRINTABLE.fullmatch(raw):
        return None
    return raw


def _yaml_parent(data: bytes, line_start: int) -> str:
    """The key of the nearest less-indented `key:` line above (a Secret's `data`), or ""."""
    blank = _INDENT.match(data, line_start)
    indent = blank.end() - line_start if blank else 0
    end = line_start - 1
    for _ in range(_PARENT_LINES):
        if end <= 0 or indent == 0:
            return ""
        start = data.rfind(b"\n", 0, end) + 1
        m = _YAML_PARENT.match(data, start, end)
        if m and len(m.group(1)) < indent:
            return m.group(2).decode("ascii", "replace")
        end = start - 1
    return ""
