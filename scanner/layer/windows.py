"""Content windows: a file's bytes cut into overlapping windows for the detectors, from memory or a stream."""

from __future__ import annotations

from typing import Protocol

from scanner.decompress import Readable, read_up_to
from scanner.errors import LayerError
from scanner.layer.limits import BudgetExceeded, Limits, Upstream
from scanner.layer.members import Member


class Emit(Protocol):
    def __call__(
        self, member: Member, data: bytes, offset: int, size: int, first: bool, last: bool
    ) -> None: ...


def read_exact(source: Readable, size: int) -> bytes:
    data = read_up_to(source, size)
    if len(data) < size:
        raise LayerError(f"file data ends after {len(data)} of {size} bytes")
    return data


class Windower:
    """Cuts one file's bytes, fed in pieces, into overlapping windows and hands them on."""

    def __init__(self, emit: Emit, limits: Limits, member: Member, size: int | None) -> None:
        self._emit_to = emit
        self._window = limits.window
        self._stride = limits.window - limits.overlap
        self._member = member
        self._size = size
        self._buf = bytearray()
        self._offset = 0
        self._emitted = False
        self.total = 0
        self.tail = b""  # the last bytes fed, for a look at how the file ends

    def feed(self, data: bytes) -> None:
        self._buf += data
        self.total += len(data)
        window, size = self._window, self._size
        while len(self._buf) >= window and (
            self._offset + window < size if size is not None else len(self._buf) > window
        ):
            self._emit(bytes(self._buf[:window]), last=False)
            del self._buf[: self._stride]
            self._offset += self._stride

    def _emit(self, data: bytes, last: bool) -> None:
        size = self._size if self._size is not None else (self.total if last else -1)
        self._emit_to(self._member, data, self._offset, size, not self._emitted, last)
        self._emitted = True

    def finish(self) -> None:
        self.tail = bytes(self._buf)
        self._emit(self.tail, last=True)
        self._buf = bytearray()


class Tee:
    """Reads a file's data for a nested-archive reader while every byte also goes to the windower.

    A failure of the source belongs to the level that owns the source, so it is tagged with that owner.
    """

    def __init__(self, source: Readable, windower: Windower, owner: object, size: int | None) -> None:
        self._source = source
        self._windower = windower
        self._owner = owner
        self._left = size

    def read(self, size: int = -1, /) -> bytes:
        if self._left is not None:
            if self._left <= 0:
                return b""
            size = self._left if size < 0 else min(size, self._left)
        try:
            data = self._source.read(size)
        except BudgetExceeded:
            raise
        except LayerError as e:
            raise Upstream(self._owner, e) from None
        if self._left is not None:
            if not data and size:
                raise Upstream(self._owner, LayerError("file data ends before its declared size"))
            self._left -= len(data)
        self._windower.feed(data)
        return data

    def drain(self, chunk: int) -> None:
        while self.read(chunk):
            pass


def plain_windows(
    emit: Emit, limits: Limits, member: Member, head: bytes, source: Readable, size: int
) -> bytes:
    """A large file of known size: overlapping windows read straight from the source, `head` (at most one
    window, already read) first. Returns the last window, for a look at how the file ends."""
    window, overlap = limits.window, limits.overlap
    data = head + read_exact(source, min(window, size) - len(head))
    offset = 0
    while True:
        last = offset + len(data) >= size
        emit(member, data, offset, size, offset == 0, last)
        if last:
            return data
        more = read_exact(source, min(window - overlap, size - offset - len(data)))
        offset += len(data) - overlap
        data = data[-overlap:] + more if overlap else more
