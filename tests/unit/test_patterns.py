"""PatternDetector: prefilter equivalence with plain detect-secrets, full values, extra rules, filters."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from fixtures.planted_secrets import fake_tokens, planted_files
from scanner.detectors.base import Content, MetadataString
from scanner.detectors.engine import hyperscan_available
from scanner.detectors.pattern_rules import RULES
from scanner.detectors.patterns import PatternDetector, plain_detect_secrets_hits
from scanner.findings import Severity

ENGINES = [pytest.param(True, id="hyperscan"), pytest.param(False, id="python-re")]


def _benign() -> list[str]:
    text = Path(random.__file__).read_text()
    return [ln for ln in text.splitlines() if ln.strip()][:800]


def _content(data: bytes, path: str = "app/config.py", offset: int = 0) -> Content:
    return Content(
        path=path, inner_path=None, data=data, offset=offset, size=len(data), is_first=True, is_last=True,
    )  # fmt: skip


@pytest.fixture(scope="module", params=ENGINES)
def detector(request: pytest.FixtureRequest) -> PatternDetector:
    if request.param and not hyperscan_available():
        pytest.skip("hyperscan not installed")
    return PatternDetector(use_hyperscan=request.param)


def _scan(det: PatternDetector, data: bytes, path: str = "app/config.py") -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for m in det.scan_content(_content(data, path)):
        found.setdefault(m.rule, []).append(m.secret)
    return found


def test_prefilter_pipeline_finds_exactly_what_plain_detect_secrets_finds(detector: PatternDetector) -> None:
    files = planted_files(random.Random(7), _benign(), n_files=30)
    total = 0
    for path, data in files.items():
        expected = plain_detect_secrets_hits(path, data)
        assert detector.detect_secrets_hits(path, data) == expected, path
        total += len(expected)
    assert total > 150  # the corpus really holds many secrets of many types


def test_every_match_span_holds_the_reported_secret(detector: PatternDetector) -> None:
    files = planted_files(random.Random(11), _benign(), n_files=10)
    checked = 0
    for path, data in files.items():
        for m in detector.scan_content(_content(data, path)):
            assert data[m.start : m.end].decode() == m.secret
            checked += 1
    assert checked > 20  # the planted files really hold secrets of many kinds


@pytest.mark.parametrize(
    ("kind", "rule"),
    [
        ("aws", "pattern/aws-access-key"),
        ("github", "pattern/github-token"),
        ("github_app", "pattern/github-token"),
        ("github_pat", "pattern/github-fine-grained-token"),
        ("gitlab", "pattern/gitlab-token"),
        ("gitlab_runner", "pattern/gitlab-token"),
        ("npm", "pattern/npm-token"),
        ("pypi", "pattern/pypi-token"),
        ("slack", "pattern/slack-token"),
        ("slack_webhook", "pattern/slack-token"),
        ("stripe", "pattern/stripe-key"),
        ("openai_legacy", "pattern/openai-key"),
        ("openai", "pattern/openai-project-key"),
        ("anthropic", "pattern/anthropic-key"),
        ("huggingface", "pattern/huggingface-token"),
        ("sendgrid", "pattern/sendgrid-key"),
        ("shopify", "pattern/shopify-token"),
        ("twilio", "pattern/twilio-key"),
        ("google", "pattern/google-api-key"),
        ("square", "pattern/square-oauth-secret"),
        ("jwt", "pattern/jwt"),
    ],
)
def test_token_kind_is_found_with_its_full_value(detector: PatternDetector, kind: str, rule: str) -> None:
    token = fake_tokens(random.Random(kind))[kind]
    found = _scan(detector, f"x = 1\nvalue: {token}\n".encode(), path="app/notes.txt")
    assert token in found.get(rule, []), found


def test_azure_key_secret_is_the_key_without_its_name(detector: PatternDetector) -> None:
    key = fake_tokens(random.Random(3))["azure"]
    found = _scan(detector, f"conn=AccountName=a;AccountKey={key};x".encode())
    assert found["pattern/azure-storage-key"] == [key]


def test_private_key_secret_is_the_whole_pem_block(detector: PatternDetector) -> None:
    body = "\n".join("MIIE" + "Ab1+" * 15 for _ in range(4))
    pem = f"-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----"
    found = _scan(detector, f"junk\n{pem}\nmore\n".encode(), path="root/.ssh/id_ed25519")
    assert found["pattern/private-key"] == [pem]


def test_code_that_only_names_a_private_key_header_is_not_a_key(detector: PatternDetector) -> None:
    data = b'HEADER = "-----BEGIN RSA PRIVATE KEY-----"\nif line == HEADER:\n    pass\n'
    assert "pattern/private-key" not in _scan(detector, data)


def test_url_credentials_for_database_schemes(detector: PatternDetector) -> None:
    for url, pw in [
        ("mongodb+srv://svc:Zq9!xK2pLm@cluster0.example.net/db", "Zq9!xK2pLm"),
        ("amqps://bus:R4bb1tPw9@mq.internal/", "R4bb1tPw9"),
        ("redis://default:R3d1sPw77@cache:6379", "R3d1sPw77"),
    ]:
        found = _scan(detector, f"url = {url}\n".encode(), path="app/settings.txt")
        secrets = found.get("pattern/url-credentials", []) + found.get("pattern/basic-auth-url", [])
        assert secrets == [pw], (url, found)


def test_url_template_credentials_are_not_reported(detector: PatternDetector) -> None:
    data = b"see postgres://user:password@localhost/db and https://${USER}:${PASS}@host/\n"
    found = _scan(detector, data, path="usr/share/doc/x/README")
    assert "pattern/url-credentials" not in found and "pattern/basic-auth-url" not in found


def test_keyword_password_is_medium_and_picks_regexes_by_extension(detector: PatternDetector) -> None:
    py = _scan(detector, b'password = "Tr0ub4dor-and-3"\n', path="app/settings.py")
    assert py["pattern/keyword"] == ["Tr0ub4dor-and-3"]
    # Unquoted values count only in config-type files, as in detect-secrets.
    assert "pattern/keyword" not in _scan(detector, b"password = Tr0ub4dor-and-3\n", path="app/settings.py")
    assert _scan(detector, b"password = Tr0ub4dor-and-3\n", path="etc/app.conf")["pattern/keyword"]
    rule = next(r for r in RULES if r.id == "pattern/keyword")
    assert rule.severity == Severity.MEDIUM


def test_documented_examples_placeholders_and_public_keys_are_not_reported(detector: PatternDetector) -> None:
    data = (
        b'aws_key = "AKIAIOSFODNN7EXAMPLE"\n'
        b'password = "${DB_PASSWORD}"\n'
        b'password = "changeme"\n'
        b"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 ACa8f3e5b9d2c1a0f4e6b8d7c9a1b2c3d4 user@host\n"
    )
    token = fake_tokens(random.Random(4))["github"]
    control = f'token = "{token}"\n'.encode()  # the same scan does report a real-looking token
    assert _scan(detector, data + control) == {"pattern/github-token": [token]}


def test_a_non_example_key_that_contains_the_word_example_is_still_reported(
    detector: PatternDetector,
) -> None:
    found = _scan(detector, b'k = "AKIAEXAMPLE7QWERTYUI"\n')
    assert found["pattern/aws-access-key"] == ["AKIAEXAMPLE7QWERTYUI"]


def test_lockfile_integrity_hashes_are_not_reported(detector: PatternDetector) -> None:
    data = b'"integrity": "sha512-AC0123456789abcdefghijklmnopqrstuvwxyzABCDEF0123456789abcdefghij=="\n'
    token = fake_tokens(random.Random(4))["github"]
    control = f'"token": "{token}"\n'.encode()  # a vendor-prefixed token in a lock file is still reported
    assert _scan(detector, data + control, path="app/package-lock.json") == {"pattern/github-token": [token]}


def test_jwt_without_alg_header_is_not_reported(detector: PatternDetector) -> None:
    # header {"typ":"x"} has no "alg": a base64 JSON blob, not a token.
    token = "eyJ0eXAiOiJ4In0.eyJzdWIiOiIxIn0.c2lnbmF0dXJlc2lnbmF0dXJl"
    assert "pattern/jwt" not in _scan(detector, f"t = {token}\n".encode())


def test_secret_in_utf16le_text_of_a_binary_is_found_at_its_raw_offsets(detector: PatternDetector) -> None:
    token = fake_tokens(random.Random(5))["github"]
    for pad in (b"\x00\x01\x02", b"\x00\x01"):
        data = pad + b"\x7fELF" + f"token={token}\n".encode("utf-16-le") + b"\x00\xff"
        hits = [
            m
            for m in detector.scan_content(_content(data, "usr/bin/tool"))
            if m.rule == "pattern/github-token"
        ]
        assert [m.secret for m in hits] == [token]
        assert data[hits[0].start : hits[0].end] == token.encode("utf-16-le")


def test_secret_in_raw_bytes_of_a_binary_is_found(detector: PatternDetector) -> None:
    token = fake_tokens(random.Random(6))["stripe"]
    data = b"\x00\x01\x02" * 100 + token.encode() + b"\x00" * 10
    found = _scan(detector, data, path="usr/bin/tool")
    assert found["pattern/stripe-key"] == [token]


def test_long_minified_line_is_scanned_around_its_hits(detector: PatternDetector) -> None:
    token = fake_tokens(random.Random(8))["github"]
    data = (b"var a=1;" * 20000) + f'var t="{token}";'.encode() + (b"var b=2;" * 20000)
    hits = [
        m
        for m in detector.scan_content(_content(data, "app/bundle.min.js"))
        if m.rule == "pattern/github-token"
    ]
    assert [data[m.start : m.end].decode() for m in hits] == [token]


def test_metadata_string_offsets_are_characters(detector: PatternDetector) -> None:
    token = fake_tokens(random.Random(9))["github"]
    value = f"RUN echo ünïcode {token} > /x"
    item = MetadataString(kind="history", key="created_by", value=value, history_index=2)
    hits = [m for m in detector.scan_metadata(item) if m.rule == "pattern/github-token"]
    assert len(hits) == 1 and value[hits[0].start : hits[0].end] == token


def test_both_engines_report_the_same_matches() -> None:
    if not hyperscan_available():
        pytest.skip("hyperscan not installed")
    files = planted_files(random.Random(13), _benign(), n_files=12)
    fast, slow = PatternDetector(use_hyperscan=True), PatternDetector(use_hyperscan=False)
    total = 0
    for path, data in files.items():
        matches = fast.scan_content(_content(data, path))
        assert matches == slow.scan_content(_content(data, path))
        total += len(matches)
    assert total > 20  # equal because both found the same secrets, not because both found none


def test_rule_ids_are_unique_and_severities_follow_the_kind() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    by_id = {r.id: r for r in RULES}
    assert by_id["pattern/private-key"].severity == Severity.HIGH
    assert by_id["pattern/aws-access-key"].severity == Severity.HIGH
    assert all(i.startswith("pattern/") for i in ids)


def test_undecodable_bytes_on_a_matched_line_neither_crash_nor_shift_the_span() -> None:
    token = "ghp_" + "Zr8Lq2Wx5Tb9Nc4Vm7Kd1Hs6Pf3Jy0Ga8Ue2"
    data = (
        b"\xe9\xff junk \xc3 token = '"
        + token.encode()
        + b"' \xe9\n"
        + b'db_password = "s3cr\xe9t-v4lue-9"\n'
    )
    content = Content("app/settings.py", None, data, 0, len(data), True, True)
    matches = list(PatternDetector().scan_content(content))
    spans = {m.rule: data[m.start : m.end] for m in matches}
    assert spans["pattern/github-token"] == token.encode()
    assert spans["pattern/keyword"] == b"s3cr\xe9t-v4lue-9"
