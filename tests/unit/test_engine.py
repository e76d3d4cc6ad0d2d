"""Prefilter: both engines select the same hits' lines; literals are NUL-safe; scratch per process."""

from __future__ import annotations

import pytest

from scanner.detectors.engine import Pattern, Prefilter, SharedScan, hyperscan_available, literal_pattern

needs_hs = pytest.mark.skipif(not hyperscan_available(), reason="hyperscan not installed")


@needs_hs
def test_literal_with_nul_and_regex_metacharacters_matches_exactly() -> None:
    lit = b"a\x00b.c*(d)"
    for engine in (True, False):
        pf = Prefilter([Pattern(literal_pattern(lit))], use_hyperscan=engine)
        data = b"xx" + lit + b"yy a\x00bXc*(d)"
        assert pf.scan(data) == [(0, 2 + len(lit))]


@needs_hs
def test_caseless_flag_applies_per_pattern_in_both_engines() -> None:
    pats = [Pattern(b"secret", caseless=True), Pattern(b"AKIA")]
    data = b"SeCrEt akia AKIA"
    for engine in (True, False):
        hits = Prefilter(pats, use_hyperscan=engine).scan(data)
        assert hits == [(0, 6), (1, 16)]


def test_python_fallback_works_without_hyperscan() -> None:
    pf = Prefilter([Pattern(b"gh[pousr]_[A-Za-z0-9]{4}")], use_hyperscan=False)
    assert pf.engine == "re"
    assert pf.scan(b"a ghp_abcd b\nghx_abcd") == [(0, 10)]


def test_no_patterns_and_empty_data_give_no_hits() -> None:
    assert Prefilter([], use_hyperscan=False).scan(b"anything") == []
    assert Prefilter([Pattern(b"x")], use_hyperscan=False).scan(b"") == []


@needs_hs
@pytest.mark.parametrize("engine", [True, False])
def test_joined_prefilters_answer_as_they_would_alone_from_one_pass(engine: bool) -> None:
    groups = [
        [Pattern(b"gh[pousr]_[A-Za-z0-9]{4}"), Pattern(b"secret", caseless=True)],
        [Pattern(literal_pattern(b"a\x00b"))],
        [Pattern(b"=[ \t]*[A-Za-z0-9]{6}")],
    ]
    alone = [Prefilter(g, use_hyperscan=engine) for g in groups]
    joined = [Prefilter(g, use_hyperscan=engine) for g in groups]
    shared = SharedScan(joined)
    data = b"x = ghp_abcd SECRET a\x00b\nkey=abcdef ghs_wxyz secret"
    calls = 0
    real_scan = shared.prefilter.scan

    def counting_scan(buf: bytes) -> list[tuple[int, int]]:
        nonlocal calls
        calls += 1
        return real_scan(buf)

    shared.prefilter.scan = counting_scan  # type: ignore[method-assign]
    shared.pin(data)
    for a, j in zip(alone, joined, strict=True):
        assert j.scan(data) == a.scan(data) and a.scan(data)
    assert calls == 1  # one pass served all three
    other = b"ghp_1234 and a\x00b"
    assert [j.scan(other) for j in joined] == [a.scan(other) for a in alone]
    assert [j.scan(data) for j in joined] == [a.scan(data) for a in alone]  # the pinned window stays
    assert calls == 2


@needs_hs
def test_a_serialized_database_loads_and_finds_the_same_hits() -> None:
    patterns = [Pattern(b"AKIA[0-9A-Z]{16}"), Pattern(b"password", caseless=True)]
    built = Prefilter(patterns, use_hyperscan=True)
    blob = built.serialize()
    assert blob
    loaded = Prefilter(patterns, use_hyperscan=True)
    loaded.load(blob)
    data = b"PASSWORD AKIA0123456789ABCDEF x"
    assert loaded.scan(data) == built.scan(data) == [(1, 8), (0, 29)]
