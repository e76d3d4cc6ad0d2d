"""What a build can put in an image is opened: xz, lzma, bzip2, lz4 and zlib streams, zips after other bytes
or with entries the central directory does not list, git objects and packfiles, jars in jars, UTF-32 text."""

from __future__ import annotations

import bz2
import io
import lzma
import os
import zipfile
import zlib
from pathlib import Path

import lz4.frame
import pytest

from fixtures.buildfiles import git_dir_files, spring_boot_jar
from scanner.layer import Limits
from tests.unit.layerfix import Recorder, tar_bytes, zip_bytes
from tests.unit.layerfix import walk_files as walk

SECRET = b"password=FAKE-not-a-real-secret-1234"


def _inner_with(rec: Recorder, needle: bytes) -> set[tuple[str, str | None]]:
    return {(m.path, m.inner_path) for m, c in rec.contents if needle in c.data and m.inner_path}


@pytest.mark.parametrize(
    ("suffix", "compress"),
    [
        ("xz", lzma.compress),
        ("lzma", lambda b: lzma.compress(b, format=lzma.FORMAT_ALONE)),
        ("bz2", bz2.compress),
        ("lz4", lz4.frame.compress),
    ],
)
def test_xz_lzma_bzip2_and_lz4_files_and_tars_are_opened(tmp_path: Path, suffix: str, compress) -> None:  # type: ignore[no-untyped-def]
    inner_tar = tar_bytes([("conf/.env", SECRET)])
    summary, rec = walk(
        tmp_path, [(f"dump.sql.{suffix}", compress(SECRET)), (f"b.tar.{suffix}", compress(inner_tar))]
    )
    assert rec.data_of(f"dump.sql.{suffix}", f"dump.sql.{suffix}!dump.sql") == [SECRET]
    assert rec.data_of(f"b.tar.{suffix}", f"b.tar.{suffix}!conf/.env") == [SECRET]
    assert summary.nested_archives == 2 and summary.complete


def test_concatenated_xz_bzip2_and_lz4_streams_are_read_to_the_end(tmp_path: Path) -> None:
    files = [
        ("a.xz", lzma.compress(b"first ") + lzma.compress(SECRET)),
        ("a.bz2", bz2.compress(b"first ") + bz2.compress(SECRET)),
        ("a.lz4", lz4.frame.compress(b"first ") + lz4.frame.compress(SECRET)),
    ]
    summary, rec = walk(tmp_path, files)
    for name, _ in files:
        assert rec.data_of(name, f"{name}!a") == [b"first " + SECRET]
    assert summary.complete


