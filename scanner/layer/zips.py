"""Zip archives (jar, war, whl, apk) inside a layer: the central directory's entries, and local entries it
does not list, each walked like a file."""

from __future__ import annotations

import bisect
import stat
import struct
import zipfile
import zlib
from typing import IO

from scanner.decompress import one_line, read_up_to
from scanner.errors import LayerError
from scanner.layer.level import Walk
from scanner.layer.limits import KIB, Budget, BudgetExceeded, Counted, Upstream
from scanner.layer.members import Member, MemberKind
from scanner.paths import normalise_path
from scanner.sniff import ZIP_LOCAL

_ZIP_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    RuntimeError,
)
_LOCAL = struct.Struct("<4s5H3L2H")  # a local file header, 30 bytes
_SCAN_CHUNK = 1 << 20
_MAX_VERSION = 63  # "version needed to extract" of every zip specification so far (6.3)


class _EntryReader:
    """A zip entry's bytes, with zipfile's exceptions turned into a one-line LayerError."""

    def __init__(self, inner: IO[bytes]) -> None:
        self._inner = inner

    def read(self, size: int = -1, /) -> bytes:
        try:
            return self._inner.read(size)
        except _ZIP_ERRORS as e:
            raise LayerError(f"corrupt zip entry: {one_line(e)}") from None


def walk_zip(
    walk: Walk, member: Member, fileobj: IO[bytes], depth: int, budget: Budget, tentative: bool
) -> bool:
    """Walk every entry; False when `tentative` (found only by its end record) and zipfile finds no zip."""
    try:
        archive = zipfile.ZipFile(fileobj)
        infos = archive.infolist()
    except _ZIP_ERRORS as e:
        if tentative:
            return False
        raise LayerError(f"corrupt zip: {one_line(e)}") from None
    with archive:
        for info in infos:
            _entry(walk, member, archive, info, depth, budget)
        listed = {info.header_offset for info in infos}
        try:
            unlisted = [o for o in _local_headers(fileobj, _covered(fileobj, infos)) if o not in listed]
        except _ZIP_ERRORS as e:
            raise LayerError(f"corrupt zip: {one_line(e)}") from None
        for offset in unlisted:
            _unlisted(walk, member, fileobj, offset, depth, budget)
    return True


def _entry(
    walk: Walk, member: Member, archive: zipfile.ZipFile, info: zipfile.ZipInfo, depth: int, budget: Budget
) -> None:
    name, escapes = normalise_path(info.filename)
    mode = info.external_attr >> 16
    kind: MemberKind = "dir" if info.is_dir() else "symlink" if stat.S_ISLNK(mode) else "file"
    child = walk.child(member, name, kind, info.file_size, mode & 0o7777, escapes=escapes)
    if kind == "dir":
        walk.visitor.member(child)
        return
    if kind == "file":
        walk.summary.nested_files += 1
    if info.flag_bits & 0x1:
        walk.visitor.member(child)
        walk.problem(walk.where_of(child), "encrypted zip entry not read")
        return
    token = object()
    try:
        with archive.open(info) as raw:
            entry = Counted(_EntryReader(raw), budget)
            if kind == "symlink":
                target = read_up_to(entry, 64 * KIB)
                child = walk.child(
                    member,
                    name,
                    kind,
                    info.file_size,
                    mode & 0o7777,
                    linkname=target.decode("utf-8", "backslashreplace"),
                    escapes=escapes,
                )
                walk.visitor.member(child)
                walk.emit(child, target, 0, len(target), True, True)
            else:
                walk.visitor.member(child)
                walk.scan_data(child, entry, info.file_size, depth, budget, token)
    except Upstream as up:
        if up.owner is not token:
            raise
        walk.problem(walk.where_of(child), f"zip entry not read in full: {up.error}")
    except BudgetExceeded:
        raise
    except LayerError as e:
        walk.problem(walk.where_of(child), f"zip entry not read in full: {e}")
    except _ZIP_ERRORS as e:
        walk.problem(walk.where_of(child), f"corrupt zip entry: {one_line(e)}")


