"""Findings and the finished report: the one place findings are made, policy applied and the verdict set."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime

from scanner import __version__, packages, policy
from scanner.collect import EXCERPT_CONTEXT
from scanner.detectors.base import MetadataString, RawMatch, Rule
from scanner.detectors.known_values import KnownSecret
from scanner.findings import Finding, Location, Severity, finding_fingerprint, redact_text, redact_value
from scanner.image import Image, Layer
from scanner.lineage import Lineage
from scanner.model import Hit, ImageMetadata, LayerOutcome, Owner, Problem
from scanner.paths import runtime_path
from scanner.result import ImageSummary, KnownSecretReport, LayerReport, ScanReport
from scanner.settings import Settings


def layer_finding(
    rule: Rule, image_index: int, layer_index: int, hit: Hit, lineage: Lineage, packaged: dict[str, Owner]
) -> Finding:
    """A finding from a layer hit: placed where the runtime unpacks the file, its lineage status, and the
    severity the package manifests and imgscan's public test keys allow (scanner.packages.triage)."""
    status, status_layer = lineage.status(hit.path, layer_index)
    severity, note = packages.triage(
        rule.id, rule.category, hit.severity if hit.severity is not None else rule.severity, hit, packaged
    )
    location = Location(
        "layer", image_index, layer_index, runtime_path(hit.path), hit.inner_path, hit.line, None, None
    )
    return _finding(
        rule,
        severity,
        location,
        hit.excerpt,
        hit.fingerprint,
        note,
        hit.known_secret_id,
        status,
        status_layer,
    )


def metadata_finding(
    rule: Rule, image_index: int, item: MetadataString, m: RawMatch, found: Iterable[str] = ()
) -> Finding:
    """A finding from a metadata string: the value around the match, this secret and every other found
    secret masked."""
    location = Location(
        item.kind, image_index, item.layer_index, None, None, None, item.history_index, item.key
    )
    value = item.value
    for other in set(found) - {m.secret}:  # same length, so m's offsets hold; no part shows at an edge
        if other:
            value = value.replace(other, "*" * len(other))
    lo = max(0, m.start - EXCERPT_CONTEXT)
    hi = min(len(value), m.end + EXCERPT_CONTEXT)
    shown = value[lo : m.start] + redact_value(m.secret) + value[m.end : hi]
    excerpt = ("…" if lo else "") + shown + ("…" if hi < len(value) else "")
    excerpt = redact_text(f"{item.key}: {excerpt}" if item.kind != "history" else excerpt, [m.secret])
    severity = m.severity if m.severity is not None else rule.severity
    fingerprint = finding_fingerprint(rule.id, location, m.secret)
    return _finding(rule, severity, location, excerpt, fingerprint, m.note, m.known_secret_id)


def _finding(
    rule: Rule,
    severity: Severity,
    location: Location,
    excerpt: str,
    fingerprint: str,
    note: str | None,
    known_secret_id: str | None,
    status: str = "visible",
    status_layer: int | None = None,
) -> Finding:
    return Finding(
        rule=rule.id,
        category=rule.category,
        severity=severity,
        title=rule.title,
        location=location,
        excerpt=excerpt,
        fingerprint=fingerprint,
        remediation=rule.remediation,
        status=status,
        status_layer=status_layer,
        note=note,
        known_secret_id=known_secret_id,
    )


def assemble(
    reference: str,
    rules: Sequence[Rule],
    images: list[Image],
    outcomes: list[list[LayerOutcome]],
    metas: list[ImageMetadata],
    known_secrets: tuple[KnownSecret, ...],
) -> ScanReport:
    """The report model before policy: every image's layers, findings and problems, in a stable order."""
    by_id = {r.id: r for r in rules}
    report_layers: list[LayerReport] = []
    findings: list[Finding] = []
    problems: list[Problem] = []
    areas: list[str] = []
    for image_index, (image, layer_outcomes, meta) in enumerate(zip(images, outcomes, metas, strict=True)):
        problems.extend(image.problems)
        lineage = Lineage()
        packaged: dict[str, Owner] = {}
        for layer, outcome in zip(image.layers, layer_outcomes, strict=True):
            lineage.add_layer(layer.index, outcome.summary)
            packaged.update(outcome.packaged)
        findings.extend(meta.findings)
        for layer, outcome in zip(image.layers, layer_outcomes, strict=True):
            report_layers.append(_layer_report(image_index, layer, outcome, meta.created_by.get(layer.index)))
            problems.extend(outcome.summary.problems)
            for hit in outcome.hits:
                findings.append(
                    layer_finding(by_id[hit.rule], image_index, layer.index, hit, lineage, packaged)
                )
        areas.extend(a for a in meta.areas if a not in areas)
    findings.sort(key=_finding_order)
    return ScanReport(
        tool_version=__version__,
        ruleset_hash="",
        reference=reference,
        images=[_image_summary(i) for i in images],
        layers=report_layers,
        metadata_scanned=areas,
        known_secrets=_known_secret_reports(known_secrets, findings),
        findings=findings,
        problems=problems,
        rules=list(rules),
        fail_on="",
        verdict="",
        scanned_at=datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    )


def finish(report: ScanReport, settings: Settings, today: date) -> ScanReport:
    """Policy on every finding, fresh or cached (disabled rules, allowlist, baseline, each with its
    reason), then the gate: fail-on, display threshold, warnings and the verdict."""
    findings, suppressions = policy.apply_policy(report.findings, settings, settings.baseline, today)
    warnings = policy.baseline_warnings(settings.baseline, findings)
    return dataclasses.replace(
        report,
        findings=findings,
        suppressions=suppressions,
        fail_on=settings.fail_on.label,
        severity=settings.severity.label if settings.severity is not None else "",
        warnings=[*report.warnings, *warnings],
        verdict=policy.verdict(findings, report.problems, settings.fail_on),
    )


def _layer_report(
    image_index: int, layer: Layer, outcome: LayerOutcome, created_by: str | None
) -> LayerReport:
    s = outcome.summary
    status = "unreadable" if not s.complete else ("cached" if outcome.cached else "scanned")
    return LayerReport(
        image_index=image_index,
        index=layer.index,
        digest=layer.digest,
        diff_id=layer.diff_id,
        media_type=layer.media_type,
        created_by=created_by,
        history_index=layer.history.index if layer.history else None,
        files=s.files,
        bytes=s.bytes,
        status=status,
        whiteouts=sorted(s.whiteouts + [d + "/ (opaque)" for d in s.opaque_dirs]),
        problems=list(s.problems),
        nested_archives=s.nested_archives,
    )


def _known_secret_reports(known: tuple[KnownSecret, ...], findings: list[Finding]) -> list[KnownSecretReport]:
    found = {f.known_secret_id for f in findings if f.known_secret_id}
    return [
        KnownSecretReport(s.id, len(s.values), s.fingerprint, s.id in found, tuple(s.warnings)) for s in known
    ]


def _image_summary(image: Image) -> ImageSummary:
    return ImageSummary(
        reference=image.reference,
        id=image.id,
        digest=image.digest,
        platform=str(image.platform) if image.platform else None,
        format=image.format,
        repo_tags=image.repo_tags,
    )


def _finding_order(f: Finding) -> tuple[object, ...]:
    loc = f.location
    return (
        loc.image_index,
        -1 if loc.kind != "layer" else 0,
        loc.layer_index if loc.layer_index is not None else -1,
        loc.history_index if loc.history_index is not None else -1,
        loc.path or loc.key or "",
        loc.line or 0,
        f.rule,
    )
