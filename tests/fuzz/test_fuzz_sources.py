"""Fuzz target: open_images on mutated image archives (and their layers walked); only ScanError may escape."""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixtures.build import FileSpec, ImageSpec, LayerSpec, write_image
from scanner.detectors.base import Content
from scanner.errors import ScanError
from tests.fuzz.api import Limits, Member, open_images, walk_layer
from tests.fuzz.mutate import fuzz_settings, mutated

pytestmark = pytest.mark.fuzz

ARCHIVE_FORMATS = ("docker-archive", "podman-archive", "docker25-archive", "oci-archive")


class _Ignore:
    def member(self, member: Member) -> None:
        pass

    def content(self, member: Member, content: Content) -> None:
        pass


def _seed(fmt: str) -> bytes:
    spec = ImageSpec([LayerSpec([FileSpec("app/x.env", b"TOKEN=fake-seed-value\n")], "COPY x.env /app/")])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "image.tar"
        write_image(spec, path, fmt)
        return path.read_bytes()


SEEDS = [_seed(fmt) for fmt in ARCHIVE_FORMATS]


def scan(data: bytes) -> None:
    """Open the archive and walk every layer; a ScanError (one line) is a fine answer, nothing else is."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "image.tar"
        path.write_bytes(data)
        work = Path(tmp) / "work"
        work.mkdir()
        try:
            for image in open_images(str(path), work):
                for layer in image.layers:
                    walk_layer(layer, Limits(spool_dir=str(work)), _Ignore())
        except ScanError as e:
            assert "\n" not in str(e)


def _replace(archive: bytes, names: tuple[str, ...], content: bytes) -> bytes:
    """The archive with the members of those names given new content."""
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(archive)) as src, tarfile.open(fileobj=out, mode="w") as dst:
        for info in src:
            data = src.extractfile(info) if info.isreg() else None
            if info.name in names:
                info.size, data = len(content), io.BytesIO(content)
            dst.addfile(info, data)
    return out.getvalue()


_KEYS = ["Config", "Layers", "RepoTags", "manifests", "mediaType", "digest", "size", "layers", "config"]
_json: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.just("sha256:" + "0" * 64),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(_KEYS), inner, max_size=5),
    max_leaves=20,
)


@pytest.mark.parametrize("fmt", ARCHIVE_FORMATS)
def test_seeds_open(fmt: str) -> None:
    scan(SEEDS[ARCHIVE_FORMATS.index(fmt)])


@fuzz_settings
@given(mutated(SEEDS))
def test_fuzz_image_archive_bytes(data: bytes) -> None:
    scan(data)


@fuzz_settings
@given(seed=st.sampled_from(SEEDS), document=_json)
def test_fuzz_manifest_documents(seed: bytes, document: Any) -> None:
    scan(_replace(seed, ("manifest.json", "index.json"), json.dumps(document).encode()))
