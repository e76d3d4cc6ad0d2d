"""JUnit XML for CI test tabs: per image a suite; a test case per layer, metadata area and failing finding."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from scanner.findings import Finding
from scanner.model import Problem
from scanner.report import advice, common, sanitize
from scanner.result import ScanReport


def render(report: ScanReport) -> str:
    report = sanitize.sanitized(report)
    root = ET.Element("testsuites", name=f"imgscan {report.reference}")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    image_count = max(1, len(report.images))
    for image_index in range(image_count):
        suite = _suite(report, image_index)
        root.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _suite(report: ScanReport, image_index: int) -> ET.Element:
    image = report.images[image_index] if image_index < len(report.images) else None
    name = image.reference if image else report.reference
    if image and image.platform and len(report.images) > 1:
        name += f" ({image.platform})"
    suite = ET.Element("testsuite", name=name, timestamp=report.scanned_at)
    props = ET.SubElement(suite, "properties")
    prop_values = [
        ("verdict", report.verdict),
        ("verdict_text", common.verdict_sentence(report)),
        ("fail_on", report.fail_on),
        ("tool_version", report.tool_version),
        ("ruleset_hash", report.ruleset_hash),
    ]
    if image:
        prop_values += [
            ("image_id", image.id),
            ("image_digest", image.digest or ""),
            ("platform", image.platform or ""),
        ]
    for key, value in prop_values:
        ET.SubElement(props, "property", name=key, value=value)

    findings = [f for f in common.exported(report) if f.location.image_index == image_index]
    classname = f"imgscan.{name}"
    cases: list[ET.Element] = []
    for layer in (x for x in report.layers if x.image_index == image_index):
        case = ET.Element(
            "testcase",
            classname=classname,
            name=f"layer {layer.index} {common.short_digest(layer.diff_id)} "
            f"{common.history_line(layer.created_by, 60)}",
        )
        here = [f for f in findings if f.location.kind == "layer" and f.location.layer_index == layer.index]
        blocking = [p for p in layer.problems if p.inconclusive]
        if layer.status == "unreadable" or blocking:
            _add_error(case, blocking, f"layer {layer.index} could not be read in full")
        _add_output(case, f"{layer.files} files, {layer.bytes} bytes, status {layer.status}", report, here)
        cases.append(case)

    metadata = [f for f in findings if f.location.kind != "layer"]
    areas = list(report.metadata_scanned)
    assigned: set[int] = set()
    for area in areas:
        case = ET.Element("testcase", classname=classname, name=f"metadata {area}")
        here = [f for i, f in enumerate(metadata) if i not in assigned and _in_area(f, area)]
        assigned.update(i for i, f in enumerate(metadata) if f in here)
        _add_output(case, f"examined {area}", report, here)
        cases.append(case)
    leftover = [f for i, f in enumerate(metadata) if i not in assigned]
    if leftover:
        case = ET.Element("testcase", classname=classname, name="metadata (other)")
        _add_output(case, "metadata findings outside the listed areas", report, leftover)
        cases.append(case)

    layer_wheres = {(p.where, p.what) for x in report.layers for p in x.problems}
    image_problems = [p for p in report.problems if (p.where, p.what) not in layer_wheres]
    if image_problems:
        case = ET.Element("testcase", classname=classname, name="image problems")
        blocking = [p for p in image_problems if p.inconclusive]
        if blocking:
            _add_error(case, blocking, "the image could not be read in full")
        out = ET.SubElement(case, "system-out")
        out.text = "\n".join(f"{p.where}: {p.what}" for p in image_problems)
        cases.append(case)

    # One case per failing finding, first, so a dashboard counts what the verdict counts.
    cases[:0] = [_failure_case(report, classname, f) for f in findings if common.is_gating(report, f)]
    suite.extend(cases)
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    suite.set(
        "errors", str(sum(1 for c in cases if c.find("error") is not None and c.find("failure") is None))
    )
    suite.set("skipped", "0")
    return suite


def _in_area(f: Finding, area: str) -> bool:
    """`config.Env` holds key `Env.X`; `history` holds history findings; `attestations` attestation ones."""
    loc = f.location
    if loc.kind == "config":
        _, _, section = area.partition(".")
        return area == "config" or bool(section and (loc.key or "").startswith(section + "."))
    return area.startswith(loc.kind)


def _failure_case(report: ScanReport, classname: str, f: Finding) -> ET.Element:
    loc = f.location
    place = f"layer {loc.layer_index}" if loc.kind == "layer" else "metadata"
    case = ET.Element(
        "testcase",
        classname=f"{classname}.{place}",
        name=f"{f.severity.label} {f.rule} at {loc.describe()}",
    )
    failure = ET.SubElement(
        case, "failure", message=f"{f.title} at {loc.describe()}", type=f"{f.severity.label} {f.rule}"
    )
    failure.text = "\n".join(
        [
            common.lineage(report, f),
            f"excerpt: {f.excerpt or '(none)'}",
            f"fix: {advice.fix_advice(report, f)}",
            f"fingerprint: {f.fingerprint}",
        ]
        + ([f"note: {f.note}"] if f.note else [])
    )
    return case


def _add_error(case: ET.Element, problems: list[Problem], fallback: str) -> None:
    message = f"{problems[0].where}: {problems[0].what}" if problems else fallback
    error = ET.SubElement(case, "error", message=message, type="inconclusive")
    error.text = "\n".join(f"{p.where}: {p.what}" for p in problems) or fallback


def _add_output(case: ET.Element, summary: str, report: ScanReport, findings: list[Finding]) -> None:
    lines = [summary]
    for f in findings:
        if f.suppressed is not None:
            lines.append(f"suppressed {f.rule} at {f.location.describe()}: {f.suppressed}")
        elif not common.is_gating(report, f):
            lines.append(f"below fail-on: {f.severity.label} {f.rule} at {f.location.describe()}")
    out = ET.SubElement(case, "system-out")
    out.text = "\n".join(lines)
