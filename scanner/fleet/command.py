"""`imgscan fleet`: its options, outputs and progress line; the run itself is scanner.fleet.run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from scanner.cli_settings import SEVERITY, build_settings, registry_options
from scanner.errors import UsageError


@click.command("fleet", context_settings={"max_content_width": 100})
@click.argument("refs", nargs=-1)
@click.option("--from-file", type=click.File("r"), help="References, one per line (# comments).")
@click.option("--scheduler", envvar="IMGSCAN_SCHEDULER", help="A Dask scheduler (tcp://HOST:8786).")
@click.option("--workers", type=click.IntRange(0, 256), default=0, help="Local worker processes (0: cores).")
@click.option("--store", envvar="IMGSCAN_STORE", help="Shared result store: a path or an fsspec URL.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "html"]), default="text", show_default=True
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Main output file.")
@click.option(
    "--report", "extra_reports", multiple=True, metavar="FILE", help="Extra output (.json .html .txt)."
)
@click.option("--secret", "secret_specs", multiple=True, metavar="id=ID,src=PATH|env=VAR")
@click.option("--fail-on", type=SEVERITY, envvar="IMGSCAN_FAIL_ON")
@click.option("--severity", type=SEVERITY, envvar="IMGSCAN_SEVERITY")
@click.option("--platform", metavar="os/arch[/variant]", envvar="IMGSCAN_PLATFORM")
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path), envvar="IMGSCAN_CONFIG")
@click.option("--baseline", type=click.Path(dir_okay=False, path_type=Path), envvar="IMGSCAN_BASELINE")
@click.option("-q", "--quiet", is_flag=True, help="No progress and no extra lines.")
@click.option("--progress/--no-progress", default=None)
@registry_options
def fleet_command(refs: tuple[str, ...], **options: Any) -> None:
    """Scan many images on Dask: each unique layer once, results shared through the store."""
    from scanner import cli_output, policy
    from scanner.fleet import report as fleet_report
    from scanner.fleet.run import run_fleet

    references = list(refs)
    if options["from_file"] is not None:
        lines = (line.split("#", 1)[0].strip() for line in options["from_file"])
        references += [line for line in lines if line]
    if not references:
        raise UsageError("imgscan fleet: no images given (REF... or --from-file FILE)")
    store = _store_path(options["store"])
    options.update(cache_dir=store, no_cache=False, jobs=1)
    settings = build_settings(options)
    renderers = {
        "text": fleet_report.render_text,
        "json": fleet_report.render_json,
        "html": fleet_report.render_html,
    }
    outputs = [(options["fmt"], options["output"])]
    for extra in options["extra_reports"]:
        fmt = {".json": "json", ".html": "html", ".htm": "html", ".txt": "text"}.get(
            Path(extra).suffix.lower()
        )
        if fmt is None:
            raise UsageError(f"--report {extra}: the fleet writes .json, .html or .txt")
        outputs.append((fmt, Path(extra)))
    cli_output.check_writable([path for _, path in outputs])
    show = (
        options["progress"]
        if options["progress"] is not None
        else (sys.stderr.isatty() and not options["quiet"])
    )
    result = run_fleet(
        references, settings, options["scheduler"], options["workers"], _FleetProgressLine() if show else None
    )
    secrets = [v for s in settings.known_secrets for v in s.values]
    for fmt, path in outputs:
        text = cli_output.scrub(renderers[fmt](result), secrets)
        if path is None:
            click.echo(text, nl=False)
        else:
            path.write_text(text, encoding="utf-8")
    sys.exit(policy.exit_code(fleet_report.fleet_verdict(result)))


def _store_path(url: str | None) -> Path | str:
    """The shared result store: a path, or an fsspec URL every worker reaches; else the user cache dir."""
    import platformdirs

    if not url:
        return Path(platformdirs.user_cache_dir("imgscan"))
    return url if "://" in url and not url.startswith("file://") else Path(url.removeprefix("file://"))


class _FleetProgressLine:
    """Images resolved, unique layers done, bytes and an ETA, on one terminal line."""

    def __init__(self) -> None:
        import time

        self._clock = time.monotonic
        self._started = self._clock()

    def __call__(self, p: Any) -> None:
        elapsed = self._clock() - self._started
        frac = p.bytes_done / p.bytes_total if p.bytes_total else 0.0
        eta = f"  ETA {int(elapsed / frac - elapsed)} s" if 0 < frac < 1 and elapsed > 1 else ""
        line = (
            f"images {p.images}  layers {p.layers_done}/{p.layers_total}  {p.bytes_done / 1e6:,.1f} MB{eta}"
        )
        sys.stderr.write("\r" + line.ljust(90) + ("\n" if p.layers_done >= p.layers_total else ""))
        sys.stderr.flush()
