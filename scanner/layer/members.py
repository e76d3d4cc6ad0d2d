"""Tar members as the walker hands them on: the Member record, whiteouts, and the header bytes around them."""

from __future__ import annotations

import posixpath
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal, Protocol

from scanner.decompress import Readable
from scanner.detectors.base import Content
from scanner.tarstream import BLOCK, DIRTYPE, LNKTYPE, REGULAR_TYPES, SYMTYPE, TarEntry, TarStream

MemberKind = Literal["file", "dir", "symlink", "hardlink", "whiteout", "opaque", "other"]

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
TRAILING_PATH = "<trailing bytes>"
HEADER_FIELDS_PATH = "<tar header fields>"
_FIELDS_BATCH = 256 * 1024  # header text handed on per content window
_HARDLINK_FILE_MAX = 64 * 1024
_HARDLINK_CACHE_MAX = 8 * 1024 * 1024


@dataclass(frozen=True)
class Member:
    """One tar (or nested archive) member. For a whiteout, path is the hidden path; for opaque, the dir."""

    path: str  # normalised in-layer path, no leading "/"
    inner_path: str | None  # inside nested archives: "a.jar!dir/x", "!" between levels
    kind: MemberKind
    size: int
    mode: int
    linkname: str | None
    escapes_root: bool = False  # the stored name was absolute or had ".." components


class Visitor(Protocol):
    def member(self, member: Member) -> None: ...

    def content(self, member: Member, content: Content) -> None: ...


def classify(entry: TarEntry, name: str, top: bool) -> tuple[MemberKind, str]:
    """A member's kind and the path it names: for a whiteout the hidden path, for an opaque marker its dir.
    Whiteouts only count in a layer's own tar, never inside a nested archive."""
    kind_byte = entry.type
    if kind_byte == DIRTYPE:
        return "dir", name
    base = name.rsplit("/", 1)[-1]
    if top and base.startswith(WHITEOUT_PREFIX):
        parent = name[: len(name) - len(base)]
        if base == OPAQUE_MARKER:
            return "opaque", parent.rstrip("/")
        if base.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
            return "other", name  # aufs bookkeeping (.wh..wh.plnk and the like), not a whiteout
        return "whiteout", parent + base[len(WHITEOUT_PREFIX) :]
    if kind_byte == SYMTYPE:
        return "symlink", name
    if kind_byte == LNKTYPE:
        return "hardlink", name
    if kind_byte in REGULAR_TYPES:
        return "file", name
    return "other", name


class HardlinkTargets:
    """The bytes of recent small files, so a hardlink to one is scanned under its own path too."""

    def __init__(self) -> None:
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0

    def get(self, path: str) -> bytes | None:
        return self._cache.get(path)

    def remember(self, path: str, data: bytes) -> None:
        if len(data) > _HARDLINK_FILE_MAX:
            return
        old = self._cache.pop(path, None)
        if old is not None:
            self._bytes -= len(old)
        self._cache[path] = data
        self._bytes += len(data)
        while self._bytes > _HARDLINK_CACHE_MAX:
            _, evicted = self._cache.popitem(last=False)
            self._bytes -= len(evicted)


