"""The `imgscan/report/v1` JSON report: DESIGN.md's contract plus additive fields (docs/report-json.md)."""

from __future__ import annotations

import json
from typing import Any

from scanner.findings import Finding
from scanner.model import Problem
from scanner.report import advice, common, sanitize
from scanner.result import ImageSummary, LayerReport, ScanReport

SCHEMA = "imgscan/report/v1"


def render(report: ScanReport) -> str:
    return json.dumps(to_dict(report), indent=2, ensure_ascii=False) + "\n"


def to_dict(report: ScanReport) -> dict[str, Any]:
    """The report as plain JSON data, keys in contract order, additive fields after them."""
    report = sanitize.sanitized(report)
    return {
        "schema": SCHEMA,
        "tool": {"name": "imgscan", "version": report.tool_version, "ruleset_hash": report.ruleset_hash},
        "image": _top_image(report),
        "verdict": report.verdict,
        "layers": [_layer(layer) for layer in report.layers],
        "metadata_scanned": list(report.metadata_scanned),
        "known_secrets": [
            {
                "id": k.id,
                "values": k.values,
                "fingerprint": k.fingerprint,
                "found": k.found,
                "warnings": list(k.warnings),
            }
            for k in report.known_secrets
        ],
        "findings": [_finding(report, f) for f in common.ordered_findings(report.findings)],
        "problems": [_problem(p) for p in report.problems],
        # additive fields
        "images": [_image(i) for i in report.images],
        "fail_on": report.fail_on,
        "scanned_at": report.scanned_at,
        "verdict_text": common.verdict_sentence(report),
        "rules": [
            {"id": r.id, "category": r.category, "severity": r.severity.label, "title": r.title}
            for r in report.rules
        ],
        "suppressions": list(report.suppressions),
        "severity": report.severity or None,
        "warnings": list(report.warnings),
    }


def _image(image: ImageSummary) -> dict[str, Any]:
    return {
        "reference": image.reference,
        "id": image.id,
        "digest": image.digest,
        "platform": image.platform,
        "format": image.format,
        "repo_tags": list(image.repo_tags),
    }


def _top_image(report: ScanReport) -> dict[str, Any]:
    """The one image; for a multi-platform scan, the reference with platform "all" (details in "images")."""
    if len(report.images) == 1:
        return {k: v for k, v in _image(report.images[0]).items() if k != "repo_tags"}
    fmt = report.images[0].format if report.images else None
    platform = "all" if report.images else None
    return {"reference": report.reference, "id": None, "digest": None, "platform": platform, "format": fmt}


def _layer(layer: LayerReport) -> dict[str, Any]:
    return {
        "index": layer.index,
        "digest": layer.digest,
        "diff_id": layer.diff_id,
        "media_type": layer.media_type,
        "created_by": common.safe_created_by(layer.created_by) if layer.created_by is not None else None,
        "files": layer.files,
        "bytes": layer.bytes,
        "status": layer.status,
        "problems": [_problem(p) for p in layer.problems],
        "image": layer.image_index,
        "history_index": layer.history_index,
        "whiteouts": list(layer.whiteouts),
        "nested_archives": layer.nested_archives,
    }


def _finding(report: ScanReport, f: Finding) -> dict[str, Any]:
    loc = f.location
    return {
        "rule": f.rule,
        "category": f.category,
        "severity": f.severity.label,
        "location": {
            "kind": loc.kind,
            "layer_index": loc.layer_index,
            "path": loc.path,
            "inner_path": loc.inner_path,
            "line": loc.line,
            "history_index": loc.history_index,
            "key": loc.key,
            "image": loc.image_index,
        },
        "status": f.status,
        "deleted_in_layer": f.status_layer if f.status == "deleted" else None,
        "excerpt": f.excerpt,
        "fingerprint": f.fingerprint,
        "remediation": f.remediation,
        "title": f.title,
        "note": f.note,
        "suppressed": f.suppressed,
        "status_layer": f.status_layer,
        "known_secret_id": f.known_secret_id,
        "fix": advice.fix_advice(report, f),
    }


def _problem(p: Problem) -> dict[str, Any]:
    return {"where": p.where, "what": p.what, "inconclusive": p.inconclusive}
