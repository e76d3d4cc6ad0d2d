"""The layer walker: members, content windows, links, PAX, trailing bytes, digests and broken layers."""

from __future__ import annotations

import io
import random
import tarfile
from pathlib import Path

import pytest

from scanner.errors import UsageError
from scanner.layer import TRAILING_PATH, Limits, walk_layer
from scanner.paths import normalise_path
from tests.unit.layerfix import NullVisitor, Recorder, gz, make_layer, sha, tar_bytes, zst

FAKE_TOKEN = b"ghp_" + b"FAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE"


def walk(tmp_path: Path, blob: bytes, limits: Limits | None = None, **layer_args: object):  # type: ignore[no-untyped-def]
    recorder = Recorder()
    layer = make_layer(tmp_path, blob, **layer_args)  # type: ignore[arg-type]
    summary = walk_layer(layer, limits or Limits(spool_dir=str(tmp_path)), recorder)
    return summary, recorder


def test_regular_files_arrive_whole_with_normalised_paths(tmp_path: Path) -> None:
    blob = tar_bytes([("./etc", None), ("./etc/app.conf", b"token=abc\n"), ("/abs//x", b"q")])
    summary, rec = walk(tmp_path, blob)
    assert rec.data_of("etc/app.conf") == [b"token=abc\n"]
    assert rec.kinds() == {"etc": "dir", "etc/app.conf": "file", "abs/x": "file"}
    assert summary.files == 2 and summary.complete
    assert summary.diff_id == sha(blob) and summary.blob_digest == sha(blob)
    assert summary.compression == "none" and summary.bytes == len(blob)


def test_whiteout_and_opaque_members_name_what_they_hide(tmp_path: Path) -> None:
    blob = tar_bytes([("app/.wh.secret.env", b""), ("cache/.wh..wh..opq", b""), ("app/keep", b"1")])
    summary, rec = walk(tmp_path, blob)
    assert rec.kinds() == {"app/secret.env": "whiteout", "cache": "opaque", "app/keep": "file"}
    assert summary.whiteouts == ["app/secret.env"] and summary.opaque_dirs == ["cache"]
    assert len(summary.paths) == 1 and summary.files == 1


def test_zero_byte_file_gets_one_empty_content(tmp_path: Path) -> None:
    _, rec = walk(tmp_path, tar_bytes([("home/u/.netrc", b"")]))
    [(member, content)] = rec.contents
    assert member.kind == "file" and content.data == b"" and content.is_first and content.is_last


def test_symlink_content_is_its_target_text_and_target_is_not_followed(tmp_path: Path) -> None:
    blob = tar_bytes([("secret.txt", FAKE_TOKEN), ("link", "->secret.txt"), ("loop", "->loop")])
    _, rec = walk(tmp_path, blob)
    assert rec.data_of("link") == [b"secret.txt"]
    assert rec.data_of("loop") == [b"loop"]
    assert rec.data_of("secret.txt") == [FAKE_TOKEN]


def test_hardlink_to_cached_file_is_scanned_under_its_own_path(tmp_path: Path) -> None:
    blob = tar_bytes([("a/orig", FAKE_TOKEN), ("b/link", "=>a/orig")])
    summary, rec = walk(tmp_path, blob)
    assert rec.data_of("b/link") == [FAKE_TOKEN]
    assert not summary.problems


def test_hardlink_to_missing_target_is_a_note_not_a_crash(tmp_path: Path) -> None:
    summary, rec = walk(tmp_path, tar_bytes([("b/link", "=>nowhere")]))
    assert rec.kinds() == {"b/link": "hardlink"}
    assert summary.complete
    assert [p.inconclusive for p in summary.problems] == [False]
    assert "nowhere" in summary.problems[0].what


