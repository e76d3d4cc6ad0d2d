"""The CLI's outputs: which file gets which format (checked before the scan), writing, scrubbing, progress."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click

from scanner.errors import UsageError
from scanner.report import EXTENSIONS, FORMATS

if TYPE_CHECKING:
    from scanner.progress import Progress
    from scanner.result import ScanReport


@dataclass(frozen=True)
class Target:
    """One output of a scan: a format, and a file (None: standard output)."""

    fmt: str
    path: Path | None
    main: bool


def targets(fmt: str, output: Path | None, extra: Iterable[str]) -> list[Target]:
    """The main output, then every --report, each with its format."""
    return [Target(fmt.lower(), output, True), *(_report_target(text) for text in extra)]


def _report_target(text: str) -> Target:
    fmt, sep, rest = text.partition(":")
    if sep and fmt.lower() in FORMATS and rest:
        return Target(fmt.lower(), Path(rest), False)
    path = Path(text)
    found = EXTENSIONS.get(path.suffix.lower())
    if found is None:
        raise UsageError(f"--report {text}: cannot tell the format from the extension; write FORMAT:{text}")
    return Target(found, path, False)


def check_writable(paths: Iterable[Path | None]) -> None:
    """Every output path can be written, checked before a scan that may take minutes."""
    for path in paths:
        if path is None:
            continue
        if path.is_dir():
            raise UsageError(f"cannot write {path}: it is a directory")
        parent = path.parent if str(path.parent) else Path(".")
        if not parent.is_dir():
            raise UsageError(f"cannot write {path}: no such directory {parent}")
        if not os.access(path if path.exists() else parent, os.W_OK):
            raise UsageError(f"cannot write {path}: permission denied")


def write_all(report: ScanReport, outputs: list[Target], secrets: list[str], color: bool) -> None:
    """Render each output in its format, whatever -q says, and write it."""
    from scanner.report import render

    for target in outputs:
        painted = color and target.fmt == "text" and target.main
        text = scrub(render(report, target.fmt, color=painted), secrets)
        if target.path is None:
            # click strips colour codes from a pipe unless told: --color means colour.
            click.echo(text, nl=not text.endswith("\n"), color=painted or None)
        else:
            try:
                target.path.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise UsageError(f"cannot write {target.path}: {exc.strerror or exc}") from None


def chatter(report: ScanReport, outputs: list[Target], secrets: list[str]) -> None:
    """What -q drops: the verdict line when the main output went to a file, and the report's warnings."""
    from scanner.report import render_quiet

    if outputs[0].path is not None:
        click.echo(scrub(render_quiet(report), secrets))
    for warning in report.warnings:
        click.echo(scrub(f"imgscan: warning: {warning}", secrets), err=True)


def scrub(text: str, values: list[str]) -> str:
    """Last line of defence: a known secret's value never leaves the process, whatever a renderer did."""
    from scanner.findings import redact_value

    for value in sorted(set(values), key=len, reverse=True):
        if len(value) >= 4 and value in text:
            text = text.replace(value, redact_value(value))
    return text


def scrub_argv_secrets(message: str, argv: list[str]) -> str:
    """An error line without the parts of any --secret argument, nor the value of a variable it names."""
    values: list[str] = []
    for i, arg in enumerate(argv):
        spec = arg.split("=", 1)[1] if arg.startswith("--secret=") else None
        if arg == "--secret" and i + 1 < len(argv):
            spec = argv[i + 1]
        if spec is None:
            continue
        for part in spec.split(","):
            key, _, value = part.partition("=")
            values += [key, value]
            if key.strip().lower() == "env" and os.environ.get(value.strip()):
                values.append(os.environ[value.strip()])
    return scrub(message, [v for v in values if v.strip().lower() not in _SPEC_WORDS])


_SPEC_WORDS = {"id", "src", "source", "env", "type", "file"}


class ProgressBar:
    """Progress on a terminal: bytes across the whole image (the daemon's save stream too), with an ETA."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._started = time.monotonic()
        self._drawn = 0.0

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        done = progress.layers_total > 0 and progress.layers_done >= progress.layers_total
        if not done and now - self._drawn < 0.1:
            return
        self._drawn = now
        mb = progress.bytes_done / 1e6
        total = progress.bytes_total
        if total:
            frac = min(1.0, progress.bytes_done / total)
            bar = "#" * int(30 * frac) + "-" * (30 - int(30 * frac))
            elapsed = now - self._started
            eta = f"ETA {_clock(elapsed / frac - elapsed)}" if 0 < frac < 1 and elapsed > 1 else ""
            line = f"[{bar}] {frac:4.0%} {mb:,.1f}/{total / 1e6:,.1f} MB  {progress.phase}  {eta}"
        else:
            line = f"{progress.phase}: {mb:,.1f} MB"
        if progress.layers_total:
            line += f"  layers {progress.layers_done}/{progress.layers_total}"
        self._stream.write("\r" + line.ljust(100)[:100] + ("\n" if done else ""))
        self._stream.flush()


def _clock(seconds: float) -> str:
    seconds = int(max(0.0, seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"
