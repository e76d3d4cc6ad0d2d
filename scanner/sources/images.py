"""Format detection: a store of named blobs in, every image it holds out; picking by name and platform."""

from __future__ import annotations

import re

from scanner.errors import FormatError, SourceError
from scanner.image import Image, Platform
from scanner.model import Problem
from scanner.sources.docker_archive import LegacyReader, ManifestEntry, manifest_entries
from scanner.sources.manifests import BlobStore, JsonReader, sha256_from_blob_path
from scanner.sources.oci import OciReader


def detect_format(store: BlobStore) -> str:
    """Which image format a store holds, by its content (never by producer version)."""
    has_index = store.locate("index.json") is not None
    has_manifest = store.locate("manifest.json") is not None
    if has_index and has_manifest:
        return "docker25-archive"
    if has_index:
        return "oci-archive" if store.container == "archive" else "oci-layout"
    if has_manifest:
        return "docker-archive"  # refined to podman-archive once the layer paths are known
    raise FormatError(f"{store.label}: no manifest.json or index.json: not a docker save or OCI image")


def read_images(store: BlobStore, reference: str) -> list[Image]:
    """Every image in a store (one per platform, the union of what each manifest file names);
    raises FormatError when none can be read."""
    fmt = detect_format(store)
    reader = JsonReader(store)
    if fmt == "docker-archive":
        images = LegacyReader(reader, reference).read(manifest_entries(store))
    else:
        images = OciReader(reader, reference, fmt).read()
        if fmt == "docker25-archive":
            _add_manifest_json(images, LegacyReader(reader, reference, fmt), manifest_entries(store))
    if not images:
        raise FormatError(f"{store.label}: holds no image")
    return images


def _add_manifest_json(images: list[Image], legacy: LegacyReader, entries: list[ManifestEntry]) -> None:
    """`docker load` reads manifest.json, other tools index.json: an image only manifest.json names is
    added (and the disagreement reported); manifest.json itself is scanned as the image's metadata."""
    unnamed = list(images)
    for entry in entries:
        config = sha256_from_blob_path(entry.config)
        layers = [sha256_from_blob_path(p) for p in entry.layers]
        same = [i for i in images if i.id == config and [layer.digest for layer in i.layers] == layers]
        unnamed = [i for i in unnamed if all(i is not s for s in same)]
        for image in same:
            image.repo_tags = tuple(entry.repo_tags) or image.repo_tags
            image.metadata = (*image.metadata, entry.document())
        if not same:
            extra = legacy.image(entry)
            extra.problems.append(
                Problem(
                    "manifest.json",
                    f"names an image (config {config[:19] or entry.config}) that index.json does not; "
                    "docker load reads manifest.json, so it is scanned too",
                    False,
                )
            )
            images.append(extra)
    for image in unnamed:
        image.problems.append(
            Problem(
                "manifest.json",
                "does not name this image, which index.json does: docker load would not load it; scanned",
                False,
            )
        )


def select_images(
    images: list[Image], label: str, name: str | None = None, platform: Platform | None = None
) -> list[Image]:
    """Keep the images a name (tag or id) and a platform ask for; SourceError naming what exists if none."""
    if name:
        chosen = [i for i in images if _names_image(name, i)]
        if not chosen:
            have = "; ".join(_describe(i) for i in images)
            raise SourceError(f"no image {name!r} in {label}; it holds: {have}")
        images = chosen
    if platform:
        chosen = [i for i in images if i.platform is not None and i.platform.matches(platform)]
        if not chosen:
            have = ", ".join(sorted({str(i.platform) for i in images})) or "none"
            raise SourceError(f"no image for platform {platform} in {label}; platforms: {have}")
        images = chosen
    return images


def normalize_name(name: str) -> str:
    """docker.io/library/foo -> foo:latest, so user input and stored tags compare equal."""
    if "@" not in name and ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    for prefix in ("docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/"):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def _names_image(name: str, image: Image) -> bool:
    wanted = normalize_name(name)
    if any(normalize_name(t) == wanted for t in image.repo_tags):
        return True
    bare = name.removeprefix("sha256:")
    if len(bare) >= 12 and re.fullmatch(r"[0-9a-f]+", bare):
        return any(d and d[7:].startswith(bare) for d in (image.id, image.digest))
    return False


def _describe(image: Image) -> str:
    tags = ", ".join(image.repo_tags) or "untagged"
    return f"{tags} ({image.id[:19]}, {image.platform})"