class HeaderTap:
    """Sits between the byte stream and the tar reader and keeps the bytes from a mark on, so the header
    blocks and the padding around each member can be looked at after the tar reader has passed them."""

    def __init__(self, inner: Readable) -> None:
        self._inner = inner
        self._chunks: list[tuple[int, bytes]] = []  # (stream offset, bytes) at or after the mark
        self._end = 0  # stream offset after the last byte read
        self._mark = 0

    def read(self, size: int = -1, /) -> bytes:
        data = self._inner.read(size)
        start = self._end
        self._end += len(data)
        if self._end > self._mark and data:
            self._chunks.append((start, data))
        return data

    def mark(self, offset: int) -> None:
        """Forget bytes before `offset`."""
        self._mark = offset
        chunks = self._chunks
        while chunks and chunks[0][0] + len(chunks[0][1]) <= offset:
            del chunks[0]

    def stop(self) -> None:
        """Keep nothing more (the archive ended; what follows is read as trailing bytes)."""
        self.mark(1 << 62)

    def span(self, start: int, end: int) -> bytes:
        """The stream bytes [start, end) (at or after the mark); fewer if not all were read."""
        if self._chunks:
            at, data = self._chunks[-1]
            if at <= start and end <= at + len(data):
                return data[start - at : end - at]  # the usual case: all in the last chunk read
        parts = []
        for at, data in self._chunks:
            if at >= end:
                break
            if at + len(data) > start:
                parts.append(data[max(0, start - at) : end - at])
        return b"".join(parts)


class HeaderFields:
    """Collects what tar headers say beside the member path the walker reports (owner names, odd bytes,
    non-zero padding) with every name, and hands it on in batches as the content of one pseudo-member, so
    every detector reads those bytes too."""

    def __init__(self, tap: HeaderTap, emit: EmitBatch) -> None:
        self._tap = tap
        self._emit = emit
        self._parts: list[bytes] = []
        self._size = 0
        self._owners = b""
        self._data_end = 0

    def entry(self, entry: TarEntry, position: int) -> None:
        """After the tar reader returned `entry`, whose data starts at `position`."""
        tap = self._tap
        parts = self._parts
        if entry.offset > self._data_end:
            padding = tap.span(self._data_end, entry.offset).strip(b"\0")
            if padding:
                parts.append(b"padding: " + padding + b"\n")
        block = tap.span(position - BLOCK, position)
        name = entry.name.encode("utf-8", "surrogateescape") + b"\n"
        parts.append(name)
        self._size += len(name)
        if entry.type == LNKTYPE:
            parts.append(entry.linkname.encode("utf-8", "surrogateescape") + b"\n")
        if len(block) == BLOCK:
            owners = block[265:329]
            if owners != self._owners:
                self._owners = owners
                text = b" ".join(owners[i : i + 32].rstrip(b"\0") for i in (0, 32)).strip()
                if text:
                    parts.append(b"owner: " + text + b"\n")
            if block[500:].strip(b"\0"):
                parts.append(b"header tail: " + block[500:] + b"\n")
        self._data_end = position + (entry.size if entry.has_data else 0)
        tap.mark(self._data_end)
        if self._size >= _FIELDS_BATCH:
            self.flush()

    def end(self, position: int) -> None:
        """At the end of the archive (`position`: its end block): the last member's padding, then flush."""
        padding = self._tap.span(self._data_end, position)
        if padding.strip(b"\0"):
            self._parts.append(b"padding: " + padding.strip(b"\0") + b"\n")
        self._tap.stop()
        self.flush()

    def flush(self) -> None:
        if self._parts:
            self._emit(b"".join(self._parts))
            self._parts, self._size = [], 0


class EmitBatch(Protocol):
    def __call__(self, data: bytes, /) -> None: ...


def label_of(member: Member) -> str:
    """How a nested member's path starts: the archive's own inner path, or its file name."""
    return member.inner_path or posixpath.basename(member.path)


class TarRest:
    """The bytes after a tar's end-of-archive block; `start()` skips the zeros and returns the first data."""

    def __init__(self, tar: TarStream) -> None:
        self._chunks = tar.rest()
        self._buf = b""

    def read(self, size: int = -1, /) -> bytes:
        if not self._buf:
            self._buf = next(self._chunks, b"")
        if size < 0 or size >= len(self._buf):
            data, self._buf = self._buf, b""
        else:
            data, self._buf = self._buf[:size], self._buf[size:]
        return data

    def start(self) -> bytes:
        while chunk := self.read():
            stripped = chunk.lstrip(b"\0")
            if stripped:
                return stripped
        return b""
