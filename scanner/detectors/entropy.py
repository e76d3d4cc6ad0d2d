"""High-entropy base64/hex tokens in text files, with detect-secrets' limits and false-positive heuristics."""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterator
from itertools import pairwise
from math import floor, log2
from typing import ClassVar

from scanner.detectors.base import Content, RawMatch, Rule
from scanner.detectors.engine import Pattern, Prefilter, hyperscan_available
from scanner.detectors.filters import (
    is_checksum_file,
    is_documented_example,
    is_integrity_hash_context,
    is_placeholder,
)
from scanner.findings import Severity

# detect-secrets' defaults: base64 (and url-safe, with `\`) above 4.5 bits, hex above 3.0 bits per character.
BASE64_LIMIT = 4.5
HEX_LIMIT = 3.0
MIN_TOKEN = (
    20  # shorter tokens cannot reach the base64 limit; hex ones of 9-19 characters are left out (noise)
)
MAX_TOKEN = 8192  # longer runs are embedded data (images, fonts), not credentials
_TOKEN_CHARS = rb"[A-Za-z0-9+/\\=_-]"

# One pass finds both candidate shapes: a quoted run of the charset (detect-secrets' only shape), or the
# unquoted value of a `key = value` / `key: value` line (ini, .env, YAML), which it reaches via transformers.
# The pattern starts with one character class so `re` can skip ahead fast (2-3x an alternation); which
# shape it is gets checked in Python, only for the few matches.
_CANDIDATES = re.compile(rb"(['\":=])[ \t]*(" + _TOKEN_CHARS + rb"{%d,%d})" % (MIN_TOKEN, MAX_TOKEN))
# The same search for Hyperscan: it reports where MIN_TOKEN token characters after an opener end.
_OPENED_RUN = rb"['\":=][ \t]*" + _TOKEN_CHARS + rb"{%d}" % MIN_TOKEN
_TOKEN_RUN = re.compile(_TOKEN_CHARS + rb"+")
_BLANKS = frozenset(b" \t")
_ASSIGNED_KEY = re.compile(rb"^[ \t]*(?:export[ \t]+)?[\w.-]{1,80}[ \t]*$")
_LINE_REST_BLANK = re.compile(rb"[ \t]*\r?(?:\n|$)")
_HEX_DIGITS = frozenset(string.hexdigits)
# With at most floor(2**limit) distinct characters, entropy cannot exceed the limit.
_HEX_MIN_DISTINCT = floor(2**HEX_LIMIT)
_BASE64_MIN_DISTINCT = floor(2**BASE64_LIMIT)
_LETTERS = frozenset(string.ascii_letters)

# Files detect-secrets does not read for secrets (binary or generated formats), by extension.
_SKIPPED_EXTENSIONS = frozenset(
    {
        ".7z", ".bin", ".bmp", ".bz2", ".class", ".css", ".dmg", ".doc", ".eot", ".exe", ".gif", ".gz",
        ".ico", ".iml", ".ipr", ".iws", ".jar", ".jpg", ".jpeg", ".lock", ".map", ".mo", ".pdf", ".png",
        ".prefs", ".psd", ".rar", ".realm", ".s7z", ".sum", ".svg", ".tar", ".tif", ".tiff", ".ttf", ".webp",
        ".woff", ".woff2", ".xls", ".xlsx", ".zip",
    }
)  # fmt: skip
_MORE_LOCKFILES = frozenset(
    {"Brewfile.lock.json", "Cartfile.resolved", "Package.resolved", "Podfile.lock", "packages.lock.json"}
)

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_ID_BEFORE = re.compile(r"(^(id|myid|userid)|_id)s?[^a-z0-9]", re.I)
_SEQUENCES = (
    string.ascii_uppercase * 2 + string.digits + "+/",
    string.digits + string.ascii_uppercase * 2 + "+/",
    (string.digits + string.ascii_uppercase) * 2,
    string.digits * 2,
    string.hexdigits.upper() * 2,
    string.ascii_uppercase + "=/",
)
_DIGEST_LENGTHS = frozenset({32, 40, 56, 64, 96, 128})
_CHECKSUM_WORDS = re.compile(
    r"sha|md5|checksum|hash|digest|sum\b|integrity|commit|\brev|revision|fingerprint|etag|\boid\b|blake", re.I
)
_LOWER_SEGMENT = re.compile(r"^[A-Za-z]?[a-z0-9_.-]*$")


def shannon_entropy(token: str) -> float:
    """Bits per character; equal (to 1e-14) to detect-secrets' per-charset loop, several times faster."""
    n = len(token)
    if not n:
        return 0.0
    return log2(n) - sum(c * log2(c) for c in Counter(token).values()) / n


def hex_entropy(token: str) -> float:
    """detect-secrets' hex entropy: all-digit strings lose 1.2/log2(len) (mostly numbers, not keys)."""
    entropy = shannon_entropy(token)
    if len(token) > 1 and token.isdigit():
        entropy -= 1.2 / log2(len(token))
    return entropy


def classify_token(token: str) -> str | None:
    """'hex' or 'base64' when a token passes detect-secrets' entropy limit for its charset, else None."""
    # k distinct characters give at most log2(k) bits each: most tokens fail that bound, cheaply.
    distinct = len(set(token))
    if _HEX_DIGITS.issuperset(token):
        return "hex" if distinct > _HEX_MIN_DISTINCT and hex_entropy(token) > HEX_LIMIT else None
    return "base64" if distinct > _BASE64_MIN_DISTINCT and shannon_entropy(token) > BASE64_LIMIT else None


