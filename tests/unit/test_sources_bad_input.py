"""Broken sources: fatal trouble is one FormatError/SourceError line; per-layer trouble is a Problem."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from fixtures.broken import rewrite_members, truncate
from fixtures.build import (
    FileSpec,
    ImageSpec,
    LayerSpec,
    base_layer,
    canonical_json,
    tutorial_insecure,
    write_image,
)
from scanner.errors import FormatError, ScanError, SourceError
from scanner.image import Image
from scanner.sources import open_images


def open_fails(path: Path, tmp_path: Path, error: type[ScanError] = FormatError) -> str:
    with pytest.raises(error) as err:
        open_images(str(path), tmp_path)
    message = str(err.value)
    assert "\n" not in message
    return message


def legacy(tmp_path: Path, spec: ImageSpec | None = None) -> Path:
    path = tmp_path / "good.tar"
    write_image(spec or tutorial_insecure("fake-pw-77"), path, "docker-archive")
    return path


def member_names(path: Path) -> list[str]:
    with tarfile.open(path) as tar:
        return tar.getnames()


def test_file_that_is_not_a_tar_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.tar"
    path.write_bytes(b"this is not an archive at all\n" * 40)

    assert "not a readable tar" in open_fails(path, tmp_path)


def test_empty_file_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.tar"
    path.write_bytes(b"")

    assert str(path) in open_fails(path, tmp_path)


def content_end(path: Path) -> int:
    """Where the last member's data ends (the rest is end-of-archive zero blocks)."""
    with tarfile.open(path) as tar:
        last = tar.getmembers()[-1]
        return last.offset_data + (last.size + 511) // 512 * 512


@pytest.mark.parametrize("keep_fraction", [0.3, 0.6, 0.999])
def test_truncated_outer_tar_is_a_format_error(tmp_path: Path, keep_fraction: float) -> None:
    path = legacy(tmp_path)
    truncate(path, int(content_end(path) * keep_fraction))

    assert "truncated" in open_fails(path, tmp_path)


def test_outer_tar_without_end_marker_is_a_format_error(tmp_path: Path) -> None:
    path = legacy(tmp_path)
    truncate(path, content_end(path))

    assert "end-of-archive" in open_fails(path, tmp_path)


