"""Token and keyword rules: one prefilter pass, then the confirming plugin or regex on candidate lines."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from scanner.detectors.base import Content, MetadataString, RawMatch, Rule, TarEntry, table_digest
from scanner.detectors.decoded import decoded_values, is_structured
from scanner.detectors.engine import Pattern, Prefilter
from scanner.detectors.keyfiles import is_encrypted_block, judge_key
from scanner.detectors.pattern_checks import (
    Hit,
    detect_secrets_plugins,
    keep,
    locate,
    pem_block,
    putty_block,
)
from scanner.detectors.pattern_rules import BY_ID, PATTERN_RULES, RULES

# Lines longer than this (minified code, binaries) are confirmed only around each prefilter hit: the
# keyword regexes backtrack over the whole rest of a line for every keyword occurrence.
_LONG_LINE = 16384
_AROUND = 4096
_MIN_UTF16_RUN = 8
_KEYWORD = "pattern/keyword"


# --- candidate lines -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Segment:
    """A candidate line (or a slice of a long one) and the rule targets whose prefilter fired in it."""

    start: int
    end: int
    line_number: int  # 1-based within the scanned buffer
    targets: frozenset[str]


def _segments(data: bytes, hits: Sequence[tuple[int, int]], targets: Sequence[str]) -> list[_Segment]:
    """Group hits (sorted by end offset) into candidate lines; long lines into slices around the hits."""
    out: list[_Segment] = []
    line_start = line_end = -1
    line_no = 1
    counted_to = 0
    slices: list[tuple[int, int, set[str]]] = []

    def flush() -> None:
        out.extend(_Segment(s, e, line_no, frozenset(t)) for s, e, t in slices)
        slices.clear()

    for pid, end in hits:
        last = max(end - 1, 0)
        if not line_start <= last < line_end:
            flush()
            line_start = data.rfind(b"\n", 0, last) + 1
            nl = data.find(b"\n", last)
            line_end = len(data) if nl < 0 else nl
            line_no += data.count(b"\n", counted_to, line_start)
            counted_to = line_start
        if line_end - line_start > _LONG_LINE:
            s, e = max(line_start, end - _AROUND), min(line_end, end + _AROUND)
        else:
            s, e = line_start, line_end
        if slices and s <= slices[-1][1]:
            ps, pe, t = slices[-1]
            t.add(targets[pid])
            slices[-1] = (min(ps, s), max(pe, e), t)
        else:
            slices.append((s, e, {targets[pid]}))
    flush()
    return out


# --- the detector -------------------------------------------------------------------------------------------


class PatternDetector:
    """detect-secrets' plugins (all but the two entropy ones) and our own token rules, one prefilter."""

    family: ClassVar[str] = "pattern"
    rank: ClassVar[int] = 2
    version: ClassVar[str] = "2:" + table_digest("patterns.toml")
    rules: tuple[Rule, ...] = RULES

    def __init__(self, use_hyperscan: bool | None = None) -> None:
        patterns = [p for rule in PATTERN_RULES for p in rule.prefilter]
        self._targets = [rule.rule.id for rule in PATTERN_RULES for _ in rule.prefilter]
        self.prefilter = Prefilter(patterns, use_hyperscan=use_hyperscan)
        # Most binaries hold no UTF-16 text at all: the two half-views are built only where a run of
        # UTF-16LE printable characters, as long as the shortest token a rule reports, exists.
        self._utf16_text = Prefilter([Pattern(rb"(?:[\x20-\x7e]\x00){%d}" % _MIN_UTF16_RUN)], use_hyperscan)

    def prefilters(self) -> list[Prefilter]:
        # Not the UTF-16 gate: it runs on binary windows only, and would slow every text window's pass.
        return [self.prefilter]

    def scan_content(self, content: Content) -> list[RawMatch]:
        data = content.data
        # detect-secrets picks keyword regexes by extension: the innermost name decides (a.jar!x.properties).
        path = content.inner_path.rsplit("!", 1)[-1] if content.inner_path else content.path
        # `password = "..."` heuristics are for text, as in detect-secrets (which skips binaries): in byte
        # code and libraries they fire on docstrings. Token-shaped rules still run on every byte.
        binary = b"\x00" in data[:8192]
        hits = [h for h in self._hits(path, data, keywords=not binary) if keep(h, path)]
        if b"\x00" in data and self._utf16_text.scan(data):
            hits.extend(self._utf16_hits(path, data))
        out = _dedupe(hits)
        if not binary and is_structured(path):
            out.extend(self._decoded(path, data))
        return out

    def scan_member(self, entry: TarEntry) -> list[RawMatch]:
        """Token rules on a member's name and link target (spans are offsets in `path`, then `-> target`)."""
        text = entry.path if entry.linkname is None else f"{entry.path} -> {entry.linkname}"
        data = text.encode("utf-8", "surrogateescape")
        hits = [h for h in self._hits(entry.path, data, keywords=False) if keep(h, entry.path)]
        return [
            RawMatch(m.rule, m.start, m.end, m.secret, note="in the member's name or link target")
            for m in _dedupe(hits)
        ]

    def scan_metadata(self, item: MetadataString) -> list[RawMatch]:
        data = item.value.encode("utf-8", "surrogatepass")
        # A config-style name picks detect-secrets' regexes for unquoted `password=value` assignments.
        path = f"{item.kind}.cfg"
        out: list[RawMatch] = []
        for m in _dedupe([h for h in self._hits(path, data) if keep(h, path)]):
            s = len(data[: m.start].decode("utf-8", "surrogatepass"))
            e = s + len(data[m.start : m.end].decode("utf-8", "surrogatepass"))
            out.append(RawMatch(rule=m.rule, start=s, end=e, secret=m.secret, severity=m.severity))
        return out

    def detect_secrets_hits(self, path: str, data: bytes) -> set[tuple[int, str]]:
        """(line number, detect-secrets secret type) found through the prefilter, before any filtering.

        Compare with plain_detect_secrets_hits to prove the prefilter drops nothing.
        """
        plugins = detect_secrets_plugins()
        found: set[tuple[int, str]] = set()
        for seg in _segments(data, self.prefilter.scan(data), self._targets):
            line = _line_text(data, seg)
            for rule_id in seg.targets:
                plugin = BY_ID[rule_id].plugin
                if plugin:
                    for ps in plugins[plugin].analyze_line(
                        filename=path, line=line, line_number=seg.line_number
                    ):
                        found.add((seg.line_number, ps.type))
        return found

    # -- internals --

    def _hits(self, path: str, data: bytes, keywords: bool = True) -> list[Hit]:
        plugins = detect_secrets_plugins()
        out: list[Hit] = []
        for seg in _segments(data, self.prefilter.scan(data), self._targets):
            chunk = data[seg.start : seg.end]
            line = chunk.decode("utf-8", "surrogateescape").rstrip()
            ascii_only = chunk.isascii()
            # detect-secrets hashes what it finds as UTF-8: give it U+FFFD for undecodable bytes (one char
            # for one char, so offsets in `text` are offsets in `line`), and take values from `line`.
            text = line if ascii_only else _safe_text(line)

            def to_bytes(
                i: int, line: str = line, ascii_only: bool = ascii_only, base: int = seg.start
            ) -> int:
                return base + (i if ascii_only else len(line[:i].encode("utf-8", "surrogateescape")))

            for rule_id in sorted(seg.targets):
                if rule_id == _KEYWORD and not keywords:
                    continue
                spec = BY_ID[rule_id]
                if spec.plugin is None:
                    assert spec.regex is not None
                    for m in spec.regex.finditer(text):
                        s, e = m.span("secret" if "secret" in spec.regex.groupindex else 0)
                        out.append(Hit(rule_id, to_bytes(s), to_bytes(e), line[s:e], text, None))
                    continue
                plugin = plugins[spec.plugin]
                for ps in plugin.analyze_line(filename=path, line=text, line_number=seg.line_number):
                    value = ps.secret_value or ""
                    if spec.plugin == "PrivateKeyDetector":
                        at = to_bytes(text.find(value)) if value in text else seg.start
                        out.extend(_key_hit(path, data, at, line))
                        continue
                    for s, e in locate(spec.plugin, plugin, text, value):
                        out.append(Hit(rule_id, to_bytes(s), to_bytes(e), line[s:e], text, spec.plugin))
        return out

    def _utf16_hits(self, path: str, data: bytes) -> list[Hit]:
        """Text stored as UTF-16LE in binaries: scan the even and odd byte halves, keep true UTF-16 spans."""
        out: list[Hit] = []
        for align in (0, 1):
            view = data[align::2]
            for h in self._hits(path, view, keywords=False):
                s, e = 2 * h.start + align, 2 * h.end + align
                if data[s:e] == h.secret.encode("utf-16-le", "surrogatepass") and keep(h, path):
                    out.append(Hit(h.rule, s, e, h.secret, h.line, h.plugin, h.severity, h.note))
        return out

    def _decoded(self, path: str, data: bytes) -> list[RawMatch]:
        """Named token rules on base64 values of YAML/JSON keys, reported on the encoded span."""
        out: list[RawMatch] = []
        for value in decoded_values(data):
            hits = [h for h in self._hits(path, value.decoded, keywords=False) if keep(h, path)]
            note = f"base64-decoded value of {value.key}"
            out.extend(
                RawMatch(m.rule, value.start, value.end, m.secret, m.severity, note) for m in _dedupe(hits)
            )
        return out


