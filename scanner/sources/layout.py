"""An OCI image layout directory (or an unpacked docker save): files read in place."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from pathlib import Path

from scanner.blob import BlobLocation
from scanner.formats import read_images
from scanner.image import Image


def open_layout(path: Path, reference: str) -> list[Image]:
    """Every image in the layout directory at `path`."""
    return read_images(DirStore(path), reference)


class DirStore:
    """Files of a directory by their relative path; names that would leave the directory do not exist."""

    container = "directory"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = str(root)

    def names(self) -> Iterable[str]:
        return (str(p.relative_to(self.root).as_posix()) for p in self.root.glob("*/layer.tar"))

    def link_target(self, name: str) -> str | None:
        path = self._path(name)
        if path is None or not path.is_file():
            return None
        try:
            return path.resolve().relative_to(self.root.resolve()).as_posix()
        except (OSError, ValueError):
            return None

    def locate(self, name: str) -> BlobLocation | None:
        path = self._path(name)
        if path is None:
            return None
        try:
            if not path.is_file():
                return None
            return BlobLocation(str(path), 0, path.stat().st_size)
        except OSError:
            return None

    def _path(self, name: str) -> Path | None:
        clean = posixpath.normpath(name.lstrip("/")) if name else ""
        if not clean or clean == "." or clean.startswith("../") or clean == "..":
            return None
        return self.root / clean
