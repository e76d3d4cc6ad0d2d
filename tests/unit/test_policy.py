"""Policy: config files, allowlist, baseline with expiry, verdict and exit codes."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from scanner.errors import UsageError
from scanner.findings import Finding, Location, Severity
from scanner.model import Problem
from scanner.policy import (
    AllowEntry,
    Baseline,
    BaselineEntry,
    Config,
    apply_policy,
    baseline_key_id,
    baseline_warnings,
    exit_code,
    load_baseline,
    load_config,
    verdict,
    write_baseline,
)
from tests.unit.report_sample import findings_report, plant

TODAY = date(2026, 3, 1)


def finding(
    rule: str = "pattern/github-token",
    path: str = "app/.env",
    severity: Severity = Severity.HIGH,
    fingerprint: str = "f" * 32,
    **loc: object,
) -> Finding:
    location = Location("layer", 0, 1, path, **loc) if path else Location("config", key="Env.TOKEN")  # type: ignore[arg-type]
    return Finding(
        rule, "credential", severity, "GitHub token", location, "TOKEN=ghp_*****", fingerprint, "Revoke it."
    )


# --- config ----------------------------------------------------------------------


def test_no_config_file_gives_defaults(tmp_path: Path) -> None:
    config = load_config(tmp_path, None)
    assert config == Config()
    assert config.fail_on is Severity.HIGH


def test_imgscan_toml_is_read_with_every_key(tmp_path: Path) -> None:
    (tmp_path / ".imgscan.toml").write_text(
        'fail-on = "medium"\n'
        'disabled-rules = ["entropy/base64"]\n'
        'baseline = "ci/baseline.json"\n'
        "[limits]\nmax-layer-bytes = 1024\n"
        '[[allowlist]]\npath = "usr/share/doc/*"\nreason = "documentation examples"\n'
        '[[allowlist]]\npath = "/etc/ssl/*.pem"\nrule = "sensitive-file/*"\n'
        'reason = "distro snake-oil cert"\n'
    )
    config = load_config(tmp_path, None)
    assert config.fail_on is Severity.MEDIUM
    assert config.disabled_rules == frozenset({"entropy/base64"})
    assert config.limits == {"max_layer_bytes": 1024}
    assert config.baseline == tmp_path / "ci" / "baseline.json"
    assert config.allowlist == (
        AllowEntry("usr/share/doc/*", None, "documentation examples"),
        AllowEntry("/etc/ssl/*.pem", "sensitive-file/*", "distro snake-oil cert"),
    )
    assert config.source == tmp_path / ".imgscan.toml"


def test_pyproject_tool_section_is_read_when_there_is_no_imgscan_toml(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.imgscan]\nfail_on = "critical"\n')
    assert load_config(tmp_path, None).fail_on is Severity.CRITICAL


def test_imgscan_toml_wins_over_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.imgscan]\nfail-on = "critical"\n')
    (tmp_path / ".imgscan.toml").write_text('fail-on = "low"\n')
    assert load_config(tmp_path, None).fail_on is Severity.LOW


def test_pyproject_without_tool_section_gives_defaults(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert load_config(tmp_path, None) == Config()


def test_explicit_config_file_wins_over_both(tmp_path: Path) -> None:
    (tmp_path / ".imgscan.toml").write_text('fail-on = "low"\n')
    explicit = tmp_path / "other.toml"
    explicit.write_text('fail-on = "info"\n')
    assert load_config(tmp_path, explicit).fail_on is Severity.INFO


def test_missing_explicit_config_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not found"):
        load_config(tmp_path, tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('fail-om = "high"\n', "unknown key 'fail-om'"),
        ('fail-on = "severe"\n', "unknown severity 'severe'"),
        ("fail-on = 3\n", "fail-on must be a string"),
        ('disabled-rules = "entropy/base64"\n', "disabled-rules must be a list"),
        ("[limits]\nmax-bytes = -1\n", "limits.max-bytes must be a non-negative integer"),
        ("[limits]\nmax-bytes = true\n", "limits.max-bytes must be a non-negative integer"),
        ('[[allowlist]]\npath = "etc/*"\n', "reason is required"),
        ('[[allowlist]]\npath = "etc/*"\nreason = "  "\n', "reason is required"),
        ('[[allowlist]]\nreason = "why"\n', "path (a glob) is required"),
        ('[[allowlist]]\npath = "etc/*"\nreason = "why"\nrules = "x"\n', "unknown key 'rules'"),
        ("fail-on = \n", "invalid TOML"),
    ],
)
def test_bad_config_is_a_one_line_usage_error(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / ".imgscan.toml").write_text(text)
    with pytest.raises(UsageError) as info:
        load_config(tmp_path, None)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


# --- apply_policy ----------------------------------------------------------------


def test_disabled_rule_is_suppressed_with_reason() -> None:
    out, log = apply_policy(
        [finding()], Config(disabled_rules=frozenset({"pattern/github-token"})), None, TODAY
    )
    assert out[0].suppressed == "rule pattern/github-token disabled in config"
    assert log == [
        "suppressed pattern/github-token at layer 1: /app/.env: rule pattern/github-token disabled in config"
    ]


def test_allowlist_matches_path_glob_with_or_without_leading_slash_and_rule() -> None:
    config = Config(allowlist=(AllowEntry("/usr/share/doc/**", "pattern/*", "upstream docs"),))
    hit, miss_path, miss_rule = apply_policy(
        [
            finding(path="usr/share/doc/pkg/README"),
            finding(path="usr/lib/pkg/README"),
            finding(rule="entropy/base64", path="usr/share/doc/pkg/README"),
        ],
        config,
        None,
        TODAY,
    )[0]
    assert hit.suppressed == "upstream docs (allowlist: /usr/share/doc/**)"
    assert miss_path.suppressed is None and miss_rule.suppressed is None


def test_allowlist_matches_inside_nested_archives_and_metadata_keys() -> None:
    config = Config(
        allowlist=(
            AllowEntry("app/app.jar!BOOT-INF/*.properties", None, "test profile"),
            AllowEntry("config:Env.TOKEN", None, "placeholder set by base image"),
        )
    )
    nested = finding(path="app/app.jar", inner_path="BOOT-INF/test.properties")
    meta = finding(path="")
    out, _ = apply_policy([nested, meta], config, None, TODAY)
    assert out[0].suppressed is not None and out[1].suppressed is not None


def test_baseline_suppresses_until_it_expires() -> None:
    baseline = Baseline(
        (
            BaselineEntry(
                "f" * 32, "pattern/github-token", "layer 1: /app/.env", "known test token", date(2026, 3, 1)
            ),
        )
    )
    out, log = apply_policy([finding()], Config(), baseline, TODAY)
    assert out[0].suppressed == "known test token (baseline, expires 2026-03-01)"
    out, log = apply_policy([finding()], Config(), baseline, date(2026, 3, 2))
    assert out[0].suppressed is None
    assert log == [
        "baseline entry ffffffffffff (pattern/github-token at layer 1: /app/.env) expired on 2026-03-01; "
        "counted again"
    ]


def test_baseline_without_expiry_suppresses_and_other_fingerprints_do_not_match() -> None:
    baseline = Baseline((BaselineEntry("f" * 32, "r", "w", "accepted", None),))
    out, _ = apply_policy([finding(), finding(fingerprint="0" * 32)], Config(), baseline, TODAY)
    assert out[0].suppressed == "accepted (baseline, no expiry)"
    assert out[1].suppressed is None


def test_apply_policy_leaves_the_input_findings_unchanged() -> None:
    original = finding()
    apply_policy([original], Config(disabled_rules=frozenset({original.rule})), None, TODAY)
    assert original.suppressed is None


# --- baseline files --------------------------------------------------------------


def test_written_baseline_loads_back_and_suppresses_every_finding(tmp_path: Path) -> None:
    report = findings_report(plant())
    path = tmp_path / "baseline.json"
    count = write_baseline(report, path)
    assert count == len({f.fingerprint for f in report.findings})
    data = json.loads(path.read_text())
    assert data["schema"] == "imgscan/baseline/v1"
    assert set(data["entries"][0]) == {"fingerprint", "rule", "where", "reason", "expires"}
    baseline = load_baseline(path)
    out, _ = apply_policy(report.findings, Config(), baseline, TODAY)
    assert all(f.suppressed for f in out)
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"schema": "other", "entries": []}', 'expected "schema"'),
        ('{"schema": "imgscan/baseline/v1"}', '"entries" must be a list'),
        (
            '{"schema": "imgscan/baseline/v1", "entries": [{"fingerprint": "x", "rule": "r", "where": "w"}]}',
            '"reason" is required',
        ),
        (
            '{"schema": "imgscan/baseline/v1", "entries": [{"fingerprint": "x", "rule": "r", "where": "w", '
            '"reason": "ok", "expires": "next week"}]}',
            "must be YYYY-MM-DD",
        ),
    ],
)
def test_bad_baseline_is_a_one_line_usage_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "b.json"
    path.write_text(content)
    with pytest.raises(UsageError) as info:
        load_baseline(path)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_missing_baseline_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read baseline"):
        load_baseline(tmp_path / "missing.json")


# --- verdict ---------------------------------------------------------------------


def test_verdict_is_clean_findings_or_inconclusive() -> None:
    high, low = finding(), finding(severity=Severity.LOW)
    suppressed = replace(finding(severity=Severity.CRITICAL), suppressed="accepted")
    assert verdict([low, suppressed], [], Severity.HIGH) == "clean"
    assert verdict([high], [], Severity.HIGH) == "findings"
    assert verdict([low], [], Severity.LOW) == "findings"
    assert verdict([], [Problem("config.history", "mismatch", inconclusive=False)], Severity.HIGH) == "clean"


def test_inconclusive_beats_findings() -> None:
    assert verdict([finding()], [Problem("layer 2", "truncated gzip")], Severity.HIGH) == "inconclusive"


def test_exit_codes_and_unknown_verdict_fails_closed() -> None:
    assert [exit_code(v) for v in ("clean", "findings", "inconclusive", "bogus")] == [0, 1, 2, 2]


# --- issue 14: allowlist paths as the runtime unpacks them -------------------------


def test_an_allowlisted_tree_cannot_be_reached_with_dot_dot() -> None:
    config = Config(allowlist=(AllowEntry("usr/share/doc/*", None, "documentation"),))
    escaping = finding(path="usr/share/doc/../../../root/.aws/credentials")
    inside = finding(path="usr/share/doc/../doc/pkg/README")
    out, _ = apply_policy([escaping, inside], config, None, TODAY)
    assert out[0].suppressed is None
    assert out[1].suppressed == "documentation (allowlist: usr/share/doc/*)"


def test_runtime_path_resolves_dot_dot_and_clamps_at_the_root() -> None:
    from scanner.paths import runtime_path

    assert runtime_path("usr/share/doc/../../../root/.aws/credentials") == "root/.aws/credentials"
    assert runtime_path("/../../etc/./passwd") == "etc/passwd"
    assert runtime_path("./a//b/") == "a/b"
    assert runtime_path("..") == ""


# --- issue 10: baselines made with another key, or matching nothing, say so ------------


def test_a_written_baseline_records_a_key_id_never_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scanner.findings import reset_fingerprint_key

    monkeypatch.setenv("IMGSCAN_FINGERPRINT_KEY", "a-secret-fingerprint-key-0123456789")
    reset_fingerprint_key()
    path = tmp_path / "b.json"
    write_baseline(findings_report(plant()), path)
    text = path.read_text()
    assert "a-secret-fingerprint-key" not in text
    assert load_baseline(path).key_id == json.loads(text)["key_id"] == baseline_key_id()
    reset_fingerprint_key()


def test_a_baseline_of_another_key_or_matching_nothing_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scanner.findings import reset_fingerprint_key

    report = findings_report(plant())
    path = tmp_path / "b.json"
    monkeypatch.setenv("IMGSCAN_FINGERPRINT_KEY", "key-one-0123456789")
    reset_fingerprint_key()
    write_baseline(report, path)
    baseline = load_baseline(path)
    assert baseline_warnings(baseline, report.findings) == []
    assert baseline_warnings(baseline, [finding(fingerprint="0" * 32)]) == [
        f"none of the {len(baseline.entries)} entries of baseline {path} matched a finding of this scan"
    ]
    monkeypatch.setenv("IMGSCAN_FINGERPRINT_KEY", "key-two-0123456789")
    reset_fingerprint_key()
    (warning,) = baseline_warnings(baseline, report.findings)
    assert "another fingerprint key" in warning and "key-one" not in warning
    assert baseline_warnings(None, report.findings) == [] == baseline_warnings(Baseline(), [])
    reset_fingerprint_key()


def test_writing_onto_a_baseline_keeps_reasons_and_expiry_of_entries_that_still_match(tmp_path: Path) -> None:
    report = findings_report(plant())
    path = tmp_path / "b.json"
    write_baseline(report, path)
    doc = json.loads(path.read_text())
    doc["entries"][0].update(reason="hand-written: rotated in JIRA-1", expires="2027-01-31")
    kept_fp = doc["entries"][0]["fingerprint"]
    doc["entries"].append(
        {"fingerprint": "ab" * 16, "rule": "r", "where": "w", "reason": "gone", "expires": None}
    )
    path.write_text(json.dumps(doc))
    write_baseline(report, path)
    entries = {e.fingerprint: e for e in load_baseline(path).entries}
    assert entries[kept_fp].reason == "hand-written: rotated in JIRA-1"
    assert entries[kept_fp].expires == date(2027, 1, 31)
    assert "ab" * 16 not in entries  # no longer found: dropped
    assert {e.reason for fp, e in entries.items() if fp != kept_fp} == {"accepted in baseline"}