def _line_text(data: bytes, seg: _Segment) -> str:
    return _safe_text(data[seg.start : seg.end].decode("utf-8", "surrogateescape").rstrip())


_SURROGATE = re.compile("[\ud800-\udfff]")


def _safe_text(line: str) -> str:
    """The line with each undecodable byte (a lone surrogate) as U+FFFD: same length, valid UTF-8."""
    return _SURROGATE.sub("\ufffd", line)


def _key_hit(path: str, data: bytes, at: int, line: str) -> list[Hit]:
    """The whole key block, judged as the credential-file rule judges it (encrypted, a library's test key)."""
    span = putty_block(data, at) if data.startswith(b"PuTTY", at) else pem_block(data, at)
    if span is None:
        return []
    block = data[span[0] : span[1]]
    severity, note = judge_key(path, is_encrypted_block(block))
    secret = block.decode("utf-8", "surrogateescape")
    return [Hit("pattern/private-key", span[0], span[1], secret, line, "PrivateKeyDetector", severity, note)]


def _dedupe(hits: list[Hit]) -> list[RawMatch]:
    """One match per exact span, the highest severity; overlapping spans are one_per_secret's to judge."""
    if not hits:
        return []
    best: dict[tuple[int, int], Hit] = {}
    for h in sorted(hits, key=lambda h: (h.start, h.end, h.rule)):
        cur = best.get((h.start, h.end))
        if cur is None or _severity(h) > _severity(cur):
            best[(h.start, h.end)] = h
    return [RawMatch(h.rule, h.start, h.end, h.secret, h.severity, h.note) for h in best.values()]


def _severity(h: Hit) -> int:
    return h.severity if h.severity is not None else BY_ID[h.rule].rule.severity


def plain_detect_secrets_hits(path: str, data: bytes) -> set[tuple[int, str]]:
    """Reference: every line through every non-entropy plugin, no prefilter (about 0.1 MB/s)."""
    plugins = detect_secrets_plugins()
    found: set[tuple[int, str]] = set()
    for n, raw in enumerate(data.split(b"\n"), start=1):
        line = _safe_text(raw.decode("utf-8", "surrogateescape").rstrip())
        for plugin in plugins.values():
            for ps in plugin.analyze_line(filename=path, line=line, line_number=n):
                found.add((n, ps.type))
    return found
