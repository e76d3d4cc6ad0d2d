"""Known-secret proof: the build's own secret values, in every common encoding, searched in every byte."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from typing import ClassVar
from urllib.parse import quote, quote_plus

from scanner.detectors.base import Content, MetadataString, RawMatch, Rule
from scanner.detectors.engine import Pattern, Prefilter, literal_pattern
from scanner.detectors.known_values import KnownSecret
from scanner.findings import Severity

RULE = Rule(
    id="known-secret",
    category="known-secret",
    severity=Severity.CRITICAL,
    title="A build secret's value is in the image",
    help="A value passed with --secret (or one taken out of that secret file) was found in the image bytes "
    "or metadata, raw or encoded: anyone who can pull the image can read it.",
    remediation="Rotate the secret; mount it with RUN --mount=type=secret and never write it to a layer.",
)

_MIN_ENCODED = 8  # encoded forms shorter than this would match by coincidence everywhere


# --- encodings ------------------------------------------------------------------------------------------


def _b64_inner(raw: bytes, shift: int, urlsafe: bool) -> bytes:
    """The base64 characters that depend only on `raw` when it starts `shift` bytes into a larger text."""
    enc = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    text = enc(b"\x00" * shift + raw).rstrip(b"=")
    first = -(-8 * shift // 6)  # ceil: the first character made of value bits only
    last = 8 * (shift + len(raw)) // 6  # floor: characters after this mix in following bytes
    return text[first:last]


def encodings(value: str) -> list[tuple[str, bytes]]:
    """(encoding name, bytes) for every form a value may take in an image; each form once."""
    raw = value.encode("utf-8", "surrogateescape")
    forms: list[tuple[str, bytes]] = [("raw", raw)]
    forms.append(("utf-16le", value.encode("utf-16-le", "surrogatepass")))
    forms.append(("hex", raw.hex().encode()))
    forms.append(("hex", raw.hex().upper().encode()))
    for shift in range(3):
        forms.append(("base64", _b64_inner(raw, shift, urlsafe=False)))
        forms.append(("base64url", _b64_inner(raw, shift, urlsafe=True)))
    forms.append(("url-encoded", quote(raw, safe="").encode()))
    forms.append(("url-encoded", quote_plus(raw, safe="").encode()))
    forms.append(("json-escaped", json.dumps(value)[1:-1].encode()))
    forms.append(
        ("json-escaped", json.dumps(value, ensure_ascii=False)[1:-1].encode("utf-8", "surrogatepass"))
    )
    out: list[tuple[str, bytes]] = []
    seen: set[bytes] = set()
    for name, form in forms:
        if form in seen or (name != "raw" and len(form) < _MIN_ENCODED):
            continue
        seen.add(form)
        out.append((name, form))
    return out


# Hyperscan refuses very long patterns ("Pattern length exceeds limit"), and a long literal needs no more
# than its start to be selective: longer literals are searched by their first bytes, then compared whole.
MAX_ANCHOR = 256


class KnownSecretDetector:
    """One multi-literal database over every encoding of every known value; searches all bytes."""

    family: ClassVar[str] = "known-secret"
    rank: ClassVar[int] = 0
    version: ClassVar[str] = "2"
    rules: tuple[Rule, ...] = (RULE,)

    def __init__(self, secrets: Sequence[KnownSecret], use_hyperscan: bool | None = None) -> None:
        self.secrets = tuple(secrets)
        owners: dict[bytes, list[tuple[str, str]]] = {}
        for secret in self.secrets:
            for value in secret.values:
                for name, form in encodings(value):
                    found = owners.setdefault(form, [])
                    if (secret.id, name) not in found:
                        found.append((secret.id, name))
        self._owners = owners
        by_anchor: dict[bytes, list[bytes]] = {}
        for literal in owners:
            by_anchor.setdefault(literal[:MAX_ANCHOR], []).append(literal)
        self._anchors = list(by_anchor)
        self._literals = [by_anchor[a] for a in self._anchors]
        self._prefilter = Prefilter([Pattern(literal_pattern(a)) for a in self._anchors], use_hyperscan)

    def prefilters(self) -> list[Prefilter]:
        return [self._prefilter]

    @property
    def literal_count(self) -> int:
        return len(self._owners)

    def _matches(self, data: bytes) -> Iterator[tuple[int, int, str, str, bytes]]:
        seen: set[tuple[int, int, str]] = set()
        for pid, anchor_end in self._prefilter.scan(data):
            start = anchor_end - len(self._anchors[pid])
            for lit in self._literals[pid]:
                if len(lit) > MAX_ANCHOR and not data.startswith(lit, start):
                    continue
                end = start + len(lit)
                for secret_id, encoding in self._owners[lit]:
                    if (start, end, secret_id) in seen:
                        continue
                    seen.add((start, end, secret_id))
                    yield start, end, secret_id, encoding, lit

    def scan_content(self, content: Content) -> list[RawMatch]:
        out: list[RawMatch] = []
        for start, end, secret_id, encoding, lit in self._matches(content.data):
            codec = "utf-16-le" if encoding == "utf-16le" else "utf-8"
            text = lit.decode(codec, "surrogateescape" if codec == "utf-8" else "surrogatepass")
            out.append(
                RawMatch(
                    rule=RULE.id, start=start, end=end, secret=text, note=encoding, known_secret_id=secret_id
                )
            )
        return out

    def scan_metadata(self, item: MetadataString) -> list[RawMatch]:
        data = item.value.encode("utf-8", "surrogatepass")
        out: list[RawMatch] = []
        for start, end, secret_id, encoding, _lit in self._matches(data):
            try:
                s = len(data[:start].decode("utf-8"))
                text = data[start:end].decode("utf-8")
            except UnicodeDecodeError:
                continue  # a UTF-16 form cannot sit inside a UTF-8 string at a character boundary
            out.append(
                RawMatch(
                    rule=RULE.id,
                    start=s,
                    end=s + len(text),
                    secret=text,
                    note=encoding,
                    known_secret_id=secret_id,
                )
            )
        return out
