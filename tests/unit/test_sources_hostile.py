"""Hostile sources: manifest.json and index.json that disagree, mislabelled attestations, symlinks out of
a layout directory or an archive, and compressed archives that expand without bound."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

import pytest

from fixtures.broken import add_link, add_member, edit_nested_index, rewrite_members
from fixtures.build import (
    FileSpec,
    ImageSpec,
    LayerSpec,
    canonical_json,
    tutorial_insecure,
    write_image,
    write_images,
    write_index,
)
from scanner.errors import FormatError
from scanner.sources import archive, open_images
from scanner.sources.layout import DirStore
from tests.unit.test_sources_index import platform_specs


def second_spec() -> ImageSpec:
    return ImageSpec([LayerSpec([FileSpec("etc/other", b"other image\n")])], repo_tag="imgscan-test/other:1")


def test_image_only_manifest_json_names_is_scanned_and_the_disagreement_reported(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.tar", tmp_path / "bad.tar"
    first, second = write_images([tutorial_insecure("fake-pw-77"), second_spec()], good, "docker25-archive")
    index = json.loads(archive.TarStore(good, "good").locate("index.json").open().read())  # type: ignore[union-attr]
    index["manifests"] = [d for d in index["manifests"] if d["digest"] != second.manifest_digest]
    rewrite_members(good, bad, {"index.json": canonical_json(index)})

    images = open_images(str(bad), tmp_path)

    assert [i.id for i in images] == [first.config_digest, second.config_digest]
    assert [layer.diff_id for layer in images[1].layers] == second.diff_ids
    [note] = [p for p in images[1].problems if p.where == "manifest.json"]
    assert "index.json does not" in note.what and not note.inconclusive
    assert not any(p.where == "manifest.json" for p in images[0].problems)


def test_manifest_json_is_scanned_as_metadata_of_a_docker25_save(tmp_path: Path) -> None:
    write_image(tutorial_insecure("fake-pw-77"), tmp_path / "a.tar", "docker25-archive")

    [image] = open_images(str(tmp_path / "a.tar"), tmp_path)

    [doc] = [d for d in image.metadata if d.where == "manifest.json"]
    assert doc.area == "manifest" and doc.raw.startswith(b"{") and b"RepoTags" in doc.raw


def layout_index(tmp_path: Path) -> tuple[Path, list[Any]]:
    layout = tmp_path / "layout"
    return layout, write_index(platform_specs(), layout, "oci-layout")


def test_attestation_whose_subject_is_absent_is_scanned_as_metadata_of_every_image(tmp_path: Path) -> None:
    layout, built = layout_index(tmp_path)

    def drop_amd64(index: dict[str, Any]) -> None:
        index["manifests"] = [d for d in index["manifests"] if d["digest"] != built[0].manifest_digest]

    edit_nested_index(layout, drop_amd64)

    [image] = open_images(str(layout), tmp_path)

    assert image.id == built[1].config_digest
    attestations = [d for d in image.metadata if d.area == "attestation"]
    assert len(attestations) == 2  # its own, and the orphan's
    [note] = [
        p for p in image.problems if "not in the source" in p.what and p.where.startswith("attestation")
    ]
    assert built[0].manifest_digest[:19] in note.what and "every image" in note.what


def test_runnable_image_labelled_as_an_attestation_is_scanned_as_an_image(tmp_path: Path) -> None:
    layout, built = layout_index(tmp_path)

    def label_arm64(index: dict[str, Any]) -> None:
        for desc in index["manifests"]:
            if desc["digest"] == built[1].manifest_digest:
                desc["annotations"] = {
                    "vnd.docker.reference.type": "attestation-manifest",
                    "vnd.docker.reference.digest": built[0].manifest_digest,
                }

    edit_nested_index(layout, label_arm64)

    images = open_images(str(layout), tmp_path)

    assert sorted(i.id for i in images) == sorted(b.config_digest for b in built)
    [hidden] = [i for i in images if i.id == built[1].config_digest]
    assert any("scanned as an image" in p.what for p in hidden.problems)
    assert [layer.diff_id for layer in hidden.layers] == built[1].diff_ids


def oci_layout(tmp_path: Path) -> tuple[Path, Any]:
    layout = tmp_path / "layout"
    return layout, write_image(tutorial_insecure("fake-pw-77"), layout, "oci-layout")


def test_layout_blob_symlinked_out_of_the_directory_is_never_opened(tmp_path: Path) -> None:
    layout, built = oci_layout(tmp_path)
    outside = tmp_path / "shadow"
    outside.write_bytes(b"root:fake-hash:19000::::::\n")
    blob = layout / "blobs" / "sha256" / built.layers[1].digest[7:]
    blob.unlink()
    blob.symlink_to(outside)

    with pytest.raises(FormatError) as err:
        open_images(str(layout), tmp_path)

    assert "leaves the layout directory" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("name", ["index.json", "blobs"])
def test_layout_index_or_blob_folder_symlinked_out_is_an_error(tmp_path: Path, name: str) -> None:
    layout, _ = oci_layout(tmp_path)
    copy = tmp_path / "elsewhere"
    (layout / name).rename(copy)
    (layout / name).symlink_to(copy)

    with pytest.raises(FormatError, match="leaves the layout directory"):
        open_images(str(layout), tmp_path)


def test_layout_symlink_that_stays_inside_is_followed(tmp_path: Path) -> None:
    layout, built = oci_layout(tmp_path)
    blob = layout / "blobs" / "sha256" / built.layers[1].digest[7:]
    (layout / "store").mkdir()
    blob.rename(layout / "store" / "layer1")
    blob.symlink_to(os.path.join("..", "..", "store", "layer1"))

    [image] = open_images(str(layout), tmp_path)

    assert image.layers[1].blob is not None and image.layers[1].size == len(built.layers[1].blob)
    assert not any(p.inconclusive for p in image.problems)


def test_layout_symlink_loop_is_an_error(tmp_path: Path) -> None:
    layout, built = oci_layout(tmp_path)
    blob = layout / "blobs" / "sha256" / built.layers[1].digest[7:]
    blob.unlink()
    blob.symlink_to(blob.name)

    with pytest.raises(FormatError, match="loops"):
        open_images(str(layout), tmp_path)


def test_outer_tar_symlink_resolves_inside_the_archive_as_docker_load_does(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.tar", tmp_path / "bad.tar"
    built = write_image(tutorial_insecure("fake-pw-77"), good, "podman-archive")
    root_name = built.layers[0].digest[7:] + ".tar"
    link = next(n for n in archive.TarStore(good, "g").names() if n.endswith("/layer.tar"))
    # An absolute target is the archive's root, as in docker load's chroot: it names the same member.
    add_link(good, bad, link, "/" + root_name)
    store = archive.TarStore(bad, "bad")

    assert store.link_target(link) == root_name
    assert store.locate(link) == store.locate(root_name)


def test_outer_tar_symlink_to_a_host_path_is_a_missing_blob(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.tar", tmp_path / "bad.tar"
    built = write_image(tutorial_insecure("fake-pw-77"), good, "docker-archive")
    [entry] = json.loads(archive.TarStore(good, "g").locate("manifest.json").open().read())  # type: ignore[union-attr]
    add_link(good, bad, entry["Layers"][1], "/etc/passwd")

    [image] = open_images(str(bad), tmp_path)

    assert image.layers[1].blob is None and image.layers[0].blob is not None
    assert any(p.where == "layer 1" and p.inconclusive for p in image.problems)
    assert built.layers[1].digest


def test_compressed_archive_that_expands_like_a_bomb_is_refused_before_filling_the_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(archive, "OUTER_BOMB_FLOOR", 1 << 20)
    bomb = tmp_path / "bomb.tar.gz"
    bomb.write_bytes(gzip.compress(bytes(16 << 20), 9))
    work = tmp_path / "work"
    work.mkdir()

    with pytest.raises(FormatError, match="decompression bomb"):
        open_images(str(bomb), work)

    assert (work / "outer.tar").stat().st_size <= (1 << 20) + (1 << 20)


def test_compressed_archive_under_the_bomb_floor_reads(tmp_path: Path) -> None:
    built = write_image(tutorial_insecure("fake-pw-77"), tmp_path / "a.tar.gz", "docker-archive", "gzip")

    [image] = open_images(str(tmp_path / "a.tar.gz"), tmp_path)

    assert image.id == built.config_digest


def test_outer_symlink_that_docker_load_and_skopeo_resolve_to_different_members_is_refused(
    tmp_path: Path,
) -> None:
    good, bad = tmp_path / "good.tar", tmp_path / "bad.tar"
    built = write_image(tutorial_insecure("fake-pw-77"), good, "docker-archive")
    [entry] = json.loads(archive.TarStore(good, "g").locate("manifest.json").open().read())  # type: ignore[union-attr]
    link = entry["Layers"][1]
    folder = link.rsplit("/", 1)[0]
    # docker load reads "/x.tar" from the archive root (the real layer); skopeo joins it to the link's
    # folder and reads "<id>/x.tar" (other bytes).
    add_member(good, tmp_path / "1.tar", "x.tar", built.layers[1].blob)
    add_member(tmp_path / "1.tar", tmp_path / "2.tar", f"{folder}/x.tar", b"other bytes\n")
    add_link(tmp_path / "2.tar", bad, link, "/x.tar")

    with pytest.raises(FormatError, match="docker load"):
        open_images(str(bad), tmp_path)


def test_outer_member_stored_twice_is_refused_as_readers_pick_different_copies(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.tar", tmp_path / "bad.tar"
    write_image(tutorial_insecure("fake-pw-77"), good, "docker-archive")
    add_member(good, bad, "manifest.json", b"[]")

    with pytest.raises(FormatError, match="appears twice"):
        open_images(str(bad), tmp_path)


def test_a_layout_name_with_a_nul_byte_names_no_file(tmp_path: Path) -> None:
    layout, _ = oci_layout(tmp_path)

    assert DirStore(layout).locate("index.json\0x") is None
    assert DirStore(layout).locate("index.json") is not None


def _attestation_of(layout: Path, manifest_digest: str) -> Path:
    top = json.loads((layout / "index.json").read_bytes())
    index = json.loads((layout / "blobs" / "sha256" / top["manifests"][0]["digest"][7:]).read_bytes())
    [desc] = [
        d
        for d in index["manifests"]
        if d.get("annotations", {}).get("vnd.docker.reference.digest") == manifest_digest
    ]
    return layout / "blobs" / "sha256" / desc["digest"][7:]


def test_a_platform_the_save_left_out_with_its_attestation_is_a_note_not_inconclusive(tmp_path: Path) -> None:
    layout, built = layout_index(tmp_path)
    _attestation_of(layout, built[0].manifest_digest).unlink()
    (layout / "blobs" / "sha256" / built[0].manifest_digest[7:]).unlink()

    [image] = open_images(str(layout), tmp_path)

    assert image.id == built[1].config_digest
    assert not [p for p in image.problems if p.inconclusive]
    assert sum("not in the source" in p.what for p in image.problems) == 2


def test_a_present_image_whose_attestation_is_absent_is_inconclusive(tmp_path: Path) -> None:
    layout, built = layout_index(tmp_path)
    _attestation_of(layout, built[0].manifest_digest).unlink()

    images = open_images(str(layout), tmp_path)

    [amd] = [i for i in images if i.id == built[0].config_digest]
    assert [p.what for p in amd.problems if p.inconclusive] == [
        "attestation manifest is missing from the source"
    ]


def test_image_only_index_json_names_is_scanned_with_a_note(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.tar", tmp_path / "bad.tar"
    first, second = write_images([tutorial_insecure("fake-pw-77"), second_spec()], good, "docker25-archive")
    entries = json.loads(archive.TarStore(good, "good").locate("manifest.json").open().read())  # type: ignore[union-attr]
    rewrite_members(good, bad, {"manifest.json": canonical_json(entries[:1])})

    images = open_images(str(bad), tmp_path)

    assert [i.id for i in images] == [first.config_digest, second.config_digest]
    assert not [p for p in images[0].problems if p.where == "manifest.json"]
    [note] = [p for p in images[1].problems if p.where == "manifest.json"]
    assert "docker load would not load it" in note.what and not note.inconclusive
