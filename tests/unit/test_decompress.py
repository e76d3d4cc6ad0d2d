"""Blob readers: exact byte ranges, compression by magic bytes, corrupt input as a one-line LayerError."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import zlib
from pathlib import Path

import lz4.frame
import pytest
import zstandard

from scanner.blob import BlobLocation
from scanner.decompress import BombRule, copy_decompressed, decompressing_reader, open_compressed
from scanner.errors import LayerError, LimitError

PAYLOAD = os.urandom(200_000) + b"compressible " * 50_000


def read_all(data: bytes) -> tuple[bytes, str]:
    reader, kind = decompressing_reader(io.BytesIO(data))
    return reader.read(), kind


def test_open_blob_reads_exactly_the_byte_range(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"head" + b"BLOB" * 1000 + b"tail")
    with BlobLocation(str(path), 4, 4000).open() as raw:
        assert raw.read() == b"BLOB" * 1000


def test_open_blob_on_a_short_file_is_a_layer_error(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    with BlobLocation(str(path), 50, 100).open() as raw, pytest.raises(LayerError, match="early"):
        raw.read()


def test_missing_blob_file_is_a_layer_error(tmp_path: Path) -> None:
    with pytest.raises(LayerError, match="cannot open"):
        BlobLocation(str(tmp_path / "nope"), 0, 1).open()


def test_plain_bytes_pass_through() -> None:
    assert read_all(b"plain tar bytes") == (b"plain tar bytes", "none")
    assert read_all(b"") == (b"", "none")


def test_multi_member_gzip_is_read_in_full() -> None:
    assert read_all(gzip.compress(PAYLOAD) + gzip.compress(b"second member")) == (
        PAYLOAD + b"second member",
        "gzip",
    )


def test_multi_frame_zstd_is_read_in_full() -> None:
    out = io.BytesIO()
    with zstandard.ZstdCompressor().stream_writer(out, closefd=False) as writer:
        for _ in range(3):
            writer.write(PAYLOAD)
            writer.flush(zstandard.FLUSH_FRAME)
    assert read_all(out.getvalue()) == (PAYLOAD * 3, "zstd")


@pytest.mark.parametrize("cut", [3, 100, -9])
def test_truncated_gzip_is_a_layer_error(cut: int) -> None:
    data = gzip.compress(PAYLOAD)
    with pytest.raises(LayerError, match="gzip") as caught:
        read_all(data[:cut])
    assert "\n" not in str(caught.value)


def test_corrupt_gzip_is_a_layer_error() -> None:
    data = bytearray(gzip.compress(PAYLOAD))
    data[200:260] = b"\xff" * 60
    with pytest.raises(LayerError, match="corrupt gzip"):
        read_all(bytes(data))


@pytest.mark.parametrize("level", [1, 19])
@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.999])
def test_truncated_zstd_is_a_layer_error_not_a_short_read(level: int, fraction: float) -> None:
    data = zstandard.ZstdCompressor(level=level, write_checksum=True).compress(PAYLOAD)
    with pytest.raises(LayerError, match="zstd"):
        read_all(data[: int(len(data) * fraction)])


def test_corrupt_zstd_is_a_layer_error() -> None:
    data = bytearray(zstandard.ZstdCompressor(write_checksum=True).compress(PAYLOAD))
    data[len(data) // 2 : len(data) // 2 + 40] = os.urandom(40)
    with pytest.raises(LayerError, match="zstd"):
        read_all(bytes(data))


def test_garbage_after_zstd_frames_is_a_layer_error() -> None:
    data = zstandard.ZstdCompressor().compress(PAYLOAD) + b"not a frame"
    with pytest.raises(LayerError, match="zstd"):
        read_all(data)


RULE = BombRule(max_bytes=64 << 20, max_ratio=100, floor=1 << 20)


@pytest.mark.parametrize("kind", ["gzip", "zstd", "xz", "bzip2", "lz4", "plain"])
def test_copy_decompressed_writes_the_uncompressed_bytes(kind: str) -> None:
    compress = {
        "gzip": gzip.compress,
        "zstd": zstandard.ZstdCompressor().compress,
        "xz": lzma.compress,
        "bzip2": bz2.compress,
        "lz4": lz4.frame.compress,
        "plain": lambda b: b,
    }[kind]
    out = io.BytesIO()
    got = copy_decompressed(io.BytesIO(compress(PAYLOAD)), out, RULE, "outer archive")
    assert out.getvalue() == PAYLOAD and got == ("none" if kind == "plain" else kind)


def test_copy_decompressed_stops_a_bomb_under_the_layer_rule() -> None:
    bomb = zstandard.ZstdCompressor(level=19).compress(bytes(32 << 20))
    out = io.BytesIO()
    with pytest.raises(LimitError, match="decompression bomb"):
        copy_decompressed(io.BytesIO(bomb), out, RULE, "outer archive")
    assert len(out.getvalue()) < 32 << 20


def test_copy_decompressed_of_a_cut_zstd_stream_is_an_error_not_a_short_copy() -> None:
    data = zstandard.ZstdCompressor().compress(PAYLOAD)
    with pytest.raises(LayerError, match="zstd"):
        copy_decompressed(io.BytesIO(data[:-7]), io.BytesIO(), RULE, "outer archive")


def test_a_gzip_member_with_a_wrong_crc_is_a_layer_error() -> None:
    data = bytearray(gzip.compress(PAYLOAD))
    data[-8] ^= 0xFF
    with pytest.raises(LayerError, match="checksum"):
        read_all(bytes(data))


@pytest.mark.parametrize("kind", ["xz", "bzip2", "lz4", "zlib"])
def test_other_compressions_report_a_cut_stream(kind: str) -> None:
    compress = {"xz": lzma.compress, "bzip2": bz2.compress, "lz4": lz4.frame.compress, "zlib": zlib.compress}
    data = compress[kind](PAYLOAD)
    with pytest.raises(LayerError, match=kind):
        open_compressed(kind, io.BytesIO(data[: len(data) // 2])).read()
