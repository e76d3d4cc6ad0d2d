"""Spool a tar stream to disk and say where each archive-like member lies as soon as its bytes are there."""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

from scanner.blob import BlobLocation
from scanner.errors import LayerError
from scanner.sniff import layer_kind
from scanner.tarstream import AREGTYPE, BLOCK, CONTTYPE, REGTYPE, parse_number

_REGULAR = (REGTYPE, AREGTYPE, CONTTYPE)
_HEAD = 512  # bytes of a member's data that tell whether it is a (compressed) tar


class SpoolWriter:
    """Writes the stream to `out` and tracks tar headers on the way: for every regular member whose data
    starts like a tar, gzip or zstd stream (a layer blob), `on_blob` gets its location once the data is
    written and flushed. It only announces; reading the archive afterwards is still the source's job, so
    a stream it misreads costs an early start, never a wrong result."""

    def __init__(self, out: BinaryIO, path: str, on_blob: Callable[[BlobLocation], None]) -> None:
        self.out = out
        self.path = path
        self.on_blob = on_blob
        self.pos = 0  # stream offset of the next byte
        self.next_header = 0
        self.header = bytearray()
        self.member: tuple[int, int] | None = None  # (data offset, size) of a regular member being written
        self.head = bytearray()
        self.ended = False

    def write(self, chunk: bytes) -> None:
        self.out.write(chunk)
        if not self.ended:
            self._track(memoryview(chunk))

    def _track(self, chunk: memoryview) -> None:
        i = 0
        while i < len(chunk) and not self.ended:
            if self.pos < self.next_header:  # member data and padding
                take = min(len(chunk) - i, self.next_header - self.pos)
                if self.member is not None and len(self.head) < _HEAD:
                    self.head += chunk[i : i + min(take, _HEAD - len(self.head))]
                self.pos += take
                i += take
                if self.member is not None and self.pos >= self.member[0] + self.member[1]:
                    self._announce()
                continue
            take = min(len(chunk) - i, BLOCK - len(self.header))
            self.header += chunk[i : i + take]
            self.pos += take
            i += take
            if len(self.header) == BLOCK:
                self._parse_header(bytes(self.header))
                self.header.clear()

    def _parse_header(self, block: bytes) -> None:
        if not block.strip(b"\x00"):
            self.ended = True  # end-of-archive block: nothing more to announce
            return
        size = _size(block[124:136])
        if size is None:
            self.ended = True  # not a header we understand: stop announcing, the spool goes on
            return
        self.next_header = self.pos + -(-size // BLOCK) * BLOCK
        typeflag = block[156:157]
        self.member = (self.pos, size) if typeflag in _REGULAR and size >= 2 * BLOCK else None
        self.head = bytearray()

    def _announce(self) -> None:
        assert self.member is not None
        offset, size = self.member
        self.member = None
        if layer_kind(bytes(self.head)) is not None:
            self.out.flush()
            self.on_blob(BlobLocation(self.path, offset, size))


def _size(field: bytes) -> int | None:
    """The size field as the layers' tar reader reads it; None where it cannot."""
    try:
        size = parse_number(field)
    except LayerError:
        return None
    return size if size >= 0 else None
