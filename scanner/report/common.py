"""Wording every report format shares: verdict and lineage sentences, sizes, digests, safe history text."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from scanner.errors import UsageError
from scanner.findings import Finding, Severity, redact_value
from scanner.model import Problem
from scanner.result import VERDICT_CLEAN, VERDICT_FINDINGS, VERDICT_INCONCLUSIVE, LayerReport, ScanReport

SEVERITY_ORDER = tuple(reversed(Severity))  # critical first


def fail_on(report: ScanReport) -> Severity:
    try:
        return Severity.parse(report.fail_on)
    except ValueError:
        return Severity.HIGH


def gating(report: ScanReport) -> list[Finding]:
    """Findings that fail the gate: not suppressed, severity at or above fail_on."""
    gate = fail_on(report)
    return [f for f in report.findings if f.suppressed is None and f.severity >= gate]


def is_gating(report: ScanReport, finding: Finding) -> bool:
    return finding.suppressed is None and finding.severity >= fail_on(report)


def display_threshold(report: ScanReport) -> Severity | None:
    """The `--severity` display threshold, or None for the default (show what fails the gate)."""
    if not report.severity:
        return None
    try:
        return Severity.parse(report.severity)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def shown(report: ScanReport) -> list[Finding]:
    """Findings shown in full, ordered: what fails the gate always, and what is at or above --severity."""
    threshold = display_threshold(report)
    return ordered_findings(
        f
        for f in report.findings
        if is_gating(report, f) or (threshold is not None and f.severity >= threshold)
    )


def exported(report: ScanReport) -> list[Finding]:
    """Findings a machine format (SARIF, JUnit) carries: every one by default, else what is shown."""
    return ordered_findings(report.findings) if display_threshold(report) is None else shown(report)


@dataclass(frozen=True)
class RuleCount:
    """Findings of one rule and severity that are not shown in full: how many, how many suppressed."""

    rule: str
    title: str
    severity: Severity
    count: int
    suppressed: int


def summarised(report: ScanReport) -> list[RuleCount]:
    """The findings `shown` leaves out, counted by rule and severity, highest severity first."""
    full = {id(f) for f in shown(report)}
    counts: dict[tuple[str, Severity], RuleCount] = {}
    for f in report.findings:
        if id(f) in full:
            continue
        key = (f.rule, f.severity)
        was = counts.get(key, RuleCount(f.rule, f.title, f.severity, 0, 0))
        counts[key] = replace(
            was, count=was.count + 1, suppressed=was.suppressed + (f.suppressed is not None)
        )
    return sorted(counts.values(), key=lambda c: (-int(c.severity), c.rule))


def ordered_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Stable order: image, layers oldest first then metadata, path, line, severity (highest first), rule."""

    def key(f: Finding) -> tuple[int, int, str, int, int, str, str]:
        loc = f.location
        layer = loc.layer_index if loc.kind == "layer" and loc.layer_index is not None else 1 << 30
        place = (
            loc.path or f"{loc.kind}:{loc.history_index if loc.history_index is not None else ''}:{loc.key}"
        )
        return (loc.image_index, layer, place, loc.line or 0, -int(f.severity), f.rule, f.fingerprint)

    return sorted(findings, key=key)


def all_problems(report: ScanReport) -> list[Problem]:
    """Report-level problems, then each layer's, without repeating one that appears in both."""
    seen: set[tuple[str, str]] = set()
    out: list[Problem] = []
    for p in [*report.problems, *(p for layer in report.layers for p in layer.problems)]:
        if (p.where, p.what) not in seen:
            seen.add((p.where, p.what))
            out.append(p)
    return out


def find_layer(report: ScanReport, image_index: int, index: int | None) -> LayerReport | None:
    for layer in report.layers:
        if layer.image_index == image_index and layer.index == index:
            return layer
    return None


# --- small formatting ------------------------------------------------------------


def short_digest(digest: str | None, length: int = 12) -> str:
    """`sha256:0123456789ab` (algorithm kept, hex shortened); "-" when unknown."""
    if not digest:
        return "-"
    algo, _, hexpart = digest.partition(":")
    return f"{algo}:{hexpart[:length]}" if hexpart else digest[:length]


