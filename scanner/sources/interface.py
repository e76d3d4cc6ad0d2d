"""The Source protocol: how an image reference becomes images; one module per source behind it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from scanner.blob import BlobLocation
from scanner.image import Image, Platform

# Hears of each layer-like blob as soon as its bytes are on disk (a daemon's save stream is slow to arrive).
OnBlob = Callable[[BlobLocation], None]


@dataclass(frozen=True)
class Reference:
    """An image reference, parsed once: skopeo's transport names (docker-daemon, docker, docker-archive,
    oci-archive, oci); a bare reference is resolved to one of them (a directory, a file, else the daemon)."""

    text: str  # as the user wrote it (never holds credentials: those come from --creds or auth files)
    transport: str
    location: str  # daemon name, HOST/REPO:TAG or @DIGEST, archive path, or layout directory
    name: str | None = None  # an image inside an archive or layout (docker-archive:PATH:NAME)


class Source(Protocol):
    """Opens every image a reference names (one per platform unless `platform` picks one)."""

    transports: tuple[str, ...]

    def open(
        self, ref: Reference, workdir: Path, platform: Platform | None, on_blob: OnBlob | None
    ) -> list[Image]:
        """The images; writes only into `workdir`; SourceError or FormatError when there are none."""
        ...

    def identity(self, ref: Reference) -> str | None:
        """A cheap, verified identity of the image (a daemon's image id, a registry manifest digest) that
        lets a fully cached image be answered without reading its layers; None when there is none."""
        ...
