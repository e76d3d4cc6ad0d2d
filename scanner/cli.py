"""Command line: parse arguments, wire source, scan, policy and reports, map errors to exit codes."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, cast

import click

from scanner import __version__
from scanner.collect import bug_text
from scanner.errors import ScanError, UsageError
from scanner.scan import ProgressFn
from scanner.walk import Limits

EPILOG = """\b
Exit codes:
  0  clean: no finding at or above --fail-on, every layer read in full
  1  findings at or above --fail-on (default: high)
  2  inconclusive (a layer or blob could not be read in full) or error
     (no such image, no daemon, bad arguments)

\b
IMAGE is a daemon image name (my-app:latest), a path to a `docker save` or
OCI archive (optionally gzip/zstd/xz compressed), an OCI layout directory,
or an explicit transport: docker-daemon:NAME, docker://HOST/REPO:TAG (a
registry, no daemon needed), docker-archive:PATH[:NAME], oci-archive:PATH,
oci:DIR.

\b
Several outputs from one scan: --format/-o pick the main output (stdout by
default); each --report FILE adds one more, its format taken from the
extension (.json .sarif .xml=junit .md .html .txt) or given as FORMAT:FILE.
"""

_EXT_FORMATS = {
    ".json": "json",
    ".sarif": "sarif",
    ".xml": "junit",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".txt": "text",
}
FORMATS = ("text", "json", "sarif", "junit", "markdown", "html")


@click.command(
    epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.argument("image", required=False)
@click.option(
    "--secret",
    "secret_specs",
    multiple=True,
    metavar="id=ID,src=PATH|env=VAR",
    help="A secret used at build time (docker build --secret syntax); prove its value is nowhere "
    "in the image. Repeatable.",
)
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True, help="Main output."
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the main output here."
)
@click.option(
    "--report", "extra_reports", multiple=True, metavar="[FORMAT:]FILE", help="An extra output. Repeatable."
)
@click.option(
    "--fail-on",
    "fail_on_opt",
    type=click.Choice(["critical", "high", "medium", "low", "info"]),
    default=None,
    help="Lowest severity that fails the gate (default high, or the config's).",
)
@click.option(
    "--platform",
    "platform_opt",
    metavar="os/arch[/variant]",
    help="Scan only this platform of a multi-platform image.",
)
@click.option(
    "--baseline",
    "baseline_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Suppress findings listed here.",
)
@click.option(
    "--write-baseline",
    "write_baseline_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every current finding to this baseline file (then exit as usual).",
)
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), help="Config file.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), help="Layer cache directory.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the layer cache.")
@click.option(
    "-j", "--jobs", type=click.IntRange(0, 64), default=0, help="Worker processes (0: one per core)."
)
@click.option("-q", "--quiet", is_flag=True, help="Print the verdict line only.")
@click.option(
    "--color/--no-color", default=None, help="Colour the terminal output (default: when a terminal)."
)
@click.option(
    "--progress/--no-progress", default=None, help="Progress bar on stderr (default: when a terminal)."
)
# -- registry (docker://) options, skopeo's names ----------------------------------------------------
@click.option(
    "--creds",
    metavar="USER[:PASS]",
    help="Registry credentials; with USER alone the password comes from $IMGSCAN_REGISTRY_PASSWORD or stdin.",
)
@click.option(
    "--tls-verify",
    type=click.BOOL,
    default=True,
    show_default=True,
    help="Verify the registry's TLS certificate; false also allows plain HTTP.",
)
@click.option(
    "--cert-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory of CA (*.crt) and client (*.cert, *.key) certificates for the registry.",
)
@click.option("--ca", type=click.Path(dir_okay=False, path_type=Path), help="CA bundle for the registry.")
# -- end of registry options ---------------------------------------------------------------------------
@click.version_option(__version__, "--version", prog_name="imgscan")
def command(
    image: str | None,
    secret_specs: tuple[str, ...],
    fmt: str,
    output: Path | None,
    extra_reports: tuple[str, ...],
    fail_on_opt: str | None,
    platform_opt: str | None,
    baseline_path: Path | None,
    write_baseline_path: Path | None,
    config_path: Path | None,
    cache_dir: Path | None,
    no_cache: bool,
    jobs: int,
    quiet: bool,
    color: bool | None,
    progress: bool | None,
    creds: str | None,
    tls_verify: bool,
    cert_dir: Path | None,
    ca: Path | None,
) -> None:
    """Scan IMAGE's every layer, config, history and attestation for secrets that landed in it."""
    if not image:
        raise UsageError("missing IMAGE: a daemon image name, an archive path or an OCI layout directory")
    # Imported here, not at the top: `imgscan --help` and `--version` stay instant.
    import platformdirs

    from scanner import policy
    from scanner.detectors.known import load_known_secrets, parse_secret_spec
    from scanner.findings import Severity
    from scanner.image import Platform
    from scanner.report import render, render_quiet
    from scanner.scan import ScanOptions, run_scan, today
    from scanner.sources.registry import RegistryOptions, parse_creds

    config = policy.load_config(Path.cwd(), config_path)
    fail_on = Severity.parse(fail_on_opt) if fail_on_opt else config.fail_on
    extra = [_parse_report_target(r) for r in extra_reports]
    known = tuple(load_known_secrets([parse_secret_spec(s) for s in secret_specs]))
    baseline_path = baseline_path or config.baseline
    base = policy.load_baseline(baseline_path) if baseline_path else None
    limits = _limits(Limits(), config.limits)
    if no_cache:
        cache = None
    else:
        cache = cache_dir or Path(
            os.environ.get("IMGSCAN_CACHE_DIR") or platformdirs.user_cache_dir("imgscan")
        )
    options = ScanOptions(
        reference=image,
        platform=Platform.parse(platform_opt) if platform_opt else None,
        known_secrets=known,
        disabled_rules=config.disabled_rules,
        limits=limits,
        jobs=jobs,
        cache_dir=cache,
        registry=RegistryOptions(parse_creds(creds) if creds else None, tls_verify, cert_dir, ca),
    )
    show_progress = progress if progress is not None else (sys.stderr.isatty() and not quiet)
    report = run_scan(options, _progress_bar() if show_progress else None)
    findings, suppressions = policy.apply_policy(report.findings, config, base, today())
    report = replace(report, findings=findings, suppressions=suppressions, fail_on=fail_on.label)
    report = replace(report, verdict=policy.verdict(report.findings, report.problems, fail_on))
    values = [v for s in known for v in s.values]

    if write_baseline_path:
        policy.write_baseline(report, write_baseline_path)
    for target_fmt, path in extra:
        _write(path, _scrub(render(report, target_fmt), values))
    use_color = color if color is not None else (output is None and sys.stdout.isatty())
    main = render_quiet(report) if quiet else render(report, fmt, color=use_color and fmt == "text")
    main = _scrub(main, values)
    if output is not None:
        _write(output, main)
        if not quiet:
            click.echo(_scrub(render_quiet(report), values))
    else:
        click.echo(main, nl=not main.endswith("\n"))
    sys.exit(policy.exit_code(report.verdict))


