"""docker-archive: and oci-archive: a save or OCI tar on disk (maybe gzip/zstd/xz), indexed in place."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from scanner.blob import BlobLocation
from scanner.decompress import BombRule, copy_decompressed
from scanner.errors import FormatError, LayerError, LimitError, SourceError
from scanner.image import Image, Platform
from scanner.paths import normalise_path
from scanner.sniff import compression_kind
from scanner.sources.images import read_images, select_images
from scanner.sources.interface import OnBlob, Reference, Source
from scanner.sources.manifests import one_line
from scanner.tarstream import AREGTYPE, BLOCK, CONTTYPE, DIRTYPE, LNKTYPE, REGTYPE, SYMTYPE, TarStream

_MAX_LINK_HOPS = 16
MAX_MEMBERS = 1 << 20  # members of an outer archive
# The bomb rule of compressed layers, applied to a compressed outer archive.
OUTER_BOMB_FLOOR = 1 << 30  # past this output ...
OUTER_MAX_RATIO = 100  # ... expanding more than this is a bomb
OUTER_MAX_BYTES = 256 << 30  # and never more than this, whatever the ratio
_FILE_TYPES = (REGTYPE, AREGTYPE, CONTTYPE)


class ArchiveSource:
    """docker-archive:PATH[:NAME] and oci-archive:PATH[:NAME]; the format is detected by content."""

    transports: tuple[str, ...] = ("docker-archive", "oci-archive")

    def open(
        self, ref: Reference, workdir: Path, platform: Platform | None, on_blob: OnBlob | None
    ) -> list[Image]:
        images = open_archive(Path(ref.location), workdir, ref.text)
        return select_images(images, ref.location, ref.name, platform)

    def identity(self, ref: Reference) -> str | None:
        return None


_: type[Source] = ArchiveSource


def open_archive(path: Path, tmpdir: Path, reference: str) -> list[Image]:
    """Every image in the archive at `path`; a compressed archive is first decompressed into `tmpdir`."""
    return read_images(TarStore(plain_tar(path, tmpdir), str(path)), reference)


def plain_tar(path: Path, tmpdir: Path) -> Path:
    """The path of an uncompressed tar: `path` itself, or its decompressed copy in `tmpdir` (the layers' one
    decompression, under their bomb rule: a compressed archive can never fill the disk)."""
    try:
        with open(path, "rb") as f:
            kind = compression_kind(f.read(16))
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or one_line(exc)}") from None
    if kind is None:
        return path
    out = tmpdir / "outer.tar"
    rule = BombRule(OUTER_MAX_BYTES, OUTER_MAX_RATIO, OUTER_BOMB_FLOOR)
    try:
        with open(path, "rb") as raw, open(out, "wb") as dst:
            copy_decompressed(raw, dst, rule, f"{path}: {kind}-compressed archive")
    except LimitError as exc:
        raise FormatError(f"{one_line(exc)}: likely a decompression bomb; not read") from None
    except (OSError, LayerError) as exc:
        raise FormatError(
            f"{path}: {kind}-compressed archive is corrupt or truncated: {one_line(exc)}"
        ) from None
    return out


@dataclass(frozen=True, slots=True)
class _Member:
    type: bytes
    offset: int  # of the data
    size: int
    linkname: str


_DIR = _Member(DIRTYPE, 0, 0, "")


class TarStore:
    """The members of an uncompressed outer tar, by normalised name, as byte ranges of the tar file.

    Read with the one tar reader the layers use; names resolve as `docker load` resolves them (symlinks
    followed inside the archive's root, never out of it)."""

    container = "archive"

    def __init__(self, tar_path: Path, label: str) -> None:
        self.label = label
        self.path = str(tar_path)
        self.members: dict[str, _Member] = {}
        try:
            with open(tar_path, "rb") as f:
                self._index(f, os.fstat(f.fileno()).st_size)
        except LayerError as exc:
            raise FormatError(f"{label}: not a readable tar archive: {one_line(exc)}") from None
        except OSError as exc:
            raise SourceError(f"cannot read {label}: {exc.strerror or one_line(exc)}") from None

    def _index(self, f: BinaryIO, file_size: int) -> None:
        """Each header is parsed by the one tar reader, started at the header's offset: member data is
        skipped by seeking, never read (a save is gigabytes; its headers are a few kilobytes)."""
        offset = 0
        while True:
            f.seek(offset)
            stream = TarStream(f, chunk=BLOCK)
            entry = stream.next()
            if entry is None:
                break
            if entry.pax_global:
                raise FormatError(f"{self.label}: outer archive has a PAX global header; not read")
            if len(self.members) >= MAX_MEMBERS:
                raise FormatError(f"{self.label}: over {MAX_MEMBERS} members in the archive")
            name, _ = normalise_path(entry.name)
            data, size = offset + stream.position, entry.size if entry.has_data else 0
            if data + size > file_size:
                raise FormatError(f"{self.label}: truncated tar archive (member {name} is cut short)")
            kind = b"sparse" if entry.sparse else entry.type
            if kind != DIRTYPE and self.members.get(name, _DIR).type != DIRTYPE:
                # docker load keeps the last copy, skopeo and podman read the first: no one answer.
                raise FormatError(
                    f"{self.label}: member {name} appears twice; readers disagree on which counts"
                )
            self.members[name] = _Member(kind, data, size, entry.linkname)
            offset = data + -(-size // BLOCK) * BLOCK
        if not self.members:
            raise FormatError(f"{self.label}: empty tar archive")
        if stream.eof_without_marker:
            raise FormatError(f"{self.label}: truncated tar archive (no end-of-archive marker)")

    def names(self) -> Iterable[str]:
        return self.members.keys()

    def link_target(self, name: str) -> str | None:
        found = self._resolve(name)
        return found[0] if found is not None else None

    def locate(self, name: str) -> BlobLocation | None:
        found = self._resolve(name)
        if found is None:
            return None
        other = self._one_hop(name)
        if other is not None and other is not found[1]:
            raise FormatError(
                f"{self.label}: symlink {name} names one member for docker load, another for skopeo"
            )
        return BlobLocation(self.path, found[1].offset, found[1].size)

    def _one_hop(self, name: str) -> _Member | None:
        """The member skopeo/podman read for `name`: its target joined to its folder, one symlink at most."""
        name = normalise_path(name)[0]
        member = self.members.get(name)
        if member is not None and member.type == SYMTYPE:
            # Go's path.Join: "/x" joined to "d" is "d/x" (Python's join would start again at "/").
            joined = posixpath.normpath(posixpath.dirname(name) + "/" + member.linkname)
            member = self.members.get(normalise_path(joined)[0])
        return member if member is not None and member.type in _FILE_TYPES else None

    def _resolve(self, name: str, hops: int = 0) -> tuple[str, _Member] | None:
        """The regular-file member `name` is or links to. Like docker load's FollowSymlinkInScope: every
        component's symlinks are followed with the archive as root ("/" and ".." stop there)."""
        parts = name.split("/")
        done: list[str] = []
        while parts:
            part = parts.pop(0)
            if part in ("", "."):
                continue
            if part == "..":
                if done:
                    done.pop()
                continue
            member = self.members.get("/".join([*done, part]))
            if member is not None and member.type == SYMTYPE:
                hops += 1
                if hops > _MAX_LINK_HOPS:
                    return None
                if member.linkname.startswith("/"):
                    done = []
                parts = member.linkname.split("/") + parts
                continue
            done.append(part)
        final = "/".join(done)
        member = self.members.get(final)
        if member is not None and member.type == LNKTYPE and hops < _MAX_LINK_HOPS:
            return self._resolve(member.linkname, hops + 1)
        return (final, member) if member is not None and member.type in _FILE_TYPES else None
