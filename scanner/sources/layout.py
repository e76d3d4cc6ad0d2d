"""oci:DIR[:NAME], an OCI layout directory (or an unpacked docker save): files read in place, never
through a symlink that leaves the directory."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from scanner.blob import BlobLocation
from scanner.errors import FormatError
from scanner.image import Image, Platform
from scanner.sources.images import read_images, select_images
from scanner.sources.interface import OnBlob, Reference, Source
from scanner.sources.manifests import short

_MAX_LINK_HOPS = 16


class LayoutSource:
    """oci:DIR[:NAME], and a bare directory."""

    transports: tuple[str, ...] = ("oci",)

    def open(
        self, ref: Reference, workdir: Path, platform: Platform | None, on_blob: OnBlob | None
    ) -> list[Image]:
        return select_images(open_layout(Path(ref.location), ref.text), ref.location, ref.name, platform)

    def identity(self, ref: Reference) -> str | None:
        return None


_: type[Source] = LayoutSource


def open_layout(path: Path, reference: str) -> list[Image]:
    """Every image in the layout directory at `path`."""
    return read_images(DirStore(path), reference)


class DirStore:
    """Files of a directory by their relative path. A symlink is followed only while it stays inside the
    directory; one that leaves it (absolute, or too many "..") is a FormatError, never opened."""

    container = "directory"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = str(root)

    def names(self) -> Iterable[str]:
        return (str(p.relative_to(self.root).as_posix()) for p in self.root.glob("*/layer.tar"))

    def link_target(self, name: str) -> str | None:
        return self._inside(name)

    def locate(self, name: str) -> BlobLocation | None:
        inside = self._inside(name)
        if inside is None:
            return None
        path = os.path.join(self.root, inside)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
        except OSError:
            return None
        try:
            info = os.fstat(fd)
        finally:
            os.close(fd)
        return BlobLocation(path, 0, info.st_size) if stat.S_ISREG(info.st_mode) else None

    def _inside(self, name: str) -> str | None:
        """The symlink-free path of the regular file `name` names, relative to the root, or None."""
        if "\0" in name:
            return None  # no file has such a name (and the OS calls would raise)
        parts = name.split("/")
        done: list[str] = []
        hops = 0
        while parts:
            part = parts.pop(0)
            if part in ("", "."):
                continue
            if part == "..":
                if not done:
                    raise self._escape(name)
                done.pop()
                continue
            path = os.path.join(self.root, *done, part)
            try:
                info = os.lstat(path)
            except OSError:
                return None
            if stat.S_ISLNK(info.st_mode):
                hops += 1
                target = os.readlink(path)
                if hops > _MAX_LINK_HOPS or os.path.isabs(target):
                    raise self._escape(name)
                parts = target.split("/") + parts
                continue
            if parts and not stat.S_ISDIR(info.st_mode):
                return None
            done.append(part)
        if not done or not stat.S_ISREG(os.lstat(os.path.join(self.root, *done)).st_mode):
            return None
        return "/".join(done)

    def _escape(self, name: str) -> FormatError:
        return FormatError(
            f"{self.label}: {short(name)} is reached through a symlink that leaves the layout directory "
            "(or loops); not followed"
        )
