"""The save-stream spool announces each layer-like blob, where it lies, once its bytes are on disk."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.blob import BlobLocation
from scanner.sources.archive import TarStore
from scanner.sources.spool import SpoolWriter


def _layer_tar(name: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = os.urandom(3000)
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _save_stream() -> tuple[bytes, list[tuple[int, int]]]:
    """A docker-save-like tar: JSON, a plain layer tar, a gzip layer, a long-named layer, a symlink."""
    members = [
        ("manifest.json", b'[{"Config": "c.json"}]' * 50),
        ("aaa/layer.tar", _layer_tar("etc/a")),
        ("blobs/sha256/" + "b" * 64, gzip.compress(_layer_tar("etc/b"), mtime=0)),
        ("x" * 120 + "/layer.tar", _layer_tar("etc/c")),  # a long name: a PAX or GNU header first
        ("c.json", b"{}" * 600),
    ]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("ddd/layer.tar")
        link.type, link.linkname = tarfile.SYMTYPE, "../aaa/layer.tar"
        tar.addfile(link)
    stream = buf.getvalue()
    with tarfile.open(fileobj=io.BytesIO(stream)) as tar:
        expected = [
            (m.offset_data, m.size)
            for m in tar.getmembers()
            if m.isreg() and (m.name.endswith("layer.tar") or m.name.startswith("blobs/"))
        ]
    return stream, expected


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(min_value=1, max_value=9000), min_size=1, max_size=30))
def test_every_layer_blob_is_announced_at_its_offset_whatever_the_chunking(cuts: list[int]) -> None:
    stream, expected = _save_stream()
    out = io.BytesIO()
    seen: list[BlobLocation] = []
    writer = SpoolWriter(out, "/spool/save.tar", seen.append)
    pos = 0
    for cut in cuts:
        writer.write(stream[pos : pos + cut])
        pos += cut
    writer.write(stream[pos:])
    assert out.getvalue() == stream
    assert [(loc.offset, loc.size) for loc in seen] == expected
    assert {loc.path for loc in seen} == {"/spool/save.tar"}


def test_a_blob_is_announced_only_after_its_bytes_are_written(tmp_path: Path) -> None:
    stream, expected = _save_stream()
    path = tmp_path / "save.tar"
    checked: list[int] = []
    with open(path, "wb") as fh:

        def check(loc: BlobLocation) -> None:
            with open(path, "rb") as again:  # another reader, as a worker process would be
                again.seek(loc.offset)
                assert again.read(loc.size) == stream[loc.offset : loc.offset + loc.size]
            checked.append(loc.offset)

        writer = SpoolWriter(fh, str(path), check)
        for i in range(0, len(stream), 700):
            writer.write(stream[i : i + 700])
    assert checked == [offset for offset, _ in expected]
    assert path.read_bytes() == stream


def test_garbage_stops_the_announcements_but_not_the_spool() -> None:
    out = io.BytesIO()
    seen: list[BlobLocation] = []
    writer = SpoolWriter(out, "x", seen.append)
    junk = b"not a tar header at all " * 100
    writer.write(junk)
    assert out.getvalue() == junk and seen == []


def test_announced_blobs_lie_where_the_outer_archive_reader_finds_them(tmp_path: Path) -> None:
    stream, _ = _save_stream()
    path = tmp_path / "save.tar"
    seen: list[BlobLocation] = []
    with open(path, "wb") as fh:
        SpoolWriter(fh, str(path), seen.append).write(stream)
    store = TarStore(path, "save")

    located = [store.locate(n) for n in store.names() if n.endswith("layer.tar") or n.startswith("blobs/")]

    assert seen == list(dict.fromkeys(loc for loc in located if loc is not None))  # the symlink: once


def test_a_negative_base256_size_stops_the_announcements() -> None:
    block = bytearray(tarfile.TarInfo("aaa/layer.tar").tobuf(tarfile.USTAR_FORMAT))
    block[124:136] = b"\xff" * 12  # base-256 -1: Go's reader refuses it, so does the tar reader
    block[148:156] = b"        "
    block[148:156] = f"{sum(block):06o}\0 ".encode()
    out = io.BytesIO()
    seen: list[BlobLocation] = []
    writer = SpoolWriter(out, "x", seen.append)

    writer.write(bytes(block) + _layer_tar("etc/a"))

    assert seen == [] and writer.ended
