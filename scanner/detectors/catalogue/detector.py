"""CatalogueDetector: one prefilter pass over every provider rule, the confirming regex only at its hits."""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import scanner.detectors.filters as filters
from scanner.detectors.base import Content, MetadataString, RawMatch, Rule
from scanner.detectors.catalogue import generic
from scanner.detectors.catalogue.loader import ProviderRule, catalogue_digest, load_catalogue
from scanner.detectors.engine import Pattern, Prefilter
from scanner.detectors.entropy import shannon_entropy

_LONG_RUN = re.compile(r"(.)\1{15}")
# Lines longer than this (minified code, binaries) are searched only this far around a hit.
_REACH = 4096


@dataclass(frozen=True)
class _Match:
    rule: ProviderRule
    start: int
    end: int
    secret: str


def to_rule(r: ProviderRule) -> Rule:
    return Rule(
        id=r.id,
        category="credential",
        severity=r.severity,
        title=r.title,
        help=r.description,
        remediation=r.remediation,
    )


def _line_bounds(data: bytes, at: int) -> tuple[int, int]:
    start = data.rfind(b"\n", max(0, at - _REACH), at) + 1 or max(0, at - _REACH)
    nl = data.find(b"\n", at, at + _REACH)
    return start, (min(len(data), at + _REACH) if nl < 0 else nl)


def _build_prefilter(
    catalogue: tuple[ProviderRule, ...], use_hyperscan: bool | None
) -> tuple[Prefilter, list[tuple[ProviderRule, ...]]]:
    """One prefilter id per distinct pattern (several rules share a keyword), owned by all its rules."""
    owners: dict[Pattern, list[ProviderRule]] = {}
    for rule in catalogue:
        for p in rule.prefilter:
            owners.setdefault(Pattern(p, rule.prefilter_caseless), []).append(rule)
    return Prefilter(list(owners), use_hyperscan=use_hyperscan), [tuple(r) for r in owners.values()]


