"""Multi-platform image indexes: one Image per platform, --platform picks, attestations become metadata."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixtures.build import INDEX_FORMATS, ImageSpec, base_layer, write_index
from scanner.errors import SourceError
from scanner.image import Platform
from scanner.sources import open_images


def platform_specs() -> list[ImageSpec]:
    return [
        ImageSpec(
            [base_layer("gzip")],
            platform=Platform("linux", "amd64"),
            repo_tag="imgscan-test/multi:1",
            build_args={"HTTP_PROXY_TOKEN": "fake-build-arg-value"},
        ),
        ImageSpec(
            [base_layer("zstd")], platform=Platform("linux", "arm64", "v8"), repo_tag="imgscan-test/multi:1"
        ),
    ]


def where(tmp_path: Path, fmt: str) -> Path:
    return tmp_path / ("layout" if fmt == "oci-layout" else "multi.tar")


@pytest.mark.parametrize("fmt", INDEX_FORMATS)
def test_index_yields_one_image_per_platform_and_no_attestation_image(tmp_path: Path, fmt: str) -> None:
    built = write_index(platform_specs(), where(tmp_path, fmt), fmt)

    images = open_images(str(where(tmp_path, fmt)), tmp_path)

    assert [str(i.platform) for i in images] == ["linux/amd64", "linux/arm64/v8"]
    assert [i.digest for i in images] == [b.manifest_digest for b in built]
    assert all(i.repo_tags for i in images)
    assert not any(p.inconclusive for i in images for p in i.problems)


@pytest.mark.parametrize("fmt", INDEX_FORMATS)
def test_platform_option_selects_one_image(tmp_path: Path, fmt: str) -> None:
    built = write_index(platform_specs(), where(tmp_path, fmt), fmt)

    [image] = open_images(str(where(tmp_path, fmt)), tmp_path, Platform.parse("linux/arm64"))

    assert image.id == built[1].config_digest


def test_unknown_platform_is_a_one_line_error_listing_the_platforms(tmp_path: Path) -> None:
    write_index(platform_specs(), tmp_path / "multi.tar", "oci-archive")

    with pytest.raises(SourceError) as err:
        open_images(str(tmp_path / "multi.tar"), tmp_path, Platform.parse("windows/amd64"))

    message = str(err.value)
    assert "linux/amd64" in message and "linux/arm64/v8" in message
    assert "\n" not in message


@pytest.mark.parametrize("fmt", INDEX_FORMATS)
def test_attestation_json_is_attached_to_the_image_it_references(tmp_path: Path, fmt: str) -> None:
    write_index(platform_specs(), where(tmp_path, fmt), fmt)

    amd64, arm64 = open_images(str(where(tmp_path, fmt)), tmp_path)

    [statement] = [m for m in amd64.metadata if m.area == "attestation"]
    assert statement.data["predicateType"] == "https://slsa.dev/provenance/v0.2"
    args = statement.data["predicate"]["invocation"]["parameters"]["args"]
    assert args == {"build-arg:HTTP_PROXY_TOKEN": "fake-build-arg-value"}
    assert "slsa.dev/provenance" in statement.where
    [other] = [m for m in arm64.metadata if m.area == "attestation"]
    assert other.data["subject"][0]["digest"]["sha256"] == arm64.digest.removeprefix("sha256:")  # type: ignore[union-attr]


def test_index_without_attestations_has_no_attestation_metadata(tmp_path: Path) -> None:
    write_index(platform_specs(), tmp_path / "multi.tar", "oci-archive", attestation=False)

    images = open_images(str(tmp_path / "multi.tar"), tmp_path)

    assert len(images) == 2
    assert not [m for i in images for m in i.metadata if m.area == "attestation"]


def test_index_annotations_are_kept_as_index_metadata(tmp_path: Path) -> None:
    write_index(platform_specs(), tmp_path / "multi.tar", "docker25-archive")

    image = open_images(str(tmp_path / "multi.tar"), tmp_path)[0]

    index_docs = [m for m in image.metadata if m.area == "index"]
    assert index_docs[0].where == "index.json"
    top = index_docs[0].data["manifests"][0]
    assert top["annotations"]["io.containerd.image.name"] == "docker.io/imgscan-test/multi:1"


def test_platform_listed_in_index_but_absent_is_skipped_with_a_note(tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    built = write_index(platform_specs(), layout, "oci-layout", attestation=False)
    (layout / "blobs" / "sha256" / built[1].manifest_digest[7:]).unlink()

    [image] = open_images(f"oci:{layout}", tmp_path)

    assert image.platform == Platform("linux", "amd64")
    assert any("not in the source" in p.what for p in image.problems)


def test_attestation_that_is_not_json_is_an_inconclusive_problem(tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    write_index(platform_specs()[:1], layout, "oci-layout")
    blobs = layout / "blobs" / "sha256"
    manifest = json.loads(next(p for p in blobs.iterdir() if _is_attestation(p)).read_text())
    layer_blob = blobs / manifest["layers"][0]["digest"][7:]
    layer_blob.write_bytes(b"{not json")

    [image] = open_images(f"oci:{layout}", tmp_path)

    assert [p for p in image.problems if p.inconclusive and "attestation" in p.where]


def _is_attestation(path: Path) -> bool:
    try:
        doc = json.loads(path.read_bytes())
    except ValueError:
        return False
    layers = doc.get("layers") if isinstance(doc, dict) else None
    return bool(layers) and layers[0].get("mediaType") == "application/vnd.in-toto+json"
