"""The scan: connects a source, the walker, the detectors, policy and the report model; nothing else."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from scanner import __version__, packages, parallel
from scanner.collect import EXCERPT_CONTEXT, scan_layer
from scanner.detectors import DetectorConfig, DetectorSet, ruleset_hash
from scanner.detectors.base import MetadataString, RawMatch
from scanner.detectors.known import KnownSecret
from scanner.findings import Finding, Location, Severity, finding_fingerprint, redact_text, redact_value
from scanner.image import Image, Layer, Platform
from scanner.model import Hit, ImageMetadata, LayerOutcome, Problem
from scanner.result import ImageSummary, KnownSecretReport, LayerReport, ScanReport
from scanner.walk import Limits

if TYPE_CHECKING:
    from scanner.cache import ScanCache
    from scanner.sources.registry import RegistryOptions

ProgressFn = Callable[[int, int, int], None]  # (layers done, layers total, bytes done)


@dataclass(frozen=True)
class ScanOptions:
    reference: str
    platform: Platform | None = None
    known_secrets: tuple[KnownSecret, ...] = ()  # already loaded
    disabled_rules: frozenset[str] = frozenset()
    limits: Limits = field(default_factory=Limits)
    jobs: int = 0  # 0: one worker process per core, at most 2 layers at once per core
    cache_dir: Path | None = None  # None: no layer cache
    registry: RegistryOptions | None = None  # docker:// credentials and TLS


def run_scan(options: ScanOptions, progress: ProgressFn | None = None) -> ScanReport:
    """Open the source, scan every layer and every metadata string, and assemble the report."""
    from scanner.cache import ScanCache
    from scanner.sources import daemon_name, open_images

    started = time.monotonic()
    config = DetectorConfig(known_secrets=options.known_secrets, disabled_rules=options.disabled_rules)
    detectors = DetectorSet(config)
    rules_hash = ruleset_hash(detectors.rules, extra=repr(options.limits))
    cache = None
    if options.cache_dir is not None:
        fingerprints = tuple(s.fingerprint for s in options.known_secrets)
        cache = ScanCache(options.cache_dir, rules_hash, fingerprints, repr(options.limits))
    name = daemon_name(options.reference)

    answered = _from_cache(cache, name, options) if cache is not None and name else None
    if answered is not None:
        images, outcomes, metas = answered
    else:
        jobs = options.jobs or (os.cpu_count() or 1)
        workers = parallel.pool(jobs, config) if jobs > 1 else None
        try:
            with tempfile.TemporaryDirectory(prefix="imgscan-") as tmp:
                limits = replace(options.limits, spool_dir=tmp)
                # A daemon's save stream takes seconds to arrive: its layers are scanned as they land.
                early = parallel.EarlyScans(workers, jobs, detectors, limits) if workers and name else None
                hook = early.submit if early is not None else None
                try:
                    images = open_images(
                        options.reference, Path(tmp), options.platform, hook, options.registry
                    )
                    if early is not None:
                        early.finish()
                    outcomes = _scan_all_layers(
                        images, detectors, cache, limits, workers, jobs, early, progress
                    )
                finally:
                    if early is not None:
                        early.close()
        finally:
            if workers is not None:
                workers.shutdown(cancel_futures=True)
        metas = [_scan_metadata(detectors, i, image) for i, image in enumerate(images)]
        if cache is not None and name:
            for image, meta in zip(images, metas, strict=True):
                cache.put_image(image, meta, [outcomes[_layer_key(layer)] for layer in image.layers])
    report = _assemble(detectors, images, outcomes, metas, options)
    report.ruleset_hash = rules_hash
    report.duration_s = round(time.monotonic() - started, 3)
    return report


def _from_cache(
    cache: ScanCache, name: str, options: ScanOptions
) -> tuple[list[Image], dict[tuple[object, ...], LayerOutcome], list[ImageMetadata]] | None:
    """A daemon image whose metadata and every layer are cached: answered from `docker inspect` alone."""
    from scanner.sources.daemon import inspect

    info = inspect(name)
    image_id = info.get("Id")
    if not isinstance(image_id, str):
        return None
    entry = cache.get_image(image_id, name)
    if entry is None:
        return None
    image, meta = entry
    if options.platform is not None and (
        image.platform is None or not image.platform.matches(options.platform)
    ):
        return None
    outcomes: dict[tuple[object, ...], LayerOutcome] = {}
    for layer in image.layers:
        # The daemon's content store names these layers by diff_id: trusted without re-hashing.
        outcome = cache.get(layer, verify=False)
        if outcome is None:
            return None
        outcomes[_layer_key(layer)] = outcome
    return [image], outcomes, [meta]


_METADATA_RANK = {"known-secret": 0, "metadata": 1, "pattern": 2, "entropy": 3}


def _scan_metadata(detectors: DetectorSet, image_index: int, image: Image) -> ImageMetadata:
    from scanner.detectors.metadata import metadata_areas, metadata_strings

    # One finding per secret and kind of place: legacy saves mirror the config in <id>/json and
    # container_config, and a value may match a credential-named key and a token pattern at once.
    best: dict[tuple[str, str, bool], tuple[int, int, MetadataString, RawMatch]] = {}
    history_secrets: dict[int, list[str]] = {}
    for order, item in enumerate(metadata_strings(image)):
        for m in detectors.scan_metadata(item):
            if item.kind == "history" and item.history_index is not None:
                history_secrets.setdefault(item.history_index, []).append(m.secret)
            key = (item.kind, m.secret, m.known_secret_id is not None)
            rank = _METADATA_RANK.get(m.rule.split("/", 1)[0], 9)
            if key not in best or (rank, order) < best[key][:2]:
                best[key] = (rank, order, item, m)
    findings = [
        _metadata_finding(detectors, image_index, item, m)
        for _, _, item, m in sorted(best.values(), key=lambda b: b[1])
    ]
    created_by: dict[int, str] = {}
    for layer in image.layers:
        if layer.history is not None:
            # The history line is shown beside every layer: it must not repeat a secret found in it.
            secrets = history_secrets.get(layer.history.index, [])
            # `docker import` rows have no command, only a comment ("Imported from -").
            line = layer.history.created_by or layer.history.comment or ""
            created_by[layer.index] = redact_text(line, secrets, limit=10_000)
    return ImageMetadata(findings, list(metadata_areas(image)), created_by)


def _assemble(
    detectors: DetectorSet,
    images: list[Image],
    outcomes: dict[tuple[object, ...], LayerOutcome],
    metas: list[ImageMetadata],
    options: ScanOptions,
) -> ScanReport:
    from scanner.lineage import Lineage

    report_layers: list[LayerReport] = []
    findings: list[Finding] = []
    problems: list[Problem] = []
    areas: list[str] = []
    for image_index, (image, meta) in enumerate(zip(images, metas, strict=True)):
        problems.extend(image.problems)
        lineage = Lineage()
        packaged: dict[str, tuple[str, str, str]] = {}
        for layer in image.layers:
            outcome = outcomes[_layer_key(layer)]
            lineage.add_layer(layer.index, outcome.summary)
            packaged.update(outcome.packaged)
        findings.extend(meta.findings)
        for layer in image.layers:
            outcome = outcomes[_layer_key(layer)]
            report_layers.append(_layer_report(image_index, layer, outcome, meta.created_by.get(layer.index)))
            problems.extend(outcome.summary.problems)
            for hit in outcome.hits:
                findings.append(_layer_finding(detectors, image_index, layer.index, hit, lineage, packaged))
        areas.extend(a for a in meta.areas if a not in areas)

    findings.sort(key=_finding_order)
    return ScanReport(
        tool_version=__version__,
        ruleset_hash="",
        reference=options.reference,
        images=[_image_summary(i) for i in images],
        layers=report_layers,
        metadata_scanned=areas,
        known_secrets=_known_secret_reports(options.known_secrets, findings),
        findings=findings,
        problems=problems,
        rules=list(detectors.rules),
        fail_on="high",
        verdict="",
        scanned_at=datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    )


def _layer_key(layer: Layer) -> tuple[object, ...]:
    """Layers with the same bytes (shared by platforms, or a legacy layer.tar symlink) are scanned once."""
    if layer.blob is not None:
        return ("blob", *layer.blob.key)
    return ("none", layer.digest, layer.diff_id, layer.index)


def _scan_all_layers(
    images: list[Image],
    detectors: DetectorSet,
    cache: ScanCache | None,
    limits: Limits,
    workers: ProcessPoolExecutor | None,
    jobs: int,
    early: parallel.EarlyScans | None,
    progress: ProgressFn | None,
) -> dict[tuple[object, ...], LayerOutcome]:
    unique: dict[tuple[object, ...], Layer] = {}
    for image in images:
        for layer in image.layers:
            unique.setdefault(_layer_key(layer), layer)
    outcomes: dict[tuple[object, ...], LayerOutcome] = {}
    todo: list[tuple[tuple[object, ...], Layer]] = []
    for key, layer in unique.items():
        hit = cache.get(layer) if cache else None
        if hit is not None:
            outcomes[key] = hit
        else:
            todo.append((key, layer))
    total = len(unique)
    done_bytes = sum(o.summary.bytes for o in outcomes.values())
    if progress:
        progress(len(outcomes), total, done_bytes)
    for key, layer in todo:
        outcome = early.take(layer) if early is not None else None
        if outcome is None and workers is not None:
            outcome = parallel.scan_layer_parallel(layer, limits, detectors, workers, jobs)
        if outcome is None:
            outcome = scan_layer(layer, limits, detectors)
        outcomes[key] = outcome
        done_bytes += outcome.summary.bytes
        if cache is not None:
            cache.put(layer, outcome)
        if progress:
            progress(len(outcomes), total, done_bytes)
    return outcomes


def _layer_report(
    image_index: int, layer: Layer, outcome: LayerOutcome, created_by: str | None
) -> LayerReport:
    s = outcome.summary
    status = "cached" if outcome.cached else ("scanned" if s.complete else "unreadable")
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


def _layer_finding(
    detectors: DetectorSet,
    image_index: int,
    layer_index: int,
    hit: Hit,
    lineage: object,
    packaged: dict[str, tuple[str, str, str]],
) -> Finding:
    rule = detectors.rule(hit.rule)
    status, status_layer = lineage.status(hit.path, layer_index)  # type: ignore[attr-defined]
    severity = hit.severity if hit.severity is not None else rule.severity
    note = hit.note
    if rule.category != "known-secret":  # a build secret found anywhere is never vendor content
        vendor = packages.unmodified_owner(hit.path, hit.file_md5, hit.file_sha256, packaged)
        if vendor is not None:
            severity = Severity.INFO
            note = vendor
    return Finding(
        rule=rule.id,
        category=rule.category,
        severity=severity,
        title=rule.title,
        location=Location("layer", image_index, layer_index, hit.path, hit.inner_path, hit.line, None, None),
        excerpt=hit.excerpt,
        fingerprint=hit.fingerprint,
        remediation=rule.remediation,
        status=status,
        status_layer=status_layer,
        note=note,
        known_secret_id=hit.known_secret_id,
    )


def _metadata_finding(detectors: DetectorSet, image_index: int, item: MetadataString, m: RawMatch) -> Finding:
    rule = detectors.rule(m.rule)
    location = Location(
        item.kind, image_index, item.layer_index, None, None, None, item.history_index, item.key
    )
    value = item.value
    lo = max(0, m.start - EXCERPT_CONTEXT)
    hi = min(len(value), m.end + EXCERPT_CONTEXT)
    shown = value[lo : m.start] + redact_value(m.secret) + value[m.end : hi]
    excerpt = ("…" if lo else "") + shown + ("…" if hi < len(value) else "")
    excerpt = redact_text(f"{item.key}: {excerpt}" if item.kind != "history" else excerpt, [m.secret])
    return Finding(
        rule=rule.id,
        category=rule.category,
        severity=m.severity if m.severity is not None else rule.severity,
        title=rule.title,
        location=location,
        excerpt=excerpt,
        fingerprint=finding_fingerprint(rule.id, location, m.secret),
        remediation=rule.remediation,
        note=m.note,
        known_secret_id=m.known_secret_id,
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


def today() -> date:
    return datetime.now(UTC).date()
