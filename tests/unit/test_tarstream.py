"""The streaming tar reader gives what tarfile "r|" gives on ordinary tars, reads numbers and PAX records
as Go's archive/tar does (tests/differential checks it against real Go), and fails loudly on broken tars."""

from __future__ import annotations

import io
import random
import tarfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.errors import LayerError, LimitError
from scanner.tarheader import parse_pax
from scanner.tarstream import TarStream, parse_number

FORMATS = {"ustar": tarfile.USTAR_FORMAT, "gnu": tarfile.GNU_FORMAT, "pax": tarfile.PAX_FORMAT}


class Trickle:
    """A stream that returns short reads of random length, like a pipe or a decompressor."""

    def __init__(self, data: bytes, seed: int) -> None:
        self._data = io.BytesIO(data)
        self._rng = random.Random(seed)

    def read(self, size: int = -1, /) -> bytes:
        if size < 0:
            return self._data.read()
        return self._data.read(max(1, min(size, self._rng.randint(1, 3000))))


def ours(
    data: bytes, seed: int | None = None, chunk: int = 1 << 20
) -> list[tuple[str, bytes, int, str, bytes | None]]:
    stream = io.BytesIO(data) if seed is None else Trickle(data, seed)
    tar = TarStream(stream, chunk=chunk)
    out = []
    for entry in tar:
        body = None
        if entry.isreg():
            parts = []
            while piece := tar.read(777):
                parts.append(piece)
            body = b"".join(parts)
        out.append((entry.name, entry.type, entry.size, entry.linkname, body))
    return out


def reference(data: bytes) -> list[tuple[str, bytes, int, str, bytes | None]]:
    out = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|") as tar:
        for info in tar:
            body = None
            if info.isreg():
                handle = tar.extractfile(info)
                assert handle is not None
                body = handle.read()
            out.append((info.name, info.type, info.size, info.linkname, body))
    return out


