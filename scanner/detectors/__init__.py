"""The detector set: every detector family behind one object, with the rule catalogue and its hash."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scanner.detectors.base import Content, ContentDetector, MetadataString, RawMatch, Rule
from scanner.detectors.known import KnownSecret
from scanner.findings import Severity


@dataclass(frozen=True)
class DetectorConfig:
    """Everything that decides what detectors report; picklable, so worker processes can rebuild the set."""

    known_secrets: tuple[KnownSecret, ...] = ()
    disabled_rules: frozenset[str] = frozenset()


class DetectorSet:
    """Runs every enabled detector over content windows, members and metadata strings."""

    def __init__(self, config: DetectorConfig) -> None:
        from scanner.detectors.catalogue import CatalogueDetector
        from scanner.detectors.entropy import EntropyDetector
        from scanner.detectors.filenames import SensitiveFileDetector
        from scanner.detectors.known import KnownSecretDetector
        from scanner.detectors.metadata import MetadataCredentialDetector
        from scanner.detectors.patterns import PatternDetector

        self.config = config
        self.files = SensitiveFileDetector()
        self.patterns = PatternDetector()
        self.catalogue = CatalogueDetector()
        self.entropy = EntropyDetector()
        self.metadata = MetadataCredentialDetector()
        self.known = KnownSecretDetector(list(config.known_secrets)) if config.known_secrets else None
        self._content: list[ContentDetector] = [self.files, self.patterns, self.catalogue, self.entropy]
        if self.known is not None:
            self._content.append(self.known)
        rules: dict[str, Rule] = {}
        for det in (self.files, self.patterns, self.catalogue, self.entropy, self.metadata, self.known):
            if det is None:
                continue
            for rule in det.rules:
                rules.setdefault(rule.id, rule)
        self.rules: tuple[Rule, ...] = tuple(sorted(rules.values(), key=lambda r: r.id))
        self.disabled = config.disabled_rules
        self._severity = {r.id: r.severity for r in self.rules}

    def _enabled(self, matches: Sequence[RawMatch]) -> list[RawMatch]:
        if not self.disabled:
            return list(matches)
        return [m for m in matches if m.rule not in self.disabled]

    def scan_content(self, content: Content) -> list[RawMatch]:
        out: list[RawMatch] = []
        for det in self._content:
            out.extend(det.scan(content))
        return one_per_secret(self._enabled(out), self._severity)

    def scan_member(
        self, path: str, kind: str, size: int, linkname: str | None, layer_index: int
    ) -> list[RawMatch]:
        return self._enabled(list(self.files.scan_member(path, kind, size, linkname, layer_index)))

    def scan_metadata(self, item: MetadataString) -> list[RawMatch]:
        out: list[RawMatch] = list(self.metadata.scan_metadata(item))
        out.extend(self.patterns.scan_metadata(item))
        out.extend(self.catalogue.scan_metadata(item))
        if self.known is not None:
            out.extend(self.known.scan_metadata(item))
        return self._enabled(out)

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


_FAMILY_RANK = {"credential-file": 0, "pattern": 1, "entropy": 2}


def one_per_secret(matches: list[RawMatch], severity: Mapping[str, Severity] | None = None) -> list[RawMatch]:
    """One finding per secret. Where credential-file, pattern and entropy rules cover overlapping bytes, the
    most specific family wins (a parsed credential file, then a named pattern, then entropy alone; within a
    family the earliest match, then the highest severity, then the first detector's); where
    values of one known secret overlap (the whole file and a password in it), the longest wins. Known-secret
    matches never hide the others, and whole-file matches (empty spans) always stay."""
    if len(matches) < 2:
        return matches
    dropped: set[int] = set()

    def keep_first(group: list[RawMatch]) -> None:
        kept: list[RawMatch] = []
        for m in group:
            if any(k.start < m.end and m.start < k.end for k in kept):
                dropped.add(id(m))
            else:
                kept.append(m)

    def rank(m: RawMatch) -> tuple[int, int, int]:
        sev = m.severity if m.severity is not None else (severity or {}).get(m.rule, Severity.INFO)
        return (_FAMILY_RANK[m.rule.split("/", 1)[0]], m.start, -sev)

    ranked = [m for m in matches if m.end > m.start and m.rule.split("/", 1)[0] in _FAMILY_RANK]
    keep_first(sorted(ranked, key=rank))
    known = [m for m in matches if m.known_secret_id is not None and m.end > m.start]
    for secret_id in {m.known_secret_id for m in known}:
        keep_first(
            sorted((m for m in known if m.known_secret_id == secret_id), key=lambda m: m.start - m.end)
        )
    return [m for m in matches if id(m) not in dropped]


def ruleset_hash(rules: Sequence[Rule], extra: str = "") -> str:
    """Changes whenever a rule, its severity or the detection code version changes (the layer cache key)."""
    from importlib.metadata import version

    from scanner import __version__

    h = hashlib.sha256()
    from scanner.detectors.catalogue.loader import catalogue_digest

    h.update(f"imgscan {__version__} detect-secrets {version('detect-secrets')} {extra}\n".encode())
    h.update(f"catalogue {catalogue_digest()}\n".encode())
    for rule in rules:
        h.update(f"{rule.id}\t{rule.severity.label}\t{rule.category}\n".encode())
    return "sha256:" + h.hexdigest()[:32]
