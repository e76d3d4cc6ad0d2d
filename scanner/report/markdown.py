"""Markdown summary for a pull-request comment or a CI job summary."""

from __future__ import annotations

from scanner.report import common
from scanner.result import VERDICT_CLEAN, VERDICT_FINDINGS, ScanReport

_MARKER = {VERDICT_CLEAN: "[PASS]", VERDICT_FINDINGS: "[FAIL]"}


def _one_line(text: str) -> str:
    # A pipe ends a table cell even inside a code span, so it is escaped everywhere.
    return " ".join(text.split()).replace("|", "\\|")


def cell(text: str) -> str:
    """Plain text safe in a table cell: one line, pipes escaped, no markup or HTML from image content."""
    escaped = _one_line(text.replace("\\", "\\\\"))
    for char in "*_[]`":
        escaped = escaped.replace(char, "\\" + char)
    return escaped.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(text: str) -> str:
    """Inline code that survives backticks in the text."""
    fence = "``" if "`" in text else "`"
    pad = " " if "`" in text else ""
    return f"{fence}{pad}{_one_line(text)}{pad}{fence}"


def render(report: ScanReport) -> str:
    report = common.sanitized(report)
    marker = _MARKER.get(report.verdict, "[INCONCLUSIVE]")
    out: list[str] = [f"## imgscan {marker} {code(report.reference)}", ""]
    out.append(f"**{cell(common.verdict_line(report))}**")
    out.append("")
    for image in report.images:
        parts = [f"id {code(common.short_digest(image.id))}"]
        if image.digest:
            parts.append(f"digest {code(common.short_digest(image.digest))}")
        parts += [f"platform {image.platform or 'unknown'}", f"format {image.format}"]
        out.append(f"- {code(image.reference)}: " + ", ".join(parts))
    out.append(
        f"- imgscan {report.tool_version}, ruleset {code(report.ruleset_hash)}, fail-on {report.fail_on}"
    )
    out.append("")

    findings = common.ordered_findings(report.findings)
    active = [f for f in findings if f.suppressed is None]
    out.append(f"### Findings ({len(active)})")
    out.append("")
    if active:
        out.append("| Severity | Rule | Where | Status | Gate |")
        out.append("|---|---|---|---|---|")
        for f in active:
            gate = "fails" if common.is_gating(report, f) else "below"
            out.append(
                f"| {f.severity.label} | {code(f.rule)} | {cell(f.location.describe())} | "
                f"{cell(common.status_phrase(report, f))} | {gate} |"
            )
    else:
        out.append("No active findings.")
    out.append("")

    fixes: dict[str, list[str]] = {}
    for f in active:
        fixes.setdefault(f.remediation, []).append(f.location.describe())
    if fixes:
        out.append("### How to fix")
        out.append("")
        for remediation, wheres in fixes.items():
            shown = ", ".join(code(w) for w in wheres[:3]) + (
                f" and {len(wheres) - 3} more" if len(wheres) > 3 else ""
            )
            out.append(f"- {cell(remediation)} ({shown})")
        out.append("")

    out.append(f"### Layers examined ({len(report.layers)})")
    out.append("")
    out.append("| # | diff_id | Created by | Files | Bytes | Status | Problems |")
    out.append("|---|---|---|---:|---:|---|---|")
    for layer in report.layers:
        index = f"{layer.image_index}/{layer.index}" if len(report.images) > 1 else str(layer.index)
        layer_problems = "; ".join(p.what for p in layer.problems) or "-"
        out.append(
            f"| {index} | {code(common.short_digest(layer.diff_id))} "
            f"| {code(common.history_line(layer.created_by, 60))} "
            f"| {layer.files:,} | {common.human_bytes(layer.bytes)} "
            f"| {layer.status} | {cell(layer_problems)} |"
        )
    out.append("")
    out.append(f"Metadata examined: {', '.join(report.metadata_scanned) or 'none'}")
    out.append("")

    if report.known_secrets:
        out.append("### Known secrets")
        out.append("")
        out.append("| Id | Fingerprint | Values | Result |")
        out.append("|---|---|---:|---|")
        for k in report.known_secrets:
            result = "**found**" if k.found else "not found"
            out.append(f"| {cell(k.id)} | {code(k.fingerprint)} | {k.values} | {result} |")
        out.append("")

    if report.suppressions:
        out.append(f"<details><summary>Suppressed ({len(report.suppressions)})</summary>")
        out.append("")
        out.extend(f"- {cell(line)}" for line in report.suppressions)
        out.append("")
        out.append("</details>")
        out.append("")

    problems = common.all_problems(report)
    if problems:
        out.append("### Problems")
        out.append("")
        for p in problems:
            mark = " (inconclusive)" if p.inconclusive else ""
            out.append(f"- {cell(p.where)}: {cell(p.what)}{mark}")
        out.append("")
    return "\n".join(out)
