"""docker save (manifest.json + <id>/layer.tar) and podman/skopeo (<hex>.tar at the root) archives."""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field
from typing import Any

from scanner.errors import FormatError
from scanner.image import Image, Layer, MetadataDocument
from scanner.model import Problem
from scanner.sources.config import ImageHead, assemble, config_problems, diff_id_problems
from scanner.sources.manifests import (
    MAX_ENTRIES,
    MAX_IMAGES,
    MAX_LAYERS,
    MT_LEGACY_LAYER,
    BlobStore,
    JsonReader,
    go_field,
    json_list_items,
    one_line,
    platform_of,
    read_location,
    sha256_digest,
    sha256_from_blob_path,
    str_tuple,
)


@dataclass
class ManifestEntry:
    """One image manifest.json names: entries naming the same config and layers are merged into one."""

    config: str
    layers: tuple[str, ...]
    repo_tags: list[str] = field(default_factory=list)
    items: list[Any] = field(default_factory=list)  # the distinct entries as parsed
    raw: list[bytes] = field(default_factory=list)  # every entry's own bytes
    seen: set[str] = field(default_factory=set)  # the distinct entries, canonical

    def document(self) -> MetadataDocument:
        data = self.items[0] if len(self.items) == 1 else self.items
        return MetadataDocument("manifest", "manifest.json", data, b"\n".join(self.raw))


def manifest_entries(store: BlobStore) -> list[ManifestEntry]:
    """manifest.json, read the way `docker load` reads it; each distinct image once, counts bounded."""
    loc = store.locate("manifest.json")
    if loc is None:
        raise FormatError(f"{store.label}: manifest manifest.json is missing")
    not_entries = f"{store.label}: manifest.json is not a list of {{Config, Layers}} entries"
    try:
        raw = read_location(loc)
        if raw.lstrip()[:1] != b"[":
            raise FormatError(not_entries)
        items = json_list_items(raw)
    except (OSError, ValueError, RecursionError) as exc:
        raise FormatError(
            f"{store.label}: manifest.json is not valid JSON (a list): {one_line(exc)}"
        ) from None
    if len(items) > MAX_ENTRIES:
        raise FormatError(
            f"{store.label}: manifest.json has {len(items)} entries, over the limit of {MAX_ENTRIES}"
        )
    entries: dict[tuple[str, tuple[str, ...]], ManifestEntry] = {}
    for item, raw in items:
        config = go_field(item, "Config") if isinstance(item, dict) else None
        layers = go_field(item, "Layers") if isinstance(item, dict) else None
        if not (
            isinstance(config, str) and isinstance(layers, list) and all(isinstance(p, str) for p in layers)
        ):
            raise FormatError(not_entries)
        entry = entries.setdefault((config, tuple(layers)), ManifestEntry(config, tuple(layers)))
        entry.repo_tags += [t for t in str_tuple(go_field(item, "RepoTags")) if t not in entry.repo_tags]
        key = json.dumps(item, sort_keys=True)
        if key not in entry.seen:
            entry.seen.add(key)
            entry.items.append(item)
        entry.raw.append(raw)
    if len(entries) > MAX_IMAGES:
        raise FormatError(
            f"{store.label}: manifest.json names {len(entries)} images, over the limit of {MAX_IMAGES}"
        )
    return list(entries.values())


class LegacyReader:
    """Images from manifest.json entries: layers named by path, configs by file name."""

    def __init__(self, reader: JsonReader, reference: str, fmt: str | None = None) -> None:
        self.reader = reader
        self.store = reader.store
        self.reference = reference
        self.fmt = fmt  # None: docker-archive or podman-archive by the layer paths
        self._folders: dict[str, str] | None = None
        self._legacy: dict[str, tuple[list[MetadataDocument], list[Problem]]] = {}

    def read(self, entries: list[ManifestEntry]) -> list[Image]:
        return [self.image(entry) for entry in entries]

    def _podman_folders(self) -> dict[str, str]:
        """podman's root <hex>.tar -> the <id> folder whose layer.tar symlink points at it."""
        if self._folders is None:
            self._folders = {}
            for name in self.store.names():
                if name.endswith("/layer.tar"):
                    target = self.store.link_target(name)
                    if target is not None and "/" not in target:
                        self._folders.setdefault(target, posixpath.dirname(name))
        return self._folders

    def image(self, entry: ManifestEntry) -> Image:
        store = self.store
        config, raw = self.reader.fatal(entry.config, "config")
        config, diff_ids, problems = config_problems(config, f"{store.label}: config {entry.config}")
        image_id = sha256_digest(raw)
        named = sha256_from_blob_path(entry.config)
        if named and named != image_id:
            problems.append(
                Problem(entry.config, f"config content hashes to {image_id}, not the {named} its name says")
            )
        paths = entry.layers
        if len(paths) > MAX_LAYERS:
            raise FormatError(
                f"{store.label}: an image has {len(paths)} layers, over the limit of {MAX_LAYERS}"
            )
        # podman/skopeo store layers as <hex>.tar at the archive root; Docker as <id>/layer.tar.
        fmt = self.fmt or (
            "podman-archive" if paths and all("/" not in p for p in paths) else "docker-archive"
        )
        problems += diff_id_problems(len(paths), diff_ids)
        metadata = [entry.document(), self.reader.document("config", f"config {image_id[:19]}", entry.config)]
        layers: list[Layer] = []
        for i, path in enumerate(paths):
            diff_id = diff_ids[i] if i < len(diff_ids) else None
            loc = store.locate(path)
            digest = sha256_from_blob_path(path) or diff_id
            if loc is None:
                problems.append(Problem(f"layer {i}", f"layer blob {path} is missing from the archive"))
            layers.append(
                Layer(
                    index=i,
                    digest=digest,
                    diff_id=diff_id,
                    media_type=MT_LEGACY_LAYER,
                    size=loc.size if loc else None,
                    blob=loc,
                    digest_is_compressed=digest is not None and digest != diff_id,
                )
            )
            docs, found = self._legacy_json(path)
            metadata += docs
            problems += found
        head = ImageHead(self.reference, image_id, None, platform_of(config), fmt, tuple(entry.repo_tags))
        return assemble(head, config, layers, metadata, problems)

    def _legacy_json(self, layer_path: str) -> tuple[list[MetadataDocument], list[Problem]]:
        """The <id>/json beside a layer.tar: old-style per-layer config that can still hold secrets."""
        folder = posixpath.dirname(layer_path) or self._podman_folders().get(layer_path)
        if not folder or folder == "blobs/sha256":
            return [], []
        name = folder + "/json"
        if name not in self._legacy:
            self._legacy[name] = self._read_legacy_json(name)
        return self._legacy[name]

    def _read_legacy_json(self, name: str) -> tuple[list[MetadataDocument], list[Problem]]:
        loc = self.store.locate(name)
        if loc is None:
            return [], []
        try:
            raw = read_location(loc)
            return [MetadataDocument("legacy-json", name, json.loads(raw), raw)], []
        except (OSError, ValueError, RecursionError) as exc:
            return [], [Problem(name, f"legacy layer json not read: {one_line(exc)}")]