class CatalogueDetector:
    """Every rule of the provider catalogue (scanner/detectors/catalogue/providers/*.toml)."""

    family: ClassVar[str] = "pattern"
    rank: ClassVar[int] = 2

    def __init__(
        self, use_hyperscan: bool | None = None, catalogue: Sequence[ProviderRule] | None = None
    ) -> None:
        self.catalogue: tuple[ProviderRule, ...] = tuple(load_catalogue() if catalogue is None else catalogue)
        self.rules: tuple[Rule, ...] = tuple(to_rule(r) for r in self.catalogue)
        self._by_id = {r.id: r for r in self.catalogue}
        # A Prefilter of its own (a detector set joins it to its one database); the compiled database itself
        # is cached per pattern set and process by the engine, so a second set compiles nothing.
        self.prefilter, self._owners = _build_prefilter(self.catalogue, use_hyperscan)

    @property
    def version(self) -> str:
        return "1:" + catalogue_digest()

    def prefilters(self) -> list[Prefilter]:
        return [self.prefilter]

    def prefilter_patterns(self) -> list[tuple[str, Pattern]]:
        """(rule id, pattern) for every prefilter pattern: what a shared Hyperscan database must hold."""
        return [(r.id, Pattern(p, r.prefilter_caseless)) for r in self.catalogue for p in r.prefilter]

    def confirm(self, rule_id: str, data: bytes, end: int, path: str = "") -> list[RawMatch]:
        """The matches of one rule around a prefilter hit of it that ended at byte offset `end`."""
        rule = self._by_id[rule_id]
        return [self._raw(m) for m in self._confirm(rule, data, end, path)]

    def scan_content(self, content: Content) -> list[RawMatch]:
        hits = self.prefilter.scan(content.data)
        if not hits:
            return []  # most windows: nothing more to do
        path = content.inner_path.rsplit("!", 1)[-1] if content.inner_path else content.path
        # Name = value heuristics are for text (as detect-secrets' keyword plugin); tokens run on every byte.
        text = content.data.find(b"\x00", 0, 8192) < 0
        return [self._raw(m) for m in self._confirm_hits(hits, content.data, path, text)]

    def scan_metadata(self, item: MetadataString) -> list[RawMatch]:
        # The key is the context a keyword rule needs (Env.MAILGUN_API_KEY): scan "key=value".
        head = f"{item.key}="
        text = head + item.value
        data = text.encode("utf-8", "surrogatepass")
        skip = len(head.encode("utf-8", "surrogatepass"))
        out: list[RawMatch] = []
        for m in self._search(data, f"{item.kind}.cfg", text=True):
            if m.start < skip:
                continue
            s = len(data[: m.start].decode("utf-8", "surrogatepass")) - len(head)
            e = s + len(data[m.start : m.end].decode("utf-8", "surrogatepass"))
            out.append(RawMatch(rule=m.rule.id, start=s, end=e, secret=m.secret, severity=m.rule.severity))
        return out

    # -- internals --

    @staticmethod
    def _raw(m: _Match) -> RawMatch:
        # The severity is the rule's, stated so that one_per_secret can prefer it over a vaguer rule.
        return RawMatch(rule=m.rule.id, start=m.start, end=m.end, secret=m.secret, severity=m.rule.severity)

    def _search(self, data: bytes, path: str, text: bool) -> list[_Match]:
        return self._confirm_hits(self.prefilter.scan(data), data, path, text)

    def _confirm_hits(self, hits: list[tuple[int, int]], data: bytes, path: str, text: bool) -> list[_Match]:
        found: list[_Match] = []
        done: set[tuple[str, int]] = set()  # (rule, line start): a line is confirmed once per rule
        for pid, end in hits:
            for rule in self._owners[pid]:
                if rule.check == "assignment" and not text:
                    continue
                key = (rule.id, data.rfind(b"\n", 0, end) + 1 if rule.check else end)
                if key in done:
                    continue
                done.add(key)
                found.extend(self._confirm(rule, data, end, path))
        return _one_per_span(found)

    def _confirm(self, rule: ProviderRule, data: bytes, end: int, path: str) -> list[_Match]:
        line_start, line_end = _line_bounds(data, max(end - 1, 0))
        if rule.check == "assignment":
            if filters.is_checksum_file(path):
                return []
            return [_Match(rule, s, e, v) for s, e, v in generic.assignments(data, line_start, line_end)]
        if rule.needs_context:
            if filters.is_checksum_file(path):
                return []
            lo, hi = end, min(line_end, end + rule.window + rule.max_len + 1)
        else:
            lo, hi = max(line_start, end - rule.max_len - 64), min(line_end, end + rule.max_len + 1)
        out: list[_Match] = []
        for m in rule.regex.finditer(data, lo, hi):
            s, e = m.span("secret")
            if e == hi and hi < line_end:
                continue  # cut at the search limit: longer than the format allows
            if rule.needs_context and s - end > rule.window:
                break
            secret = m.group("secret").decode("ascii", "replace")
            if _keep(rule, secret):
                out.append(_Match(rule, s, e, secret))
        return out


def _keep(rule: ProviderRule, secret: str) -> bool:
    if filters.is_placeholder(secret) or filters.is_documented_example(secret):
        return False
    if list(secret) == sorted(secret):
        return False  # a character table in a binary (AAAA...BBBCC...), not a random token
    run = _LONG_RUN.search(secret)
    if run and run.group(0) not in rule.token:
        return False  # "////////////////" in a documented example; random tokens have no such runs
    return shannon_entropy(secret) >= rule.entropy


def _one_per_span(found: list[_Match]) -> list[_Match]:
    """Overlapping matches: the provider rule over the generic one, then the higher severity, then the
    longer token, then the first rule id."""
    ranked = sorted(
        found, key=lambda m: (m.rule.check is not None, -m.rule.severity, m.start - m.end, m.rule.id)
    )
    # Kept spans never overlap, so sorted by start they are sorted by end too: a new span overlaps a kept
    # one only if it overlaps one of its two neighbours (n log n even for a file full of tokens).
    starts: list[int] = []
    kept: list[_Match] = []
    for m in ranked:
        i = bisect.bisect_left(starts, m.start)
        if (i > 0 and kept[i - 1].end > m.start) or (i < len(kept) and kept[i].start < m.end):
            continue
        starts.insert(i, m.start)
        kept.insert(i, m)
    return kept
