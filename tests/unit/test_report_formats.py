"""Every report format: golden output, secrets never shown, and each format's own contract."""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest

from scanner.errors import UsageError
from scanner.findings import Location
from scanner.report import FORMATS, render, render_quiet
from scanner.report import json as json_report
from scanner.report import sarif as sarif_report
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

DATA = Path(__file__).resolve().parent.parent / "data"
GOLDEN = DATA / "golden"
SUFFIX = {"text": "txt", "json": "json", "sarif": "sarif", "junit": "xml", "markdown": "md", "html": "html"}


@pytest.fixture
def planted() -> Planted:
    return plant()


def check_golden(name: str, actual: str) -> None:
    """Compare with tests/data/golden/<name>; IMGSCAN_UPDATE_GOLDEN=1 rewrites the file instead."""
    path = GOLDEN / name
    if os.environ.get("IMGSCAN_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"missing golden file {path}; run with IMGSCAN_UPDATE_GOLDEN=1 to create it"
    assert actual == path.read_text(encoding="utf-8"), f"{name} differs from golden (IMGSCAN_UPDATE_GOLDEN=1)"


# --- golden files ----------------------------------------------------------------


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_findings_report_matches_golden_file(fmt: str, planted: Planted) -> None:
    check_golden(f"findings.{SUFFIX[fmt]}", render(findings_report(planted), fmt))


@pytest.mark.parametrize(
    ("name", "build"),
    [("clean", clean_report), ("inconclusive", inconclusive_report), ("multi", multi_image_report)],
)
def test_other_verdicts_match_golden_text(name: str, build: object, planted: Planted) -> None:
    report = build(planted)  # type: ignore[operator]
    check_golden(f"{name}.txt", render(report, "text"))
    check_golden(f"{name}.json", render(report, "json"))


# --- secrets never shown ---------------------------------------------------------


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("build", [findings_report, inconclusive_report, multi_image_report])
def test_no_planted_secret_value_appears_in_any_format(fmt: str, build: object, planted: Planted) -> None:
    report: ScanReport = build(planted)  # type: ignore[operator]
    out = render(report, fmt, color=True)
    for value in planted.all():
        assert value not in out
        # Nor most of it: a redacted excerpt keeps at most a four-character prefix.
        assert value[4:16] not in out


def test_build_argument_value_in_history_is_masked_in_every_format(planted: Planted) -> None:
    report = findings_report(planted)
    for fmt in sorted(FORMATS):
        out = render(report, fmt)
        assert "NPM_TOKEN=npm_*****" in out.replace("&#39;", "'"), fmt


# --- text ------------------------------------------------------------------------


def test_text_verdict_is_the_last_line(planted: Planted) -> None:
    lines = render(findings_report(planted), "text").rstrip("\n").splitlines()
    assert (
        lines[-1]
        == "VERDICT: FINDINGS — 5 findings at or above high (2 critical) in 3 of 4 layers and the history"
    )


def test_text_has_no_ansi_codes_unless_color_is_asked(planted: Planted) -> None:
    report = findings_report(planted)
    assert "\x1b[" not in render(report, "text")
    assert "\x1b[" in render(report, "text", color=True)


def test_text_never_shows_duration(planted: Planted) -> None:
    report = replace(findings_report(planted), duration_s=98.76)
    assert "98.76" not in render(report, "text") and "98.8" not in render(report, "text")


def test_quiet_output_is_the_verdict_line_alone(planted: Planted) -> None:
    assert render_quiet(inconclusive_report(planted)) == (
        "VERDICT: INCONCLUSIVE — layer 2 could not be read in full: gzip stream ends early after 1.2 MiB "
        "(truncated blob); also 1 finding at or above high in 1 of 4 layers"
    )


def test_clean_verdict_names_every_area_examined(planted: Planted) -> None:
    assert render_quiet(empty_clean_report(planted)) == (
        "VERDICT: CLEAN — no secret found in any of the 4 layers, the config, the history "
        "and the attestations"
    )


def test_clean_verdict_with_low_findings_does_not_claim_nothing_was_found(planted: Planted) -> None:
    line = render_quiet(clean_report(planted))
    assert "no secret found" not in line
    assert "no secret at or above high" in line and "(1 below the gate)" in line


def test_text_lineage_sentences_for_deleted_overwritten_and_visible(planted: Planted) -> None:
    out = render(findings_report(planted), "text")
    assert (
        "added in layer 1 by `COPY netrc /root/.netrc # buildkit`, deleted in layer 2, "
        "still recoverable from layer 1's tarball" in out
    )
    assert "overwritten in layer 3, the earlier version still recoverable from layer 0's tarball" in out
    assert "COPY app.jar config.yml /app/ # buildkit`, present in the final filesystem" in out


def test_unknown_format_is_a_usage_error(planted: Planted) -> None:
    with pytest.raises(UsageError, match="unknown report format 'yaml'"):
        render(findings_report(planted), "yaml")


# --- json ------------------------------------------------------------------------


def test_json_keys_follow_the_v1_contract_order(planted: Planted) -> None:
    data = json.loads(render(findings_report(planted), "json"))
    contract = [
        "schema",
        "tool",
        "image",
        "verdict",
        "layers",
        "metadata_scanned",
        "known_secrets",
        "findings",
        "problems",
    ]
    assert list(data)[: len(contract)] == contract
    assert data["schema"] == "imgscan/report/v1"
    assert list(data["tool"]) == ["name", "version", "ruleset_hash"]
    assert list(data["image"]) == ["reference", "id", "digest", "platform", "format"]
    layer_keys = [
        "index",
        "digest",
        "diff_id",
        "media_type",
        "created_by",
        "files",
        "bytes",
        "status",
        "problems",
    ]
    assert list(data["layers"][0])[: len(layer_keys)] == layer_keys
    finding_keys = [
        "rule",
        "category",
        "severity",
        "location",
        "status",
        "deleted_in_layer",
        "excerpt",
        "fingerprint",
        "remediation",
    ]
    assert list(data["findings"][0])[: len(finding_keys)] == finding_keys
    loc_keys = ["kind", "layer_index", "path", "inner_path", "line", "history_index", "key"]
    assert list(data["findings"][0]["location"])[: len(loc_keys)] == loc_keys
    assert list(data["known_secrets"][0])[:4] == ["id", "values", "fingerprint", "found"]


def test_json_deleted_in_layer_is_set_only_for_deleted_findings(planted: Planted) -> None:
    findings = json.loads(render(findings_report(planted), "json"))["findings"]
    by_status = {f["status"]: f for f in findings}
    assert by_status["deleted"]["deleted_in_layer"] == 2
    assert by_status["overwritten"]["deleted_in_layer"] is None
    assert by_status["overwritten"]["status_layer"] == 3
    assert by_status["visible"]["deleted_in_layer"] is None


def test_json_keeps_suppressed_findings_with_their_reason(planted: Planted) -> None:
    findings = json.loads(render(findings_report(planted), "json"))["findings"]
    suppressed = [f for f in findings if f["suppressed"]]
    assert len(suppressed) == 1 and "snake-oil" in suppressed[0]["suppressed"]


def test_json_top_image_of_a_multi_platform_scan_is_the_reference_for_all_platforms(planted: Planted) -> None:
    data = json_report.to_dict(multi_image_report(planted))
    assert data["image"] == {
        "reference": "registry.example/app:1.4",
        "id": None,
        "digest": None,
        "platform": "all",
        "format": "docker25-archive",
    }
    assert [i["platform"] for i in data["images"]] == ["linux/amd64", "linux/arm64"]
    assert data["layers"][-1]["image"] == 1


def test_json_without_images_still_renders(planted: Planted) -> None:
    report = replace(findings_report(planted), images=[], layers=[], findings=[], verdict="inconclusive")
    assert json_report.to_dict(report)["image"]["platform"] is None


# --- sarif -----------------------------------------------------------------------


def sarif_validator() -> jsonschema.Draft4Validator:
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    return jsonschema.Draft4Validator(schema)


@pytest.mark.parametrize("build", [findings_report, clean_report, inconclusive_report, multi_image_report])
def test_sarif_is_valid_against_the_official_2_1_0_schema(build: object, planted: Planted) -> None:
    doc = json.loads(render(build(planted), "sarif"))  # type: ignore[operator]
    errors = sorted(sarif_validator().iter_errors(doc), key=str)
    assert not errors, errors[0].message


def test_sarif_results_carry_fingerprints_levels_and_suppressions(planted: Planted) -> None:
    run = sarif_report.to_dict(findings_report(planted))["runs"][0]
    results = run["results"]
    assert len(results) == 8
    netrc = next(r for r in results if r["ruleId"] == "credential-file/netrc")
    assert netrc["level"] == "error"
    assert netrc["partialFingerprints"] == {"imgscanFingerprint/v1": "a" * 32}
    assert netrc["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "root/.netrc",
        "uriBaseId": "LAYER1",
    }
    assert netrc["locations"][0]["physicalLocation"]["region"] == {"startLine": 1}
    assert "deleted in layer 2" in netrc["message"]["text"]
    suppressed = [r for r in results if "suppressions" in r]
    assert [r["ruleId"] for r in suppressed] == ["sensitive-file/private-key"]
    assert suppressed[0]["suppressions"][0]["kind"] == "external"
    low = next(r for r in results if r["ruleId"] == "entropy/base64")
    assert low["level"] == "note"


def test_sarif_rules_have_security_severity_and_levels(planted: Planted) -> None:
    rules = {
        r["id"]: r
        for r in sarif_report.to_dict(findings_report(planted))["runs"][0]["tool"]["driver"]["rules"]
    }
    assert rules["known-secret"]["properties"]["security-severity"] == "9.5"
    assert rules["known-secret"]["defaultConfiguration"]["level"] == "error"
    assert rules["sensitive-file/private-key"]["defaultConfiguration"]["level"] == "warning"
    assert rules["entropy/base64"]["properties"]["security-severity"] == "3.0"
    assert "Fix:" in rules["known-secret"]["help"]["text"]


def test_sarif_uris_are_relative_references_without_spaces(planted: Planted) -> None:
    report = findings_report(planted)
    odd = replace(report.findings[0], location=Location("layer", 0, 0, "opt/my tool/a b.env", line=1))
    report = replace(report, findings=[*report.findings, odd])
    for result in sarif_report.to_dict(report)["runs"][0]["results"]:
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert " " not in uri and not urlsplit(uri).scheme, uri
    uris = [
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in sarif_report.to_dict(report)["runs"][0]["results"]
    ]
    assert "opt/my%20tool/a%20b.env" in uris
    assert "app/app.jar!/BOOT-INF/classes/application.properties" in uris


def test_sarif_execution_is_unsuccessful_when_inconclusive(planted: Planted) -> None:
    inv = sarif_report.to_dict(inconclusive_report(planted))["runs"][0]["invocations"][0]
    assert inv["executionSuccessful"] is False
    assert any(
        n["level"] == "error" and "truncated" in n["message"]["text"]
        for n in inv["toolExecutionNotifications"]
    )
    ok = sarif_report.to_dict(findings_report(planted))["runs"][0]["invocations"][0]
    assert ok["executionSuccessful"] is True


def test_sarif_adds_a_rule_for_a_finding_whose_rule_is_not_in_the_catalogue(planted: Planted) -> None:
    report = findings_report(planted)
    report = replace(report, rules=report.rules[1:])  # drop credential-file/netrc
    doc = sarif_report.to_dict(report)
    ids = [r["id"] for r in doc["runs"][0]["tool"]["driver"]["rules"]]
    assert "credential-file/netrc" in ids
    for result in doc["runs"][0]["results"]:
        assert ids[result["ruleIndex"]] == result["ruleId"]


# --- junit -----------------------------------------------------------------------


def test_junit_has_a_case_per_layer_and_metadata_area_and_one_case_per_failing_finding(
    planted: Planted,
) -> None:
    root = ET.fromstring(render(findings_report(planted), "junit"))
    suite = root.find("testsuite")
    assert suite is not None
    cases = list(suite.iter("testcase"))
    names = [c.get("name", "") for c in cases]
    assert [n.split()[1] for n in names if n.startswith("layer ")] == ["0", "1", "2", "3"]
    assert "metadata history" in names and "metadata config.Env" in names
    failing = [c for c in cases if c.find("failure") is not None]
    # The verdict counts 5 findings at or above the gate: a dashboard shows 5 failed tests, not 4.
    assert len(failing) == 5 and all(len(c.findall("failure")) == 1 for c in failing)
    assert root.get("failures") == suite.get("failures") == "5"
    assert suite.get("tests") == str(len(cases))
    assert {c.get("name") for c in failing} >= {
        "critical credential-file/netrc at layer 1: /root/.netrc line 1",
        "critical known-secret at layer 1: /root/.netrc line 1",
        "high metadata/build-arg at history[3] build-arg:NPM_TOKEN",
    }
    assert not [n for n in names if n.startswith("layer ") and n in {c.get("name") for c in failing}]
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["verdict"] == "findings"


def test_junit_unreadable_layer_is_an_error(planted: Planted) -> None:
    root = ET.fromstring(render(inconclusive_report(planted), "junit"))
    errors = [(c.get("name", ""), e) for c in root.iter("testcase") for e in c.iter("error")]
    assert len(errors) == 1
    assert errors[0][0].startswith("layer 2 ") and "truncated" in errors[0][1].get("message", "")
    assert root.get("errors") == "1"


def test_junit_multi_image_has_a_suite_per_image(planted: Planted) -> None:
    root = ET.fromstring(render(multi_image_report(planted), "junit"))
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [
        "registry.example/app:1.4 (linux/amd64)",
        "registry.example/app:1.4 (linux/arm64)",
    ]
    assert not list(suites[1].iter("failure"))


# --- markdown --------------------------------------------------------------------


def test_markdown_headline_marker_and_tables(planted: Planted) -> None:
    out = render(findings_report(planted), "markdown")
    assert out.startswith("## imgscan [FAIL] `registry.example/app:1.4`")
    assert "| Severity | Rule | Where | Status | Gate |" in out
    assert "### How to fix" in out and "### Layers examined (4)" in out and "### Known secrets" in out
    assert render(empty_clean_report(planted), "markdown").startswith("## imgscan [PASS]")
    assert render(inconclusive_report(planted), "markdown").startswith("## imgscan [INCONCLUSIVE]")


def test_markdown_escapes_pipes_and_html_from_image_content(planted: Planted) -> None:
    report = findings_report(planted)
    odd = replace(report.findings[2], location=Location("layer", 0, 1, "srv/a|b<script>.env", line=1))
    out = render(replace(report, findings=[odd]), "markdown")
    # Inside a code span markup is shown as text; everywhere else it must be escaped.
    assert "<script>" not in re.sub(r"`[^`]*`", "", out)
    assert "&lt;script&gt;" in out
    row = next(line for line in out.splitlines() if "srv/a" in line and line.startswith("| critical"))
    assert row.count(" | ") == 4  # five cells: the pipe in the path did not open a sixth


# --- html ------------------------------------------------------------------------


def test_html_escapes_image_content(planted: Planted) -> None:
    report = findings_report(planted)
    odd = replace(
        report.findings[2], location=Location("layer", 0, 1, "srv/<img src=x onerror=alert(1)>", line=1)
    )
    out = render(replace(report, findings=[odd]), "html")
    assert "<img" not in out and "&lt;img src=x" in out


def test_html_is_self_contained(planted: Planted) -> None:
    out = render(findings_report(planted), "html")
    assert "<script" not in out and "http://" not in out and "https://" not in out and "<link" not in out
    assert 'id="verdict" data-verdict="findings"' in out and 'id="layers"' in out


# --- hostile text from the image -------------------------------------------------


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_control_characters_and_lone_surrogates_from_the_image_are_neutralised(
    fmt: str, planted: Planted
) -> None:
    report = findings_report(planted)
    hostile = replace(
        report.findings[2],
        location=Location("layer", 0, 1, "tmp/\x1b]0;pwned\x07evil\x00\udcff.txt", line=1),
        excerpt="a\x1b[2Jb\udc80c",
    )
    out = render(replace(report, findings=[hostile]), fmt, color=True)
    assert "\x1b]" not in out and "\x1b[2J" not in out and "\x00" not in out and "\x07" not in out
    out.encode("utf-8")  # no lone surrogate left: the output can be written as UTF-8
    assert "\\x1b]0;pwned" in out
    if fmt in ("junit", "sarif", "json"):
        assert "\\x1b" in out  # escaped, and (for XML) parseable
    if fmt == "junit":
        ET.fromstring(out)
