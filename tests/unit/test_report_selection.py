"""What each format shows: the failing findings in full, the rest by rule and count, --severity, warnings."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest

from scanner.errors import UsageError
from scanner.findings import Location, Severity
from scanner.report import FORMATS, common, render, render_quiet
from scanner.report.advice import fix_advice
from scanner.result import ScanReport
from tests.unit.report_sample import (
    Planted,
    clean_report,
    empty_clean_report,
    findings_report,
    inconclusive_report,
    multi_image_report,
    plant,
)

SCHEMA = Path(__file__).resolve().parent.parent / "data" / "sarif-schema-2.1.0.json"


@pytest.fixture
def planted() -> Planted:
    return plant()


def benign_gate(p: Planted) -> ScanReport:
    """A big benign image: 250 informational and low findings of two rules, beside the sample's 8."""
    report = findings_report(p)
    vendor = report.findings[4]  # the info whiteout finding, as a template
    kinds = [("vendor/key", Severity.INFO), ("entropy/hex", Severity.LOW)]
    noise = [
        replace(
            vendor,
            rule=kinds[i % 2][0],
            severity=kinds[i % 2][1],
            title=f"{kinds[i % 2][0]} title",
            location=Location("layer", 0, 0, f"usr/share/doc/pkg{i}/README"),
            fingerprint=f"{i:032x}",
            note=None,
        )
        for i in range(250)
    ]
    return replace(report, findings=[*report.findings, *noise])


# --- selection in one place --------------------------------------------------------


def test_by_default_the_gating_findings_are_shown_and_the_rest_counted_by_rule(planted: Planted) -> None:
    report = findings_report(planted)
    assert [f.fingerprint[0] for f in common.shown(report)] == ["f", "a", "b", "d", "c"]
    counts = {(c.rule, c.severity.label): (c.count, c.suppressed) for c in common.summarised(report)}
    assert counts == {
        ("sensitive-file/private-key", "medium"): (1, 1),
        ("entropy/base64", "low"): (1, 0),
        ("sensitive-file/deleted", "info"): (1, 0),
    }
    assert len(common.exported(report)) == len(report.findings)


def test_a_severity_threshold_shows_and_exports_what_is_at_or_above_it(planted: Planted) -> None:
    report = replace(findings_report(planted), severity="low")
    assert {f.rule for f in common.shown(report)} == {f.rule for f in report.findings} - {
        "sensitive-file/deleted"
    }
    assert common.exported(report) == common.shown(report)
    assert [c.rule for c in common.summarised(report)] == ["sensitive-file/deleted"]


def test_what_fails_the_gate_is_shown_even_above_the_display_threshold(planted: Planted) -> None:
    report = replace(findings_report(planted), severity="critical")
    assert {f.severity.label for f in common.shown(report)} == {"critical", "high"}
    assert "FINDINGS AT OR ABOVE CRITICAL OR FAILING THE GATE (5 of 8)" in render(report, "text")


def test_an_unknown_severity_is_a_usage_error(planted: Planted) -> None:
    with pytest.raises(UsageError, match="unknown severity 'urgent'"):
        render(replace(findings_report(planted), severity="urgent"), "text")


# --- text: a short answer for a gate on a benign image -----------------------------


def test_text_gate_on_a_benign_image_is_short_failing_in_full_rest_by_rule(planted: Planted) -> None:
    report = benign_gate(planted)
    text = render(report, "text")
    lines = text.splitlines()
    assert len(lines) < 80, len(lines)
    assert "FINDINGS THAT FAIL THE GATE (5 of 258)" in text
    assert text.count("      fix:        ") == 5
    assert "OTHER FINDINGS BY RULE (253; --severity info shows them in full)" in text
    assert re.search(r"^\s+125\s+low\s+entropy/hex\s+entropy/hex title$", text, re.M)
    assert re.search(r"^\s+125\s+info\s+vendor/key\s+vendor/key title$", text, re.M)
    assert "usr/share/doc/pkg" not in text
    assert "LAYERS EXAMINED (4)" in text
    assert lines[-1].startswith("VERDICT: FINDINGS — 5 findings at or above high")
    assert "usr/share/doc/pkg7/README" in render(replace(report, severity="info"), "text")


