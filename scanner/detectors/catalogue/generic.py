"""Generic credential assignments: a credential-like name bound to a value that looks like a real secret."""

from __future__ import annotations

import base64
import binascii
import re

from scanner.detectors import filters
from scanner.detectors.entropy import shannon_entropy

# Names that end in one of these words (any case, `_ . -` between words) hold credentials.
_WORDS = (
    r"api[_.-]?key|apikey|access[_.-]?key|secret[_.-]?key|private[_.-]?key|auth[_.-]?key|client[_.-]?secret"
    r"|app[_.-]?secret|secret|token|passwd|password|passphrase|credentials?|auth"
)
# Hyperscan-compatible prefilter pattern (caseless): the name's last word, then the assignment operator of
# env files, shell, YAML, JSON, properties, TOML, Go (`:=`) and PHP/Ruby (`=>`), or Dockerfile `ENV NAME v`.
# The value's first 16 characters are part of the prefilter: `token = self.next()` never reaches Python.
# A blank as the operator covers Dockerfile `ENV NAME value` (prose words are shorter than 16 characters).
PREFILTER: tuple[bytes, ...] = (
    rb"(?:" + _WORDS.encode() + rb")['\"]?\]?[ \t]{0,4}(?::=|=>|=|:|[ \t])[ \t]{0,4}['\"`]?"
    rb"[A-Za-z0-9+/=_.~!@#%^&*?-]{16}",
)
_NAME = rb"(?P<name>[A-Za-z0-9_.-]{0,60}?(?:" + _WORDS.encode() + rb"))"
_VALUE = rb"[ \t]{0,4}(?P<q>['\"`]?)(?P<secret>[A-Za-z0-9+/=_.~!@#%^&*?-]{12,200})(?P=q)(?=[ \t;,}\]\r'\"]|$)"
_ASSIGNMENTS = (
    re.compile(
        rb"(?:^|[^A-Za-z0-9_.${-])" + _NAME + rb"['\"]?\]?[ \t]{0,4}(?::=|=>|=|:)" + _VALUE,
        re.IGNORECASE | re.MULTILINE,
    ),
    re.compile(rb"^[ \t]*(?:ENV|ARG)[ \t]{1,4}" + _NAME + rb"[ \t]" + _VALUE, re.IGNORECASE | re.MULTILINE),
)
# A name with one of these parts is not a secret: pagination and CSRF tokens, hashes, public halves.
_BENIGN_NAME = re.compile(
    r"csrf|xsrf|nonce|hash|checksum|digest|public|pub[_.-]?key|page|next|continuation|sync|tokenizer"
    r"|token[_.-]?(type|url|uri|endpoint|file|path|name|len|length|count|limit)|max[_.-]?token|_id$|file$",
    re.IGNORECASE,
)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DIGIT = re.compile(r"[0-9]")
_LETTER = re.compile(r"[A-Za-z]")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_WEAK_WORDS = re.compile(r"example|sample|dummy|changeme|placeholder|your|insert|redacted|xxxx|\*\*\*", re.I)
_CONSTANT = re.compile(r"^[A-Za-z]+[0-9]?(?:_[A-Za-z0-9]+)+$")
MIN_ENTROPY = 3.5
MIN_HEX_ENTROPY = 3.0


def value_is_credential(name: str, value: str) -> bool:
    """The strict filters behind the generic rule's severity: long, mixed, high-entropy, not code."""
    if _BENIGN_NAME.search(name) or filters.is_placeholder(value) or filters.is_documented_example(value):
        return False
    if (
        len(value) < 16
        or "..." in value
        or _WEAK_WORDS.search(value)
        or value.startswith(("/", "./", "http", "sha", "md5"))
    ):
        return False
    if not _DIGIT.search(value) or not _LETTER.search(value):
        return False
    if "." in value and all(_IDENTIFIER.match(part) for part in value.split(".")):
        return False  # attribute access, module paths, host names
    if _CONSTANT.match(value) and len(_DIGIT.findall(value)) <= 2:
        return False  # a constant's name (SOCKS5_USER_PASS_AUTH), not its value
    if _encodes_prose(value):
        return False  # base64 of words ("not my real password"): documentation
    if _HEX.match(value):
        return len(value) >= 32 and shannon_entropy(value) >= MIN_HEX_ENTROPY
    return shannon_entropy(value) >= MIN_ENTROPY


def _encodes_prose(value: str) -> bool:
    try:
        text = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return text.isascii() and text.count(b" ") >= 2 and all(32 <= b < 127 for b in text)


def assignments(data: bytes, lo: int, hi: int) -> list[tuple[int, int, str]]:
    """(start, end, value) of every credential assignment whose value passes the filters in data[lo:hi]."""
    out: list[tuple[int, int, str]] = []
    for rx in _ASSIGNMENTS:
        for m in rx.finditer(data, lo, hi):
            name = m.group("name").decode("ascii")
            value = m.group("secret").decode("ascii")
            if value_is_credential(name, value):
                out.append((m.start("secret"), m.end("secret"), value))
    return out
