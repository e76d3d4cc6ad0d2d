"""Text from the image made printable before any renderer sees it: one pass over the whole report."""

from __future__ import annotations

import re
from dataclasses import replace

from scanner.findings import Location
from scanner.model import Problem
from scanner.result import ScanReport

# C0/C1 controls (an ESC in a file name could drive the reader's terminal; most are invalid in XML) and lone
# surrogates (from undecodable bytes; they cannot be written as UTF-8). Tab and newline stay.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def _escape_char(m: re.Match[str]) -> str:
    code = ord(m.group())
    return "\ufffd" if code >= 0xD800 else f"\\x{code:02x}"


def safe(text: str) -> str:
    """Text from the image, made printable: control characters as `\\xNN`, lone surrogates as U+FFFD."""
    return _UNSAFE.sub(_escape_char, text)


def _safe_opt(text: str | None) -> str | None:
    return None if text is None else safe(text)


def _safe_problem(p: Problem) -> Problem:
    return replace(p, where=safe(p.where), what=safe(p.what))


def _safe_location(loc: Location) -> Location:
    return replace(
        loc, path=_safe_opt(loc.path), inner_path=_safe_opt(loc.inner_path), key=_safe_opt(loc.key)
    )


def sanitized(report: ScanReport) -> ScanReport:
    """A copy of the report in which every string that may come from the image is `safe`."""
    return replace(
        report,
        reference=safe(report.reference),
        images=[
            replace(i, reference=safe(i.reference), repo_tags=tuple(safe(t) for t in i.repo_tags))
            for i in report.images
        ],
        layers=[
            replace(
                layer,
                created_by=_safe_opt(layer.created_by),
                whiteouts=[safe(w) for w in layer.whiteouts],
                problems=[_safe_problem(p) for p in layer.problems],
            )
            for layer in report.layers
        ],
        metadata_scanned=[safe(a) for a in report.metadata_scanned],
        known_secrets=[replace(k, warnings=tuple(safe(w) for w in k.warnings)) for k in report.known_secrets],
        findings=[
            replace(
                f,
                excerpt=safe(f.excerpt),
                location=_safe_location(f.location),
                note=_safe_opt(f.note),
                suppressed=_safe_opt(f.suppressed),
            )
            for f in report.findings
        ],
        problems=[_safe_problem(p) for p in report.problems],
        suppressions=[safe(s) for s in report.suppressions],
        warnings=[safe(w) for w in report.warnings],
    )
