"""The walker's visitor: detector matches become Hits (located, redacted, fingerprinted, no secret inside)."""

from __future__ import annotations

import base64
import hashlib
import os
import re

from scanner import packages
from scanner.detectors import DetectorSet
from scanner.detectors.base import Content, RawMatch
from scanner.findings import MASK, Location, finding_fingerprint, redact_text, redact_value
from scanner.image import Layer
from scanner.layer import Limits, Member, Visitor, archive_kind, walk_layer
from scanner.model import Hit, LayerOutcome, LayerSummary, Owner, Problem


def scan_layer(layer: Layer, limits: Limits, detectors: DetectorSet) -> LayerOutcome:
    """Walk one layer once in this process, running every content detector on every window."""
    collector = Collector(detectors, layer.index)
    summary = walk_safely(layer, limits, collector)
    return LayerOutcome(summary, collector.hits, collector.packaged)


def walk_safely(layer: Layer, limits: Limits, visitor: Visitor) -> LayerSummary:
    """walk_layer, with a bug in it turned into an unread layer, never a clean one."""
    try:
        return walk_layer(layer, limits, visitor)
    except Exception as exc:
        return failed(layer.index, f"internal error while walking the layer: {bug_text(exc)}")


def bug_text(exc: BaseException) -> str:
    """An unexpected exception, for a report: its type only (its message may quote image content, so a
    secret), and the message too when IMGSCAN_DEBUG is set."""
    name = type(exc).__name__
    return (
        f"{name}: {exc}" if os.environ.get("IMGSCAN_DEBUG") else f"{name} (set IMGSCAN_DEBUG=1 for details)"
    )


def failed(layer_index: int, what: str) -> LayerSummary:
    """The summary of a layer that could not be walked: never taken for a clean one."""
    return LayerSummary(problems=[Problem(f"layer {layer_index}", what)], complete=False)


EXCERPT_CONTEXT = 60
_BINARY_CONTEXT = 16
_DOT_RUN = re.compile(r"\.{4,}")


class Collector:
    """The walker's visitor: detector matches become Hits, package manifests are remembered."""

    def __init__(self, detectors: DetectorSet, layer_index: int) -> None:
        self.detectors = detectors
        self.layer_index = layer_index
        self.hits: list[Hit] = []
        self.packaged: dict[str, Owner] = {}
        self._file: tuple[str, str | None] | None = None
        self._lines_before = 0
        self._prev: Content | None = None
        self._seen: set[tuple[str, int]] = set()
        self._fingerprints: set[str] = set()
        self._archive: tuple[str, tuple[str | None, str | None]] = ("", (None, None))

    def member(self, member: Member) -> None:
        # What a member is (its name, link target, a whiteout); a regular file's bytes come as windows.
        for m in self.detectors.scan_member(member):
            self._add(member.path, member.inner_path, None, m, b"", [m])

    def content(self, member: Member, content: Content) -> None:
        key = (content.path, content.inner_path)
        if content.is_first or key != self._file:
            self._file, self._lines_before, self._seen = key, 0, set()
        elif self._prev is not None:
            self._lines_before += self._prev.data.count(b"\n", 0, max(0, content.offset - self._prev.offset))
        self._prev = content
        whole = content.is_first and content.is_last
        if whole and content.inner_path is None:
            if packages.is_manifest(content.path):
                self.packaged.update(packages.read_manifest(content.path, content.data))
            if archive_kind(content.data[:512]) is not None:
                # Findings inside it are judged by the archive a package installed (a man page's .gz).
                self._archive = (content.path, _digests(content.data))
        matches = self.detectors.scan_content(content)
        if not matches:
            return
        if content.inner_path is not None:
            digests = self._archive[1] if self._archive[0] == content.path else (None, None)
        else:
            digests = _digests(content.data) if whole else (None, None)
        for m in matches:
            dedupe = (m.rule, content.offset + m.start)
            if dedupe in self._seen:
                continue  # the same match again in the overlap of the next window
            self._seen.add(dedupe)
            line = self._lines_before + content.data.count(b"\n", 0, m.start) + 1
            self._add(content.path, content.inner_path, line, m, content.data, matches, digests)

    def _add(
        self,
        path: str,
        inner_path: str | None,
        line: int | None,
        m: RawMatch,
        data: bytes,
        window_matches: list[RawMatch],
        digests: tuple[str | None, str | None] = (None, None),
    ) -> None:
        location = Location("layer", layer_index=self.layer_index, path=path, inner_path=inner_path)
        fingerprint = finding_fingerprint(m.rule, location, m.secret)
        if fingerprint in self._fingerprints:
            return  # the same secret again in the same file: one finding, at its first place
        self._fingerprints.add(fingerprint)
        self.hits.append(
            Hit(
                rule=m.rule,
                path=path,
                inner_path=inner_path,
                line=line if data else None,
                excerpt=excerpt_around(data, m, window_matches) if data else "",
                fingerprint=fingerprint,
                severity=m.severity,
                note=m.note,
                known_secret_id=m.known_secret_id,
                file_md5=digests[0],
                file_sha256=digests[1],
                public_test_key=packages.is_public_test_key(m.rule, m.secret),
            )
        )


def _digests(data: bytes) -> tuple[str, str]:
    sha = hashlib.sha256(data).digest()
    return hashlib.md5(data, usedforsecurity=False).hexdigest(), base64.urlsafe_b64encode(
        sha
    ).decode().rstrip("=")


def excerpt_around(data: bytes, match: RawMatch, others: list[RawMatch]) -> str:
    """The match's line, clipped around it, with every secret span in it masked (spans, then values)."""
    line_start = data.rfind(b"\n", 0, match.start) + 1
    line_end = data.find(b"\n", match.start)
    if line_end == -1:
        line_end = len(data)
    near = data[max(0, match.start - EXCERPT_CONTEXT) : match.end + EXCERPT_CONTEXT]
    binary = b"\x00" in near
    context = _BINARY_CONTEXT if binary else EXCERPT_CONTEXT  # bytes around a match in a binary say little
    lo = max(line_start, match.start - context)
    hi = min(line_end, max(match.end, match.start) + context)
    spans = sorted(
        (max(o.start, lo), min(max(o.end, o.start), hi), o.secret, o.start >= lo)
        for o in others
        if o.start < hi and max(o.end, o.start + 1) > lo and o.secret
    )
    pieces: list[str] = []
    pos = lo
    for start, end, secret, starts_here in spans:
        if start < pos:
            start = pos  # overlapping spans: the earlier one already masked this part
        if end <= start:
            continue
        pieces.append(_printable(data[pos:start]))
        # A secret that began before the excerpt shows no prefix: its first characters are not here.
        pieces.append(redact_value(secret) if starts_here else MASK)
        pos = end
    pieces.append(_printable(data[pos:hi]))
    text = ("…" if lo > line_start else "") + "".join(pieces) + ("…" if hi < line_end else "")
    if binary:
        text = _DOT_RUN.sub("…", text)
    return redact_text(text, [o.secret for o in others])


def _printable(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace")
    return "".join(ch if ch.isprintable() and ch != "\ufffd" else "." for ch in text)
