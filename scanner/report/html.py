"""The self-contained HTML audit report (one file, inline CSS, no scripts), via autoescaping jinja2."""

from __future__ import annotations

from typing import Any

import jinja2

from scanner.findings import Finding
from scanner.report import advice, common, sanitize, stack
from scanner.result import LayerReport, ScanReport

TEMPLATE = "audit.html.j2"

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("scanner.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def render(report: ScanReport) -> str:
    return _env.get_template(TEMPLATE).render(**context(report))


def context(report: ScanReport) -> dict[str, Any]:
    """Everything the template shows, already worded; the template only lays it out."""
    report = sanitize.sanitized(report)
    shown = common.shown(report)
    full = {id(f) for f in shown}
    others = [f for f in common.ordered_findings(report.findings) if id(f) not in full]
    threshold = common.display_threshold(report)
    return {
        "report": report,
        "verdict": report.verdict,
        # The certificate shows the verdict word large; the sentence gives only the reason.
        "verdict_reason": common.verdict_sentence(report).partition(" — ")[2],
        "images": report.images,
        "multi_image": len(report.images) > 1,
        "layers": [_layer(layer) for layer in report.layers],
        "stacks": stack.stacks(report, shown),
        "shown_heading": (
            "Findings that fail the gate" if threshold is None else f"Findings at or above {threshold.label}"
        ),
        "findings": [_finding(report, f) for f in shown],
        "others": [_finding(report, f) for f in others],
        "other_counts": common.summarised(report),
        "other_severities": [
            (s.label, n) for s in common.SEVERITY_ORDER if (n := sum(1 for f in others if f.severity == s))
        ],
        "other_suppressed": sum(1 for f in others if f.suppressed is not None),
        "suppressed_count": sum(1 for f in report.findings if f.suppressed is not None),
        "gating_count": len(common.gating(report)),
        "rules": sorted(report.rules, key=lambda r: (-int(r.severity), r.id)),
        "problems": common.all_problems(report),
        "total_files": f"{sum(x.files for x in report.layers):,}",
        "total_bytes": common.human_bytes(sum(x.bytes for x in report.layers)),
    }


def _finding(report: ScanReport, f: Finding) -> dict[str, Any]:
    return {
        "severity": f.severity.label,
        "rule": f.rule,
        "title": f.title,
        "where": f.location.describe(),
        "lineage": advice.code_segments(common.lineage(report, f)),
        "status": f.status,
        "excerpt": f.excerpt,
        "fix": advice.code_segments(advice.fix_advice(report, f)),
        "fingerprint": f.fingerprint,
        "note": f.note,
        "suppressed": f.suppressed,
        "known_secret_id": f.known_secret_id,
        "gating": common.is_gating(report, f),
    }


def _layer(layer: LayerReport) -> dict[str, Any]:
    return {
        "image": layer.image_index,
        "index": layer.index,
        "digest": layer.digest or "-",
        "diff_id": layer.diff_id or "-",
        "media_type": layer.media_type,
        "created_by": common.history_line(layer.created_by, 200),
        "files": f"{layer.files:,}",
        "bytes": common.human_bytes(layer.bytes),
        "bytes_exact": f"{layer.bytes:,}",
        "status": layer.status,
        "problems": [f"{p.what}" + (" (inconclusive)" if p.inconclusive else "") for p in layer.problems],
        "whiteouts": len(layer.whiteouts),
        "nested_archives": layer.nested_archives,
    }
