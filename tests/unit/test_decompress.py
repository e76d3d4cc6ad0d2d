"""Blob readers: exact byte ranges, compression by magic bytes, corrupt input as a one-line LayerError."""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path

import pytest
import zstandard

from scanner.blob import BlobLocation
from scanner.decompress import decompressing_reader
from scanner.errors import LayerError

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