def test_pax_header_text_is_scanned_as_its_own_member(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("f")
        info.pax_headers = {"comment": FAKE_TOKEN.decode()}
        tar.addfile(info, io.BytesIO(b""))
    _, rec = walk(tmp_path, buf.getvalue())
    [pax] = [m for m in rec.members if m.path.startswith("<pax header")]
    assert pax.kind == "other" and pax.path == "<pax header before f>"
    assert FAKE_TOKEN in rec.data_of(pax.path)[0]


def test_duplicate_paths_are_each_scanned(tmp_path: Path) -> None:
    _, rec = walk(tmp_path, tar_bytes([("dup", b"first"), ("dup", b"second")]))
    assert rec.data_of("dup") == [b"first", b"second"]


def test_nonzero_trailing_bytes_are_content_of_a_pseudo_member(tmp_path: Path) -> None:
    blob = tar_bytes([("f", b"x")]) + FAKE_TOKEN
    summary, rec = walk(tmp_path, blob)
    [data] = rec.data_of(TRAILING_PATH)
    assert data.endswith(FAKE_TOKEN)
    assert summary.diff_id == sha(blob) and summary.complete


def test_zero_trailing_padding_is_not_reported(tmp_path: Path) -> None:
    summary, rec = walk(tmp_path, tar_bytes([("f", b"x")]) + bytes(4096))
    assert rec.data_of(TRAILING_PATH) == [] and not summary.problems


def test_secret_straddling_a_window_boundary_arrives_whole_in_one_window(tmp_path: Path) -> None:
    limits = Limits(window=1024, overlap=64, spool_dir=str(tmp_path))
    body = b"a" * (1024 - 20) + FAKE_TOKEN + b"b" * 3000
    _, rec = walk(tmp_path, tar_bytes([("big", body)]), limits)
    windows = [c for _, c in rec.contents]
    assert len(windows) > 1
    assert all(len(w.data) <= 1024 for w in windows)
    assert any(FAKE_TOKEN in w.data for w in windows)
    assert [w.is_first for w in windows].count(True) == 1 and windows[-1].is_last
    assert all(body[w.offset : w.offset + len(w.data)] == w.data for w in windows)
    assert rec.data_of("big") == [body]
    assert {w.size for w in windows} == {len(body)}


@pytest.mark.parametrize("compress", [gz, zst], ids=["gzip", "zstd"])
def test_compressed_layer_digests_are_computed_and_verified(tmp_path: Path, compress) -> None:  # type: ignore[no-untyped-def]
    tar = tar_bytes([("f", b"data")])
    blob = compress(tar)
    summary, rec = walk(tmp_path, blob, diff_id=sha(tar), digest=sha(blob))
    assert summary.compression in ("gzip", "zstd") and summary.complete and not summary.problems
    assert summary.diff_id == sha(tar) and summary.blob_digest == sha(blob)
    assert rec.data_of("f") == [b"data"]


def test_digest_mismatch_is_an_inconclusive_problem(tmp_path: Path) -> None:
    tar = tar_bytes([("f", b"data")])
    wrong = "sha256:" + "0" * 64
    summary, _ = walk(tmp_path, gz(tar), diff_id=wrong, digest=wrong)
    whats = [p.what for p in summary.problems]
    assert any(w.startswith("diff_id mismatch: expected " + wrong) for w in whats)
    assert any(w.startswith("blob digest mismatch") for w in whats)
    assert all(p.inconclusive for p in summary.problems)


def test_uncompressed_legacy_layer_digest_is_compared_with_diff_id(tmp_path: Path) -> None:
    tar = tar_bytes([("f", b"data")])
    summary, _ = walk(tmp_path, tar, diff_id=sha(tar), digest=sha(tar), compressed=False)
    assert not summary.problems


def test_missing_blob_is_inconclusive(tmp_path: Path) -> None:
    layer = make_layer(tmp_path, b"")
    from dataclasses import replace

    summary = walk_layer(replace(layer, blob=None), Limits(), NullVisitor())
    assert not summary.complete and summary.problems[0].inconclusive


@pytest.mark.parametrize("compress", [lambda b: b, gz, zst], ids=["plain", "gzip", "zstd"])
def test_truncated_layer_keeps_what_was_read_and_is_inconclusive(tmp_path: Path, compress) -> None:  # type: ignore[no-untyped-def]
    noise = random.Random(5).randbytes(400_000)
    tar = tar_bytes([("first", b"1" * 2000), ("pad", noise), ("second", noise[::-1])])
    blob = compress(tar)
    summary, rec = walk(tmp_path, blob[: len(blob) * 2 // 3])
    assert not summary.complete and summary.diff_id == ""
    assert any(p.inconclusive and "\n" not in p.what for p in summary.problems)
    assert rec.data_of("first") == [b"1" * 2000]


def test_corrupt_gzip_layer_is_inconclusive(tmp_path: Path) -> None:
    blob = bytearray(gz(tar_bytes([("f", bytes(range(256)) * 100)])))
    blob[40:80] = b"\xff" * 40
    summary, _ = walk(tmp_path, bytes(blob))
    assert not summary.complete and "gzip" in summary.problems[0].what


def test_corrupt_zstd_layer_is_inconclusive(tmp_path: Path) -> None:
    blob = bytearray(zst(tar_bytes([("f", bytes(range(256)) * 100)])))
    blob[len(blob) // 2 :] = b"\x00" * (len(blob) - len(blob) // 2)
    summary, _ = walk(tmp_path, bytes(blob))
    assert not summary.complete and "zstd" in summary.problems[0].what


def test_huge_pax_header_is_a_limit_problem(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("f")
        info.pax_headers = {"comment": "c" * 3_000_000}
        tar.addfile(info, io.BytesIO(b""))
    summary, _ = walk(tmp_path, buf.getvalue())
    assert not summary.complete and "header limit" in summary.problems[0].what


def test_paths_escaping_root_are_noted_not_followed(tmp_path: Path) -> None:
    summary, rec = walk(tmp_path, tar_bytes([("../../etc/passwd", b"x"), ("a/../../b", b"y")]))
    assert rec.kinds() == {"../../etc/passwd": "file", "a/../../b": "file"}
    assert all(m.escapes_root for m in rec.members)
    assert [p.inconclusive for p in summary.problems] == [False, False]
    assert all("escapes root" in p.what for p in summary.problems)
    assert summary.complete


def test_normalise_path_strips_dot_slash_and_collapses_slashes() -> None:
    assert normalise_path("./a//b/./c/") == ("a/b/c", False)
    assert normalise_path("/etc/x") == ("etc/x", True)
    assert normalise_path("plain/name") == ("plain/name", False)
    assert normalise_path("a/../b") == ("a/../b", True)


@pytest.mark.slow  # building the 200,000-member tar with tarfile takes most of the time
def test_many_empty_files_walk_with_bounded_memory(tmp_path: Path) -> None:
    """Per member the walk keeps only two 8-byte path hashes; its speed is measured by scripts/bench*."""
    import tracemalloc

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo()
        for i in range(200_000):
            info.name = f"d{i % 100}/f{i}"
            tar.addfile(info)
    blob = buf.getvalue()
    del buf
    layer = make_layer(tmp_path, blob)
    del blob
    tracemalloc.start()
    summary = walk_layer(layer, Limits(), NullVisitor())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert summary.files == 200_000 and summary.complete
    assert len(summary.paths) == len(summary.nondir_paths) == 200_000
    assert summary.paths.itemsize == 8
    assert peak < 64 * 1024 * 1024


def test_limits_whose_windows_would_not_advance_are_a_usage_error() -> None:
    with pytest.raises(UsageError, match="overlap"):
        Limits(window=4096, overlap=4096)


def test_a_pax_global_header_is_scanned_but_is_no_file_of_the_layer(tmp_path: Path) -> None:
    """Go returns a global header as its own entry, applied to no member: its text is scanned, and it adds
    no path to the layer (a path there would make lineage call a later file "overwritten")."""
    buf = io.BytesIO()
    with tarfile.open(
        fileobj=buf, mode="w", format=tarfile.PAX_FORMAT, pax_headers={"comment": "x" * 8}
    ) as tar:
        info = tarfile.TarInfo("etc/app.conf")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"a=1"))
    summary, rec = walk(tmp_path, buf.getvalue())
    assert summary.complete and summary.files == 1
    assert [m.path for m in rec.members if m.kind != "other"] == ["etc/app.conf"]
    assert len(summary.paths) == 1
    assert any(b"comment=xxxxxxxx" in c.data for _, c in rec.contents)
