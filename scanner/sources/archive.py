"""A docker-save or OCI tar on disk, maybe gzip/zstd/xz compressed: indexed in place, never extracted."""

from __future__ import annotations

import bz2
import lzma
import posixpath
import shutil
import tarfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import zstandard
from isal import igzip

from scanner.blob import BlobLocation
from scanner.errors import FormatError, SourceError
from scanner.formats import one_line, read_images
from scanner.image import GZIP_MAGIC, ZSTD_MAGIC, Image

XZ_MAGIC = b"\xfd7zXZ\x00"
BZIP2_MAGIC = b"BZh"
_CHUNK = 1 << 20
_ZSTD_INPUT = 16 << 10
_MAX_LINK_HOPS = 16


def open_archive(path: Path, tmpdir: Path, reference: str) -> list[Image]:
    """Every image in the archive at `path`; a compressed archive is first decompressed into `tmpdir`."""
    return read_images(TarStore(plain_tar(path, tmpdir), str(path)), reference)


def plain_tar(path: Path, tmpdir: Path) -> Path:
    """The path of an uncompressed tar: `path` itself, or its decompressed copy in `tmpdir`."""
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or one_line(exc)}") from None
    kind = next(
        (
            k
            for k, m in (("gzip", GZIP_MAGIC), ("zstd", ZSTD_MAGIC), ("xz", XZ_MAGIC), ("bzip2", BZIP2_MAGIC))
            if magic.startswith(m)
        ),
        None,
    )
    if kind is None:
        return path
    out = tmpdir / "outer.tar"
    try:
        with open(path, "rb") as raw, open(out, "wb") as dst:
            if kind == "zstd":
                _copy_zstd(raw, dst)
            else:
                with _decompressor(kind, raw) as stream:
                    shutil.copyfileobj(stream, dst, _CHUNK)
    except (OSError, EOFError, zlib.error, lzma.LZMAError, zstandard.ZstdError, ValueError) as exc:
        raise FormatError(
            f"{path}: {kind}-compressed archive is corrupt or truncated: {one_line(exc)}"
        ) from None
    return out


def _decompressor(kind: str, raw: IO[bytes]) -> Any:
    if kind == "gzip":
        return igzip.IGzipFile(fileobj=raw, mode="rb")  # type: ignore[no-untyped-call]
    if kind == "xz":
        return lzma.open(raw, "rb")
    return bz2.open(raw, "rb")


def _copy_zstd(raw: IO[bytes], dst: IO[bytes]) -> None:
    """Decompress every frame (pzstd and `zstd` write several); a stream cut inside a frame is an error.

    zstandard's stream_reader ends silently at a cut, so frames are followed with decompressobj; small
    input chunks bound the output each call can produce.
    """
    dctx = zstandard.ZstdDecompressor()
    frame = dctx.decompressobj()
    in_frame = False
    while chunk := raw.read(_ZSTD_INPUT):
        while chunk:
            dst.write(frame.decompress(chunk))
            in_frame = True
            if not frame.eof:
                break
            chunk = frame.unused_data
            frame = dctx.decompressobj()
            in_frame = False
    if in_frame:
        raise ValueError("the stream ends inside a zstd frame")


class TarStore:
    """The members of an uncompressed outer tar, by normalised name, as byte ranges of the tar file."""

    container = "archive"

    def __init__(self, tar_path: Path, label: str) -> None:
        self.label = label
        self.path = str(tar_path)
        self.members: dict[str, tarfile.TarInfo] = {}
        try:
            size = tar_path.stat().st_size
            # Random-access mode only reads headers and seeks past member data: cheap on a huge archive.
            with tarfile.open(tar_path, "r:") as tar:
                end = 0
                for member in tar:
                    self.members[_normalise(member.name)] = member
                    end = max(end, member.offset_data + _round_up(member.size if member.isreg() else 0))
            self._check_complete(tar_path, size, end)
        except tarfile.TarError as exc:
            raise FormatError(f"{label}: not a readable tar archive: {one_line(exc)}") from None
        except OSError as exc:
            raise SourceError(f"cannot read {label}: {exc.strerror or one_line(exc)}") from None

    def _check_complete(self, tar_path: Path, size: int, end: int) -> None:
        """A tar cut at a member boundary still parses; only the missing end-of-archive blocks tell."""
        if not self.members:
            raise FormatError(f"{self.label}: empty tar archive")
        for name, member in self.members.items():
            if member.isreg() and member.offset_data + member.size > size:
                raise FormatError(f"{self.label}: truncated tar archive (member {name} is cut short)")
        with open(tar_path, "rb") as f:
            f.seek(end)
            trailer = f.read(1024)
        if len(trailer) < 1024 or trailer.count(0) != 1024:
            raise FormatError(f"{self.label}: truncated tar archive (no end-of-archive marker)")

    def names(self) -> Iterable[str]:
        return self.members.keys()

    def link_target(self, name: str) -> str | None:
        member = self._resolve(name)
        return _normalise(member.name) if member is not None else None

    def locate(self, name: str) -> BlobLocation | None:
        member = self._resolve(name)
        return BlobLocation(self.path, member.offset_data, member.size) if member is not None else None

    def _resolve(self, name: str) -> tarfile.TarInfo | None:
        """The regular-file member `name` is or links to (symlinks and hardlinks followed inside the tar)."""
        name = _normalise(name)
        for _ in range(_MAX_LINK_HOPS):
            member = self.members.get(name)
            if member is None:
                return None
            if member.isreg():
                return member
            if member.issym():
                # Relative to the link's folder, e.g. <id>/layer.tar -> ../<hex>.tar; never outside the tar.
                target = posixpath.normpath(posixpath.join(posixpath.dirname(name), member.linkname))
            elif member.islnk():
                target = _normalise(member.linkname)
            else:
                return None
            if target.startswith(("../", "/")) or target == "..":
                return None
            name = target
        return None


def _normalise(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/")


def _round_up(size: int) -> int:
    return (size + 511) // 512 * 512