def _scrub(text: str, values: list[str]) -> str:
    """Last line of defence: a known secret value never leaves the process, whatever a renderer did."""
    from scanner.findings import redact_value

    for value in sorted(set(values), key=len, reverse=True):
        if len(value) >= 4 and value in text:
            text = text.replace(value, redact_value(value))
    return text


def _parse_report_target(text: str) -> tuple[str, Path]:
    fmt, sep, rest = text.partition(":")
    if sep and fmt in FORMATS and rest:
        return fmt, Path(rest)
    path = Path(text)
    found = _EXT_FORMATS.get(path.suffix.lower())
    if found is None:
        raise UsageError(f"--report {text}: cannot tell the format from the extension; write FORMAT:{text}")
    return found, path


def _limits(limits: Limits, overrides: Mapping[str, int]) -> Limits:
    names = {f.name for f in fields(limits)} - {"spool_dir"}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise UsageError(
            f"unknown limit(s) in config: {', '.join(unknown)}; known: {', '.join(sorted(names))}"
        )
    return replace(limits, **cast(dict[str, Any], overrides))


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def _progress_bar() -> ProgressFn:
    def show(done: int, total: int, nbytes: int) -> None:
        width = 30
        filled = int(width * done / total) if total else width
        bar = "#" * filled + "-" * (width - filled)
        end = "\n" if done >= total else ""
        sys.stderr.write(f"\r[{bar}] layers {done}/{total}  {nbytes / 1e6:,.1f} MB{end}")
        sys.stderr.flush()

    return show


def main() -> None:
    """Entry point: every ScanError becomes one line on stderr and exit 2; no traceback reaches a user."""
    try:
        command.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"imgscan: error: {exc.format_message()}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("imgscan: interrupted", err=True)
        sys.exit(2)
    except ScanError as exc:
        click.echo(f"imgscan: error: {_one_line(str(exc))}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("imgscan: interrupted", err=True)
        sys.exit(2)
    except Exception as exc:  # a bug: still one line and exit 2, never a traceback or a "clean"
        click.echo(f"imgscan: internal error: {_one_line(bug_text(exc))}", err=True)
        if os.environ.get("IMGSCAN_DEBUG"):
            raise
        sys.exit(2)


def _one_line(text: str) -> str:
    return " ".join(text.split())


if __name__ == "__main__":
    main()
