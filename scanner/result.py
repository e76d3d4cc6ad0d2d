"""The outcome of one scan, as every report format reads it."""

from __future__ import annotations

from dataclasses import dataclass, field

from scanner.detectors.base import Rule
from scanner.findings import Finding
from scanner.model import Problem

VERDICT_CLEAN = "clean"
VERDICT_FINDINGS = "findings"
VERDICT_INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class ImageSummary:
    reference: str
    id: str
    digest: str | None
    platform: str | None
    format: str
    repo_tags: tuple[str, ...] = ()


@dataclass
class LayerReport:
    image_index: int
    index: int
    digest: str | None
    diff_id: str | None
    media_type: str
    created_by: str | None
    history_index: int | None
    files: int = 0
    bytes: int = 0  # uncompressed bytes of the layer tar read
    status: str = "scanned"  # "scanned" | "cached" | "unreadable"
    whiteouts: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    nested_archives: int = 0


@dataclass(frozen=True)
class KnownSecretReport:
    id: str
    values: int  # how many values were taken out of it (whole content + parsed credentials)
    fingerprint: str
    found: bool
    warnings: tuple[str, ...] = ()


@dataclass
class ScanReport:
    tool_version: str
    ruleset_hash: str
    reference: str
    images: list[ImageSummary]
    layers: list[LayerReport]
    metadata_scanned: list[str]
    known_secrets: list[KnownSecretReport]
    findings: list[Finding]  # all, including suppressed and below-threshold ones
    problems: list[Problem]
    rules: list[Rule]
    fail_on: str
    verdict: str
    scanned_at: str  # ISO 8601 UTC
    duration_s: float = 0.0
    suppressions: list[str] = field(default_factory=list)  # human lines: what was suppressed and why
    # Display threshold (--severity): findings at or above it are shown in full and exported; "" is the
    # default (text shows what fails the gate, machine formats carry every finding). The gate is fail_on.
    severity: str = ""
    warnings: list[str] = field(default_factory=list)  # report-level warnings for the user
