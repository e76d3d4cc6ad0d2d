"""The single-image engine as the fleet uses it: a layer scanned into the shared store, an image assembled."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scanner.cache import ScanCache
    from scanner.detectors import DetectorSet
    from scanner.image import Layer
    from scanner.result import ScanReport
    from scanner.settings import Settings

SCANNED = "scanned"
FROM_STORE = "store"
UNREADABLE = "unreadable"

_detectors: dict[tuple[str, ...], DetectorSet] = {}


@dataclass(frozen=True)
class LayerResult:
    """What a layer task did: scanned it, found it in the store, or could not read it in full."""

    status: str
    bytes: int


def _detector_set(settings: Settings) -> DetectorSet:
    """One compiled detector set per worker process and set of known secrets (compiling costs ~0.3 s)."""
    from scanner.detectors import DetectorConfig, DetectorSet

    key = tuple(s.fingerprint for s in settings.known_secrets)
    if key not in _detectors:
        _detectors[key] = DetectorSet(DetectorConfig(known_secrets=settings.known_secrets))
    return _detectors[key]


def _cache(settings: Settings, detectors: DetectorSet) -> ScanCache:
    from scanner.cache import ScanCache
    from scanner.detectors import ruleset_hash

    assert settings.cache_dir is not None
    fingerprints = tuple(s.fingerprint for s in settings.known_secrets)
    rules = ruleset_hash(detectors.rules, extra=repr(settings.limits))
    return ScanCache(settings.cache_dir, rules, fingerprints, repr(settings.limits))


def scan_layer_to_store(layer: Layer, settings: Settings) -> LayerResult:
    """Scan one layer (read where it lies: a file range, a registry blob) unless the store has it."""
    from scanner.collect import scan_layer

    detectors = _detector_set(settings)
    cache = _cache(settings, detectors)
    cached = cache.get(layer)
    if cached is not None:
        return LayerResult(FROM_STORE, cached.summary.bytes)
    outcome = scan_layer(layer, settings.limits, detectors)
    cache.put(layer, outcome)  # only a layer read in full, whose bytes are the ones named, is stored
    status = SCANNED if outcome.summary.complete else UNREADABLE
    return LayerResult(status, outcome.summary.bytes)


def scan_image(reference: str, settings: Settings) -> ScanReport:
    """The single-image scan, served from the store for every layer a layer task put there."""
    from scanner.scan import run_scan

    # One process per task: Dask's worker processes may not fork pools of their own.
    return run_scan(reference, replace(settings, jobs=1))
