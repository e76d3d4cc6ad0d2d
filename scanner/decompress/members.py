"""Streams of compressed members (gzip, xz, lzma, bzip2, lz4, zlib), each member's end and trailer checked."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Protocol, cast

from isal import igzip_lib

from scanner.decompress.base import INPUT, SIDE_MAX, Decoder, Readable
from scanner.errors import LayerError, LimitError


class Engine(Protocol):
    """A decompressor object in the lzma/bz2/lz4 shape."""

    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    @property
    def needs_input(self) -> bool: ...

    def decompress(self, data: bytes, max_length: int = -1) -> bytes: ...


def inflate(flag: int) -> Engine:
    """isal's deflate engine; with a gzip or zlib flag it checks the member's trailer (CRC-32 or Adler-32)."""
    return cast(Engine, igzip_lib.IgzipDecompressor(flag=flag, hist_bits=15))


_OUTPUT = 1 << 18  # per engine call: output that stays in the CPU cache decodes faster (measured)


class Members(Decoder):
    """A stream of one or more compressed members; zero padding after a member is allowed, anything else
    must be another member (where the format allows concatenation) or it is an error, never ignored."""

    def __init__(self, raw: Readable, kind: str, engine: Callable[[], Engine], concatenated: bool) -> None:
        super().__init__(kind)
        self._raw = raw
        self._engine_factory = engine
        self._concatenated = concatenated
        self._pending = b""
        self._engine: Engine | None = None
        self._want_input = True
        self.members = 0

    def _more(self) -> bool:
        data = self._raw.read(INPUT)
        self._pending += data
        return bool(data)

    def _need(self, n: int, what: str) -> bytes:
        while len(self._pending) < n:
            if not self._more():
                raise LayerError(f"{self.kind} stream is truncated inside {what}")
        data, self._pending = self._pending[:n], self._pending[n:]
        return data

    def _start_member(self) -> bool:
        """Skip zero padding; False at the end of the input, else set up the next member's engine."""
        while True:
            stripped = self._pending.lstrip(b"\0")
            self._pending = stripped
            if stripped or not self._more():
                break
        if not self._pending:
            if not self.members:
                raise LayerError(f"{self.kind} stream is empty")
            return False
        if self.members and not self._concatenated:
            raise LayerError(f"data after the end of the {self.kind} stream")
        self._begin()
        self._engine = self._engine_factory()
        self._want_input = True
        return True

    def _begin(self) -> None:
        """Read a member's own header, where the format has one outside the engine."""

    def _read(self, size: int) -> bytes:
        while True:
            engine = self._engine
            if engine is None:
                if not self._start_member():
                    return b""
                continue
            if engine.eof:
                self._pending = (engine.unused_data or b"") + self._pending
                self.members += 1
                self._engine = None
                continue
            data = b""
            if self._want_input:
                if not self._pending and not self._more():
                    raise LayerError(f"{self.kind} stream is truncated (ends inside a member)")
                data, self._pending = self._pending, b""
            out = engine.decompress(data, min(size, _OUTPUT))
            self._want_input = engine.needs_input or (not out and not data)
            if out:
                return out


class Gzip(Members):
    """gzip members (RFC 1952): header fields kept as side data, each member's CRC-32 and size checked."""

    def __init__(self, raw: Readable) -> None:
        super().__init__(raw, "gzip", lambda: inflate(igzip_lib.DECOMP_GZIP_NO_HDR_VER), concatenated=True)

    def _begin(self) -> None:
        head = self._need(10, "a member header")
        if head[:3] != b"\x1f\x8b\x08":
            raise LayerError("data after a gzip member is not another gzip member")
        flags = head[3]
        if flags & 0xE0:
            raise LayerError("gzip header has reserved flag bits set")
        if flags & 4:
            (length,) = struct.unpack("<H", self._need(2, "the header's extra field"))
            self.add_side("gzip header extra field", self._need(length, "the header's extra field"))
        for bit, what in ((8, "file name"), (16, "comment")):
            if flags & bit:
                self.add_side(f"gzip header {what}", self._zero_terminated(what))
        if flags & 2:
            self._need(2, "the header CRC")

    def _zero_terminated(self, what: str) -> bytes:
        while (end := self._pending.find(b"\0")) == -1:
            if len(self._pending) > SIDE_MAX:
                raise LimitError(f"gzip header {what} is longer than {SIDE_MAX} bytes")
            if not self._more():
                raise LayerError(f"gzip stream is truncated inside the header {what}")
        text, self._pending = self._pending[:end], self._pending[end + 1 :]
        return text
