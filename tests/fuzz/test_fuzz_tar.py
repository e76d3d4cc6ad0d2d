"""Fuzz target: TarStream on mutated tars. A LayerError is an answer; any other exception is a crash."""

from __future__ import annotations

import io

import pytest
from hypothesis import given

from scanner.errors import LayerError
from scanner.tarstream import TarStream
from tests.differential.tarcraft import seed_archives
from tests.fuzz.mutate import fuzz_settings, mutated

pytestmark = pytest.mark.fuzz


SEEDS = seed_archives()


def drain(data: bytes) -> None:
    tar = TarStream(io.BytesIO(data), max_header_bytes=64 * 1024, chunk=1024)
    last = -1
    try:
        for entry in tar:
            assert (entry.offset > last and entry.size >= 0) or not entry.has_data
            last = entry.offset
            while tar.read(4096):
                pass
        b"".join(tar.rest())
    except LayerError as e:
        assert "\n" not in str(e)


@pytest.mark.parametrize("seed", range(len(SEEDS)))
def test_seeds_read(seed: int) -> None:
    drain(SEEDS[seed])


@fuzz_settings
@given(mutated(SEEDS))
def test_fuzz_tarstream(data: bytes) -> None:
    drain(data)