@pytest.mark.parametrize("outer", ["gzip", "zstd", "xz"])
def test_truncated_compressed_outer_archive_is_a_format_error(tmp_path: Path, outer: str) -> None:
    path = tmp_path / "image.tar.c"
    write_image(tutorial_insecure("fake-pw-77"), path, "oci-archive", compression=outer)
    truncate(path, path.stat().st_size // 2)

    message = open_fails(path, tmp_path)
    assert outer in message and "corrupt or truncated" in message


def test_tar_without_manifest_or_index_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "plain.tar"
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("hello.txt")
        tar.addfile(info)

    assert "no manifest.json or index.json" in open_fails(path, tmp_path)


@pytest.mark.parametrize("fmt", ["docker-archive", "docker25-archive"])
def test_invalid_json_in_manifest_json_names_the_file(tmp_path: Path, fmt: str) -> None:
    good = tmp_path / "good.tar"
    write_image(tutorial_insecure("fake-pw-77"), good, fmt)
    bad = tmp_path / "bad.tar"
    rewrite_members(good, bad, {"manifest.json": b'[{"Config": '})

    message = open_fails(bad, tmp_path)
    assert "manifest.json" in message and "not valid JSON" in message


def test_invalid_json_in_index_json_names_the_file(tmp_path: Path) -> None:
    good = tmp_path / "good.tar"
    write_image(tutorial_insecure("fake-pw-77"), good, "oci-archive")
    bad = tmp_path / "bad.tar"
    rewrite_members(good, bad, {"index.json": b"{]"})

    assert "index.json is not valid JSON" in open_fails(bad, tmp_path)


def test_invalid_json_in_config_names_the_config(tmp_path: Path) -> None:
    good = legacy(tmp_path)
    config = next(
        n for n in member_names(good) if n.endswith(".json") and "/" not in n and n != "manifest.json"
    )
    bad = tmp_path / "bad.tar"
    rewrite_members(good, bad, {config: b"{nope"})

    message = open_fails(bad, tmp_path)
    assert config in message and "not valid JSON" in message


def test_manifest_json_of_wrong_shape_is_a_format_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar"
    rewrite_members(legacy(tmp_path), bad, {"manifest.json": b'{"Config": "x"}'})

    assert "not a list" in open_fails(bad, tmp_path)


def test_manifest_json_listing_no_images_is_a_format_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar"
    rewrite_members(legacy(tmp_path), bad, {"manifest.json": b"[]"})

    assert "holds no image" in open_fails(bad, tmp_path)


def test_missing_config_is_a_format_error(tmp_path: Path) -> None:
    good = legacy(tmp_path)
    config = next(
        n for n in member_names(good) if n.endswith(".json") and "/" not in n and n != "manifest.json"
    )
    bad = tmp_path / "bad.tar"
    rewrite_members(good, bad, {config: None})

    assert "missing" in open_fails(bad, tmp_path)


def only(path: Path, tmp_path: Path) -> Image:
    [image] = open_images(str(path), tmp_path)
    return image


@pytest.mark.parametrize("fmt", ["docker-archive", "podman-archive", "oci-archive"])
def test_manifest_naming_a_missing_layer_blob_gives_layer_without_blob_and_problem(
    tmp_path: Path, fmt: str
) -> None:
    spec = ImageSpec([base_layer(), LayerSpec([FileSpec("a", b"a")], "COPY a /a", omit_blob=True)])
    path = tmp_path / "img.tar"
    write_image(spec, path, fmt)

    image = only(path, tmp_path)

    assert image.layers[0].blob is not None
    assert image.layers[1].blob is None
    assert image.layers[1].diff_id is not None
    assert [p for p in image.problems if p.inconclusive and p.where == "layer 1" and "missing" in p.what]


def test_config_whose_content_does_not_match_its_name_is_inconclusive(tmp_path: Path) -> None:
    good = legacy(tmp_path)
    config = next(
        n for n in member_names(good) if n.endswith(".json") and "/" not in n and n != "manifest.json"
    )
    with tarfile.open(good) as tar:
        data = json.loads(tar.extractfile(config).read())  # type: ignore[union-attr]
    data["config"]["Env"].append("INJECTED=1")
    bad = tmp_path / "bad.tar"
    rewrite_members(good, bad, {config: canonical_json(data)})

    image = only(bad, tmp_path)

    assert image.id != "sha256:" + config.removesuffix(".json")
    assert [p for p in image.problems if p.inconclusive and "hashes to" in p.what]


def test_oci_config_blob_with_wrong_digest_is_inconclusive(tmp_path: Path) -> None:
    good = tmp_path / "good.tar"
    built = write_image(tutorial_insecure("fake-pw-77"), good, "oci-archive")
    bad = tmp_path / "bad.tar"
    tampered = built.config_bytes.replace(b"amd64", b"arm64")
    rewrite_members(good, bad, {f"blobs/sha256/{built.config_digest[7:]}": tampered})

    image = only(bad, tmp_path)

    assert [p for p in image.problems if p.inconclusive and "config" in p.where]


def test_foreign_layer_not_in_archive_is_marked_foreign_with_problem(tmp_path: Path) -> None:
    foreign = LayerSpec(
        [FileSpec("Windows/x", b"x")],
        "ADD base",
        "gzip",
        media_type="application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        urls=["https://example.invalid/layer"],
        omit_blob=True,
    )
    path = tmp_path / "img.tar"
    write_image(ImageSpec([foreign, base_layer()]), path, "oci-archive")

    image = only(path, tmp_path)

    assert image.layers[0].foreign is True
    assert image.layers[0].blob is None
    assert [p for p in image.problems if p.inconclusive and p.where == "layer 0" and "foreign" in p.what]


def test_unknown_layer_media_type_keeps_the_blob_and_is_inconclusive(tmp_path: Path) -> None:
    odd = LayerSpec([FileSpec("a", b"a")], "COPY a /a", media_type="application/x-made-up")
    path = tmp_path / "img.tar"
    write_image(ImageSpec([base_layer(), odd]), path, "oci-archive")

    image = only(path, tmp_path)

    assert image.layers[1].blob is not None
    assert image.layers[1].media_type == "application/x-made-up"
    assert [p for p in image.problems if p.inconclusive and "unknown media type" in p.what]


def test_more_layers_than_diff_ids_is_a_problem(tmp_path: Path) -> None:
    spec = ImageSpec(
        [base_layer(), LayerSpec([FileSpec("a", b"a")], "COPY a /a")],
        extra_config={"rootfs": {"type": "layers", "diff_ids": []}},
    )
    path = tmp_path / "img.tar"
    write_image(spec, path, "oci-archive")

    image = only(path, tmp_path)

    assert len(image.layers) == 2
    assert image.layers[0].diff_id is None
    assert [p for p in image.problems if p.inconclusive and "rootfs.diff_ids lists 0" in p.what]


def test_more_history_rows_than_layers_is_reported_not_fatal(tmp_path: Path) -> None:
    spec = ImageSpec(
        [base_layer()],
        extra_config={"history": [{"created_by": "a"}, {"created_by": "b"}]},
    )
    path = tmp_path / "img.tar"
    write_image(spec, path, "docker-archive")

    image = only(path, tmp_path)

    assert image.layers[0].history is not None and image.layers[0].history.created_by == "a"
    assert [p for p in image.problems if "history" in p.where]


def test_layer_symlink_pointing_outside_the_archive_is_a_missing_blob(tmp_path: Path) -> None:
    good = legacy(tmp_path)
    [entry] = json.loads(_member(good, "manifest.json"))
    first_layer = entry["Layers"][0]
    bad = tmp_path / "bad.tar"
    with tarfile.open(good) as src, tarfile.open(bad, "w") as dst:
        for member in src:
            if member.name == first_layer:
                member.type, member.linkname, member.size = tarfile.SYMTYPE, "../../etc/passwd", 0
                dst.addfile(member)
            else:
                dst.addfile(member, src.extractfile(member) if member.isreg() else None)

    image = only(bad, tmp_path)

    assert image.layers[0].blob is None
    assert image.layers[1].blob is not None


def _member(path: Path, name: str) -> bytes:
    with tarfile.open(path) as tar:
        return tar.extractfile(name).read()  # type: ignore[union-attr]


def test_daemon_reference_with_unreachable_docker_host_names_the_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no.sock")

    message = open_fails(Path("imgscan-test/not-there:1"), tmp_path, SourceError)

    assert f"{tmp_path}/no.sock" in message and "not reachable" in message
