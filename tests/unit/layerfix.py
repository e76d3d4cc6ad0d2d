"""Builds small layer tars (plain, gzip, zstd) and Layer records over them, for the walker's tests."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import zstandard

from scanner.blob import BlobLocation
from scanner.detectors.base import Content
from scanner.image import Layer
from scanner.layer import HEADER_FIELDS_PATH, Limits, Member, walk_layer


def tar_bytes(entries: list[tuple[str, bytes | str | None]], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    """(name, bytes) is a file, (name, None) a dir, (name, "->target") a symlink, "=>target" a hardlink."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            elif isinstance(data, str) and data.startswith("->"):
                info.type, info.linkname = tarfile.SYMTYPE, data[2:]
                tar.addfile(info)
            elif isinstance(data, str) and data.startswith("=>"):
                info.type, info.linkname = tarfile.LNKTYPE, data[2:]
                tar.addfile(info)
            else:
                raw = data.encode() if isinstance(data, str) else data
                info.size = len(raw)
                tar.addfile(info, io.BytesIO(raw))
    return buf.getvalue()


def zip_bytes(entries: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buf.getvalue()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=1)


def zst(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=1).compress(data)


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make_layer(
    tmp_path: Path,
    blob: bytes,
    *,
    index: int = 0,
    diff_id: str | None = None,
    digest: str | None = None,
    compressed: bool = True,
    name: str = "blob",
) -> Layer:
    """Write the blob after some unrelated bytes, so the walker must honour the location's offset."""
    path = tmp_path / name
    prefix = b"unrelated bytes before the blob"
    path.write_bytes(prefix + blob + b"and after")
    return Layer(
        index=index,
        digest=digest,
        diff_id=diff_id,
        media_type="application/vnd.oci.image.layer.v1.tar",
        size=len(blob),
        blob=BlobLocation(str(path), len(prefix), len(blob)),
        digest_is_compressed=compressed,
    )


@dataclass
class Recorder:
    """A visitor that keeps every member and every content window; the tar header fields pseudo-member's
    apart, in `header_fields`, so that tests about files see only files."""

    members: list[Member] = field(default_factory=list)
    contents: list[tuple[Member, Content]] = field(default_factory=list)
    header_fields: list[tuple[Member, bytes]] = field(default_factory=list)

    def member(self, member: Member) -> None:
        if not _is_header_fields(member):
            self.members.append(member)

    def content(self, member: Member, content: Content) -> None:
        if _is_header_fields(member):
            self.header_fields.append((member, content.data))
        else:
            self.contents.append((member, content))

    def data_of(self, path: str, inner_path: str | None = None) -> list[bytes]:
        """The whole bytes of each file with that path (windows of one file joined, overlaps removed)."""
        out: list[bytes] = []
        current = b""
        for _, c in self.contents:
            if c.path != path or c.inner_path != inner_path:
                continue
            if c.is_first:
                current = b""
            current = current[: c.offset] + c.data
            if c.is_last:
                out.append(current)
        return out

    def kinds(self) -> dict[str, str]:
        return {m.inner_path or m.path: m.kind for m in self.members}


def _is_header_fields(member: Member) -> bool:
    return (member.inner_path or member.path).endswith(HEADER_FIELDS_PATH)


class NullVisitor:
    def member(self, member: Member) -> None:
        pass

    def content(self, member: Member, content: Content) -> None:
        pass


def walk_files(tmp_path: Path, files: list[tuple[str, bytes]], limits: Limits | None = None):  # type: ignore[no-untyped-def]
    """Walk a layer made of these (name, bytes) files; the summary and everything the walker emitted."""
    recorder = Recorder()
    layer = make_layer(tmp_path, tar_bytes(list(files)))
    summary = walk_layer(layer, limits or Limits(spool_dir=str(tmp_path)), recorder)
    return summary, recorder
