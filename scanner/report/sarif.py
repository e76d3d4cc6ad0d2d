"""SARIF 2.1.0 for code-scanning viewers: in-image paths under one base id per layer (docs/report-json.md)."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from scanner.detectors.base import Rule
from scanner.findings import Finding, Severity
from scanner.report import advice, common, sanitize
from scanner.result import VERDICT_INCONCLUSIVE, ScanReport

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
FINGERPRINT_KEY = "imgscanFingerprint/v1"

LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub code scanning reads properties.security-severity (a number as a string) to rank security alerts.
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}
# Metadata findings have no file; they point at the image document the value was read from.
_METADATA_ARTIFACTS = {
    "history": "config.json",
    "config": "config.json",
    "attestation": "attestation.json",
    "manifest": "manifest.json",
}


def render(report: ScanReport) -> str:
    return json.dumps(to_dict(report), indent=2, ensure_ascii=False) + "\n"


def to_dict(report: ScanReport) -> dict[str, Any]:
    report = sanitize.sanitized(report)
    rules = _rules(report)
    rule_index = {r.id: i for i, r in enumerate(rules)}
    findings = common.exported(report)
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "imgscan",
                "version": report.tool_version,
                "semanticVersion": report.tool_version,
                "rules": [_rule(r) for r in rules],
                "properties": {"rulesetHash": report.ruleset_hash},
            }
        },
        "invocations": [_invocation(report)],
        "originalUriBaseIds": _base_ids(report),
        "results": [_result(report, f, rule_index[f.rule]) for f in findings],
        "properties": {
            "verdict": report.verdict,
            "verdictText": common.verdict_sentence(report),
            "failOn": report.fail_on,
            "image": report.reference,
            "images": [
                {"reference": i.reference, "id": i.id, "digest": i.digest, "platform": i.platform}
                for i in report.images
            ],
        },
    }
    if report.severity:
        run["properties"]["displaySeverity"] = report.severity
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _rules(report: ScanReport) -> list[Rule]:
    """The catalogue, plus a stand-in for any rule a finding names that the catalogue lacks."""
    rules = list(report.rules)
    known = {r.id for r in rules}
    for f in report.findings:
        if f.rule not in known:
            known.add(f.rule)
            rules.append(Rule(f.rule, f.category, f.severity, f.title, f.title, f.remediation))
    return rules


def _pascal(rule_id: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", rule_id) if part)


def _rule(rule: Rule) -> dict[str, Any]:
    help_text = f"{rule.help}\n\nFix: {rule.remediation}"
    return {
        "id": rule.id,
        "name": _pascal(rule.id),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.help},
        "help": {"text": help_text, "markdown": f"{rule.help}\n\n**Fix:** {rule.remediation}"},
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {
            "security-severity": SECURITY_SEVERITY[rule.severity],
            "tags": ["security", "secret", rule.category],
            "category": rule.category,
        },
    }


def _prefix(report: ScanReport, image_index: int) -> str:
    return f"IMAGE{image_index}_" if len(report.images) > 1 else ""


def _base_ids(report: ScanReport) -> dict[str, Any]:
    """A base id per layer (LAYER<n>) and per image (IMAGE), described, with no URI: they are not on disk."""
    bases: dict[str, Any] = {}
    for i, image in enumerate(report.images or []):
        bases[f"{_prefix(report, i)}IMAGE"] = {
            "description": {"text": f"image {image.reference} ({common.short_digest(image.id)})"}
        }
    for layer in report.layers:
        text = (
            f"layer {layer.index} of {_image_ref(report, layer.image_index)}: "
            f"diff_id {layer.diff_id or 'unknown'}, created by `{common.history_line(layer.created_by, 120)}`"
        )
        bases[f"{_prefix(report, layer.image_index)}LAYER{layer.index}"] = {"description": {"text": text}}
    return bases


def _image_ref(report: ScanReport, image_index: int) -> str:
    if image_index < len(report.images):
        image = report.images[image_index]
        return image.reference + (f" ({image.platform})" if image.platform and len(report.images) > 1 else "")
    return report.reference


def _location(report: ScanReport, f: Finding) -> dict[str, Any]:
    loc = f.location
    prefix = _prefix(report, loc.image_index)
    if loc.kind == "layer" and loc.path is not None:
        uri = quote(loc.path, safe="/._-~")
        if loc.inner_path:
            # Java's jar-URL habit: the archive, then `!/` and the member path.
            uri += "!/" + quote(loc.inner_path.replace("!", "!/"), safe="/._-~!")
        physical: dict[str, Any] = {
            "artifactLocation": {"uri": uri, "uriBaseId": f"{prefix}LAYER{loc.layer_index}"}
        }
        if loc.line:
            physical["region"] = {"startLine": loc.line}
        layer = common.find_layer(report, loc.image_index, loc.layer_index)
        digest = common.short_digest(layer.diff_id) if layer else "unknown"
        logical = {
            "name": f"layer {loc.layer_index} ({digest})",
            "fullyQualifiedName": f"{_image_ref(report, loc.image_index)}/layer/{loc.layer_index}",
            "kind": "module",
        }
        return {"physicalLocation": physical, "logicalLocations": [logical]}
    artifact = _METADATA_ARTIFACTS.get(loc.kind, "config.json")
    name = loc.describe()
    return {
        "physicalLocation": {"artifactLocation": {"uri": artifact, "uriBaseId": f"{prefix}IMAGE"}},
        "logicalLocations": [
            {
                "name": name,
                "fullyQualifiedName": f"{_image_ref(report, loc.image_index)}/{name}",
                "kind": "object",
            }
        ],
    }


def _result(report: ScanReport, f: Finding, rule_index: int) -> dict[str, Any]:
    text = (
        f"{f.title} at {f.location.describe()}: {common.lineage(report, f)}. "
        + (f"Excerpt: {f.excerpt}. " if f.excerpt else "")
        + f"Fix: {advice.fix_advice(report, f)}"
    )
    if f.note:
        text += f" Note: {f.note}"
    result: dict[str, Any] = {
        "ruleId": f.rule,
        "ruleIndex": rule_index,
        "level": LEVELS[f.severity],
        "message": {"text": text},
        "locations": [_location(report, f)],
        "partialFingerprints": {FINGERPRINT_KEY: f.fingerprint},
        "properties": {
            "severity": f.severity.label,
            "security-severity": SECURITY_SEVERITY[f.severity],
            "status": f.status,
            "statusLayer": f.status_layer,
            "failsGate": common.is_gating(report, f),
        },
    }
    if f.known_secret_id:
        result["properties"]["knownSecretId"] = f.known_secret_id
    if f.suppressed is not None:
        result["suppressions"] = [{"kind": "external", "justification": f.suppressed}]
    return result


def _invocation(report: ScanReport) -> dict[str, Any]:
    notifications = [
        {
            "level": "error" if p.inconclusive else "warning",
            "message": {"text": f"{p.where}: {p.what}"},
            "properties": {"inconclusive": p.inconclusive},
        }
        for p in common.all_problems(report)
    ]
    notifications += [{"level": "warning", "message": {"text": w}} for w in report.warnings]
    return {
        "executionSuccessful": report.verdict != VERDICT_INCONCLUSIVE,
        "toolExecutionNotifications": notifications,
        "properties": {"verdict": report.verdict},
    }
