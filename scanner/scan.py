"""The scan: a source's images, every layer once (cache, early scans, workers), metadata, finished report."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from scanner import parallel
from scanner.assemble import assemble, finish
from scanner.cache import CachedImage, CachedLayer, ScanCache
from scanner.collect import scan_layer
from scanner.detectors import DetectorConfig, DetectorSet, ruleset_hash
from scanner.errors import LayerError
from scanner.image import HistoryEntry, Image, Layer, Platform
from scanner.layer import Limits, verify
from scanner.metadata_scan import scan_metadata
from scanner.model import ImageMetadata, LayerOutcome, LayerSummary
from scanner.progress import Progress, ProgressFn, watch_save
from scanner.result import ScanReport
from scanner.settings import Settings
from scanner.sources.interface import Reference

_HASH_CHUNK = 1 << 20
# Below this many stored layer bytes one process scans faster than it can start workers.
POOL_MIN_BYTES = 32 << 20
_LAYER_WHERE = re.compile(r"^layer -?\d+")


Scanned = tuple[list[Image], list[list[LayerOutcome]], list[ImageMetadata]]


def run_scan(reference: str, settings: Settings, progress: ProgressFn | None = None) -> ScanReport:
    """Open the source, scan every layer and metadata string, apply policy: the finished report."""
    from scanner.sources import parse_reference, source_for

    started = time.monotonic()
    ref = parse_reference(reference)
    detectors = DetectorSet(DetectorConfig(known_secrets=settings.known_secrets))
    rules_hash = ruleset_hash(detectors.rules)
    cache = ScanCache(settings.cache_dir, settings.cache_key(rules_hash)) if settings.cache_dir else None
    # A source's cheap, verified identity (a daemon's image id) can answer a fully cached image unread.
    identity = source_for(ref).identity(ref) if cache is not None else None
    scanned = _from_cache(cache, identity, reference, settings.platform) if cache and identity else None
    if scanned is None:
        name = ref.location if ref.transport == "docker-daemon" else None
        scanned = _scan(ref, settings, detectors, cache, name, progress)
    images, outcomes, metas = scanned
    report = assemble(reference, detectors.rules, images, outcomes, metas, settings.known_secrets)
    report.ruleset_hash = rules_hash
    report = finish(report, settings, datetime.now(UTC).date())
    report.duration_s = round(time.monotonic() - started, 3)
    return report


def _scan(
    reference: Reference,
    settings: Settings,
    detectors: DetectorSet,
    cache: ScanCache | None,
    name: str | None,
    progress: ProgressFn | None,
) -> Scanned:
    from scanner.sources import open_images

    jobs = settings.jobs or (os.cpu_count() or 1)
    # A daemon's save stream takes seconds to arrive: its layers are scanned by workers as they land.
    workers = parallel.pool(jobs, detectors) if jobs > 1 and name else None
    try:
        with tempfile.TemporaryDirectory(prefix="imgscan-") as tmp:
            limits = replace(settings.limits, spool_dir=tmp)
            early = parallel.EarlyScans(workers, jobs, detectors, limits) if workers and name else None
            try:
                if progress:
                    progress(Progress("save" if name else "scan", 0, None, 0, 0))
                on_blob = early.submit if early else None
                with watch_save(
                    Path(tmp), progress if name else None, _save_size(name) if progress else None
                ):
                    images = open_images(reference, Path(tmp), settings.platform, on_blob, settings.registry)
                if early is not None:
                    early.finish()
                if workers is None and jobs > 1 and _stored_bytes(images) >= POOL_MIN_BYTES:
                    workers = parallel.pool(jobs, detectors)  # starting workers costs more than small images
                scan = _LayerScan(detectors, cache, limits, workers, jobs, early, progress)
                by_key = scan.run(images)
            finally:
                if early is not None:
                    early.close()
    finally:
        if workers is not None:
            workers.shutdown(cancel_futures=True)
    outcomes = [[by_key[_layer_key(layer)] for layer in image.layers] for image in images]
    metas = [scan_metadata(detectors, i, image) for i, image in enumerate(images)]
    if cache is not None and name:
        for image, image_outcomes, meta in zip(images, outcomes, metas, strict=True):
            _remember_image(cache, image, image_outcomes, meta)
    return images, outcomes, metas


def _save_size(name: str | None) -> int | None:
    """About how many bytes a daemon's save stream will bring (the image's size), for the progress ETA."""
    if name is None:
        return None
    from scanner.errors import SourceError
    from scanner.sources.daemon import inspect

    try:
        size = inspect(name).get("Size")
    except SourceError:
        return None  # the save itself will say what is wrong
    return size if isinstance(size, int) and size > 0 else None


def _stored_bytes(images: list[Image]) -> int:
    """Stored bytes of every layer (unknown sizes count as large: better two cores than one)."""
    sizes = [layer.size for image in images for layer in image.layers]
    return POOL_MIN_BYTES if None in sizes else sum(s for s in sizes if s is not None)


def _layer_key(layer: Layer) -> tuple[object, ...]:
    """Layers with the same bytes (shared by platforms, or a legacy layer.tar symlink) are scanned once."""
    if layer.blob is not None:
        return ("blob", *layer.blob.key)
    return ("none", layer.digest, layer.diff_id, layer.index)


class _LayerScan:
    """Every unique layer once: an early scan of the save stream, else the cache (looked up by the digest
    of the stored bytes, never by a digest the image declares), else a walk (with workers when there)."""

    def __init__(
        self,
        detectors: DetectorSet,
        cache: ScanCache | None,
        limits: Limits,
        workers: ProcessPoolExecutor | None,
        jobs: int,
        early: parallel.EarlyScans | None,
        progress: ProgressFn | None,
    ) -> None:
        self.detectors, self.cache, self.limits = detectors, cache, limits
        self.workers, self.jobs, self.early, self.progress = workers, jobs, early, progress

    def run(self, images: list[Image]) -> dict[tuple[object, ...], LayerOutcome]:
        unique: dict[tuple[object, ...], Layer] = {}
        for image in images:
            for layer in image.layers:
                unique.setdefault(_layer_key(layer), layer)
        sizes = [layer.size for layer in unique.values()]
        total = sum(s for s in sizes if s is not None) if None not in sizes else None
        outcomes: dict[tuple[object, ...], LayerOutcome] = {}
        done_bytes = 0
        for key, layer in unique.items():
            if self.progress:
                self.progress(Progress("scan", done_bytes, total, len(outcomes), len(unique)))
            outcomes[key] = self._one(layer)
            done_bytes += layer.size if layer.size is not None else outcomes[key].summary.bytes
        if self.progress:
            self.progress(Progress("scan", done_bytes, total, len(outcomes), len(unique)))
        return outcomes

    def _one(self, layer: Layer) -> LayerOutcome:
        outcome = self.early.take(layer) if self.early is not None else None
        if outcome is None and self.cache is not None and worth_hashing(self.cache, layer):
            digest = stored_digest(layer)
            outcome = self.cache.get_layer(digest) if digest else None
            if outcome is not None:
                check_declared(layer, outcome.summary)
                return outcome
        if outcome is None and self.workers is not None:
            outcome = parallel.scan_layer_parallel(
                layer, self.limits, self.detectors, self.workers, self.jobs
            )
        if outcome is None:
            outcome = scan_layer(layer, self.limits, self.detectors)
        if self.cache is not None:
            self.cache.put_layer(outcome)
        return outcome


def worth_hashing(cache: ScanCache, layer: Layer) -> bool:
    """Whether a stored result could answer for this layer. The digest the image declares decides only
    this (a cold cache costs no extra read of every layer); a result is used only under the digest of the
    bytes as read, so a wrong declaration can cost a scan, never return another layer's result."""
    declared = layer.digest if layer.digest_is_compressed else layer.diff_id
    trusted = layer.blob is not None and layer.blob.trusted_digest
    return bool(trusted) or not declared or cache.may_have_layer(declared)


