"""The one place for decompression: readers that know where each stream ends (gzip, zstd, xz, lzma, bzip2,
lz4, zlib), byte meters with the bomb rule, and the metered copy the outer archive uses."""

from __future__ import annotations

import bz2
import hashlib
import io
import lzma
from dataclasses import dataclass
from typing import IO, BinaryIO, cast

import lz4.frame
from isal import igzip_lib

from scanner.decompress.base import BUFFER, SIDE_MAX, Decoder, Prefixed, Readable, one_line, read_up_to
from scanner.decompress.members import Gzip, Members, inflate
from scanner.decompress.zstd import Zstd
from scanner.errors import LimitError
from scanner.sniff import compression_kind

__all__ = [
    "SIDE_MAX",
    "BombRule",
    "Decoder",
    "Meter",
    "Prefixed",
    "Readable",
    "copy_decompressed",
    "decompressing_reader",
    "one_line",
    "open_compressed",
    "read_up_to",
]


def open_compressed(kind: str, raw: Readable) -> Decoder:
    """A reader of the uncompressed bytes of `raw`, compressed as `kind` (see sniff.COMPRESSIONS)."""
    if kind == "gzip":
        return Gzip(raw)
    if kind == "zstd":
        return Zstd(raw)
    if kind == "xz":
        return Members(raw, kind, lambda: lzma.LZMADecompressor(lzma.FORMAT_XZ), concatenated=True)
    if kind == "lzma":
        return Members(raw, kind, lambda: lzma.LZMADecompressor(lzma.FORMAT_ALONE), concatenated=False)
    if kind == "bzip2":
        return Members(raw, kind, bz2.BZ2Decompressor, concatenated=True)
    if kind == "lz4":
        return Members(raw, kind, lz4.frame.LZ4FrameDecompressor, concatenated=True)
    if kind == "zlib":
        return Members(raw, kind, lambda: inflate(igzip_lib.DECOMP_ZLIB), concatenated=False)
    raise ValueError(f"unknown compression {kind!r}")


def decompressing_reader(raw: Readable) -> tuple[BinaryIO, str]:
    """Pick the decompression by the first bytes; returns (reader of uncompressed bytes, compression)."""
    head = read_up_to(raw, 16)
    source = Prefixed(head, raw)
    kind = compression_kind(head)
    if kind is None:
        return io.BufferedReader(source, BUFFER), "none"
    return cast(BinaryIO, open_compressed(kind, source)), kind


@dataclass(frozen=True)
class BombRule:
    """How far a decompressed stream may grow: a cap, and a ratio that past `floor` bytes marks a bomb."""

    max_bytes: int
    max_ratio: int
    floor: int

    def check(self, out: int, compressed: int | None, what: str) -> None:
        """LimitError when `out` expanded bytes (from `compressed` input bytes, if known) break the rule."""
        if out > self.max_bytes:
            raise LimitError(f"{what} is larger than the {self.max_bytes}-byte limit; rest not read")
        if compressed is not None and out > self.floor and out > self.max_ratio * max(compressed, 1):
            raise LimitError(
                f"{what} expands more than {self.max_ratio}x ({compressed} bytes to over {out}): "
                "likely a decompression bomb; rest not read"
            )


class Meter:
    """Counts (and optionally hashes) every byte read through it; with a rule, enforces its cap and, against
    the meter of the compressed input, its expansion ratio."""

    def __init__(
        self,
        inner: Readable,
        *,
        hashing: bool = True,
        what: str = "",
        rule: BombRule | None = None,
        source: Meter | None = None,
    ) -> None:
        self._inner = inner
        self._hash = hashlib.sha256() if hashing else None
        self._what = what
        self._rule = rule
        self._source = source
        self.count = 0

    def read(self, size: int = -1, /) -> bytes:
        data = self._inner.read(size)
        if self._hash is not None:
            self._hash.update(data)
        self.count += len(data)
        if self._rule is not None:
            self._rule.check(self.count, None if self._source is None else self._source.count, self._what)
        return data

    def digest(self) -> str:
        assert self._hash is not None
        return "sha256:" + self._hash.hexdigest()


def copy_decompressed(raw: Readable, dst: IO[bytes], rule: BombRule, what: str) -> str:
    """Copy `raw` to `dst`, decompressed by its magic bytes, under the same bomb rule as layers; returns
    the compression ("none" for plain bytes). A corrupt or cut stream or a bomb raises LayerError."""
    compressed = Meter(raw, hashing=False)
    reader, kind = decompressing_reader(compressed)
    out = Meter(reader, hashing=False, what=what, rule=rule, source=None if kind == "none" else compressed)
    while chunk := out.read(BUFFER):
        dst.write(chunk)
    return kind