def test_a_cut_xz_file_is_an_inconclusive_problem(tmp_path: Path) -> None:
    data = lzma.compress(os.urandom(50_000))
    summary, _ = walk(tmp_path, [("cut.xz", data[: len(data) // 2])])
    assert not summary.complete and any("cut.xz" in p.where and "xz" in p.what for p in summary.problems)


def test_zlib_stream_is_inflated_and_text_that_only_looks_like_zlib_is_left_alone(tmp_path: Path) -> None:
    summary, rec = walk(
        tmp_path, [("obj", zlib.compress(SECRET)), ("notes.txt", b"x^ not zlib, just text\n")]
    )
    assert rec.data_of("obj", "obj!obj.out") == [SECRET]
    assert rec.data_of("notes.txt") == [b"x^ not zlib, just text\n"]
    assert summary.complete and summary.nested_archives == 1


@pytest.mark.parametrize("packed", [False, True], ids=["loose", "packed"])
def test_a_deleted_secret_in_git_history_is_found(tmp_path: Path, packed: bool) -> None:
    files = git_dir_files(tmp_path, SECRET, packed)
    summary, rec = walk(tmp_path, files)
    hits = _inner_with(rec, SECRET)
    assert hits and all(path.startswith(".git/objects/") for path, _ in hits)
    assert summary.complete, summary.problems
    if packed:
        assert {path for path, _ in hits} == {p for p, _ in files if p.endswith(".pack")}


def test_a_git_pack_delta_is_resolved_against_its_base(tmp_path: Path) -> None:
    files = git_dir_files(tmp_path, SECRET, packed=True)
    _, rec = walk(tmp_path, files)
    notes = [c.data for m, c in rec.contents if m.inner_path and c.data.startswith(b"note 0:")]
    assert any(d.endswith(SECRET + b"\n") for d in notes) and any(
        not d.endswith(SECRET + b"\n") for d in notes
    )


def test_a_git_pack_whose_delta_base_is_missing_is_inconclusive(tmp_path: Path) -> None:
    delta = b"\x05\x05\x05abcde"  # base size 5, result size 5, insert "abcde"
    ref_delta = bytes([(7 << 4) | len(delta)]) + b"\x11" * 20 + zlib.compress(delta)
    pack = b"PACK" + (2).to_bytes(4, "big") + (1).to_bytes(4, "big") + ref_delta + b"\0" * 20
    summary, _ = walk(tmp_path, [("objects/pack/pack-1.pack", pack)])
    assert not summary.complete
    assert any("pack-1.pack" in p.where and "delta" in p.what for p in summary.problems)


@pytest.mark.parametrize("launch_script", [False, True], ids=["plain", "executable"])
def test_a_jar_stored_inside_a_spring_boot_jar_is_opened(tmp_path: Path, launch_script: bool) -> None:
    jar = spring_boot_jar(SECRET, launch_script)
    summary, rec = walk(tmp_path, [("app/app.jar", jar)])
    inner = "app.jar!BOOT-INF/lib/config.jar!application.properties"
    assert rec.data_of("app/app.jar", inner) == [SECRET]
    assert summary.complete, summary.problems


def test_an_executable_jar_larger_than_a_window_is_spooled_and_opened(tmp_path: Path) -> None:
    jar = spring_boot_jar(SECRET + b"\n" + os.urandom(200_000).hex().encode(), launch_script=True)
    limits = Limits(window=64 * 1024, overlap=512, spool_dir=str(tmp_path))
    summary, rec = walk(tmp_path, [("app.jar", jar)], limits)
    assert ("app.jar", "app.jar!BOOT-INF/lib/config.jar!application.properties") in _inner_with(rec, SECRET)
    assert summary.complete, summary.problems


def test_a_zip_entry_missing_from_the_central_directory_is_still_scanned(tmp_path: Path) -> None:
    data = zip_bytes([("visible.txt", b"hello"), ("hidden.env", SECRET)])
    archive = zipfile.ZipFile(io.BytesIO(data))
    hidden = archive.getinfo("hidden.env")
    # Rebuild the archive with a central directory that lists only visible.txt.
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("visible.txt", b"hello")
    listed = out.getvalue()
    end = listed.index(b"PK\x01\x02")
    local = data[hidden.header_offset : data.index(b"PK\x01\x02")]
    crafted = bytearray(listed[:end] + local + listed[end:])
    eocd = crafted.rindex(b"PK\x05\x06")
    crafted[eocd + 16 : eocd + 20] = (end + len(local)).to_bytes(4, "little")
    summary, rec = walk(tmp_path, [("c.zip", bytes(crafted))])
    assert rec.data_of("c.zip", "c.zip!visible.txt") == [b"hello"]
    assert rec.data_of("c.zip", "c.zip!hidden.env") == [SECRET]
    assert any("not listed in the central directory" in p.what for p in summary.problems)


def test_utf32_text_is_also_scanned_as_utf8(tmp_path: Path) -> None:
    text = SECRET.decode()
    _, rec = walk(tmp_path, [("le.txt", text.encode("utf-32")), ("be.txt", text.encode("utf-32-be"))])
    assert rec.data_of("le.txt", "le.txt!<utf-32 text>") == [SECRET]
    assert rec.data_of("be.txt", "be.txt!<utf-32 text>") == [SECRET]


def test_a_binary_that_only_ends_like_a_zip_is_ordinary_content(tmp_path: Path) -> None:
    end_record = b"PK\x05\x06" + bytes(18)
    blob = b"\x7fELF" + os.urandom(3000) + b"PK\x03\x04 not an entry" + b"\0" * 100 + end_record
    summary, rec = walk(tmp_path, [("bin/tool", blob)])
    assert rec.data_of("bin/tool") == [blob]
    assert summary.complete and not summary.problems and summary.nested_files == 0


def test_a_git_pack_object_claiming_a_huge_size_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    header = bytes([0x80 | (3 << 4) | 0xF]) + b"\xff" * 12 + b"\x01"  # a blob of about 2**88 bytes
    pack = b"PACK" + (2).to_bytes(4, "big") + (1).to_bytes(4, "big") + header + zlib.compress(b"x")
    summary, _ = walk(tmp_path, [("p.pack", pack)])
    assert not summary.complete
    assert any("p.pack" in p.where and "claims" in p.what for p in summary.problems)
