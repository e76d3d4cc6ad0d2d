"""Command line: arguments, environment and config file into Settings; run the scan; write the outputs."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import click

from scanner import __version__
from scanner.cli_settings import SEVERITY, build_settings, registry_options
from scanner.errors import ScanError, UsageError
from scanner.fleet.command import fleet_command
from scanner.report import FORMATS

EPILOG = """\b
IMAGE is a daemon image name (my-app:latest, or docker-daemon:my-app:latest),
a registry image (docker://HOST[:PORT]/REPO:TAG or @sha256:DIGEST), a path to
a `docker save` or OCI archive (optionally gzip/zstd/xz compressed), an OCI
layout directory, or an explicit transport: docker-archive:PATH[:NAME],
oci-archive:PATH, oci:DIR.

\b
Exit codes:
  0  clean: no finding at or above --fail-on, every layer read in full
  1  findings at or above --fail-on (default: high); --exit-code changes it
  2  inconclusive (something could not be read in full) or error (no such
     image, no daemon, bad arguments); never changed by --exit-code

\b
Outputs: --format/-o pick the main output (stdout by default); each --report
FILE adds one more from the same scan, its format taken from the extension
(.json .sarif .xml=junit .md .html .txt) or given as FORMAT:FILE. --severity
sets what is shown and exported; the gate stays --fail-on. -q drops only the
progress bar and extra lines; the chosen format is always written.

\b
Configuration: --config FILE, else ./.imgscan.toml, else the [tool.imgscan]
table of ./pyproject.toml (fail-on, disabled-rules, allowlist, limits,
baseline). Command-line options win over environment variables, which win
over the config file. Environment: IMGSCAN_FORMAT, IMGSCAN_FAIL_ON,
IMGSCAN_SEVERITY, IMGSCAN_EXIT_CODE, IMGSCAN_CONFIG, IMGSCAN_BASELINE,
IMGSCAN_PLATFORM, IMGSCAN_CACHE_DIR, IMGSCAN_NO_CACHE, IMGSCAN_JOBS,
IMGSCAN_FINGERPRINT_KEY (HMAC key for fingerprints; set it in CI so
baselines match), NO_COLOR, DOCKER_HOST.

\b
Other commands: `imgscan rules` lists every rule and what it looks for.
"""


class _ScanByDefault(click.Group):
    """`imgscan IMAGE ...` is `imgscan scan IMAGE ...`: the scan is the tool; other commands are named."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or args[0] not in (*self.commands, "--version"):
            args = ["scan", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_ScanByDefault, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="imgscan")
def cli() -> None:
    """imgscan: prove that no secret landed in any layer or metadata of a container image."""


@cli.command(
    "scan",
    epilog=EPILOG,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.argument("image", required=False)
@click.option(
    "--secret",
    "secret_specs",
    multiple=True,
    metavar="id=ID,src=PATH|env=VAR",
    help="A secret used at build time (docker build --secret syntax); prove its value is nowhere "
    "in the image. Repeatable. An empty or unreadable secret is an error.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS, case_sensitive=False),
    default="text",
    show_default=True,
    envvar="IMGSCAN_FORMAT",
    help="Main output.",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the main output here."
)
@click.option(
    "--report", "extra_reports", multiple=True, metavar="[FORMAT:]FILE", help="An extra output. Repeatable."
)
@click.option(
    "--fail-on",
    "fail_on",
    type=SEVERITY,
    envvar="IMGSCAN_FAIL_ON",
    help="Lowest severity that fails the gate (default high, or the config's).",
)
@click.option(
    "--severity",
    "severity",
    type=SEVERITY,
    envvar="IMGSCAN_SEVERITY",
    help="Lowest severity shown in full and exported (default: the failing findings in full, the rest "
    "summarised by rule and count).",
)
@click.option(
    "--exit-code",
    "exit_code",
    type=click.IntRange(0, 255),
    default=1,
    show_default=True,
    envvar="IMGSCAN_EXIT_CODE",
    help="Exit code when findings fail the gate; 0 reports only. Inconclusive always exits 2.",
)
@click.option(
    "--platform",
    "platform",
    metavar="os/arch[/variant]",
    envvar="IMGSCAN_PLATFORM",
    help="Scan only this platform of a multi-platform image.",
)
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="IMGSCAN_BASELINE",
    help="Suppress the findings listed here.",
)
@click.option(
    "--write-baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every current finding to this baseline file, keeping the reasons and expiry dates of "
    "entries that still match (then exit as usual).",
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="IMGSCAN_CONFIG",
    help="Config file (default: ./.imgscan.toml, else ./pyproject.toml [tool.imgscan]).",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="IMGSCAN_CACHE_DIR",
    help="Result cache directory (default: the user cache dir).",
)
@click.option("--no-cache", is_flag=True, envvar="IMGSCAN_NO_CACHE", help="Neither read nor write the cache.")
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(0, 64),
    default=0,
    envvar="IMGSCAN_JOBS",
    help="Worker processes (0: one per core).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no extra lines; the output stays.")
