"""No silent loss at boundaries: bytes after a tar's end, after a compressed member, in container and header
fields and in tar padding all reach the detectors, or the layer says it did not read them."""

from __future__ import annotations

import gzip
import io
import struct
import subprocess
import tarfile
from pathlib import Path

import pytest
import zstandard

from scanner.layer import HEADER_FIELDS_PATH, TRAILING_PATH, Limits, walk_layer
from tests.unit.layerfix import Recorder, gz, make_layer, sha, tar_bytes, zst

FAKE_TOKEN = b"ghp_" + b"FAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE"


def walk(tmp_path: Path, blob: bytes, limits: Limits | None = None):  # type: ignore[no-untyped-def]
    recorder = Recorder()
    summary = walk_layer(make_layer(tmp_path, blob), limits or Limits(spool_dir=str(tmp_path)), recorder)
    return summary, recorder


def _all_bytes(rec: Recorder) -> bytes:
    return b"".join(c.data for _, c in rec.contents) + b"".join(d for _, d in rec.header_fields)


@pytest.mark.parametrize("extra", [0, 1, 2, 5000])
def test_trailing_data_longer_than_a_window_is_scanned_to_its_last_byte(tmp_path: Path, extra: int) -> None:
    limits = Limits(window=4096, overlap=64, spool_dir=str(tmp_path))
    trailing = b"t" * (4096 + extra - len(FAKE_TOKEN)) + FAKE_TOKEN
    summary, rec = walk(tmp_path, tar_bytes([("f", b"x")]) + trailing, limits)
    assert rec.data_of(TRAILING_PATH) == [trailing]
    assert summary.complete and summary.diff_id


def test_a_second_gzip_member_after_the_layer_tar_is_read_and_scanned(tmp_path: Path) -> None:
    tar = tar_bytes([("f", b"x")])
    hidden = tar_bytes([("hidden/.env", b"TOKEN=" + FAKE_TOKEN)])
    summary, rec = walk(tmp_path, gz(tar) + gz(hidden))
    assert rec.data_of(TRAILING_PATH, "<trailing bytes>!hidden/.env") == [b"TOKEN=" + FAKE_TOKEN]
    assert summary.complete and summary.diff_id == sha(tar + hidden)


def test_data_after_a_nested_tar_inside_a_tgz_is_scanned(tmp_path: Path) -> None:
    inner = tar_bytes([("a", b"1")]) + b"appended after the end blocks " + FAKE_TOKEN
    _, rec = walk(tmp_path, tar_bytes([("x.tgz", gz(inner))]))
    [data] = rec.data_of("x.tgz", f"x.tgz!{TRAILING_PATH}")
    assert data.endswith(FAKE_TOKEN)


def test_gzip_header_name_comment_and_extra_field_are_scanned(tmp_path: Path) -> None:
    body = gzip.compress(tar_bytes([("f", b"x")]))
    flags = 4 | 8 | 16
    extra = b"XY" + struct.pack("<H", 10) + b"extra-data"
    header = b"\x1f\x8b\x08" + bytes([flags]) + body[4:10] + struct.pack("<H", len(extra)) + extra
    blob = header + b"name-" + FAKE_TOKEN + b"\0" + b"a comment\0" + body[10:]
    summary, rec = walk(tmp_path, blob)
    assert rec.data_of("<gzip header file name>") == [b"name-" + FAKE_TOKEN]
    assert rec.data_of("<gzip header comment>") == [b"a comment"]
    assert rec.data_of("<gzip header extra field>") == [extra]
    assert summary.complete


def test_a_zstd_layer_starting_with_a_skippable_frame_is_read_and_the_frame_scanned(
    tmp_path: Path,
) -> None:
    tar = tar_bytes([("etc/app.conf", b"k=v")])
    skippable = struct.pack("<II", 0x184D2A50, len(FAKE_TOKEN)) + FAKE_TOKEN
    summary, rec = walk(tmp_path, skippable + zst(tar))
    assert summary.compression == "zstd" and summary.complete
    assert rec.data_of("etc/app.conf") == [b"k=v"]
    assert rec.data_of("<zstd skippable frame>") == [FAKE_TOKEN]
    assert summary.diff_id == sha(tar)


def test_a_layer_written_by_pzstd_is_read(tmp_path: Path) -> None:
    tar = tar_bytes([(f"d/f{i}", bytes([i]) * 5000) for i in range(50)])
    blob = subprocess.run(["pzstd", "-q", "-c", "-p", "2"], input=tar, capture_output=True, check=True).stdout
    summary, rec = walk(tmp_path, blob)
    assert summary.complete and summary.diff_id == sha(tar)
    assert rec.data_of("d/f7") == [bytes([7]) * 5000]


def test_names_link_targets_and_owner_names_reach_the_detectors(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("conf/" + FAKE_TOKEN.decode()[:60])
        info.uname, info.gname = "deploy-" + FAKE_TOKEN.decode()[4:20], "staff"
        tar.addfile(info, io.BytesIO(b""))
        link = tarfile.TarInfo("hard")
        link.type, link.linkname = tarfile.LNKTYPE, "target-" + FAKE_TOKEN.decode()[:40]
        tar.addfile(link)
    _, rec = walk(tmp_path, buf.getvalue())
    [(member, fields)] = rec.header_fields
    assert member.path == HEADER_FIELDS_PATH and member.kind == "other"
    assert FAKE_TOKEN in fields
    assert b"deploy-" + FAKE_TOKEN[4:20] in fields and b"staff" in fields
    assert b"target-" + FAKE_TOKEN[:40] in fields


def test_non_zero_tar_padding_is_scanned(tmp_path: Path) -> None:
    blob = bytearray(tar_bytes([("f", b"abc"), ("g", b"d")]))
    at = blob.index(b"abc") + 3
    blob[at : at + len(FAKE_TOKEN)] = FAKE_TOKEN
    summary, rec = walk(tmp_path, bytes(blob))
    assert rec.data_of("f") == [b"abc"] and rec.data_of("g") == [b"d"]
    assert FAKE_TOKEN in _all_bytes(rec)
    assert summary.complete


def test_zero_padding_and_plain_headers_add_no_owner_or_padding_text(tmp_path: Path) -> None:
    _, rec = walk(tmp_path, tar_bytes([("a/b", b"x"), ("c", b"y")]))
    [(_, fields)] = rec.header_fields
    assert fields == b"a/b\nc\n"


def test_a_cut_zstd_stream_after_a_skippable_frame_is_inconclusive(tmp_path: Path) -> None:
    skippable = struct.pack("<II", 0x184D2A5F, 4) + b"meta"
    data = zstandard.ZstdCompressor().compress(tar_bytes([("f", bytes(range(256)) * 200)]))
    summary, _ = walk(tmp_path, skippable + data[: len(data) // 2])
    assert not summary.complete and any("zstd" in p.what for p in summary.problems)


def test_garbage_after_a_gzip_member_is_inconclusive(tmp_path: Path) -> None:
    summary, _ = walk(tmp_path, gz(tar_bytes([("f", b"x")])) + b"not gzip at all")
    assert not summary.complete and any("gzip" in p.what for p in summary.problems)