def _covered(fileobj: IO[bytes], infos: list[zipfile.ZipInfo]) -> list[tuple[int, int]]:
    """The byte ranges the listed entries' local headers and data take, sorted."""
    spans = []
    for info in infos:
        if info.header_offset < 0:
            continue  # zipfile's own reading of this entry fails and says so
        fileobj.seek(info.header_offset)
        head = fileobj.read(_LOCAL.size)
        if len(head) < _LOCAL.size:
            continue
        fields = _LOCAL.unpack(head)
        spans.append(
            (
                info.header_offset,
                info.header_offset + _LOCAL.size + fields[9] + fields[10] + info.compress_size,
            )
        )
    return sorted(spans)


def _local_headers(fileobj: IO[bytes], covered: list[tuple[int, int]]) -> list[int]:
    """Offsets of local-header signatures outside the listed entries (a stored jar's entries are inside)."""
    found = []
    starts = [lo for lo, _ in covered]
    fileobj.seek(0)
    base = 0
    carry = b""
    while chunk := fileobj.read(_SCAN_CHUNK):
        data = carry + chunk
        start = base - len(carry)
        at = data.find(ZIP_LOCAL)
        while at != -1:
            offset = start + at
            i = bisect.bisect_right(starts, offset) - 1
            if i < 0 or offset >= covered[i][1]:
                found.append(offset)
            at = data.find(ZIP_LOCAL, at + 1)
        carry = data[-3:]
        base += len(chunk)
    return sorted(set(found))


def _unlisted(
    walk: Walk, member: Member, fileobj: IO[bytes], offset: int, depth: int, budget: Budget
) -> None:
    """A local entry the central directory does not list: unzip tools skip it, its bytes are still there."""
    fileobj.seek(offset)
    head = fileobj.read(_LOCAL.size)
    if len(head) < _LOCAL.size:
        return
    _, version, flags, method, _, _, _, csize, _, nlen, xlen = _LOCAL.unpack(head)
    raw_name = fileobj.read(nlen)
    if version > _MAX_VERSION or not 0 < len(raw_name) == nlen or min(raw_name) < 0x20:
        return  # the signature inside other bytes, not an entry: those bytes were scanned as they are
    fileobj.seek(xlen, 1)
    name = normalise_path(raw_name.decode("utf-8", "backslashreplace"))[0] or f"<entry at {offset}>"
    child = walk.child(member, name, "file", csize, 0)
    walk.visitor.member(child)
    walk.summary.nested_files += 1
    where = walk.where_of(child)
    walk.problem(where, "zip local entry not listed in the central directory; scanned anyway", False)
    if flags & 1 or method not in (0, 8) or (method == 0 and flags & 8 and not csize):
        walk.problem(where, "unlisted zip entry: encrypted, unknown method or unknown length; not read")
        return
    token = object()
    try:
        source = _Inflated(fileobj, csize if not flags & 8 or csize else None, method)
        walk.scan_data(child, Counted(source, budget), None, depth, budget, token)
    except Upstream as up:
        if up.owner is not token:
            raise
        walk.problem(where, f"unlisted zip entry not read in full: {up.error}")
    except LayerError as e:
        walk.problem(where, f"unlisted zip entry not read in full: {e}")


class _Inflated:
    """The data of one local entry: stored bytes, or raw deflate read until its end."""

    def __init__(self, fileobj: IO[bytes], size: int | None, method: int) -> None:
        self._file = fileobj
        self._left = size
        self._inflate = zlib.decompressobj(-15) if method == 8 else None

    def read(self, size: int = -1, /) -> bytes:
        size = 1 << 16 if size < 0 else min(size, 1 << 16)
        inflate = self._inflate
        while True:
            if inflate is not None and inflate.eof:
                return b""
            want = size if self._left is None else min(size, self._left)
            raw = inflate.unconsumed_tail if inflate is not None and inflate.unconsumed_tail else b""
            if not raw and want:
                raw = self._file.read(want)
                if self._left is not None:
                    self._left -= len(raw)
            if inflate is None:
                return raw
            if not raw:
                raise LayerError("unlisted zip entry ends inside its deflate data")
            try:
                out = inflate.decompress(raw, size)
            except zlib.error as e:
                raise LayerError(f"corrupt zip entry: {one_line(e)}") from None
            if out:
                return out
