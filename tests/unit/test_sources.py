"""open_images on every save format the fixture builder writes: layers, diff_ids, history, config, tags."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from fixtures.build import (
    FORMATS,
    BuiltImage,
    EmptyStep,
    FileSpec,
    ImageSpec,
    LayerSpec,
    base_layer,
    tutorial_insecure,
    write_image,
    write_images,
)
from scanner.errors import FormatError, SourceError
from scanner.image import Image, Platform
from scanner.sources import open_images
from scanner.sources.archive import TarStore
from scanner.sources.manifests import read_location


def mixed_spec(repo_tag: str = "imgscan-test/mixed:1") -> ImageSpec:
    """Three layers stored plain, gzip and zstd, with empty-layer history rows between them."""
    return ImageSpec(
        [
            EmptyStep("ARG VERSION=1"),
            base_layer("none"),
            EmptyStep("ENV APP_MODE=test"),
            LayerSpec([FileSpec("app/config.ini", b"[app]\nmode=test\n")], "COPY config.ini /app/", "gzip"),
            EmptyStep("LABEL team=platform"),
            LayerSpec(
                [FileSpec("app/config.ini", kind="whiteout")], "RUN /bin/sh -c rm /app/config.ini", "zstd"
            ),
        ],
        env=["APP_MODE=test"],
        labels={"team": "platform"},
        entrypoint=["/bin/sh"],
        repo_tag=repo_tag,
    )


def target(tmp_path: Path, fmt: str, suffix: str = ".tar") -> Path:
    return tmp_path / (fmt if fmt == "oci-layout" else fmt + suffix)


def assert_matches(image: Image, built: BuiltImage) -> None:
    assert image.id == built.config_digest
    assert image.config == built.config
    assert [layer.diff_id for layer in image.layers] == built.diff_ids
    for layer, want in zip(image.layers, built.layers, strict=True):
        assert layer.blob is not None
        assert read_location(layer.blob) == want.blob, f"layer {layer.index} blob bytes differ"
        assert layer.size == len(want.blob)
    assert not [p for p in image.problems if p.inconclusive], image.problems


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_yields_the_built_layers_config_and_tag(tmp_path: Path, fmt: str) -> None:
    path = target(tmp_path, fmt)
    built = write_image(mixed_spec(), path, fmt)

    [image] = open_images(str(path), tmp_path)

    assert image.format == fmt
    assert_matches(image, built)
    assert image.repo_tags == ("imgscan-test/mixed:1",)
    assert image.platform == Platform("linux", "amd64")


@pytest.mark.parametrize("fmt", FORMATS)
def test_history_rows_map_to_layers_skipping_empty_layer_rows(tmp_path: Path, fmt: str) -> None:
    path = target(tmp_path, fmt)
    write_image(mixed_spec(), path, fmt)

    [image] = open_images(str(path), tmp_path)

    assert [h.layer_index for h in image.history] == [None, 0, None, 1, None, 2]
    assert [layer.history.index if layer.history else None for layer in image.layers] == [1, 3, 5]
    assert image.layers[2].history is not None
    assert image.layers[2].history.created_by == "RUN /bin/sh -c rm /app/config.ini"


@pytest.mark.parametrize("fmt", ["docker-archive", "podman-archive"])
def test_legacy_layers_are_named_by_diff_id_and_marked_uncompressed(tmp_path: Path, fmt: str) -> None:
    path = target(tmp_path, fmt)
    write_image(tutorial_insecure("fake-pass-0000"), path, fmt)

    [image] = open_images(str(path), tmp_path)

    for layer in image.layers:
        assert layer.media_type == "application/vnd.docker.image.rootfs.diff.tar"
        assert layer.digest == layer.diff_id
        assert layer.digest_is_compressed is False
    assert image.digest is None


@pytest.mark.parametrize("fmt", ["docker25-archive", "oci-archive", "oci-layout"])
def test_oci_layers_keep_media_type_and_compressed_digest(tmp_path: Path, fmt: str) -> None:
    path = target(tmp_path, fmt)
    built = write_image(mixed_spec(), path, fmt)

    [image] = open_images(str(path), tmp_path)

    assert image.digest == built.manifest_digest
    assert [layer.media_type for layer in image.layers] == [b.media_type for b in built.layers]
    assert [layer.digest for layer in image.layers] == [b.digest for b in built.layers]
    assert [layer.digest_is_compressed for layer in image.layers] == [False, True, True]
    assert {m.area for m in image.metadata} >= {"index", "manifest", "config"}


@pytest.mark.parametrize("fmt", ["docker-archive", "podman-archive"])
def test_legacy_id_json_is_kept_as_metadata(tmp_path: Path, fmt: str) -> None:
    path = target(tmp_path, fmt)
    write_image(mixed_spec(), path, fmt)

    [image] = open_images(str(path), tmp_path)

    legacy = [m for m in image.metadata if m.area == "legacy-json"]
    assert len(legacy) == 3
    assert legacy[-1].data["config"]["Env"] == ["APP_MODE=test"]


@pytest.mark.parametrize("outer", ["gzip", "zstd", "zstd-frames", "xz"])
@pytest.mark.parametrize("fmt", ["docker-archive", "docker25-archive", "oci-archive"])
def test_compressed_outer_archive_is_read_from_a_copy_in_tmpdir(tmp_path: Path, fmt: str, outer: str) -> None:
    path = tmp_path / "image.tar.x"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    built = write_image(mixed_spec(), path, fmt, compression=outer)

    [image] = open_images(str(path), scratch)

    assert_matches(image, built)
    assert all(layer.blob and Path(layer.blob.path).parent == scratch for layer in image.layers)


def test_repeated_layer_in_legacy_save_resolves_symlinked_layer_tar(tmp_path: Path) -> None:
    same = LayerSpec([FileSpec("etc/motd", b"hi\n")], "COPY motd /etc/motd")
    spec = ImageSpec([base_layer(), same, LayerSpec([FileSpec("x", b"x")], "COPY x /x"), same])
    path = tmp_path / "dup.tar"
    built = write_image(spec, path, "docker-archive")

    [image] = open_images(str(path), tmp_path)

    assert image.layers[1].blob == image.layers[3].blob
    assert_matches(image, built)


def test_docker25_tags_come_from_manifest_json(tmp_path: Path) -> None:
    path = tmp_path / "d25.tar"
    write_image(mixed_spec("registry.local:5000/team/app:2"), path, "docker25-archive")

    [image] = open_images(str(path), tmp_path)

    assert image.repo_tags == ("registry.local:5000/team/app:2",)


def test_save_of_several_images_yields_all_and_a_name_selects_one(tmp_path: Path) -> None:
    path = tmp_path / "two.tar"
    first, second = write_images(
        [mixed_spec("one/app:1"), tutorial_insecure("fake-pw-1")], path, "docker-archive"
    )

    both = open_images(str(path), tmp_path)
    picked = open_images(f"docker-archive:{path}:imgscan-test/tutorial:insecure", tmp_path)

    assert {i.id for i in both} == {first.config_digest, second.config_digest}
    assert [i.id for i in picked] == [second.config_digest]


def test_docker_hub_style_name_selects_image_by_normalised_tag(tmp_path: Path) -> None:
    path = tmp_path / "d25.tar"
    built = write_image(mixed_spec("myapp:latest"), path, "docker25-archive")

    [image] = open_images(f"docker-archive:{path}:docker.io/library/myapp", tmp_path)

    assert image.id == built.config_digest


def test_unknown_name_in_archive_lists_what_it_holds(tmp_path: Path) -> None:
    path = tmp_path / "one.tar"
    write_image(mixed_spec("one/app:1"), path, "docker-archive")

    with pytest.raises(SourceError) as err:
        open_images(f"docker-archive:{path}:other/app:9", tmp_path)

    assert "one/app:1" in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("transport", "fmt"),
    [("docker-archive", "docker-archive"), ("oci-archive", "oci-archive"), ("oci", "oci-layout")],
)
def test_explicit_transport_reads_the_same_image(tmp_path: Path, transport: str, fmt: str) -> None:
    path = target(tmp_path, fmt)
    built = write_image(mixed_spec(), path, fmt)

    [image] = open_images(f"{transport}:{path}", tmp_path)

    assert image.id == built.config_digest
    assert image.reference == f"{transport}:{path}"


def test_missing_path_is_a_source_error_not_a_daemon_lookup(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        open_images(str(tmp_path / "nope.tar"), tmp_path)
    with pytest.raises(SourceError, match="no such file"):
        open_images(f"oci:{tmp_path / 'nodir'}", tmp_path)


def test_image_platform_is_read_from_config_with_variant(tmp_path: Path) -> None:
    spec = ImageSpec([base_layer()], platform=Platform("linux", "arm", "v7"))
    path = tmp_path / "arm.tar"
    write_image(spec, path, "docker-archive")

    [image] = open_images(str(path), tmp_path, Platform.parse("linux/arm"))

    assert image.platform == Platform("linux", "arm", "v7")
    with pytest.raises(SourceError, match="linux/arm/v7"):
        open_images(str(path), tmp_path, Platform.parse("linux/amd64"))


@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive"])
def test_a_layer_opens_its_own_uncompressed_tar(tmp_path: Path, fmt: str) -> None:
    path = target(tmp_path, fmt)
    built = write_image(mixed_spec(), path, fmt)

    [image] = open_images(str(path), tmp_path)

    for layer, diff_id in zip(image.layers, built.diff_ids, strict=True):
        with layer.open_tar() as tar:
            assert "sha256:" + hashlib.sha256(tar.read()).hexdigest() == diff_id


def test_outer_members_with_long_names_are_found_by_their_full_name(tmp_path: Path) -> None:
    long_name = "d" * 120 + "/notes.json"
    path = tmp_path / "long.tar"
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo(long_name)
        info.size = 2
        tar.addfile(info, io.BytesIO(b"{}"))

    loc = TarStore(path, "long").locate(long_name)

    assert loc is not None and read_location(loc) == b"{}"


def test_outer_archive_with_a_pax_global_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "global.tar"
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT, pax_headers={"comment": "x"}) as tar:
        info = tarfile.TarInfo("manifest.json")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"[]"))

    with pytest.raises(FormatError, match="global header"):
        TarStore(path, "global")
