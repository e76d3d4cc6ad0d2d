"""The detector set: one list, one ranking, the strongest match per secret, names and link targets,
base64 values of YAML/JSON keys, placeholders, and the ruleset hash following detector versions."""

from __future__ import annotations

import base64
import dataclasses
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixtures.planted_secrets import fake_tokens
from scanner.detectors import DetectorConfig, DetectorSet, build_detectors, one_per_secret, rank, ruleset_hash
from scanner.detectors.base import Content, RawMatch
from scanner.detectors.patterns import PatternDetector
from scanner.findings import Severity


@pytest.fixture(scope="module")
def detectors() -> DetectorSet:
    return DetectorSet(DetectorConfig())


@dataclasses.dataclass(frozen=True)
class _Entry:
    path: str
    kind: str
    linkname: str | None = None


def _content(data: bytes, path: str) -> Content:
    return Content(path, None, data, 0, len(data), True, True)


def _tokens(seed: int) -> dict[str, str]:
    return fake_tokens(random.Random(seed))


# --- one ranking, the strongest match -------------------------------------------------------------------


def test_rank_orders_families_from_most_to_least_specific() -> None:
    assert rank("known-secret") < rank("credential-file/netrc") < rank("pattern/github-token")
    assert rank("metadata/env") == rank("credential-file/netrc")
    assert rank("pattern/keyword") < rank("entropy/base64") < rank("no-such-family/x")


def test_a_token_inside_a_keyword_value_keeps_its_higher_severity(detectors: DetectorSet) -> None:
    key = _tokens(21)["aws"]
    data = f"password: 'AWS_ACCESS_KEY_ID={key}'\n".encode()
    kept = detectors.scan_content(_content(data, "app/config.yaml"))
    assert [(m.rule, m.secret) for m in kept if m.end > m.start] == [("pattern/aws-access-key", key)]


_RULES = ["pattern/keyword", "pattern/aws-access-key", "entropy/base64", "credential-file/netrc"]


@st.composite
def _matches(draw: st.DrawFn) -> list[RawMatch]:
    out = []
    for _ in range(draw(st.integers(1, 12))):
        start = draw(st.integers(0, 60))
        severity = draw(st.none() | st.sampled_from(list(Severity)))
        out.append(
            RawMatch(draw(st.sampled_from(_RULES)), start, start + draw(st.integers(1, 25)), "s", severity)
        )
    return out


@settings(max_examples=300, deadline=None)
@given(_matches())
def test_every_dropped_match_is_covered_by_a_kept_one_at_least_as_severe(matches: list[RawMatch]) -> None:
    detectors = DetectorSet(DetectorConfig())
    kept = one_per_secret(list(matches), detectors.severities)
    assert kept, "something always stays"
    for m in matches:
        assert any(
            k.start < m.end and m.start < k.end and detectors.severity(k) >= detectors.severity(m)
            for k in kept
        ), m
    for a in kept:  # and what stays does not overlap
        assert not any(b is not a and a.start < b.end and b.start < a.end for b in kept)


