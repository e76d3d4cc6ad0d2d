"""Markdown summary for a pull-request comment or a CI job summary."""

from __future__ import annotations

from scanner.report import advice, common, sanitize
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


def rich(text: str) -> str:
    """Prose escaped as `cell`, with its code spans (commands, paths, variables) as inline code."""

    def prose(part: str) -> str:
        # `cell` trims; the spaces around a code span are kept.
        return (" " if part[:1].isspace() else "") + cell(part) + (" " if part[-1:].isspace() else "")

    return "".join(code(part) if is_code else prose(part) for part, is_code in advice.code_segments(text))


def render(report: ScanReport) -> str:
    report = sanitize.sanitized(report)
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
    for warning in report.warnings:
        out.append(f"> **Warning:** {cell(warning)}")
        out.append("")

    findings = common.shown(report)
    threshold = common.display_threshold(report)
    heading = (
        "Findings that fail the gate" if threshold is None else f"Findings at or above {threshold.label}"
    )
    out.append(f"### {heading} ({len(findings)} of {len(report.findings)})")
    out.append("")
    if findings:
        out.append("| Severity | Rule | Where | Status | Gate |")
        out.append("|---|---|---|---|---|")
        for f in findings:
            gate = "suppressed" if f.suppressed else "fails" if common.is_gating(report, f) else "below"
            out.append(
                f"| {f.severity.label} | {code(f.rule)} | {cell(f.location.describe())} | "
                f"{cell(common.status_phrase(report, f))} | {gate} |"
            )
    else:
        out.append("None.")
    out.append("")
    counts = common.summarised(report)
    if counts:
        out.append(f"<details><summary>Other findings by rule ({sum(c.count for c in counts)})</summary>")
        out.append("")
        out.append("| Count | Severity | Rule | Title | Suppressed |")
        out.append("|---:|---|---|---|---:|")
        out.extend(
            f"| {c.count} | {c.severity.label} | {code(c.rule)} | {cell(c.title)} | {c.suppressed} |"
            for c in counts
        )
        out.append("")
        out.append("</details>")
        out.append("")

    unsuppressed = [f for f in findings if f.suppressed is None]
    if unsuppressed:
        out.append("### How to fix")
        out.append("")
        out.extend(
            f"- {code(f.rule)} at {code(f.location.describe())}: {rich(advice.fix_advice(report, f))}"
            for f in unsuppressed
        )
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
