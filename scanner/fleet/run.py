"""Runs a fleet on Dask: layer tasks keyed by digest and settings, then one image task per reference."""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner.errors import UsageError
from scanner.fleet.engine import FROM_STORE, SCANNED, LayerResult, scan_image, scan_layer_to_store
from scanner.fleet.plan import Plan, resolve

if TYPE_CHECKING:
    from distributed import Client

    from scanner.result import ScanReport
    from scanner.settings import Settings

LAYER_RETRIES = 2  # a worker killed mid-layer: Dask runs the task again elsewhere


@dataclass(frozen=True)
class FleetProgress:
    images: int
    layers_done: int
    layers_total: int
    bytes_done: int
    bytes_total: int


@dataclass
class ImageOutcome:
    reference: str
    report: ScanReport | None  # None when the image could not be scanned at all
    error: str | None = None


@dataclass
class FleetResult:
    images: list[ImageOutcome]
    total_layers: int
    unique_layers: int
    scanned: int = 0
    from_store: int = 0
    unreadable: int = 0
    bytes_scanned: int = 0
    duration_s: float = 0.0
    layer_images: dict[str, list[str]] = field(default_factory=dict)  # layer key -> references using it


def run_fleet(
    references: list[str],
    settings: Settings,
    scheduler: str | None = None,
    workers: int = 0,
    progress: Callable[[FleetProgress], None] | None = None,
) -> FleetResult:
    """Scan every image; each unique layer once, on the cluster; a rerun is served from the store."""
    from scanner.findings import fingerprint_key
    from scanner.fleet.engine import settings_key as key_of

    if settings.cache_dir is None:
        raise UsageError("a fleet needs a result store: give --store (or drop --no-cache)")
    started = time.monotonic()
    settings_key = key_of(settings)
    key = fingerprint_key().decode()
    with tempfile.TemporaryDirectory(prefix="imgscan-fleet-") as tmp:
        plan = resolve(references, Path(tmp), settings, settings_key)
        result = FleetResult([], plan.total_layers, len(plan.layers))
        for image in plan.images:
            for layer_key in image.layer_keys:
                result.layer_images.setdefault(layer_key, []).append(image.reference)
        with _client(scheduler, workers) as client:
            futures: list[Any] = []
            try:
                _run(client, plan, settings, key, result, progress, futures)
            except BaseException:
                if threading.current_thread() is threading.main_thread():
                    # Ctrl-C (or a CI's SIGTERM) once stops the fleet; again, it must not break the shutdown.
                    signal.signal(signal.SIGINT, signal.SIG_IGN)
                    signal.signal(signal.SIGTERM, signal.SIG_IGN)
                client.cancel(futures)  # nothing half-written stays: store entries are written whole
                raise
    result.duration_s = round(time.monotonic() - started, 3)
    return result


def _run(
    client: Client,
    plan: Plan,
    settings: Settings,
    key: str,
    result: FleetResult,
    progress: Callable[[FleetProgress], None] | None,
    futures: list[Any],
) -> None:
    from distributed import as_completed

    layer_futures = {
        k: client.submit(_layer_task, layer, settings, key, key=k, retries=LAYER_RETRIES, pure=False)
        for k, layer in plan.layers.items()
    }
    futures.extend(layer_futures.values())
    image_futures = {}
    for i, image in enumerate(plan.images):
        if image.error is None:
            deps = [layer_futures[k] for k in image.layer_keys]
            image_futures[i] = client.submit(
                _image_task, image.reference, settings, key, deps, key=f"imgscan-image-{i}", pure=False
            )
    futures.extend(image_futures.values())
    bytes_total = sum(plan.sizes.values())
    done = done_bytes = 0
    failed: set[str] = set()
    for future in as_completed(list(layer_futures.values())):
        done += 1
        done_bytes += plan.sizes.get(future.key, 0)
        try:
            outcome: LayerResult = future.result()
        except Exception:
            failed.add(future.key)
            result.unreadable += 1
            continue
        if outcome.status == SCANNED:
            result.scanned += 1
            result.bytes_scanned += outcome.bytes
        elif outcome.status == FROM_STORE:
            result.from_store += 1
        else:
            result.unreadable += 1
        if progress is not None:
            progress(
                FleetProgress(len(plan.images), done, len(layer_futures), result.bytes_scanned, bytes_total)
            )
    for i, image in enumerate(plan.images):
        if image.error is not None:
            result.images.append(ImageOutcome(image.reference, None, image.error))
            continue
        lost = sorted(k for k in image.layer_keys if k in failed)
        if lost:
            # A layer that failed for good: its images are inconclusive, never clean.
            why = f"layer task {lost[0]} failed on every try; the image was not certified"
            result.images.append(ImageOutcome(image.reference, None, why))
            continue
        try:
            result.images.append(ImageOutcome(image.reference, image_futures[i].result()))
        except Exception as exc:
            result.images.append(
                ImageOutcome(image.reference, None, f"image task failed: {type(exc).__name__}")
            )


def _with_key(key: str) -> None:
    """Fingerprints made on a worker use the client's key, so reports match single scans made here."""
    from scanner.findings import reset_fingerprint_key

    if os.environ.get("IMGSCAN_FINGERPRINT_KEY") != key:
        os.environ["IMGSCAN_FINGERPRINT_KEY"] = key
        reset_fingerprint_key()


def _layer_task(layer: Any, settings: Settings, key: str) -> LayerResult:
    _with_key(key)
    return scan_layer_to_store(layer, settings)


def _image_task(reference: str, settings: Settings, key: str, layers: list[LayerResult]) -> ScanReport:
    _with_key(key)
    return scan_image(reference, settings)


@contextmanager
def _client(scheduler: str | None, workers: int) -> Iterator[Client]:
    """A client of the given scheduler, or of a LocalCluster of worker processes on this machine."""
    import logging

    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise UsageError("imgscan fleet needs Dask: pip install 'imgscan[fleet]'") from None

    for name in ("distributed", "distributed.worker", "distributed.scheduler", "distributed.nanny"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="30s")
        except OSError as exc:
            raise UsageError(
                f"no Dask scheduler answers at {scheduler}: {' '.join(str(exc).split())}"
            ) from None
        with client:
            yield client
        return
    n = workers or (os.cpu_count() or 1)
    with (
        LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        yield client