def test_ruleset_hash_changes_with_any_detectors_version(
    detectors: DetectorSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = ruleset_hash(detectors.rules)
    assert ruleset_hash(detectors.rules) == before
    monkeypatch.setattr(PatternDetector, "version", PatternDetector.version + "-changed")
    assert ruleset_hash(detectors.rules) != before


def test_a_detector_reading_a_rule_table_carries_the_tables_digest_in_its_version() -> None:
    from scanner.detectors.base import table_digest
    from scanner.detectors.filenames import SensitiveFileDetector

    assert PatternDetector.version.endswith(table_digest("patterns.toml"))
    assert SensitiveFileDetector.version.endswith(table_digest("filenames.toml"))
    assert table_digest("patterns.toml") != table_digest("filenames.toml")


def test_every_rule_belongs_to_exactly_one_detector(detectors: DetectorSet) -> None:
    owners = [r.id for d in detectors.detectors for r in d.rules]
    assert len(owners) == len(set(owners)) == len(detectors.rules)
    assert {type(d).family for d in detectors.detectors} >= {"known-secret", "pattern", "entropy", "metadata"}


# --- names and link targets -------------------------------------------------------------------------------


def test_token_rules_see_member_names_and_link_targets(detectors: DetectorSet) -> None:
    tokens = _tokens(22)
    named = detectors.scan_member(_Entry(f"app/cache/{tokens['github']}/data", "file"))
    assert [(m.rule, m.secret) for m in named] == [("pattern/github-token", tokens["github"])]
    linked = detectors.scan_member(_Entry("app/current", "symlink", f"/srv/{tokens['stripe']}"))
    assert [(m.rule, m.secret) for m in linked] == [("pattern/stripe-key", tokens["stripe"])]
    assert detectors.scan_member(_Entry("usr/lib/python3/dist-packages/keyring/backend.py", "file")) == []


# --- placeholders ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "placeholder",
    [
        "sk_live_XXXXXXXXXXXXXXXXXXXXXXXX",
        "ghp_" + "x" * 36,
        "ghp_" + "ab" * 18,
        "AKIA" + "X" * 16,
        "AKIA" + "0" * 16,
        "glpat-" + "x" * 20,
        "npm_" + "0" * 36,
    ],
)
def test_a_token_with_a_filler_body_is_a_placeholder_for_every_token_rule(
    detectors: DetectorSet, placeholder: str
) -> None:
    real = _tokens(23)["stripe"]  # a control: the same line shape with a random body is reported
    data = f'key = "{placeholder}"\nkey = "{real}"\n'.encode()
    kept = [
        m for m in detectors.scan_content(_content(data, "app/settings.txt")) if m.severity != Severity.INFO
    ]
    assert [m.secret for m in kept] == [real]


# --- base64 values of YAML and JSON keys -----------------------------------------------------------------


def test_kubernetes_secret_token_is_decoded_and_reported_at_the_named_rules_severity(
    detectors: DetectorSet,
) -> None:
    token = _tokens(24)["github"]
    encoded = base64.b64encode(token.encode()).decode()
    manifest = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: deploy\ntype: Opaque\n"
        f"data:\n  username: {base64.b64encode(b'deployer').decode()}\n  token: {encoded}\n"
    ).encode()
    kept = detectors.scan_content(_content(manifest, "deploy/k8s/secret.yaml"))
    [m] = [m for m in kept if m.rule == "pattern/github-token"]
    assert (m.secret, m.note) == (token, "base64-decoded value of data.token")
    assert manifest[m.start : m.end].decode() == encoded
    assert detectors.severity(m) == Severity.HIGH
    assert [k for k in kept if k is not m and k.start < m.end and m.start < k.end] == []  # no LOW/MEDIUM twin


def test_base64_json_value_is_decoded_but_other_files_and_random_bytes_are_not(
    detectors: DetectorSet,
) -> None:
    token = _tokens(25)["slack"]
    doc = f'{{"auth": {{"slackToken": "{base64.b64encode(token.encode()).decode()}"}}}}'.encode()
    [m] = [
        m
        for m in detectors.scan_content(_content(doc, "etc/app/config.json"))
        if m.rule == "pattern/slack-token"
    ]
    assert m.note == "base64-decoded value of slackToken"
    assert not [m for m in detectors.scan_content(_content(doc, "etc/app/config.txt")) if m.note]
    noise = f'{{"digest": "{base64.b64encode(random.Random(1).randbytes(48)).decode()}"}}'.encode()
    assert not [m for m in detectors.scan_content(_content(noise, "a.json")) if m.note]


def test_the_set_reports_what_its_detectors_report_alone(detectors: DetectorSet) -> None:
    from fixtures.planted_secrets import planted_files

    alone = build_detectors(DetectorConfig())  # the same detectors, each with its own database
    files = planted_files(random.Random(31), ["plain text line", "x = 1"], n_files=12)
    total = 0
    for path, data in files.items():
        content = _content(data, path)
        expected = one_per_secret(
            [m for d in alone if hasattr(d, "scan_content") for m in d.scan_content(content)]
        )
        found = detectors.scan_content(content)
        assert found == expected, path
        total += len(found)
    assert total > 20


def test_threads_sharing_a_set_get_each_windows_own_matches(detectors: DetectorSet) -> None:
    from concurrent.futures import ThreadPoolExecutor

    tokens = _tokens(32)
    windows = [_content(f"k{i} = '{tokens[kind]}'\n".encode() * 200, f"a/{i}.txt") for i, kind in
               enumerate(["github", "stripe", "slack", "npm"] * 6)]  # fmt: skip
    expected = [detectors.scan_content(w) for w in windows]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            assert list(pool.map(detectors.scan_content, windows)) == expected
