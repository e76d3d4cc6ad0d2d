"""Prefilter: both engines select the same hits' lines; literals are NUL-safe; scratch per process."""

from __future__ import annotations

import pytest

from scanner.detectors.engine import Pattern, Prefilter, hyperscan_available, literal_pattern

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
