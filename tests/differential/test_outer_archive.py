"""The outer archive: imgscan must read the manifest.json that the runtime (`docker load`, Go) reads."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from fixtures.build import FileSpec, ImageSpec, LayerSpec, write_image
from scanner.errors import ScanError
from scanner.sources import open_images
from tests.differential.oracle import go_list
from tests.differential.tarcraft import Header, end, member


def _members(path: Path) -> list[tuple[tarfile.TarInfo, bytes]]:
    with tarfile.open(path) as tar:
        return [(m, (tar.extractfile(m) or io.BytesIO()).read() if m.isreg() else b"") for m in tar]


def _smuggling_archive(tmp_path: Path) -> bytes:
    """Image A, image B's blobs, and B's manifest.json hidden in a member only tarfile misreads.

    The hiding member's size has a leading NUL: Go reads its digits and takes B's manifest header for
    data; tarfile reads size 0 and finds a second manifest.json, which then wins as the later one.
    """
    real = ImageSpec(
        [LayerSpec([FileSpec("app/.env", b"TOKEN=fake-real-image\n")], "COPY")], repo_tag="t/a:1"
    )
    decoy = ImageSpec([LayerSpec([FileSpec("app/readme", b"nothing here\n")], "COPY")], repo_tag="t/b:1")
    write_image(real, tmp_path / "a.tar", "docker-archive")
    write_image(decoy, tmp_path / "b.tar", "docker-archive")
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for info, data in _members(tmp_path / "a.tar"):
            tar.addfile(info, io.BytesIO(data))
        hidden = b""
        for info, data in _members(tmp_path / "b.tar"):
            if info.name == "manifest.json":
                hidden = member(Header(b"manifest.json", size=len(data)), data)
            elif info.name != "repositories":
                tar.addfile(info, io.BytesIO(data))
    archive = out.getvalue().rstrip(b"\0")
    archive += bytes(-len(archive) % 512)
    return archive + member(Header(b"hidden", size=len(hidden), size_style="leading-nul"), hidden) + end()


def test_manifest_hidden_from_go_is_not_the_one_imgscan_reads(gotar: Path, tmp_path: Path) -> None:
    archive = _smuggling_archive(tmp_path)
    [go] = go_list(gotar, [archive])
    assert go.error is None and [e.name for e in go.entries].count(b"manifest.json") == 1
    path = tmp_path / "smuggled.tar"
    path.write_bytes(archive)
    try:
        images = open_images(str(path), tmp_path)
    except ScanError:
        return  # inconclusive is a safe answer
    assert [tag for image in images for tag in image.repo_tags] == ["t/a:1"]
