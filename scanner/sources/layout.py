"""An OCI image layout directory (or an unpacked docker save): files read in place."""

from __future__ import annotations

import posixpath
from pathlib import Path

from scanner.formats import read_images
from scanner.image import BlobLocation, Image


def open_layout(path: Path, reference: str) -> list[Image]:
    """Every image in the layout directory at `path`."""
    return read_images(DirStore(path), reference)


class DirStore:
    """Files of a directory by their relative path; names that would leave the directory do not exist."""

    container = "directory"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = str(root)

    def locate(self, name: str) -> BlobLocation | None:
        clean = posixpath.normpath(name.lstrip("/")) if name else ""
        if not clean or clean == "." or clean.startswith("../") or clean == "..":
            return None
        path = self.root / clean
        try:
            if not path.is_file():
                return None
            return BlobLocation(str(path), 0, path.stat().st_size)
        except OSError:
            return None
