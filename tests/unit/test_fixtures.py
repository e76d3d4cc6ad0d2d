"""The fixture builder: reproducible bytes, the tar members it promises, the tutorial pair."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
import zstandard

from fixtures.build import (
    FORMATS,
    FileSpec,
    ImageSpec,
    LayerSpec,
    build,
    compress,
    digest_of,
    layer_tar,
    tutorial_insecure,
    tutorial_secure,
    write_image,
)


def members(tar_bytes: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        return tar.getmembers()


@pytest.mark.parametrize("fmt", FORMATS)
def test_same_spec_writes_identical_bytes(tmp_path: Path, fmt: str) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    write_image(tutorial_insecure("fake-pw-42", "gzip"), first, fmt)
    write_image(tutorial_insecure("fake-pw-42", "gzip"), second, fmt)

    if fmt == "oci-layout":
        files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
        assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
        assert all((first / f).read_bytes() == (second / f).read_bytes() for f in files)
    else:
        assert first.read_bytes() == second.read_bytes()


def test_layer_tar_writes_whiteouts_opaque_markers_links_and_parents() -> None:
    tar = layer_tar(
        [
            FileSpec("etc/app/secret.key", kind="whiteout"),
            FileSpec("var/cache", kind="opaque"),
            FileSpec("usr/bin/sh", kind="symlink", target="busybox"),
            FileSpec("usr/bin/ash", kind="hardlink", target="usr/bin/sh"),
            FileSpec("srv/data.txt", b"data", 0o600),
        ]
    )

    by_name = {m.name: m for m in members(tar)}

    assert list(by_name) == [
        "etc",
        "etc/app",
        "etc/app/.wh.secret.key",
        "var",
        "var/cache",
        "var/cache/.wh..wh..opq",
        "usr",
        "usr/bin",
        "usr/bin/sh",
        "usr/bin/ash",
        "srv",
        "srv/data.txt",
    ]
    assert by_name["usr/bin/sh"].issym() and by_name["usr/bin/sh"].linkname == "busybox"
    assert by_name["usr/bin/ash"].islnk()
    assert by_name["srv/data.txt"].mode == 0o600 and by_name["srv/data.txt"].size == 4
    assert {(m.uid, m.gid, m.uname, m.mtime) for m in by_name.values()} == {(0, 0, "", 1_700_000_000)}


def test_zstd_frames_compression_writes_two_frames_that_decompress_to_the_tar() -> None:
    tar = layer_tar([FileSpec("a.txt", b"a" * 5000), FileSpec("b.txt", b"b" * 5000)])

    blob = compress(tar, "zstd-frames")

    first_frame = zstandard.ZstdDecompressor().decompressobj()
    head = first_frame.decompress(blob)
    assert first_frame.eof and first_frame.unused_data
    assert head + zstandard.ZstdDecompressor().decompress(first_frame.unused_data) == tar


def test_built_layer_digests_name_the_stored_and_uncompressed_bytes() -> None:
    image = build(tutorial_secure("gzip"))

    for layer in image.layers:
        assert layer.blob[:2] == b"\x1f\x8b"
        assert layer.digest == digest_of(layer.blob)
        assert layer.diff_id == digest_of(layer.tar)
    assert image.config["rootfs"]["diff_ids"] == image.diff_ids
    assert image.config_digest == digest_of(image.config_bytes)


def test_insecure_tutorial_adds_netrc_then_whiteouts_it() -> None:
    image = build(tutorial_insecure("fake-pw-42"))

    copied = {m.name: m for m in members(image.layers[1].tar)}
    removed = [m.name for m in members(image.layers[2].tar)]

    assert copied["root/.netrc"].size > 0
    with tarfile.open(fileobj=io.BytesIO(image.layers[1].tar)) as tar:
        netrc = tar.extractfile("root/.netrc")
        assert netrc is not None and b"password fake-pw-42" in netrc.read()
    assert "root/.wh..netrc" in removed
    assert image.config["history"][2]["created_by"].startswith("COPY netrc /root/.netrc")


def test_secure_tutorial_has_only_message_txt_and_no_netrc() -> None:
    image = build(tutorial_secure())

    names = [m.name for layer in image.layers for m in members(layer.tar)]

    assert "message.txt" in names
    assert not [n for n in names if "netrc" in n]


def test_empty_steps_become_empty_layer_history_rows() -> None:
    image = build(tutorial_insecure("fake-pw-42"))

    assert [bool(row.get("empty_layer")) for row in image.config["history"]] == [False, True, False, False]
    assert len(image.layers) == 3


def test_layer_spec_media_type_and_urls_reach_the_manifest() -> None:
    odd = LayerSpec(
        [FileSpec("x")], "COPY x /", media_type="application/x-odd", urls=["https://example.invalid"]
    )
    image = build(ImageSpec([*tutorial_secure().layers, odd]))

    assert image.layers[-1].media_type == "application/x-odd"
    assert b'"urls":["https://example.invalid"]' in image.manifest_bytes