def is_sequential(token: str) -> bool:
    upper = token.upper()
    return any(upper in seq for seq in _SEQUENCES)


def is_alphabet(token: str) -> bool:
    """Character-set constants (`abcdef...xyz0123456789_`): mostly runs of consecutive characters."""
    steps = sum(1 for a, b in pairwise(token) if ord(b) == ord(a) + 1)
    return steps >= 0.6 * (len(token) - 1)


def _is_path(token: str) -> bool:
    """usr/lib/python3.11/site-packages style: slashes between lower-case words; base64 has capitals."""
    if "/" not in token:
        return False
    segments = [s for s in token.split("/") if s]
    return len(segments) >= 2 and all(_LOWER_SEGMENT.match(s) for s in segments)


def is_false_positive(token: str, line: str) -> bool:
    """detect-secrets' heuristic filters plus ours: UUIDs, sequences, ids, paths, checksum-context digests."""
    if not (_LETTERS & set(token)):
        return True  # no letter at all: numbers, `=====`
    if (
        is_sequential(token)
        or is_alphabet(token)
        or _UUID.search(token)
        or is_placeholder(token)
        or is_documented_example(token)
    ):
        return True
    before = line[: line.find(token)] if token in line else ""
    if _ID_BEFORE.search(before):
        return True
    if _is_path(token):
        return True
    if is_integrity_hash_context(line):
        return True
    return (
        _HEX_DIGITS.issuperset(token) and len(token) in _DIGEST_LENGTHS and bool(_CHECKSUM_WORDS.search(line))
    )


def _skipped_file(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    dot = name.rfind(".")
    ext = name[dot:].lower() if dot > 0 else ""
    return (
        ext in _SKIPPED_EXTENSIONS
        or is_checksum_file(path)
        or name in _MORE_LOCKFILES
        or "swagger" in path.lower()
    )


_RULES = (
    Rule(
        "entropy/base64",
        "entropy",
        Severity.LOW,
        "High-entropy base64 string",
        "A quoted or assigned string of base64 characters is random enough (over 4.5 bits per character) "
        "to be a key or token. Many are harmless data; check it.",
        "If it is a credential, remove it from the image and provide it at run time or with "
        "`RUN --mount=type=secret`; rotate it.",
    ),
    Rule(
        "entropy/hex",
        "entropy",
        Severity.LOW,
        "High-entropy hex string",
        "A quoted or assigned hex string is random enough (over 3.0 bits per character) to be a key or "
        "token. Checksums in checksum contexts are skipped; check the rest.",
        "If it is a credential, remove it from the image and provide it at run time or with "
        "`RUN --mount=type=secret`; rotate it.",
    ),
)


class EntropyDetector:
    """Random-looking base64/hex tokens in text windows (quoted strings and key = value assignments)."""

    family: ClassVar[str] = "entropy"
    rank: ClassVar[int] = 3
    version: ClassVar[str] = "2"
    rules: tuple[Rule, ...] = _RULES

    def __init__(self, use_hyperscan: bool | None = None) -> None:
        if use_hyperscan is None:
            use_hyperscan = hyperscan_available()
        # Hyperscan finds where an opener is followed by MIN_TOKEN token characters at ~2 GB/s; `re` needs
        # most of this detector's time for the same search. The token's full run is measured afterwards.
        # Not joined into the set's shared database: this pattern halves a combined database's speed,
        # and it runs on text windows only.
        self._openers = Prefilter([Pattern(_OPENED_RUN)], use_hyperscan) if use_hyperscan else None

    def _candidates(self, data: bytes) -> Iterator[tuple[int, int, int]]:
        """(opener offset, token start, token end) of each candidate, left to right, not overlapping:
        the matches `_CANDIDATES.finditer` gives, found faster."""
        if self._openers is None:
            for m in _CANDIDATES.finditer(data):
                yield m.start(), m.start(2), m.end(2)
            return
        consumed = 0
        for _pid, end in self._openers.scan(data):
            start = end - MIN_TOKEN
            if start < consumed:
                continue  # an opener inside a token already taken (`=` is both)
            at = start - 1
            while data[at] in _BLANKS:
                at -= 1
            run = _TOKEN_RUN.match(data, start, start + MAX_TOKEN)
            assert run is not None
            consumed = run.end()
            yield at, start, consumed

    def scan_content(self, content: Content) -> list[RawMatch]:
        data = content.data
        if not data or b"\x00" in data[:8192]:
            return []
        path = content.inner_path.rsplit("!", 1)[-1] if content.inner_path else content.path
        if _skipped_file(path):
            return []
        out: list[RawMatch] = []
        for at, start, end in self._candidates(data):
            opener = data[at : at + 1]
            line_start = data.rfind(b"\n", 0, at) + 1
            if opener in b"'\"":
                if start != at + 1 or data[end : end + 1] != opener:
                    continue  # detect-secrets' shape: the quote, the run, the same quote
            elif not (_LINE_REST_BLANK.match(data, end) and _ASSIGNED_KEY.match(data[line_start:at])):
                continue
            token = data[start:end].decode("ascii")
            kind = classify_token(token)
            if kind is None:
                continue
            line_end = data.find(b"\n", end)
            line = data[line_start : line_end if line_end >= 0 else len(data)].decode("utf-8", "replace")
            if is_false_positive(token, line):
                continue
            out.append(RawMatch(f"entropy/{kind}", start, end, token))
        return out