def stored_digest(layer: Layer) -> str | None:
    """The sha256 of the layer's stored bytes: one the source enforces while reading, else hashed here
    (a read, much cheaper than a scan); None when the bytes cannot be read (the scan then says why)."""
    if layer.blob is None:
        return None
    if layer.blob.trusted_digest:
        return layer.blob.trusted_digest
    h = hashlib.sha256()
    try:
        with layer.open_blob() as fh:
            while chunk := fh.read(_HASH_CHUNK):
                h.update(chunk)
    except LayerError:
        return None
    return "sha256:" + h.hexdigest()


def check_declared(layer: Layer, summary: LayerSummary) -> None:
    """A cached result answers for the bytes; the digests this image declares for them are checked anew,
    and its problems are told which layer of this image they belong to (the bytes may have been another's)."""
    here = f"layer {layer.index}"
    summary.problems = [replace(p, where=_LAYER_WHERE.sub(here, p.where, count=1)) for p in summary.problems]
    fresh = LayerSummary(diff_id=summary.diff_id, blob_digest=summary.blob_digest)
    verify(layer, fresh)
    summary.problems.extend(p for p in fresh.problems if p not in summary.problems)
    summary.complete = summary.complete and fresh.complete


def _remember_image(
    cache: ScanCache, image: Image, outcomes: list[LayerOutcome], meta: ImageMetadata
) -> None:
    """A daemon image read in full: its metadata scan and where each layer's result is stored."""
    if any(p.inconclusive for p in image.problems):
        return
    if not all(o.summary.complete and o.summary.blob_digest for o in outcomes):
        return
    layers = tuple(
        CachedLayer(
            layer.index,
            layer.digest,
            layer.diff_id,
            layer.media_type,
            layer.history.index if layer.history else None,
            outcome.summary.blob_digest,
        )
        for layer, outcome in zip(image.layers, outcomes, strict=True)
    )
    platform = str(image.platform) if image.platform else None
    cache.put_image(
        CachedImage(image.id, image.digest, platform, image.repo_tags, layers, tuple(image.problems), meta)
    )


def _from_cache(cache: ScanCache, image_id: str, reference: str, platform: Platform | None) -> Scanned | None:
    """An image whose metadata and every layer are cached, answered from its source's identity alone (for
    the daemon, `docker image inspect`). The daemon's content store is trusted here without reading a
    byte: it addressed the image by its config digest (the id inspect returns) and verified every layer's
    diff_id when it stored it."""
    entry = cache.get_image(image_id)
    if entry is None:
        return None
    found = Platform.parse(entry.platform) if entry.platform else None
    if platform is not None and (found is None or not found.matches(platform)):
        return None
    layers: list[Layer] = []
    outcomes: list[LayerOutcome] = []
    for cached in entry.layers:
        outcome = cache.get_layer(cached.blob_digest)
        if outcome is None:
            return None
        history = None
        if cached.history_index is not None:
            created_by = entry.meta.created_by.get(cached.index, "")
            history = HistoryEntry(cached.history_index, created_by, False, cached.index)
        layers.append(
            Layer(cached.index, cached.digest, cached.diff_id, cached.media_type, None, None, history)
        )
        outcomes.append(outcome)
    image = Image(
        reference=reference,
        id=entry.image_id,
        digest=entry.digest,
        platform=found,
        format="daemon",
        config={},
        layers=tuple(layers),
        history=(),
        repo_tags=entry.repo_tags,
        problems=list(entry.problems),
    )
    return [image], [outcomes], [entry.meta]
