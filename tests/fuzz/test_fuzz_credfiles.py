"""Fuzz target: every credential-file parser, and the known-secret value extraction, on mutated text.

Seeds are the tiny files in seeds/credfiles (fake secrets only), one per format in PARSERS.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.api import PARSERS, extract_values, load_known_secrets, parse
from tests.fuzz.mutate import fuzz_settings, mutated

pytestmark = pytest.mark.fuzz

SEED_DIR = Path(__file__).parent / "seeds" / "credfiles"
SEEDS = {path.stem: path.read_bytes() for path in sorted(SEED_DIR.glob("*.txt"))}


def check_parse(fmt: str, text: str) -> None:
    """The parser never raises, and every credential it reports points at text inside the file."""
    for cred in parse(fmt, text).credentials:
        assert 0 <= cred.start <= cred.end <= len(text), (fmt, cred.field)


def test_every_format_has_a_seed_the_parser_understands() -> None:
    assert sorted(SEEDS) == sorted(PARSERS)
    for fmt, seed in SEEDS.items():
        parsed = parse(fmt, seed.decode())
        assert parsed.understood and parsed.credentials, fmt


@fuzz_settings
@given(fmt=st.sampled_from(sorted(PARSERS)), data=st.data())
def test_fuzz_credential_parsers(fmt: str, data: st.DataObject) -> None:
    # Mostly this format's own seed, sometimes another format's: parsers meet foreign files too.
    seeds = [SEEDS[fmt]] if data.draw(st.integers(0, 3)) else list(SEEDS.values())
    raw = data.draw(mutated(seeds))
    check_parse(fmt, raw.decode("utf-8", "surrogateescape"))


@fuzz_settings
@given(text=st.text(max_size=300) | mutated(list(SEEDS.values())).map(lambda b: b.decode("utf-8", "replace")))
def test_fuzz_known_secret_extraction(text: str) -> None:
    for key, value in extract_values(text):
        assert isinstance(key, str) and isinstance(value, str)


@fuzz_settings
@given(raw=mutated(list(SEEDS.values())))
def test_fuzz_known_secret_files(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "secret"
        path.write_bytes(raw)
        [secret] = load_known_secrets([f"id=fuzz,src={path}"])
        assert secret.id == "fuzz" and all(v for v in secret.values)
        assert "values=<" in repr(secret)  # never the values themselves
