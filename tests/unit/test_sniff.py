"""Magic bytes: every format imgscan opens is told by its first bytes, and ordinary text is not mistaken."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import struct
import tarfile
import zlib

import lz4.frame
import pytest
import zstandard

from scanner.sniff import archive_kind, compression_kind, is_tar, layer_kind, utf32_codec
from tests.unit.layerfix import tar_bytes, zip_bytes

PAYLOAD = b"some payload " * 100


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (gzip.compress(PAYLOAD), "gzip"),
        (zstandard.ZstdCompressor().compress(PAYLOAD), "zstd"),
        (struct.pack("<II", 0x184D2A50, 4) + b"meta" + zstandard.ZstdCompressor().compress(PAYLOAD), "zstd"),
        (lzma.compress(PAYLOAD), "xz"),
        (lzma.compress(PAYLOAD, format=lzma.FORMAT_ALONE), "lzma"),
        (bz2.compress(PAYLOAD), "bzip2"),
        (lz4.frame.compress(PAYLOAD), "lz4"),
    ],
)
def test_every_compression_is_told_by_its_first_bytes(data: bytes, kind: str) -> None:
    assert compression_kind(data[:512]) == kind
    assert archive_kind(data[:512]) == kind


def test_archives_are_told_apart_from_plain_content() -> None:
    assert archive_kind(zip_bytes([("a", b"b")])[:512]) == "zip"
    assert archive_kind(tar_bytes([("a", b"b")])[:512]) == "tar"
    assert archive_kind(zlib.compress(PAYLOAD)[:512]) == "zlib"
    assert archive_kind(b"PACK\0\0\0\x02\0\0\0\x01") == "gitpack"
    for text in (b"plain text\n" * 50, b"BZh not bzip2", b"PACK of cards", b"#!/bin/sh\n", bytes(512)):
        assert archive_kind(text[:512]) is None, text[:20]


def test_an_old_v7_tar_is_known_by_its_checksum() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("etc/passwd")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"root"))
    block = bytearray(buf.getvalue()[:512])
    block[257:265] = bytes(8)  # no ustar magic and version: a v7 header
    block[148:156] = b"        "
    block[148:156] = b"%06o\0 " % (sum(block) & 0o777777)
    assert is_tar(bytes(block))
    block[0:1] = b"X"  # the checksum no longer matches
    assert not is_tar(bytes(block))


def test_a_zip_after_other_bytes_is_found_by_its_end_record() -> None:
    data = b"#!/bin/bash\nexec java -jar $0\n" * 50 + zip_bytes([("a", b"b")])
    assert archive_kind(data[:512]) is None
    assert archive_kind(data[:512], data) == "zip"
    assert archive_kind(b"#!/bin/sh\n" * 60, b"#!/bin/sh\n" * 60) is None


def test_utf32_text_is_recognised_with_and_without_a_byte_order_mark() -> None:
    assert utf32_codec("a secret value".encode("utf-32")) == "utf-32"
    assert utf32_codec("a secret value".encode("utf-32-le")) == "utf-32-le"
    assert utf32_codec("a secret value".encode("utf-32-be")) == "utf-32-be"
    assert utf32_codec("a secret value".encode("utf-16-le")) is None
    assert utf32_codec(bytes(64)) is None


def test_only_tars_and_compressed_streams_look_like_layer_blobs() -> None:
    assert layer_kind(tar_bytes([("a", b"b")])[:512]) == "tar"
    assert layer_kind(gzip.compress(PAYLOAD)[:512]) == "gzip"
    assert layer_kind(zip_bytes([("a", b"b")])[:512]) is None
    assert layer_kind(zlib.compress(PAYLOAD)[:512]) is None
    assert layer_kind(b'{"config": {}}') is None
