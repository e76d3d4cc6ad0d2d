"""Nested archives inside layers: zip/jar/whl/tar/tgz/gz/zst, depth and bomb limits, spooling, corruption."""

from __future__ import annotations

import gzip
import io
import os
import tracemalloc
import zipfile
from pathlib import Path

from scanner.layer import Limits, walk_layer
from tests.unit.layerfix import NullVisitor, gz, make_layer, tar_bytes, zip_bytes, zst
from tests.unit.layerfix import walk_files as walk

SECRET = b"password=FAKE-not-a-real-secret-1234"


def test_jar_entries_are_walked_with_inner_paths(tmp_path: Path) -> None:
    jar = zip_bytes(
        [("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\n"), ("BOOT-INF/app.properties", SECRET)]
    )
    summary, rec = walk(tmp_path, [("opt/app.jar", jar)])
    assert rec.data_of("opt/app.jar", "app.jar!BOOT-INF/app.properties") == [SECRET]
    assert rec.data_of("opt/app.jar") == [jar]  # the archive's own bytes are scanned too
    assert summary.nested_archives == 1 and summary.nested_files == 2 and summary.files == 1
    assert summary.complete


def test_whl_tar_tgz_gz_and_zst_files_are_opened(tmp_path: Path) -> None:
    inner_tar = tar_bytes([("conf/.env", SECRET)])
    files = [
        ("w/pkg-1.0-py3-none-any.whl", zip_bytes([("pkg/settings.py", SECRET)])),
        ("t/bundle.tar", inner_tar),
        ("t/bundle.tgz", gz(inner_tar)),
        ("t/bundle.tar.zst", zst(inner_tar)),
        ("g/dump.sql.gz", gz(SECRET)),
        ("g/dump.sql.zst", zst(SECRET)),
    ]
    summary, rec = walk(tmp_path, files)
    assert rec.data_of("w/pkg-1.0-py3-none-any.whl", "pkg-1.0-py3-none-any.whl!pkg/settings.py") == [SECRET]
    assert rec.data_of("t/bundle.tar", "bundle.tar!conf/.env") == [SECRET]
    assert rec.data_of("t/bundle.tgz", "bundle.tgz!conf/.env") == [SECRET]
    assert rec.data_of("t/bundle.tar.zst", "bundle.tar.zst!conf/.env") == [SECRET]
    assert rec.data_of("g/dump.sql.gz", "dump.sql.gz!dump.sql") == [SECRET]
    assert rec.data_of("g/dump.sql.zst", "dump.sql.zst!dump.sql") == [SECRET]
    assert summary.nested_archives == 6 and summary.complete


def test_archive_inside_archive_joins_levels_with_bang(tmp_path: Path) -> None:
    lib = zip_bytes([("application.yml", SECRET)])
    outer = zip_bytes([("BOOT-INF/lib/inner.jar", lib)])
    _, rec = walk(tmp_path, [("app.jar", outer)])
    assert rec.data_of("app.jar", "app.jar!BOOT-INF/lib/inner.jar!application.yml") == [SECRET]


def test_nesting_stops_at_max_depth_with_an_inconclusive_problem(tmp_path: Path) -> None:
    data = SECRET
    for level in range(20):
        data = zip_bytes([(f"level{level}.zip" if level else "secret.txt", data)])
    summary, rec = walk(tmp_path, [("deep.zip", data)])
    deepest = max((m.inner_path or "").count("!") for m in rec.members)
    assert deepest == Limits().max_depth
    assert not summary.complete
    assert any("deeper than 4 levels" in p.what and p.inconclusive for p in summary.problems)


