"""Shared pieces of the decompressors: the Readable protocol, a prefix reader, and the Decoder base."""

from __future__ import annotations

import io
import lzma
import zlib
from typing import Protocol, cast

import zstandard
from isal import isal_zlib

from scanner.errors import LayerError

BUFFER = 1 << 20
INPUT = 1 << 17  # compressed bytes fed per step: bounds what one step can expand to
SIDE_MAX = 1 << 20  # bytes of container side data (gzip names and comments, zstd skippable frames) kept
# What the decompressors raise for corrupt or truncated input; anything else is ours and passes through.
_DECOMPRESS_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    ValueError,
    RuntimeError,  # lz4.frame
    zlib.error,
    lzma.LZMAError,
    cast(type[BaseException], isal_zlib.error),  # typeshed-less module: its error class is untyped
    zstandard.ZstdError,
)


class Readable(Protocol):
    """Anything with read(n) -> bytes: a file, a decompressor, a tar member's data."""

    def read(self, size: int = -1, /) -> bytes: ...


class RawReader(io.RawIOBase):
    """A raw stream whose read() is the real work (no buffer allocation and copy per read)."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)


class Prefixed(RawReader):
    """Gives back bytes already read (the magic) before the rest of the source."""

    def __init__(self, head: bytes, source: Readable) -> None:
        self._head = head
        self._source = source

    def read(self, size: int = -1, /) -> bytes:
        if self._head:
            if size < 0 or size >= len(self._head):
                head, self._head = self._head, b""
                rest = self._source.read(size - len(head) if size >= 0 else -1) if size != len(head) else b""
                return head + rest
            head, self._head = self._head[:size], self._head[size:]
            return head
        return self._source.read(size)


def read_up_to(raw: Readable, n: int) -> bytes:
    """Up to n bytes, fewer only at the end of the stream (a single read may return less)."""
    parts: list[bytes] = []
    got = 0
    while got < n:
        data = raw.read(n - got)
        if not data:
            break
        parts.append(data)
        got += len(data)
    return b"".join(parts)


def one_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class Decoder(RawReader):
    """Uncompressed bytes of one kind of stream; corrupt or truncated input is a one-line LayerError.

    `side` keeps bytes the container holds beside the payload (gzip file names, comments and extra fields,
    zstd skippable frames), up to SIDE_MAX; `side_cut` says some were not kept.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.side: list[tuple[str, bytes]] = []
        self.side_cut = False
        self._side_bytes = 0
        self._done = False

    def add_side(self, what: str, data: bytes) -> None:
        if not data.strip(b"\0"):
            return
        room = SIDE_MAX - self._side_bytes
        if len(data) > room:
            self.side_cut = True
            data = data[:room]
        if data:
            self.side.append((what, data))
            self._side_bytes += len(data)

    def read(self, size: int = -1, /) -> bytes:
        if size < 0:
            return self.readall()
        if self._done or size == 0:
            return b""
        try:
            data = self._read(size)
        except LayerError:
            raise
        except _DECOMPRESS_ERRORS as e:
            raise LayerError(f"corrupt {self.kind} data: {one_line(e)}") from None
        if not data:
            self._done = True
        return data

    def readall(self) -> bytes:
        parts = []
        while data := self.read(BUFFER):
            parts.append(data)
        return b"".join(parts)

    def _read(self, size: int) -> bytes:
        raise NotImplementedError