def human_bytes(n: int) -> str:
    """1023 B, 1.5 KiB, 12.0 MiB: binary units, one decimal."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# History rows carry build arguments in clear (`RUN |2 TOKEN=ghp_... USER=bob /bin/sh -c ...`) and
# ENV/ARG/LABEL values; a report shows the instruction, never those values, whatever the detectors said.
_BUILD_ARGS = re.compile(r"^(\s*(?:RUN\s+)?)\|(\d+)\s+")
_ASSIGNING = re.compile(r"^(\s*(?:/bin/sh -c #\(nop\)\s*)?(?:ENV|ARG|LABEL)\s+)(.*)$", re.DOTALL)
_PAIR = re.compile(r"""([^\s=]+)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)""")
_LEGACY_ENV = re.compile(r"^(ENV|ARG|LABEL)(\s+)(\S+)(\s+)(.+)$", re.DOTALL)


def _mask_pairs(text: str) -> str:
    return _PAIR.sub(lambda m: f"{m.group(1)}={redact_value(m.group(2).strip(chr(34) + chr(39)))}", text)


def safe_created_by(created_by: str | None) -> str:
    """A history row's created_by with build-argument, ENV, ARG and LABEL values masked."""
    if not created_by:
        return ""
    text = created_by
    m = _BUILD_ARGS.match(text)
    if m:
        count = int(m.group(2))
        rest = text[m.end() :]
        pairs = list(_PAIR.finditer(rest))[:count]
        end = pairs[-1].end() if pairs else 0
        text = f"{m.group(1)}|{count} {_mask_pairs(rest[:end])}{rest[end:]}"
    m2 = _ASSIGNING.match(text)
    if m2:
        body = m2.group(2)
        if "=" in body:
            text = m2.group(1) + _mask_pairs(body)
        else:
            legacy = _LEGACY_ENV.match(text.strip().removeprefix("/bin/sh -c #(nop)").strip())
            # `ENV KEY value` (legacy form): everything after the key is the value.
            if legacy:
                text = f"{legacy.group(1)} {legacy.group(3)} {redact_value(legacy.group(5))}"
    return text


def history_line(created_by: str | None, limit: int = 80) -> str:
    """The shortened, masked instruction that made a layer; `/bin/sh -c #(nop)` noise removed."""
    text = safe_created_by(created_by).replace("/bin/sh -c #(nop) ", "").strip()
    return shorten(text, limit) if text else "(no history entry)"


# --- sentences -------------------------------------------------------------------


def lineage(report: ScanReport, finding: Finding) -> str:
    """Where a finding sits in the layer history, in one sentence."""
    loc = finding.location
    if loc.kind != "layer":
        places = {
            "history": f"recorded in the image history (history[{loc.history_index}])",
            "config": "recorded in the image config",
            "attestation": "recorded in a build attestation shipped with the image",
            "manifest": "recorded in the image manifest",
        }
        return places.get(loc.kind, f"recorded in the image {loc.kind}") + ", readable by anyone who pulls it"
    layer = find_layer(report, loc.image_index, loc.layer_index)
    by = f" by `{history_line(layer.created_by, 60)}`" if layer is not None and layer.created_by else ""
    if is_whiteout(report, finding):
        return (
            f"deleted in layer {loc.layer_index}{by} (a whiteout); "
            "the deleted file is still recoverable from a lower layer's tarball"
        )
    added = f"added in layer {loc.layer_index}{by}"
    if finding.status == "deleted":
        return (
            f"{added}, deleted in layer {_layer_name(finding.status_layer)}, "
            f"still recoverable from layer {loc.layer_index}'s tarball"
        )
    if finding.status == "overwritten":
        return (
            f"{added}, overwritten in layer {_layer_name(finding.status_layer)}, "
            f"the earlier version still recoverable from layer {loc.layer_index}'s tarball"
        )
    return f"{added}, present in the final filesystem"


def is_whiteout(report: ScanReport, finding: Finding) -> bool:
    """The finding is the whiteout itself (evidence of a deleted file), not content."""
    loc = finding.location
    if loc.kind != "layer" or loc.inner_path or finding.status != "visible":
        return False
    layer = find_layer(report, loc.image_index, loc.layer_index)
    return layer is not None and loc.path in layer.whiteouts


