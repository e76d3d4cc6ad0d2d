"""The image model every source produces: Image, Layer (opens its own bytes), HistoryEntry, Platform."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from scanner.blob import Blob
from scanner.errors import LayerError, UsageError
from scanner.model import Problem


@dataclass(frozen=True)
class Platform:
    """An OCI platform: os/architecture[/variant]."""

    os: str
    architecture: str
    variant: str | None = None

    def __str__(self) -> str:
        parts = [self.os, self.architecture] + ([self.variant] if self.variant else [])
        return "/".join(parts)

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise UsageError(f"invalid platform {text!r}: expected os/arch[/variant], e.g. linux/amd64")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    def matches(self, wanted: Platform) -> bool:
        """True when this platform satisfies a requested one (a request without variant takes any)."""
        if (self.os, self.architecture) != (wanted.os, wanted.architecture):
            return False
        return wanted.variant is None or wanted.variant == self.variant


@dataclass(frozen=True)
class HistoryEntry:
    """One row of config.history; empty_layer rows own no layer."""

    index: int
    created_by: str
    empty_layer: bool
    layer_index: int | None
    created: str | None = None
    author: str | None = None
    comment: str | None = None


@dataclass(frozen=True)
class Layer:
    """One filesystem layer, oldest first; index is 0-based in manifest order (= rootfs.diff_ids)."""

    index: int
    digest: str | None
    diff_id: str | None
    media_type: str
    size: int | None
    blob: Blob | None
    history: HistoryEntry | None = None
    foreign: bool = False
    # True when `digest` names the compressed blob (OCI); False when blob digest == diff_id (legacy tar).
    digest_is_compressed: bool = True

    def open_blob(self) -> BinaryIO:
        """The layer's stored bytes (maybe compressed); LayerError when the source has none or cannot read."""
        if self.blob is None:
            raise LayerError("layer blob is missing from the image source")
        return self.blob.open()

    def open_tar(self) -> BinaryIO:
        """The layer's tar stream, decompressed by the magic bytes it starts with (gzip, zstd or none)."""
        from scanner.decompress import decompressing_reader

        return decompressing_reader(self.open_blob())[0]


@dataclass(frozen=True)
class MetadataDocument:
    """A JSON document of image metadata to scan: config, manifest, index, attestation, legacy json."""

    area: str  # "config", "manifest", "index", "attestation", "legacy-json", "buildinfo"
    where: str  # human label, e.g. "attestation sha256:ab12.. (https://slsa.dev/provenance/v0.2)"
    data: Any
    raw: bytes = b""  # the document's bytes as stored: what the parsed `data` may not show (duplicate keys)


@dataclass
class Image:
    """One image (one platform) of a source, with everything needed to scan it."""

    reference: str
    id: str  # config digest
    digest: str | None  # manifest digest, when the format gives one
    platform: Platform | None
    format: str  # docker-archive, podman-archive, docker25-archive, oci-archive, oci-layout, daemon
    config: dict[str, Any]
    layers: tuple[Layer, ...]
    history: tuple[HistoryEntry, ...]
    metadata: tuple[MetadataDocument, ...] = ()
    repo_tags: tuple[str, ...] = ()
    problems: list[Problem] = field(default_factory=list)


_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def is_sha256_digest(value: object) -> bool:
    return isinstance(value, str) and bool(_DIGEST.match(value))