@click.option(
    "--color/--no-color",
    default=None,
    help="Colour the text output (default: on a terminal, unless NO_COLOR).",
)
@click.option(
    "--progress/--no-progress", default=None, help="Progress on stderr (default: on a terminal, unless -q)."
)
@registry_options
def scan_command(image: str | None, **options: Any) -> None:
    """Scan IMAGE's every layer, config, history and attestation for secrets that landed in it."""
    if not image:
        raise UsageError("missing IMAGE: a daemon image name, a registry reference, an archive or a layout")
    # Imported here, not at the top: `imgscan --help` and `--version` stay instant.
    from scanner import cli_output, policy
    from scanner.scan import run_scan

    settings = build_settings(options)
    targets = cli_output.targets(options["fmt"], options["output"], options["extra_reports"])
    cli_output.check_writable([t.path for t in targets] + [options["write_baseline"]])
    quiet: bool = options["quiet"]
    progress = options["progress"]
    show_progress = progress if progress is not None else (sys.stderr.isatty() and not quiet)
    report = run_scan(image, settings, cli_output.ProgressBar(sys.stderr) if show_progress else None)
    if options["write_baseline"]:
        policy.write_baseline(report, options["write_baseline"])
    secrets = [v for s in settings.known_secrets for v in s.values]
    cli_output.write_all(report, targets, secrets, _use_color(options["color"], options["output"]))
    if not quiet:
        cli_output.chatter(report, targets, secrets)
    code = policy.exit_code(report.verdict)
    sys.exit(options["exit_code"] if code == 1 else code)


def _use_color(flag: bool | None, output: Path | None) -> bool:
    """--color and --no-color mean what they say; otherwise colour on a terminal unless NO_COLOR is set."""
    if flag is not None:
        return flag
    return output is None and sys.stdout.isatty() and not os.environ.get("NO_COLOR")


@cli.command("rules")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def rules_command(fmt: str) -> None:
    """List every rule imgscan checks, with its severity and what it looks for."""
    import json

    from scanner.detectors import DetectorConfig, DetectorSet

    rules = DetectorSet(DetectorConfig()).rules
    if fmt == "json":
        rows = [
            {
                "id": r.id,
                "severity": r.severity.label,
                "category": r.category,
                "title": r.title,
                "help": r.help,
            }
            for r in rules
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    width = max(len(r.id) for r in rules)
    for r in rules:
        click.echo(f"{r.id:<{width}}  {r.severity.label:<8}  {r.title}")
    click.echo(f"{len(rules)} rules")


cli.add_command(fleet_command)


class _Terminated(BaseException):
    """SIGTERM (a CI job's timeout): unwind like Ctrl-C so every temporary file is removed."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    if os.getpid() != _MAIN_PID:
        os._exit(128 + signum)  # a forked worker: its parent cleans up
    raise _Terminated


_MAIN_PID = os.getpid()


def main() -> None:
    """Entry point: every error is one line on stderr and exit 2; no traceback, no secret, reaches a user."""
    global _MAIN_PID
    _MAIN_PID = os.getpid()
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        _fail(f"imgscan: error: {exc.format_message()}")
    except (click.exceptions.Abort, KeyboardInterrupt, _Terminated):
        _fail("imgscan: interrupted; nothing was certified")
    except ScanError as exc:
        _fail(f"imgscan: error: {exc}")
    except Exception as exc:  # a bug: still one line and exit 2, never a traceback or a "clean"
        from scanner.collect import bug_text

        if os.environ.get("IMGSCAN_DEBUG"):
            raise
        _fail(f"imgscan: internal error: {bug_text(exc)}")


def _fail(message: str) -> None:
    """One line on stderr, exit 2. Messages may quote arguments: a --secret's parts never leave in full."""
    from scanner.cli_output import scrub_argv_secrets

    click.echo(scrub_argv_secrets(" ".join(message.split()), sys.argv[1:]), err=True)
    sys.exit(2)


if __name__ == "__main__":
    main()
