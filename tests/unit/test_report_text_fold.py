"""The terminal report folds repeated informational findings of one file into one line."""

from __future__ import annotations

from dataclasses import replace

from scanner.findings import Location, Severity
from scanner.report.text import render_text
from tests.unit.report_sample import findings_report, plant


def test_vendor_findings_of_one_file_read_as_one_line_with_a_count() -> None:
    report = findings_report(plant())
    base = report.findings[0]
    note = "unmodified file installed by Debian package libgnutls30 (its md5 matches the package manifest)"
    vendor = [
        replace(
            base,
            rule="credential-file/private-key",
            severity=Severity.INFO,
            location=Location("layer", 0, 0, "usr/lib/libgnutls.so.30", None, 3500 + i),
            note=note,
            suppressed=None,
            fingerprint=f"{i:032x}",
        )
        for i in range(10)
    ]
    text = render_text(replace(report, findings=[*vendor, *report.findings], severity="info"))
    lines = [ln for ln in text.splitlines() if "libgnutls.so.30" in ln]
    assert len(lines) == 1
    assert "(10 places in this file)" in lines[0] and "line 35" not in lines[0]
