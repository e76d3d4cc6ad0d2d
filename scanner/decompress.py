"""Layer blob readers: a bounded byte range of a file, and decompression chosen by magic bytes."""

from __future__ import annotations

import io
import zlib
from typing import IO, BinaryIO, Protocol, cast

import zstandard
from isal import igzip, isal_zlib

from scanner.errors import LayerError
from scanner.image import GZIP_MAGIC, ZSTD_MAGIC

_BUFFER = 1 << 20
# What the decompressors raise for corrupt or truncated input; anything else is ours and passes through.
_DECOMPRESS_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    ValueError,
    zlib.error,
    cast(type[BaseException], isal_zlib.error),  # typeshed-less module: its error class is untyped
    zstandard.ZstdError,
)


class Readable(Protocol):
    """Anything with read(n) -> bytes: a file, a decompressor, a tar member's data."""

    def read(self, size: int = -1, /) -> bytes: ...


class Prefixed(io.RawIOBase):
    """Gives back bytes already read (the magic) before the rest of the source."""

    def __init__(self, head: bytes, source: Readable) -> None:
        self._head = head
        self._source = source

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size < 0 or size >= len(self._head):
                head, self._head = self._head, b""
                rest = self._source.read(size - len(head) if size >= 0 else -1) if size != len(head) else b""
                return head + rest
            head, self._head = self._head[:size], self._head[size:]
            return head
        return self._source.read(size)

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)


class _ZstdFrames:
    """Walks zstd frame and block headers of the compressed bytes to tell a complete stream from a cut one.

    python-zstandard's stream reader ends silently when input stops mid-frame; this check is what
    turns a truncated zstd layer into an error instead of a short (and wrongly clean) tar.
    """

    def __init__(self) -> None:
        self._pending = bytearray()
        self._skip = 0
        self._state = "magic"
        self._need = 4
        self._checksum = False
        self._frames = 0

    def feed(self, data: bytes) -> None:
        pos = 0
        end = len(data)
        while pos < end:
            if self._skip:
                step = min(self._skip, end - pos)
                self._skip -= step
                pos += step
                continue
            take = min(self._need - len(self._pending), end - pos)
            self._pending += data[pos : pos + take]
            pos += take
            if len(self._pending) == self._need:
                chunk = bytes(self._pending)
                self._pending.clear()
                self._step(chunk)

    def _step(self, chunk: bytes) -> None:
        state = self._state
        if state == "magic":
            if chunk == ZSTD_MAGIC:
                self._state, self._need = "fhd", 1
            elif chunk[1:] == b"\x2a\x4d\x18" and chunk[0] & 0xF0 == 0x50:
                self._state, self._need = "skippable", 4
            else:
                raise LayerError("zstd stream has data that is not a zstd frame")
        elif state == "skippable":
            self._skip = int.from_bytes(chunk, "little")
            self._state, self._need = "magic", 4
        elif state == "fhd":
            fhd = chunk[0]
            if fhd & 0x08:
                raise LayerError("zstd frame header has the reserved bit set")
            single = (fhd >> 5) & 1
            fcs = (1 if single else 0, 2, 4, 8)[fhd >> 6]
            rest = (0 if single else 1) + (0, 1, 2, 4)[fhd & 3] + fcs
            self._checksum = bool((fhd >> 2) & 1)
            if rest:
                self._state, self._need = "header", rest
            else:
                self._state, self._need = "block", 3
        elif state == "header":
            self._state, self._need = "block", 3
        elif state == "block":
            header = int.from_bytes(chunk, "little")
            last, kind, size = header & 1, (header >> 1) & 3, header >> 3
            if kind == 3:
                raise LayerError("zstd block of reserved type")
            self._skip = 1 if kind == 1 else size
            if last:
                if self._checksum:
                    self._state, self._need = "checksum", 4
                else:
                    self._frame_done()
        elif state == "checksum":
            self._frame_done()

    def _frame_done(self) -> None:
        self._frames += 1
        self._state, self._need = "magic", 4

    def finish(self) -> None:
        if self._skip or self._pending or self._state != "magic":
            raise LayerError("zstd stream is truncated (ends inside a frame)")
        if not self._frames:
            raise LayerError("zstd stream has no frame")


class _FrameChecked(io.RawIOBase):
    """Passes compressed bytes to the decompressor while the frame walker checks their structure."""

    def __init__(self, source: io.RawIOBase, frames: _ZstdFrames) -> None:
        self._source = source
        self._frames = frames

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size) or b""
        self._frames.feed(data)
        return data

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)


class _ReadOne:
    """Reads in small steps: a gzip reader that fails mid-read loses what it decoded in that read."""

    def __init__(self, inner: igzip.IGzipFile) -> None:
        self._inner = inner

    def read(self, size: int = -1, /) -> bytes:
        return self._inner.read1(min(size, 1 << 16) if size >= 0 else 1 << 16)


class _Guarded(io.RawIOBase):
    """Turns a decompressor's own exceptions into a one-line LayerError, raised at read time."""

    def __init__(self, inner: Readable, kind: str, frames: _ZstdFrames | None = None) -> None:
        self._inner = inner
        self._kind = kind
        self._frames = frames
        self._done = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1, /) -> bytes:
        # Overridden (not only readinto) so a large read costs no buffer allocation and copy.
        if size < 0:
            return self.readall()
        if self._done:
            return b""
        try:
            data = self._inner.read(size)
        except LayerError:
            raise
        except _DECOMPRESS_ERRORS as e:
            message = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise LayerError(f"corrupt {self._kind} data: {message}") from None
        if not data:
            self._done = True
            if self._frames is not None:
                self._frames.finish()
        return data

    def readall(self) -> bytes:
        parts = []
        while data := self.read(_BUFFER):
            parts.append(data)
        return b"".join(parts)

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)


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


def decompressing_reader(raw: Readable) -> tuple[BinaryIO, str]:
    """Pick gzip, zstd or none by the first bytes; returns (reader of uncompressed bytes, compression)."""
    head = read_up_to(raw, 4)
    source = Prefixed(head, raw)
    if head.startswith(GZIP_MAGIC):
        gz = igzip.IGzipFile(fileobj=source, mode="rb")  # type: ignore[no-untyped-call]
        # Unbuffered on purpose: what was decoded before an error still reaches the caller.
        return cast(BinaryIO, _Guarded(_ReadOne(gz), "gzip")), "gzip"
    if head == ZSTD_MAGIC:
        frames = _ZstdFrames()
        checked = _FrameChecked(source, frames)
        reader = zstandard.ZstdDecompressor().stream_reader(
            cast(IO[bytes], checked), read_size=1 << 17, read_across_frames=True
        )
        return cast(BinaryIO, _Guarded(reader, "zstd", frames)), "zstd"
    return io.BufferedReader(source, _BUFFER), "none"
