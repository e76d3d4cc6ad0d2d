"""The default terminal report: findings by image and layer, what was examined, the verdict last."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from scanner.findings import Finding, Severity
from scanner.report import advice, common, sanitize
from scanner.result import VERDICT_CLEAN, VERDICT_FINDINGS, ScanReport

_RESET = "\x1b[0m"
_SEVERITY_COLOR = {
    Severity.CRITICAL: "\x1b[1;31m",
    Severity.HIGH: "\x1b[31m",
    Severity.MEDIUM: "\x1b[33m",
    Severity.LOW: "\x1b[36m",
    Severity.INFO: "\x1b[2m",
}
_VERDICT_COLOR = {VERDICT_CLEAN: "\x1b[1;32m", VERDICT_FINDINGS: "\x1b[1;31m"}
_INCONCLUSIVE_COLOR = "\x1b[1;33m"
_HEADING = "\x1b[1m"
_DIM = "\x1b[2m"


def render(report: ScanReport) -> str:
    return render_text(report, color=False)


def render_quiet(report: ScanReport, *, color: bool = False) -> str:
    """The verdict line only, without a newline."""
    report = sanitize.sanitized(report)
    return _paint_verdict(report, color)


def render_text(report: ScanReport, *, color: bool = False) -> str:
    report = sanitize.sanitized(report)

    def paint(code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if color else text

    out: list[str] = []
    out.append(paint(_HEADING, f"imgscan {report.tool_version} — {report.reference}"))
    for image in report.images:
        parts = [f"image {image.reference}", f"id {common.short_digest(image.id)}"]
        if image.digest:
            parts.append(f"digest {common.short_digest(image.digest)}")
        parts += [f"platform {image.platform or 'unknown'}", f"format {image.format}"]
        out.append("  ".join(parts))
    out.append(f"ruleset {report.ruleset_hash}  fail-on {report.fail_on}")
    out.append("")
    _findings(report, out, paint)
    _summary(report, out, paint)
    _layers(report, out, paint)
    _metadata(report, out, paint)
    _known_secrets(report, out, paint)
    _suppressions(report, out, paint)
    _problems(report, out, paint)
    _warnings(report, out, paint)
    out.append(_paint_verdict(report, color))
    return "\n".join(out) + "\n"


def _paint_verdict(report: ScanReport, color: bool) -> str:
    line = common.verdict_line(report)
    if not color:
        return line
    return f"{_VERDICT_COLOR.get(report.verdict, _INCONCLUSIVE_COLOR)}{line}{_RESET}"


def _findings(report: ScanReport, out: list[str], paint: Callable[[str, str], str]) -> None:
    findings = common.shown(report)
    out.append(paint(_HEADING, f"{_shown_heading(report)} ({len(findings)} of {len(report.findings)})"))
    if not findings:
        out.append("  none")
        out.append("")
        return
    multi = len(report.images) > 1
    group: tuple[int, int | None] | None = None
    findings = _fold_info(findings)
    for f in findings:
        loc = f.location
        if multi and (group is None or group[0] != loc.image_index):
            image = report.images[loc.image_index] if loc.image_index < len(report.images) else None
            label = (
                f"{image.reference} ({image.platform or 'unknown platform'})" if image else "unknown image"
            )
            out.append(f"  {label}")
        this = (loc.image_index, loc.layer_index if loc.kind == "layer" else None)
        if this != group:
            out.append("  " + _group_heading(report, f))
            group = this
        out.extend(_finding(report, f, paint))
    out.append("")


def _shown_heading(report: ScanReport) -> str:
    threshold = common.display_threshold(report)
    if threshold is None:
        return "FINDINGS THAT FAIL THE GATE"
    either = " OR FAILING THE GATE" if threshold > common.fail_on(report) else ""
    return f"FINDINGS AT OR ABOVE {threshold.label.upper()}{either}"


def _summary(report: ScanReport, out: list[str], paint: Callable[[str, str], str]) -> None:
    counts = common.summarised(report)
    if not counts:
        return
    total = sum(c.count for c in counts)
    hint = "--severity info" if common.display_threshold(report) is None else "a lower --severity"
    out.append(paint(_HEADING, f"OTHER FINDINGS BY RULE ({total}; {hint} shows them in full)"))
    rows = [
        [
            str(c.count),
            c.severity.label,
            c.rule,
            c.title + (f" ({c.suppressed} suppressed)" if c.suppressed else ""),
        ]
        for c in counts
    ]
    out.extend("  " + line for line in _table(rows, right={0}))
    out.append("")


def _fold_info(findings: list[Finding]) -> list[Finding]:
    """Informational findings of one rule in one file with one reason read as one line, e.g. the ten
    self-test keys of a TLS library: the first stands for the rest, its note counting them."""
    out: list[Finding] = []
    counts: dict[tuple[object, ...], int] = {}
    first: dict[tuple[object, ...], int] = {}
    for f in findings:
        loc = f.location
        if f.severity != Severity.INFO or f.suppressed is not None or loc.kind != "layer":
            out.append(f)
            continue
        key: tuple[object, ...] = (loc.image_index, loc.layer_index, loc.path, loc.inner_path, f.rule, f.note)
        counts[key] = counts.get(key, 0) + 1
        if key not in first:
            first[key] = len(out)
            out.append(f)
    for folded, at in first.items():
        if counts[folded] > 1:
            f = out[at]
            out[at] = replace(
                f,
                location=replace(f.location, line=None),
                note=f"{f.note} ({counts[folded]} places in this file)",
            )
    return out


def _group_heading(report: ScanReport, f: Finding) -> str:
    loc = f.location
    if loc.kind != "layer":
        return "metadata (config, history, attestations)"
    layer = common.find_layer(report, loc.image_index, loc.layer_index)
    if layer is None:
        return f"layer {loc.layer_index}"
    return (
        f"layer {layer.index}  {common.short_digest(layer.diff_id)}  "
        f"{common.history_line(layer.created_by, 70)}"
    )


def _finding(report: ScanReport, f: Finding, paint: Callable[[str, str], str]) -> list[str]:
    label = f.severity.label.upper()
    if f.severity == Severity.INFO and f.suppressed is None:
        # Evidence and vendor files, one line each: the terminal is for what needs fixing.
        why = (
            common.lineage(report, f)
            if common.is_whiteout(report, f)
            else f.note or common.lineage(report, f)
        )
        return [f"    {paint(_SEVERITY_COLOR[f.severity], label)}  {f.rule}  {f.location.describe()}: {why}"]
    head = f"    {paint(_SEVERITY_COLOR[f.severity], label)}  {f.rule}  {f.title}"
    if f.suppressed is not None:
        head += "  [suppressed]"
    elif not common.is_gating(report, f):
        head += f"  [below fail-on {report.fail_on}]"
    lines = [
        head,
        f"      where:      {f.location.describe()}",
        f"      lineage:    {common.lineage(report, f)}",
    ]
    if f.excerpt:
        lines.append(f"      excerpt:    {f.excerpt}")
    lines += [
        f"      fix:        {advice.fix_advice(report, f)}",
        f"      id:         {f.fingerprint}",
    ]
    if f.known_secret_id:
        lines.append(f"      known secret: {f.known_secret_id}")
    if f.note:
        lines.append(f"      note:       {f.note}")
    if f.suppressed is not None:
        lines.append(f"      suppressed: {f.suppressed}")
    return lines


def _layers(report: ScanReport, out: list[str], paint: Callable[[str, str], str]) -> None:
    out.append(paint(_HEADING, f"LAYERS EXAMINED ({len(report.layers)})"))
    multi = len(report.images) > 1
    header = ["image"] * multi + ["#", "diff_id", "files", "bytes", "status", "problems", "created by"]
    rows = [header]
    for layer in report.layers:
        problems = "; ".join(p.what for p in layer.problems) or "-"
        rows.append(
            [str(layer.image_index)] * multi
            + [
                str(layer.index),
                common.short_digest(layer.diff_id),
                f"{layer.files:,}",
                common.human_bytes(layer.bytes),
                layer.status,
                common.shorten(problems, 60),
                common.history_line(layer.created_by, 50),
            ]
        )
    out.extend("  " + line for line in _table(rows, right={header.index("files"), header.index("bytes")}))
    out.append("")


def _table(rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def _metadata(report: ScanReport, out: list[str], paint: Callable[[str, str], str]) -> None:
    out.append(paint(_HEADING, "METADATA EXAMINED"))
    out.append("  " + (", ".join(report.metadata_scanned) or "none"))
    out.append("")


def _known_secrets(report: ScanReport, out: list[str], paint: Callable[[str, str], str]) -> None:
    if not report.known_secrets:
        return
    out.append(paint(_HEADING, f"KNOWN SECRETS ({len(report.known_secrets)})"))
    for k in report.known_secrets:
        result = "FOUND" if k.found else "not found"
        out.append(f"  {k.id}  fingerprint {k.fingerprint}  {common.plural(k.values, 'value')}  {result}")
        out.extend(f"    warning: {w}" for w in k.warnings)
    out.append("")


def _suppressions(report: ScanReport, out: list[str], paint: Callable[[str, str], str]) -> None:
    if not report.suppressions:
        return
    if common.display_threshold(report) is not None:
        out.append(paint(_HEADING, f"SUPPRESSIONS ({len(report.suppressions)})"))
        out.extend(f"  {line}" for line in report.suppressions)
        out.append("")
        return
    # By default each reason is counted once; other policy lines (an expired baseline entry) stay whole.
    reasons: dict[str, int] = {}
    for f in report.findings:
        if f.suppressed is not None:
            reasons[f.suppressed] = reasons.get(f.suppressed, 0) + 1
    heading = f"SUPPRESSIONS ({sum(reasons.values())} findings by reason; --severity info lists each)"
    out.append(paint(_HEADING, heading))
    if reasons:
        rows = [[str(n), reason] for reason, n in reasons.items()]
        out.extend("  " + line for line in _table(rows, right={0}))
    out.extend(f"  {line}" for line in report.suppressions if not line.startswith("suppressed "))
    out.append("")


def _problems(report: ScanReport, out: list[str], paint: Callable[[str, str], str]) -> None:
    problems = common.all_problems(report)
    if not problems:
        return
    out.append(paint(_HEADING, f"PROBLEMS ({len(problems)})"))
    for p in problems:
        mark = "  [inconclusive]" if p.inconclusive else ""
        out.append(f"  {p.where}: {p.what}{mark}")
    out.append("")


def _warnings(report: ScanReport, out: list[str], paint: Callable[[str, str], str]) -> None:
    if not report.warnings:
        return
    out.append(paint(_HEADING, f"WARNINGS ({len(report.warnings)})"))
    out.extend(f"  {w}" for w in report.warnings)
    out.append("")
