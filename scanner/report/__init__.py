"""Report formats: one module per format, each `render(report) -> str`; `render(report, fmt)` picks one."""

from __future__ import annotations

from collections.abc import Callable

from scanner.errors import UsageError
from scanner.result import ScanReport

FORMATS = ("text", "json", "sarif", "junit", "markdown", "html")
# An extra report's format when the CLI is given only a file name.
EXTENSIONS = {
    ".json": "json",
    ".sarif": "sarif",
    ".xml": "junit",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".txt": "text",
}


def render(report: ScanReport, fmt: str, *, color: bool = False) -> str:
    """The report in `fmt`; `color` (ANSI) applies to text only."""
    # Imported here so that importing the package stays cheap (jinja2 only when html is asked for).
    from scanner.report import html, json, junit, markdown, sarif, text

    renderers: dict[str, Callable[[ScanReport], str]] = {
        "json": json.render,
        "sarif": sarif.render,
        "junit": junit.render,
        "markdown": markdown.render,
        "html": html.render,
    }
    if fmt == "text":
        return text.render_text(report, color=color)
    if fmt not in renderers:
        raise UsageError(f"unknown report format {fmt!r}; one of {', '.join(FORMATS)}")
    return renderers[fmt](report)


def render_quiet(report: ScanReport, *, color: bool = False) -> str:
    """The verdict line alone (no newline), for --quiet."""
    from scanner.report import text

    return text.render_quiet(report, color=color)