def build(entries: list[tuple[str, str, bytes | str, int]], fmt: int) -> bytes:
    """entries: (name, kind, data-or-linkname, uid) with kind in file/dir/symlink/hardlink/fifo."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for name, kind, payload, uid in entries:
            info = tarfile.TarInfo(name)
            info.uid = uid
            info.mtime = 1_700_000_000
            if kind == "file":
                assert isinstance(payload, bytes)
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
                continue
            info.type = {
                "dir": tarfile.DIRTYPE,
                "symlink": tarfile.SYMTYPE,
                "hardlink": tarfile.LNKTYPE,
                "fifo": tarfile.FIFOTYPE,
            }[kind]
            if kind in ("symlink", "hardlink"):
                assert isinstance(payload, str)
                info.linkname = payload
            tar.addfile(info)
    return buf.getvalue()


VARIED = [
    ("etc/app/config.ini", "file", b"[main]\nkey = value\n", 0),
    ("./relative/dot.txt", "file", b"x" * 511, 0),
    ("/absolute/name", "file", b"y" * 513, 0),
    ("empty", "file", b"", 0),
    ("dir/sub", "dir", b"", 0),
    ("dir/sub/slash/", "dir", b"", 0),
    ("unicode/caf\u00e9/\u65e5\u672c.txt", "file", "h\u00e9llo".encode(), 0),
    ("link-to-config", "symlink", "etc/app/config.ini", 0),
    ("hard-to-config", "hardlink", "etc/app/config.ini", 0),
    ("a" * 60 + "/" + "b" * 90 + "/c.txt", "file", b"in a ustar prefix", 0),
    ("odd/size", "file", bytes(range(256)) * 7 + b"tail", 0),
    ("big", "file", bytes(random.Random(1).randbytes(3 * 1024 * 1024 + 5)), 0),
    ("fifo", "fifo", b"", 0),
]
LONG = [
    ("long/" + "n" * 250 + ".txt", "file", b"long name", 0),
    ("longlink", "symlink", "t" * 300, 0),
    ("longhard", "hardlink", "long/" + "n" * 250 + ".txt", 0),
    ("bigid", "file", b"uid beyond octal", 9_000_000_000),
]


@pytest.mark.parametrize("fmt", FORMATS.values(), ids=FORMATS.keys())
def test_members_match_tarfile_for_varied_tar(fmt: int) -> None:
    data = build(VARIED + (LONG if fmt != tarfile.USTAR_FORMAT else []), fmt)
    expected = reference(data)
    assert len(expected) == len(VARIED) + (len(LONG) if fmt != tarfile.USTAR_FORMAT else 0)
    assert ours(data) == expected
    assert ours(data, seed=3, chunk=4096) == expected


def test_gnu_long_name_and_pax_long_linkpath_survive_short_reads() -> None:
    for fmt in (tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        data = build(LONG, fmt)
        assert ours(data, seed=11, chunk=600) == reference(data)


def test_pax_record_text_is_kept_for_scanning() -> None:
    data = build([("p" * 200, "file", b"x", 0)], tarfile.PAX_FORMAT)
    tar = TarStream(io.BytesIO(data))
    entry = tar.next()
    assert entry is not None
    assert entry.name == "p" * 200
    assert len(entry.pax_records) == 1 and b"path=" + b"p" * 200 in entry.pax_records[0]


segment = st.text(
    alphabet=st.sampled_from("abcXYZ019-_. \u00e9\u00fc\u65e5\U0001f600"), min_size=1, max_size=40
).filter(lambda s: s not in (".", ".."))
names = st.lists(segment, min_size=1, max_size=8).map("/".join)
entry_st = st.tuples(
    names,
    st.sampled_from(["file", "file", "file", "dir", "symlink", "hardlink"]),
    st.binary(max_size=2000),
    st.sampled_from([0, 1000, 2**21 + 5]),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    entries=st.lists(entry_st, max_size=12),
    fmt=st.sampled_from([tarfile.GNU_FORMAT, tarfile.PAX_FORMAT]),
    seed=st.integers(0, 1000),
)
def test_property_members_match_tarfile(
    entries: list[tuple[str, str, bytes, int]], fmt: int, seed: int
) -> None:
    built = []
    for name, kind, data, uid in entries:
        payload: bytes | str = data if kind == "file" else name[::-1]
        built.append((name, kind, payload, uid))
    tar = build(built, fmt)
    assert ours(tar, seed=seed, chunk=1024) == reference(tar)


def test_truncated_tar_is_a_one_line_layer_error() -> None:
    data = build([("f", "file", b"z" * 5000, 0)], tarfile.PAX_FORMAT)
    with pytest.raises(LayerError, match="truncated") as caught:
        ours(data[:2000])
    assert "\n" not in str(caught.value)


def test_bad_checksum_is_a_layer_error() -> None:
    data = bytearray(build([("f", "file", b"z", 0), ("g", "file", b"q", 0)], tarfile.USTAR_FORMAT))
    data[1024 + 3] ^= 0x20  # a byte of the second member's name
    with pytest.raises(LayerError, match="checksum"):
        ours(bytes(data))


def test_pax_header_beyond_limit_raises_limit_error() -> None:
    data = build([("x" * 5000, "file", b"1", 0)], tarfile.PAX_FORMAT)
    with pytest.raises(LimitError):
        list(TarStream(io.BytesIO(data), max_header_bytes=1000))


def test_stream_without_end_blocks_is_flagged() -> None:
    data = build([("f", "file", b"z", 0)], tarfile.USTAR_FORMAT)
    tar = TarStream(io.BytesIO(data[:1024]))
    assert [e.name for e in tar] == ["f"]
    assert tar.eof_without_marker


def test_end_blocks_and_padding_are_returned_as_rest() -> None:
    data = build([("f", "file", b"z", 0)], tarfile.USTAR_FORMAT) + b"TRAILER"
    tar = TarStream(io.BytesIO(data))
    list(tar)
    rest = b"".join(tar.rest())
    assert rest.endswith(b"TRAILER") and rest.count(0) == len(rest) - len(b"TRAILER")
    assert tar.position == len(data)


def test_gnu_sparse_member_is_flagged_and_its_stored_bytes_kept_in_sync() -> None:
    data = build([("sparse", "file", b"abc", 0), ("after", "file", b"next", 0)], tarfile.GNU_FORMAT)
    header = bytearray(data[:512])
    header[156:157] = b"S"
    header[148:156] = b" " * 8
    header[148:155] = b"%06o\0" % sum(header) + b" "[:0]
    data = bytes(header) + data[512:]
    tar = TarStream(io.BytesIO(data))
    first = tar.next()
    assert first is not None and first.sparse and tar.read_all() == b"abc"
    second = tar.next()
    assert second is not None and second.name == "after" and tar.read_all() == b"next"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (b"0000644\0", 0o644),
        (b"\00000644", 0o644),  # a leading NUL: Go and GNU tar read the digits after it (tarfile: 0)
        (b"   644 \0", 0o644),
        (b"644\0junk", 0o644),
        (b"\0" * 8, 0),
        (b"\x80" + (5).to_bytes(7, "big"), 5),
        (b"\x81" + bytes(7), 1 << 56),  # base-256 with value bits in the first byte (tarfile: error)
        (b"\xff" * 8, -1),
        (b"\xc0" + bytes(6) + b"\x01", -(1 << 62) + 1),
    ],
)
def test_numbers_are_parsed_as_go_parses_them(field: bytes, value: int) -> None:
    assert parse_number(field) == value


@pytest.mark.parametrize(
    "field", [b"64 4\0", b"0000648\0", b"+644\0", b"\t644\0", b"0o644\0", b"6_44\0", b"\xbf" * 12]
)
def test_invalid_numbers_are_layer_errors(field: bytes) -> None:
    with pytest.raises(LayerError):
        parse_number(field)


def test_pax_records_are_parsed_strictly() -> None:
    assert parse_pax(b"11 path=ab\n17 comment=a=b\nc\n") == {"path": "ab", "comment": "a=b\nc"}
    for bad in (
        b"11 path=ab\nJUNK",
        b"10 path=ab\n",
        b"4 a=\n",
        b"9 =value\n",
        b"13 path=a\0b\n",
        b"x path=a\n",
    ):
        with pytest.raises(LayerError):
            parse_pax(bad)


def test_global_header_is_an_entry_that_renames_nothing() -> None:
    buf = io.BytesIO()
    with tarfile.open(
        fileobj=buf, mode="w", format=tarfile.PAX_FORMAT, pax_headers={"comment": "built by a test"}
    ) as tar:
        info = tarfile.TarInfo("f")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"1"))
    entries = list(TarStream(io.BytesIO(buf.getvalue())))
    assert [(e.type, e.pax_global, e.has_data) for e in entries] == [(b"g", True, False), (b"0", False, True)]
    assert b"comment=built by a test" in entries[0].pax_records[0]