def test_quiet_is_the_text_reports_last_line_for_every_verdict(planted: Planted) -> None:
    for build in (findings_report, clean_report, empty_clean_report, inconclusive_report, multi_image_report):
        report = build(planted)
        quiet = render_quiet(report)
        assert "\n" not in quiet and quiet.startswith("VERDICT: ")
        assert render(report, "text").rstrip("\n").splitlines()[-1] == quiet


# --- machine formats ---------------------------------------------------------------


@pytest.mark.parametrize("severity", ["", "info", "medium", "critical"])
def test_sarif_carries_the_selection_and_stays_valid(severity: str, planted: Planted) -> None:
    report = replace(benign_gate(planted), severity=severity)
    doc = json.loads(render(report, "sarif"))
    validator = jsonschema.Draft4Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    errors = sorted(validator.iter_errors(doc), key=str)
    assert not errors, errors[0].message
    results = doc["runs"][0]["results"]
    assert len(results) == len(common.exported(report))
    if severity in ("", "info"):
        assert len(results) == len(report.findings)
    else:
        floor = Severity.parse(severity)
        assert all(
            r["properties"]["failsGate"] or Severity.parse(r["properties"]["severity"]) >= floor
            for r in results
        )
        assert len(results) < len(report.findings)


def test_json_keeps_every_finding_whatever_the_display_threshold(planted: Planted) -> None:
    report = replace(findings_report(planted), severity="critical", warnings=["a report warning"])
    data = json.loads(render(report, "json"))
    assert len(data["findings"]) == len(report.findings)
    assert data["severity"] == "critical" and data["warnings"] == ["a report warning"]
    assert json.loads(render(findings_report(planted), "json"))["severity"] is None


def test_junit_with_a_threshold_lists_the_shown_below_gate_findings_and_still_fails_five(
    planted: Planted,
) -> None:
    root = ET.fromstring(render(replace(benign_gate(planted), severity="low"), "junit"))
    assert root.get("failures") == "5"
    out = "\n".join(e.text or "" for e in root.iter("system-out"))
    assert "below fail-on: low entropy/hex" in out and "vendor/key" not in out


# --- human formats: the failing findings first -------------------------------------


def test_markdown_lists_failing_findings_and_counts_the_rest(planted: Planted) -> None:
    out = render(benign_gate(planted), "markdown")
    rows = [line for line in out.splitlines() if line.startswith("| ") and line.endswith("| fails |")]
    assert len(rows) == 5
    assert "<details><summary>Other findings by rule (253)</summary>" in out
    assert "| 125 | low | `entropy/hex` | entropy/hex title | 0 |" in out
    assert "pkg7" not in out


def test_html_opens_with_the_failing_findings_and_collapses_the_rest(planted: Planted) -> None:
    out = render(benign_gate(planted), "html")
    failing = out[out.index('<div id="findings">') : out.index("<h2>Layer stack</h2>")]
    assert failing.count("<article") == 5 and "quiet" not in failing
    assert out.index('id="verdict"') < out.index('<div id="findings">') < out.index("<h2>Image</h2>")
    others = re.search(r'<details class="others" id="other-findings">', out)
    assert others is not None  # collapsed: no `open` attribute
    assert out.count('<article class="finding quiet"') == 253
    assert 'id="show-info"' in out and 'id="show-suppressed"' in out


def test_warnings_reach_every_human_format_and_json_and_sarif(planted: Planted) -> None:
    warning = "baseline written with another fingerprint key"
    report = replace(findings_report(planted), warnings=[warning])
    for fmt in sorted(f for f in FORMATS if f != "junit"):
        assert warning in render(report, fmt), fmt
    assert f"WARNINGS (1)\n  {warning}" in render(report, "text")


# --- wording an auditor understands -----------------------------------------------


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_no_format_says_active(fmt: str, planted: Planted) -> None:
    for build in (findings_report, clean_report):
        assert not re.search(r"\bactive\b", render(build(planted), fmt), re.I), fmt


def test_a_single_layer_image_is_not_any_of_the_1_layer(planted: Planted) -> None:
    report = empty_clean_report(planted)
    one = replace(report, layers=report.layers[:1])
    assert render_quiet(one).startswith(
        "VERDICT: CLEAN — no secret found in the image's only layer, the config"
    )
    hit = replace(findings_report(planted), layers=report.layers[:1])
    hit = replace(hit, findings=[f for f in hit.findings if f.location.layer_index == 0])
    assert "in the image's only layer" in common.findings_summary(hit)
    assert "1 of 1" not in render(hit, "text") and "any of the 1 " not in render(one, "text")


