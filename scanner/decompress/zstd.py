"""The one zstd reader: frames read across, skippable frames kept, a stream cut inside a frame an error."""

from __future__ import annotations

from typing import IO, cast

import zstandard

from scanner.decompress.base import INPUT, SIDE_MAX, Decoder, RawReader, Readable
from scanner.errors import LayerError
from scanner.sniff import ZSTD_MAGIC, is_zstd_skippable


class _ZstdFrames:
    """Walks zstd frame and block headers of the compressed bytes to tell a complete stream from a cut one,
    and keeps what skippable frames hold (python-zstandard skips them, and ends silently mid-frame)."""

    def __init__(self, decoder: Decoder) -> None:
        self._decoder = decoder
        self._pending = bytearray()
        self._skip = 0
        self._keep: bytearray | None = None
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
                if self._keep is not None:
                    self._keep += data[pos : pos + min(step, SIDE_MAX - len(self._keep))]
                self._skip -= step
                pos += step
                if not self._skip:
                    self._skipped()
                continue
            take = min(self._need - len(self._pending), end - pos)
            self._pending += data[pos : pos + take]
            pos += take
            if len(self._pending) == self._need:
                chunk = bytes(self._pending)
                self._pending.clear()
                self._step(chunk)

    def _skipped(self) -> None:
        if self._keep is not None:
            self._decoder.add_side("zstd skippable frame", bytes(self._keep))
            self._keep = None

    def _step(self, chunk: bytes) -> None:
        state = self._state
        if state == "magic":
            if chunk == ZSTD_MAGIC:
                self._state, self._need = "fhd", 1
            elif is_zstd_skippable(chunk):
                self._state, self._need = "skippable", 4
            else:
                raise LayerError("zstd stream has data that is not a zstd frame")
        elif state == "skippable":
            self._skip = int.from_bytes(chunk, "little")
            if self._skip > SIDE_MAX:
                self._decoder.side_cut = True
            self._keep = bytearray()
            self._state, self._need = "magic", 4
            if not self._skip:
                self._skipped()
        elif state == "fhd":
            fhd = chunk[0]
            if fhd & 0x08:
                raise LayerError("zstd frame header has the reserved bit set")
            single = (fhd >> 5) & 1
            fcs = (1 if single else 0, 2, 4, 8)[fhd >> 6]
            rest = (0 if single else 1) + (0, 1, 2, 4)[fhd & 3] + fcs
            self._checksum = bool((fhd >> 2) & 1)
            self._state, self._need = ("header", rest) if rest else ("block", 3)
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


class _FrameChecked(RawReader):
    """Passes compressed bytes to the decompressor while the frame walker checks their structure."""

    def __init__(self, source: Readable, frames: _ZstdFrames) -> None:
        self._source = source
        self._frames = frames

    def read(self, size: int = -1, /) -> bytes:
        data = self._source.read(size) or b""
        self._frames.feed(data)
        return data


class Zstd(Decoder):
    """zstd frames, read across frames; skippable frames kept as side data; a cut frame is an error."""

    def __init__(self, raw: Readable) -> None:
        super().__init__("zstd")
        self._frames = _ZstdFrames(self)
        checked = _FrameChecked(raw, self._frames)
        self._reader = zstandard.ZstdDecompressor().stream_reader(
            cast(IO[bytes], checked), read_size=INPUT, read_across_frames=True
        )

    def _read(self, size: int) -> bytes:
        data = bytes(self._reader.read(size))
        if not data:
            self._frames.finish()
        return data
