"""A compressed layer that expands like a decompression bomb stops the walk: inconclusive, never a hang."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import zlib
from pathlib import Path

from scanner.blob import BlobLocation
from scanner.detectors.base import Content
from scanner.image import Layer
from scanner.layer import Limits, Member, walk_layer

MIB = 1 << 20


class _Quiet:
    def member(self, member: Member) -> None:
        pass

    def content(self, member: Member, content: Content) -> None:
        pass


def _gzip_layer(path: Path, file_bytes: bytes | None, zeros: int = 0) -> Layer:
    """A gzip layer holding one file: the given bytes, or `zeros` zero bytes streamed (never in memory)."""
    header = io.BytesIO()
    info = tarfile.TarInfo("data.bin")
    info.size = len(file_bytes) if file_bytes is not None else zeros
    header.write(info.tobuf(format=tarfile.USTAR_FORMAT))
    comp = zlib.compressobj(6, zlib.DEFLATED, 31)
    with open(path, "wb") as out:
        out.write(comp.compress(header.getvalue()))
        if file_bytes is not None:
            out.write(comp.compress(file_bytes))
        else:
            chunk = bytes(MIB)
            for _ in range(zeros // MIB):
                out.write(comp.compress(chunk))
        pad = -info.size % 512
        out.write(comp.compress(bytes(pad + 1024)))
        out.write(comp.flush())
    blob = path.read_bytes()
    return Layer(
        0,
        "sha256:" + hashlib.sha256(blob).hexdigest(),
        None,
        "gzip",
        len(blob),
        BlobLocation(str(path), 0, len(blob)),
    )


def test_a_layer_expanding_past_the_ratio_is_reported_as_a_bomb_and_not_read_further(tmp_path: Path) -> None:
    layer = _gzip_layer(tmp_path / "bomb.gz", None, zeros=200 * MIB)
    summary = walk_layer(layer, Limits(layer_bomb_floor=16 * MIB), _Quiet())
    assert not summary.complete
    assert any("decompression bomb" in p.what and p.inconclusive for p in summary.problems)
    assert summary.bytes < 200 * MIB


def test_an_ordinary_compressed_layer_is_not_mistaken_for_a_bomb(tmp_path: Path) -> None:
    layer = _gzip_layer(tmp_path / "random.gz", os.urandom(20 * MIB))
    summary = walk_layer(layer, Limits(layer_bomb_floor=1 * MIB), _Quiet())
    assert summary.complete, summary.problems
    assert summary.files == 1


def test_a_layer_past_the_size_cap_is_inconclusive_for_plain_and_compressed_blobs(tmp_path: Path) -> None:
    plain = tmp_path / "plain.tar"
    compressed = _gzip_layer(tmp_path / "c.gz", os.urandom(64 * 1024))
    with tarfile.open(plain, "w") as tar:
        info = tarfile.TarInfo("f")
        info.size = 64 * 1024
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    size = plain.stat().st_size
    for layer in (Layer(0, None, None, "tar", size, BlobLocation(str(plain), 0, size)), compressed):
        summary = walk_layer(layer, Limits(max_layer_bytes=16 * 1024), _Quiet())
        assert not summary.complete
        assert any("larger than the 16384-byte limit" in p.what and p.inconclusive for p in summary.problems)
