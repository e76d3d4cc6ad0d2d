"""Fuzz target: the layer walk over mutated nested archives (zip, gzip, zstd, tar inside a layer).

walk_layer turns content trouble into Problems: any exception out of it is a crash.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.api import Limits, walk_layer
from tests.fuzz.mutate import fuzz_settings, mutated
from tests.unit.layerfix import NullVisitor, gz, make_layer, tar_bytes, zip_bytes, zst

pytestmark = pytest.mark.fuzz

_INNER = tar_bytes([("conf/app.env", b"API_TOKEN=fake-nested-seed\n"), ("conf", None)])
SEEDS = [
    zip_bytes([("a.properties", b"password=fake-seed\n"), ("lib/x.jar", zip_bytes([("y.txt", b"y")]))]),
    gz(_INNER),
    zst(_INNER),
    _INNER,
    gz(b"plain text, gzip'd\n"),
]
NAMES = ["app.jar", "dump.tar.gz", "data.tar.zst", "inner.tar", "notes.gz"]


def walk(name: str, nested: bytes) -> None:
    layer_tar = tar_bytes([("opt/" + name, nested), ("opt/after.txt", b"after")])
    with tempfile.TemporaryDirectory() as tmp:
        layer = make_layer(Path(tmp), layer_tar, compressed=False)
        summary = walk_layer(layer, Limits(spool_dir=tmp, max_nested_bytes=1 << 22), NullVisitor())
        for problem in summary.problems:
            assert "\n" not in problem.what


@pytest.mark.parametrize("index", range(len(SEEDS)))
def test_seeds_walk(index: int) -> None:
    walk(NAMES[index], SEEDS[index])


@fuzz_settings
@given(name=st.sampled_from(NAMES), nested=mutated(SEEDS))
def test_fuzz_nested_archives(name: str, nested: bytes) -> None:
    walk(name, nested)