def status_phrase(report: ScanReport, finding: Finding) -> str:
    """Short status for a table cell: `visible`, `deleted in layer 2 (recoverable from layer 1)`, ..."""
    loc = finding.location
    if loc.kind != "layer":
        return f"in the image {loc.kind}"
    if is_whiteout(report, finding):
        return f"whiteout in layer {loc.layer_index}"
    if finding.status in ("deleted", "overwritten"):
        return (
            f"{finding.status} in layer {_layer_name(finding.status_layer)} "
            f"(recoverable from layer {loc.layer_index})"
        )
    return "visible"


def _layer_name(index: int | None) -> str:
    return "?" if index is None else str(index)


_METADATA_NAMES = (
    ("config", "the config"),
    ("history", "the history"),
    ("attestation", "the attestations"),
    ("manifest", "the manifests"),
    ("index", "the manifests"),
    ("buildinfo", "the build info"),
    ("legacy-json", "the legacy layer metadata"),
)


def metadata_names(areas: Iterable[str]) -> list[str]:
    """`config.Env`, `config.Labels`, `history` -> `the config`, `the history` (first-seen order, once)."""
    names: list[str] = []
    for area in areas:
        name = next((n for prefix, n in _METADATA_NAMES if area.startswith(prefix)), area)
        if name not in names:
            names.append(name)
    return names


def join_words(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def findings_summary(report: ScanReport) -> str:
    """`2 findings at or above high (1 critical) in 1 of 3 layers and the history`."""
    gate = fail_on(report)
    hits = gating(report)
    above = [
        f"{sum(1 for f in hits if f.severity == s)} {s.label}"
        for s in SEVERITY_ORDER
        if s > gate and any(f.severity == s for f in hits)
    ]
    text = f"{plural(len(hits), 'finding')} at or above {gate.label}"
    if above:
        text += f" ({', '.join(above)})"
    layers_hit = {
        (f.location.image_index, f.location.layer_index) for f in hits if f.location.kind == "layer"
    }
    places: list[str] = []
    if layers_hit:
        total = len(report.layers)
        if total == 1:
            places.append("the image's only layer")
        elif len(layers_hit) == total:
            places.append(f"all {total} layers")
        else:
            places.append(f"{len(layers_hit)} of {total} layers")
    kinds = [f.location.kind for f in hits if f.location.kind != "layer"]
    places += metadata_names(kinds)
    return text + (" in " + join_words(places) if places else "")


def verdict_sentence(report: ScanReport) -> str:
    """The verdict and its reason in one line, without the `VERDICT:` prefix."""
    if report.verdict == VERDICT_INCONCLUSIVE:
        blocking = [p for p in all_problems(report) if p.inconclusive]
        if blocking:
            first = blocking[0]
            text = f"INCONCLUSIVE — {first.where} could not be read in full: {first.what}"
            if len(blocking) > 1:
                text += f" (and {plural(len(blocking) - 1, 'more problem')})"
        else:
            text = "INCONCLUSIVE — the scan did not complete"
        if gating(report):
            text += f"; also {findings_summary(report)}"
        return text
    if report.verdict == VERDICT_FINDINGS:
        return f"FINDINGS — {findings_summary(report)}"
    if report.verdict == VERDICT_CLEAN:
        total = len(report.layers)
        layers = {0: "the image (it has no layers)", 1: "the image's only layer"}
        places = [layers.get(total, f"any of the {total} layers")]
        places += metadata_names(report.metadata_scanned)
        below = [f for f in report.findings if f.suppressed is None and not is_gating(report, f)]
        suppressed = [f for f in report.findings if f.suppressed is not None]
        if below:
            text = f"CLEAN — no secret at or above {fail_on(report).label} in {join_words(places)}"
        else:
            text = f"CLEAN — no secret found in {join_words(places)}"
        extra = []
        if below:
            extra.append(f"{len(below)} below the gate")
        if suppressed:
            extra.append(f"{len(suppressed)} suppressed")
        return text + (f" ({', '.join(extra)})" if extra else "")
    return f"{report.verdict.upper()} — unknown verdict"


def verdict_line(report: ScanReport) -> str:
    return f"VERDICT: {verdict_sentence(report)}"
