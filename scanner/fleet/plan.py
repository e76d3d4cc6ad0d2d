"""The fleet's plan: every reference resolved to its images, and each unique layer named once."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from scanner.errors import ScanError

if TYPE_CHECKING:
    from scanner.image import Layer
    from scanner.settings import Settings


@dataclass(frozen=True)
class PlannedImage:
    """One reference of the fleet and the layer tasks its layers map to (empty when it did not resolve)."""

    reference: str
    layer_keys: tuple[str, ...]
    error: str | None = None  # why the reference could not be resolved


@dataclass
class Plan:
    images: list[PlannedImage] = field(default_factory=list)
    layers: dict[str, Layer] = field(default_factory=dict)  # task key -> the first layer seen with it
    sizes: dict[str, int] = field(default_factory=dict)  # task key -> stored bytes, when known
    total_layers: int = 0  # layers over all images, shared ones counted each time


def layer_key(layer: Layer, settings_key: str) -> str:
    """The task key of a layer: its digest (enforced by the source, else as the image declares it; a declared
    digest only groups work: the image's own scan verifies the bytes) and the settings it is scanned with."""
    ident = None
    if layer.blob is not None:
        ident = layer.blob.trusted_digest
    ident = ident or layer.digest or layer.diff_id
    if ident is None:
        key = repr(layer.blob.key if layer.blob is not None else ("missing", layer.index)).encode()
        ident = "blob:" + hashlib.sha256(key).hexdigest()
    return f"imgscan-layer-{ident.split(':')[-1][:40]}-{settings_key.split(':')[-1][:16]}"


def resolve(references: list[str], workdir: Path, settings: Settings, settings_key: str) -> Plan:
    """Open every reference (manifests, configs, layer digests; no layer bytes) a few at a time."""
    from scanner.sources import open_images

    def one(item: tuple[int, str]) -> tuple[str, list[Layer] | str]:
        index, ref = item
        folder = workdir / f"ref-{index}"
        folder.mkdir()
        try:
            images = open_images(ref, folder, settings.platform)
        except ScanError as exc:
            return ref, " ".join(str(exc).split())
        return ref, [layer for image in images for layer in image.layers]

    plan = Plan()
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="imgscan-resolve") as pool:
        for ref, found in pool.map(one, enumerate(references)):
            if isinstance(found, str):
                plan.images.append(PlannedImage(ref, (), found))
                continue
            keys = []
            for layer in found:
                key = layer_key(layer, settings_key)
                keys.append(key)
                plan.layers.setdefault(key, layer)
                if layer.blob is not None and layer.blob.size is not None:
                    plan.sizes.setdefault(key, layer.blob.size)
            plan.total_layers += len(keys)
            plan.images.append(PlannedImage(ref, tuple(keys)))
    return plan