def test_large_zip_is_spooled_in_the_spool_dir_and_removed(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    big = zip_bytes([("noise.bin", os.urandom(300_000)), ("creds", SECRET)], method=zipfile.ZIP_STORED)
    limits = Limits(window=64 * 1024, overlap=512, spool_dir=str(spool))
    summary, rec = walk(tmp_path, [("big.zip", big)], limits)
    assert rec.data_of("big.zip", "big.zip!creds") == [SECRET]
    assert rec.data_of("big.zip") == [big]
    assert summary.complete and list(spool.iterdir()) == []


def test_large_zip_without_spool_dir_is_inconclusive(tmp_path: Path) -> None:
    big = zip_bytes([("noise.bin", os.urandom(300_000))], method=zipfile.ZIP_STORED)
    summary, rec = walk(tmp_path, [("big.zip", big)], Limits(window=64 * 1024, overlap=512))
    assert rec.data_of("big.zip") == [big]
    assert not summary.complete and "spool" in summary.problems[0].what


def test_large_tgz_is_streamed_while_its_bytes_are_scanned(tmp_path: Path) -> None:
    noise = os.urandom(200_000)
    tgz = gz(tar_bytes([("noise", noise), ("key", SECRET)]))
    limits = Limits(window=32 * 1024, overlap=256, spool_dir=str(tmp_path))
    summary, rec = walk(tmp_path, [("x.tgz", tgz)], limits)
    assert rec.data_of("x.tgz", "x.tgz!key") == [SECRET]
    assert rec.data_of("x.tgz", "x.tgz!noise") == [noise]
    assert rec.data_of("x.tgz") == [tgz]
    assert summary.complete


def test_corrupt_zip_entry_is_a_problem_and_other_entries_are_still_read(tmp_path: Path) -> None:
    data = bytearray(zip_bytes([("bad.txt", b"B" * 5000), ("good.txt", SECRET)], method=zipfile.ZIP_STORED))
    start = data.index(b"B" * 100)
    data[start + 10 : start + 20] = b"X" * 10  # CRC no longer matches
    summary, rec = walk(tmp_path, [("c.zip", bytes(data))])
    assert rec.data_of("c.zip", "c.zip!good.txt") == [SECRET]
    assert any("c.zip!bad.txt" in p.where and p.inconclusive for p in summary.problems)


def test_corrupt_nested_gzip_is_a_problem_and_the_layer_goes_on(tmp_path: Path) -> None:
    bad = bytearray(gz(os.urandom(50_000)))
    bad[100:160] = b"\xff" * 60
    summary, rec = walk(tmp_path, [("a.gz", bytes(bad)), ("after", SECRET)])
    assert rec.data_of("after") == [SECRET]
    assert any("a.gz" in p.where and "gzip" in p.what for p in summary.problems)
    assert not summary.complete


def _run_measured(tmp_path: Path, files: list[tuple[str, bytes]]):  # type: ignore[no-untyped-def]
    layer = make_layer(tmp_path, tar_bytes(files))
    tracemalloc.start()
    summary = walk_layer(layer, Limits(window=1024 * 1024, spool_dir=str(tmp_path)), NullVisitor())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return summary, peak


def test_gzip_bomb_stops_with_a_problem_in_bounded_memory(tmp_path: Path) -> None:
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as f:
        chunk = bytes(1024 * 1024)
        for _ in range(160):
            f.write(chunk)
    summary, peak = _run_measured(tmp_path, [("bomb.gz", out.getvalue()), ("after", SECRET)])
    assert any("bomb" in p.what and p.inconclusive for p in summary.problems)
    assert summary.files == 2 and not summary.complete
    assert peak < 48 * 1024 * 1024


def test_zip_bomb_stops_with_a_problem_in_bounded_memory(tmp_path: Path) -> None:
    zeros = bytes(64 * 1024 * 1024)
    bomb = zip_bytes([(f"z{i}", zeros) for i in range(3)])
    del zeros
    summary, peak = _run_measured(tmp_path, [("bomb.zip", bomb)])
    assert any("bomb" in p.what and p.inconclusive for p in summary.problems)
    assert peak < 48 * 1024 * 1024
