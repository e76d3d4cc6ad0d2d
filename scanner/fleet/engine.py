"""The single-image engine as the fleet uses it: a layer scanned into the shared store, an image assembled."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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


def settings_key(settings: Settings) -> str:
    """The key every result of these settings is stored under (the single scan's, so both share a store)."""
    from scanner.detectors import ruleset_hash

    return settings.cache_key(ruleset_hash(_detector_set(settings).rules))


def scan_layer_to_store(layer: Layer, settings: Settings) -> LayerResult:
    """Scan one layer (read where it lies: a file range, a registry blob) unless the store has its bytes."""
    from scanner.cache import ScanCache
    from scanner.collect import scan_layer
    from scanner.scan import stored_digest, worth_hashing

    assert settings.cache_dir is not None
    detectors = _detector_set(settings)
    store = ScanCache(settings.cache_dir, settings_key(settings))
    # Looked up by the digest of the stored bytes (enforced by the source, or hashed here): never by a
    # digest the image declares.
    digest = stored_digest(layer) if worth_hashing(store, layer) else None
    if digest is not None and store.get_layer(digest) is not None:
        return LayerResult(FROM_STORE, 0)
    outcome = scan_layer(layer, settings.limits, detectors)
    store.put_layer(outcome)  # only a layer read in full is stored, under the digest of the bytes read
    status = SCANNED if outcome.summary.complete else UNREADABLE
    return LayerResult(status, outcome.summary.bytes)


def scan_image(reference: str, settings: Settings) -> ScanReport:
    """The single-image scan, served from the store for every layer a layer task put there."""
    from scanner.scan import run_scan

    # One process per task: Dask's worker processes may not fork pools of their own.
    return run_scan(reference, replace(settings, jobs=1))
