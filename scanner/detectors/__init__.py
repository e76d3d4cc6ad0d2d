"""The detector set: one list of detectors, the rule catalogue and its hash, and the one ranking."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from scanner.detectors.base import Content, Detector, MetadataString, RawMatch, Rule, TarEntry
from scanner.detectors.engine import SharedScan
from scanner.detectors.known_values import KnownSecret
from scanner.findings import Severity


@dataclass(frozen=True)
class DetectorConfig:
    """Everything that decides what detectors report; picklable, so worker processes can rebuild the set.

    Detectors always run every rule: suppressing a rule is policy's job, after the scan.
    """

    known_secrets: tuple[KnownSecret, ...] = ()


def build_detectors(config: DetectorConfig) -> list[Detector]:
    """The one list of detectors. A new detector is one module and one line here."""
    from scanner.detectors.catalogue.detector import CatalogueDetector
    from scanner.detectors.entropy import EntropyDetector
    from scanner.detectors.filenames import SensitiveFileDetector
    from scanner.detectors.known import KnownSecretDetector
    from scanner.detectors.metadata_rules import MetadataCredentialDetector
    from scanner.detectors.patterns import PatternDetector

    return [
        SensitiveFileDetector(),
        PatternDetector(),
        CatalogueDetector(),
        EntropyDetector(),
        MetadataCredentialDetector(),
        KnownSecretDetector(config.known_secrets),
    ]


class DetectorSet:
    """Runs every detector over content windows, tar members and metadata strings."""

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config
        self.detectors = build_detectors(config)
        rules: dict[str, Rule] = {}
        for det in self.detectors:
            for rule in det.rules:
                rules.setdefault(rule.id, rule)
        self.rules: tuple[Rule, ...] = tuple(sorted(rules.values(), key=lambda r: r.id))
        self._by_id = {r.id: r for r in self.rules}
        self.severities: dict[str, Severity] = {r.id: r.severity for r in self.rules}
        self._content = [d.scan_content for d in self.detectors if hasattr(d, "scan_content")]
        self._member = [d.scan_member for d in self.detectors if hasattr(d, "scan_member")]
        self._metadata = [d.scan_metadata for d in self.detectors if hasattr(d, "scan_metadata")]
        self.engine = SharedScan(
            [p for d in self.detectors if hasattr(d, "prefilters") for p in d.prefilters()]
        )

    def scan_content(self, content: Content) -> list[RawMatch]:
        self.engine.pin(content.data)  # one pass of the one database serves every detector
        out: list[RawMatch] = []
        for scan in self._content:
            out.extend(scan(content))
        return one_per_secret(out, self.severities)

    def scan_member(self, entry: TarEntry) -> list[RawMatch]:
        """Matches on what a member is rather than what it holds: its name, link target, a whiteout."""
        out: list[RawMatch] = []
        for scan in self._member:
            out.extend(scan(entry))
        return out

    def scan_metadata(self, item: MetadataString) -> list[RawMatch]:
        out: list[RawMatch] = []
        for scan in self._metadata:
            out.extend(scan(item))
        return out

    def rule(self, rule_id: str) -> Rule:
        return self._by_id[rule_id]

    def severity(self, match: RawMatch) -> Severity:
        """What a match weighs: its own severity where a detector judged it, else its rule's."""
        return _severity(match, self.severities)


@cache
def _default() -> DetectorSet:
    return DetectorSet(DetectorConfig())


@cache
def _family_ranks() -> dict[str, int]:
    return {r.id.split("/", 1)[0]: type(d).rank for d in _default().detectors for r in d.rules}


def rank(rule_id: str) -> int:
    """How specific a rule's evidence is, by its detector (lower is more specific): a known secret, then a
    parsed credential file or metadata key, then a named pattern, then entropy alone."""
    return _family_ranks().get(rule_id.split("/", 1)[0], 9)


def _severity(match: RawMatch, severities: Mapping[str, Severity]) -> Severity:
    if match.severity is not None:
        return match.severity
    return severities.get(match.rule, Severity.INFO)


def _strongest_first(m: RawMatch, severities: Mapping[str, Severity]) -> tuple[int, int, int, int]:
    return (-_severity(m, severities), rank(m.rule), m.end - m.start, m.start)


def one_per_secret(
    matches: list[RawMatch], severities: Mapping[str, Severity] | None = None
) -> list[RawMatch]:
    """One finding per secret. Of matches covering overlapping bytes, the strongest stays: the highest
    severity, then the most specific rule (`rank`), then the narrowest (a token rather than the generic
    assignment or keyword value around it), then the first. Values of one known secret overlap
    (the whole file and a password in it): the longest stays. Known-secret matches never hide the others,
    and whole-file matches (empty spans) always stay."""
    if len(matches) < 2:
        return matches
    severities = severities if severities is not None else _default().severities
    dropped: set[int] = set()

    def keep_first(group: Iterable[RawMatch]) -> None:
        kept: list[RawMatch] = []
        for m in group:
            if any(k.start < m.end and m.start < k.end for k in kept):
                dropped.add(id(m))
            else:
                kept.append(m)

    spans = [m for m in matches if m.end > m.start]
    keep_first(
        sorted((m for m in spans if m.known_secret_id is None), key=lambda m: _strongest_first(m, severities))
    )
    known = [m for m in spans if m.known_secret_id is not None]
    for secret_id in {m.known_secret_id for m in known}:
        keep_first(
            sorted((m for m in known if m.known_secret_id == secret_id), key=lambda m: m.start - m.end)
        )
    return [m for m in matches if id(m) not in dropped]


def best_metadata_matches(
    pairs: Iterable[tuple[MetadataString, RawMatch]], severities: Mapping[str, Severity] | None = None
) -> list[tuple[MetadataString, RawMatch]]:
    """One match per secret and kind of place (legacy saves mirror the config in <id>/json and
    container_config; a value may match a credential-named key and a token pattern at once): the highest
    severity, then `rank`, then the first seen. A raw document's match counts only for a secret that no
    parsed value showed."""
    severities = severities if severities is not None else _default().severities
    best: dict[tuple[str, str, bool], tuple[tuple[int, int, int], MetadataString, RawMatch]] = {}
    parsed: set[tuple[str, bool]] = set()
    ordered = list(pairs)
    for item, m in ordered:
        if not item.raw:
            parsed.add((m.secret, m.known_secret_id is not None))
    for order, (item, m) in enumerate(ordered):
        known = m.known_secret_id is not None
        if item.raw and any(secret in m.secret or m.secret in secret for secret, k in parsed if k == known):
            continue
        key = (item.kind, m.secret, known)
        weight = (-_severity(m, severities), rank(m.rule), order)
        if key not in best or weight < best[key][0]:
            best[key] = (weight, item, m)
    return [(item, m) for _, item, m in sorted(best.values(), key=lambda b: b[0][2])]


def ruleset_hash(rules: Sequence[Rule], extra: str = "") -> str:
    """Changes whenever a rule, its severity, a detector's version or detect-secrets' version changes
    (part of the layer cache key)."""
    from importlib.metadata import version

    from scanner import __version__

    versions = " ".join(sorted(f"{type(d).__name__}={d.version}" for d in _default().detectors))
    h = hashlib.sha256()
    h.update(
        f"imgscan {__version__} detect-secrets {version('detect-secrets')} {versions} {extra}\n".encode()
    )
    for rule in rules:
        h.update(f"{rule.id}\t{rule.severity.label}\t{rule.category}\n".encode())
    return "sha256:" + h.hexdigest()[:32]
