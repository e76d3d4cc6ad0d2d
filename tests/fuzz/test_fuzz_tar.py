"""Fuzz target: TarStream on mutated tars. A LayerError is an answer; any other exception is a crash."""

from __future__ import annotations

import io
import tarfile

import pytest
from hypothesis import given

from scanner.errors import LayerError
from scanner.tarstream import TarStream
from tests.differential.tarcraft import Header, end, extension, member, pax
from tests.fuzz.mutate import fuzz_settings, mutated

pytestmark = pytest.mark.fuzz


def _tarfile_seed(fmt: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt, pax_headers={"comment": "seed"}) as tar:
        for name, size in (("etc/passwd", 40), ("d" * 120 + "/long", 700), ("empty", 0)):
            info = tarfile.TarInfo(name)
            info.size = size
            tar.addfile(info, io.BytesIO(b"s" * size))
        link = tarfile.TarInfo("link")
        link.type, link.linkname = tarfile.SYMTYPE, "etc/passwd"
        tar.addfile(link)
    return buf.getvalue()


SEEDS = [
    _tarfile_seed(tarfile.USTAR_FORMAT),
    _tarfile_seed(tarfile.GNU_FORMAT),
    _tarfile_seed(tarfile.PAX_FORMAT),
    pax({b"path": b"p", b"size": b"3"}) + member(Header(b"h", size=3), b"abc") + end(),
    extension(b"L", b"long/name\0")
    + member(Header(b"x", magic="gnu", size=5, size_style="base256"), b"12345"),
    member(Header(b"sparse", b"S", magic="gnu", size=4), b"data") + end(1),
]


def drain(data: bytes) -> None:
    tar = TarStream(io.BytesIO(data), max_header_bytes=64 * 1024, chunk=1024)
    last = -1
    try:
        for entry in tar:
            assert (entry.offset > last and entry.size >= 0) or not entry.has_data
            last = entry.offset
            while tar.read(4096):
                pass
        b"".join(tar.rest())
    except LayerError as e:
        assert "\n" not in str(e)


@pytest.mark.parametrize("seed", range(len(SEEDS)))
def test_seeds_read(seed: int) -> None:
    drain(SEEDS[seed])


@fuzz_settings
@given(mutated(SEEDS))
def test_fuzz_tarstream(data: bytes) -> None:
    drain(data)