def test_fix_advice_names_the_variable_and_the_build_secret(planted: Planted) -> None:
    report = findings_report(planted)
    env = replace(report.findings[5], location=Location("config", 0, key="Env.API_TOKEN"))
    assert fix_advice(report, env).startswith(
        "Remove `ENV API_TOKEN` from the Dockerfile; pass it at run time or with "
        "`RUN --mount=type=secret,id=api_token`. "
    )
    label = replace(env, location=Location("config", 0, key="Labels.deploy.token"))
    assert fix_advice(report, label).startswith("Remove `LABEL deploy.token` from the Dockerfile")
    arg = report.findings[5]
    assert fix_advice(report, arg).startswith(
        "Remove `ARG NPM_TOKEN` from the Dockerfile (history[3] records its value); pass the value with "
        "`docker build --secret id=npm_token,env=NPM_TOKEN`"
    )


def test_fix_advice_names_the_file_and_the_layer_that_adds_it(planted: Planted) -> None:
    report = findings_report(planted)
    netrc = report.findings[2]
    assert fix_advice(report, netrc).startswith(
        "Remove `/root/.netrc` from the layer that adds it (layer 1: `COPY netrc /root/.netrc # buildkit`); "
        "deleting it in a later layer leaves it in layer 1's tarball. "
    )
    jar = next(f for f in report.findings if f.location.inner_path)
    assert fix_advice(report, jar).startswith(
        "Rebuild `/app/app.jar` without `BOOT-INF/classes/application.properties` (added in layer 3: "
    )


def test_code_in_fix_texts_is_code_in_html_and_markdown(planted: Planted) -> None:
    report = findings_report(planted)
    page = render(report, "html")
    assert "Remove <code>/root/.netrc</code> from the layer that adds it" in page
    assert "Use <code>RUN --mount=type=secret</code> for .netrc." in page
    md = render(report, "markdown")
    assert (
        "Remove `/root/.netrc` from the layer that adds it (layer 1: `COPY netrc /root/.netrc # buildkit`)"
        in md
    )
    assert "Use `RUN --mount=type=secret` for .netrc." in md


def test_fix_advice_points_at_the_build_step_or_the_config_field(planted: Planted) -> None:
    report = findings_report(planted)
    base = report.findings[5]
    step = replace(base, location=Location("history", 0, 2, history_index=3, key="created_by"))
    assert fix_advice(report, step).startswith(
        "Take the value out of the build step recorded in history[3] (`RUN |1 NPM_TOKEN=npm_***** /bin/sh -c"
    )
    cmd = replace(base, location=Location("config", 0, key="Cmd[2]"))
    assert fix_advice(report, cmd).startswith(
        "Remove the value from the Dockerfile's `CMD` (config `Cmd[2]`). "
    )
    attestation = replace(base, location=Location("attestation", 0, key="predicate.materials[0].uri"))
    assert fix_advice(report, attestation) == base.remediation


def test_text_counts_suppressions_by_reason_and_keeps_expiry_notices_whole(planted: Planted) -> None:
    report = benign_gate(planted)
    reason = "vendored documentation (baseline, no expiry)"
    findings = [replace(f, suppressed=reason) if f.rule == "vendor/key" else f for f in report.findings]
    expired = "baseline entry 0123456789ab (entropy/hex at layer 0: /x) expired on 2026-01-01; counted again"
    lines = [
        f"suppressed {f.rule} at {f.location.describe()}: {f.suppressed}" for f in findings if f.suppressed
    ]
    report = replace(report, findings=findings, suppressions=[*lines, expired])
    text = render(report, "text")
    assert "SUPPRESSIONS (126 findings by reason; --severity info lists each)" in text
    assert re.search(r"^\s+125\s+vendored documentation \(baseline, no expiry\)$", text, re.M)
    assert f"  {expired}" in text and "suppressed vendor/key at" not in text
    assert render(replace(report, severity="info"), "text").count("suppressed vendor/key at") == 125
