"""The provider catalogue: each rule against its own examples, the loader's checks, the detector's API."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scanner.detectors import DetectorConfig, DetectorSet, one_per_secret
from scanner.detectors.base import Content, MetadataString, RawMatch
from scanner.detectors.catalogue import CatalogueDetector, ProviderRule, load_catalogue
from scanner.detectors.catalogue.loader import build_rule, parse_file
from scanner.detectors.engine import hyperscan_available
from scanner.detectors.patterns import RULES as PATTERN_RULES
from scanner.errors import ScanError
from scanner.findings import Severity

CATALOGUE = load_catalogue()
BY_ID = {r.id: r for r in CATALOGUE}
IDS = [r.id for r in CATALOGUE]
FULL = CatalogueDetector()


def content(text: str, path: str = "app/config.env") -> Content:
    data = text.encode()
    return Content(path, None, data, 0, len(data), True, True)


def single(rule: ProviderRule) -> CatalogueDetector:
    return CatalogueDetector(catalogue=[rule])


def test_catalogue_has_at_least_300_provider_formats() -> None:
    providers = {r.provider for r in CATALOGUE if r.check is None}
    assert len([r for r in CATALOGUE if r.check is None]) >= 300
    assert len(providers) >= 150


@pytest.mark.parametrize("rule_id", IDS)
def test_every_rule_has_positive_and_negative_examples(rule_id: str) -> None:
    rule = BY_ID[rule_id]
    assert rule.positives, f"{rule_id} ({rule.source}) has no positive example"
    assert rule.negatives, f"{rule_id} ({rule.source}) has no negative example"


@pytest.mark.parametrize("rule_id", IDS)
def test_every_rule_finds_each_positive_at_its_severity_and_none_of_its_negatives(rule_id: str) -> None:
    rule = BY_ID[rule_id]
    det = single(rule)
    for line in rule.positives:
        found = [m for m in det.scan_content(content(line)) if m.rule == rule_id]
        assert found, f"{rule_id} misses its positive {line!r}"
        assert all(m.severity == rule.severity for m in found)
        assert all(m.secret and m.secret in line for m in found)
    for line in rule.negatives:
        assert not [m for m in det.scan_content(content(line)) if m.rule == rule_id], (
            f"{rule_id} matches {line!r}"
        )


def test_whole_catalogue_reports_every_positive_at_least_at_its_rules_severity() -> None:
    misses = []
    for rule in CATALOGUE:
        for line in rule.positives:
            found = FULL.scan_content(content(line))
            if not any(m.severity is not None and m.severity >= rule.severity for m in found):
                misses.append((rule.id, line))
    assert not misses


@pytest.mark.skipif(not hyperscan_available(), reason="hyperscan is not installed")
def test_hyperscan_and_re_prefilters_give_the_same_matches_on_every_example() -> None:
    python = CatalogueDetector(use_hyperscan=False)
    assert FULL.prefilter.engine == "hyperscan" and python.prefilter.engine == "re"
    for rule in CATALOGUE:
        for line in rule.positives + rule.negatives:
            assert FULL.scan_content(content(line)) == python.scan_content(content(line)), line


def test_catalogue_ids_are_unique_and_distinct_from_the_pattern_detectors() -> None:
    assert len(IDS) == len(set(IDS))
    assert not set(IDS) & {r.id for r in PATTERN_RULES}
    assert all(r.id == f"pattern/{r.provider}-{r.kind}" for r in CATALOGUE)


def test_a_placeholder_in_a_providers_format_is_not_reported() -> None:
    rule = BY_ID["pattern/stripe-live-secret-key"]
    assert not single(rule).scan_content(content("STRIPE_KEY=sk_live_XXXXXXXXXXXXXXXXXXXXXXXX"))
    assert not single(rule).scan_content(content("STRIPE_KEY=sk_live_000000000000000000000000"))


def test_a_documented_example_with_a_long_run_of_one_character_is_not_reported() -> None:
    rule = BY_ID["pattern/aws-session-token"]
    example = "IQoJb3JpZ2luX2VjEOz" + "/" * 20 + "wEaCXVzLWVhc3QtMSJHMEUCIDoKK3JH9uGQE1z0sINr5M4jk" * 2
    assert not single(rule).scan_content(content(f"AWS_SESSION_TOKEN={example}"))
    twitter = BY_ID["pattern/twitter-bearer-token"]
    assert single(twitter).scan_content(content(twitter.positives[0])), "a run the format itself has is fine"


def test_a_weak_format_needs_its_keyword_within_the_window_on_the_same_line() -> None:
    rule = BY_ID["pattern/mailgun-api-key"]
    token = "key-3f9a0c1d2e4b5a6978d0c1b2a3f4e5d6"
    det = single(rule)
    assert det.scan_content(content(f"MAILGUN_API_KEY={token}"))
    assert not det.scan_content(content(f"MAILGUN_API_KEY=\n{token}")), "keyword on another line"
    padding = "x" * (rule.window + 1)
    assert not det.scan_content(content(f"mailgun {padding} {token}")), "token beyond the keyword window"
    assert not det.scan_content(content(f"SOME_KEY={token}")), "no keyword"


def test_metadata_keys_give_keyword_rules_their_context_and_offsets_are_in_the_value() -> None:
    token = "key-3f9a0c1d2e4b5a6978d0c1b2a3f4e5d6"
    item = MetadataString("config", "Env.MAILGUN_API_KEY", token)
    found = FULL.scan_metadata(item)
    assert [(m.rule, m.start, m.end, m.secret) for m in found] == [
        ("pattern/mailgun-api-key", 0, len(token), token)
    ]
    assert not FULL.scan_metadata(MetadataString("config", "Env.BUILD_REF", token))


GENERIC = BY_ID["pattern/generic-assignment"]
REAL_LOOKING = "q7Rk2LmZ9vXw4Tn8Bc3Hd6Jf"


@pytest.mark.parametrize(
    "line",
    [
        f"PAYMENTS_API_KEY={REAL_LOOKING}",
        f'export ORDERS_TOKEN="{REAL_LOOKING}"',
        f"client_secret: {REAL_LOOKING}",
        f'{{"db_password": "{REAL_LOOKING}"}}',
        f"app.auth.secret = {REAL_LOOKING}",
        f"ENV CRM_SECRET {REAL_LOOKING}",
        f'SMTP_PASSWORD := "{REAL_LOOKING}"',
    ],
)
def test_generic_assignment_is_found_in_every_syntax_below_the_default_gate(line: str) -> None:
    """A heuristic: medium, so documentation examples in third-party packages never fail a default gate."""
    found = single(GENERIC).scan_content(content(line))
    assert [(m.secret, m.severity) for m in found] == [(REAL_LOOKING, Severity.MEDIUM)]


@pytest.mark.parametrize(
    "line",
    [
        "password = get_password(user)",
        "token = self.tokenizer.next_token2()",
        "api_key = settings.API_KEY_V2",
        "SECRET_KEY=${SECRET_KEY:-abc123def456ghi789}",
        "password: hunter2",
        "page_token = Xk2jd8Fh3kLq0Pzm4Nw7Rt5Vb",
        "auth_token_url = https://login.invalid/oauth2/v2.0/token",
        "api_key = aaaaaaaaaaaaaaaa1111111111111111",
        "client_secret: your_client_secret_here_123",
        "exports.SOCKS5_USERNAME_PASSWORD_AUTH = SOCKS5_USERNAME_PASSWORD_AUTH;",
        "  password: 'bm90IG15IHJlYWwgcGFzc3dvcmQ=',",
        '"PurchaseToken": "eyJ2IjoiMSIsInMiOjEsImMiOi...",',
    ],
)
def test_generic_assignment_ignores_code_placeholders_and_low_entropy_values(line: str) -> None:
    assert not single(GENERIC).scan_content(content(line)), line


def test_generic_assignment_skips_binaries_but_provider_tokens_do_not() -> None:
    token = "ghp_" + "Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6"
    data = b"\x00\x01ELF" + f" API_TOKEN={REAL_LOOKING} {token} ".encode() + b"\x00"
    found = FULL.scan_content(Content("usr/bin/app", None, data, 0, len(data), True, True))
    assert [m.rule for m in found] == ["pattern/github-personal-access-token"]


def test_confirm_entry_point_finds_the_token_around_a_prefilter_hit() -> None:
    token = "glpat-" + "Zq3Xw8Rt5Yu2Io9Pa6Sd"
    data = f"CI_TOKEN={token}\n".encode()
    by_rule = dict(FULL.prefilter_patterns())
    assert "pattern/gitlab-personal-access-token" in by_rule
    end = data.index(b"glpat-") + len("glpat-")
    found = FULL.confirm("pattern/gitlab-personal-access-token", data, end)
    assert [(m.secret, m.start) for m in found] == [(token, data.index(b"glpat-"))]


def test_detector_set_lists_the_catalogue_and_keeps_the_older_rule_at_equal_severity() -> None:
    dset = DetectorSet(DetectorConfig())
    ids = {r.id for r in dset.rules}
    assert set(IDS) <= ids
    found = dset.scan_content(content(f"ORDERS_API_KEY = '{REAL_LOOKING}'", "app/settings.py"))
    # Both medium on the same bytes: detect-secrets' keyword rule, the older id, stays.
    assert [(m.rule, m.secret) for m in found] == [("pattern/keyword", REAL_LOOKING)]


def test_one_per_secret_breaks_a_tie_at_the_same_offset_by_severity() -> None:
    keyword = RawMatch("pattern/keyword", 10, 30, "v" * 20)
    generic = RawMatch("pattern/generic-assignment", 10, 30, "v" * 20, severity=Severity.HIGH)
    severities = {"pattern/keyword": Severity.MEDIUM}
    assert one_per_secret([keyword, generic], severities) == [generic]


def _entry(**over: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "provider": "acme",
        "kind": "token",
        "title": "Acme token",
        "severity": "high",
        "token": "acme_[a-z0-9]{20}",
        "prefix": ["acme_"],
        "revoke": "Revoke it at Acme.",
    }
    entry.update(over)
    return entry


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"colour": "red"}, "unknown fields"),
        ({"severity": "urgent"}, "unknown severity"),
        ({"token": "acme_[a-z0-9]{20,}"}, "8 to 1024"),
        ({"token": "acme_([a-z0-9]{20})"}, "no capturing groups"),
        ({"token": "acme_[a-z0-9"}, "does not compile"),
        ({"keywords": ["acme"]}, "not both"),
        ({"prefix": []}, "needs a prefix"),
        ({"prefix": [], "prefilter": ["acme_(?=x)"]}, "lookaround"),
        ({"prefix": [], "prefilter": ["acme_[a-z]{2,}"]}, "unbounded"),
        ({"prefix": ["ac"]}, "at least 3"),
        ({"window": 1000}, "window"),
        ({"provider": "Acme Inc"}, "slugs"),
        ({"revoke": ""}, "revoke"),
    ],
)
def test_loader_rejects_a_malformed_rule_with_one_line_naming_it(over: dict[str, Any], message: str) -> None:
    with pytest.raises(ScanError, match=message) as info:
        build_rule(_entry(**over), "providers/test.toml")
    assert "acme" in str(info.value).lower() and "\n" not in str(info.value)


def test_loader_rejects_files_that_are_not_rule_tables() -> None:
    with pytest.raises(ScanError, match="not valid TOML"):
        parse_file("providers/bad.toml", "[[rule]\n")
    with pytest.raises(ScanError, match="only"):
        parse_file("providers/bad.toml", "[settings]\nx = 1\n")


def test_committed_rules_doc_is_generated_from_the_catalogue() -> None:
    script = Path(__file__).resolve().parents[2] / "scripts/gen-rules-doc"
    run = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr


def test_overlapping_matches_keep_the_provider_rule_and_a_file_full_of_tokens_stays_linear() -> None:
    token = "ghp_" + "Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6"
    found = FULL.scan_content(content(f"GITHUB_API_TOKEN={token}"))
    assert [m.rule for m in found] == ["pattern/github-personal-access-token"]
    many = "\n".join(f"t{i} {token[:-6]}{i:06d}" for i in range(20_000))
    assert len(FULL.scan_content(content(many))) == 20_000


def test_ruleset_hash_changes_with_the_catalogues_data(monkeypatch: pytest.MonkeyPatch) -> None:
    from scanner.detectors import ruleset_hash
    from scanner.detectors.catalogue import loader

    rules = DetectorSet(DetectorConfig()).rules
    before = ruleset_hash(rules)
    files = loader.data_files()
    changed = [(files[0][0], files[0][1] + "\n"), *files[1:]]
    monkeypatch.setattr(loader, "data_files", lambda: changed)
    loader.catalogue_digest.cache_clear()
    try:
        assert ruleset_hash(rules) != before
    finally:
        loader.catalogue_digest.cache_clear()
