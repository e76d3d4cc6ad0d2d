"""From command-line options (merged with IMGSCAN_* variables by click) and the config file to Settings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from scanner.errors import UsageError

if TYPE_CHECKING:
    from scanner.settings import Settings
    from scanner.sources.registry import RegistryOptions

SEVERITIES = ("critical", "high", "medium", "low", "info")
SEVERITY = click.Choice(SEVERITIES, case_sensitive=False)


def build_settings(options: dict[str, Any]) -> Settings:
    """Settings from the options (already merged with IMGSCAN_* variables by click) and the config file."""
    import platformdirs

    from scanner import policy
    from scanner.detectors.known_values import load_known_secrets, parse_secret_spec
    from scanner.findings import Severity
    from scanner.image import Platform
    from scanner.layer import Limits
    from scanner.settings import Settings

    config = policy.load_config(Path.cwd(), options["config"])
    known = tuple(load_known_secrets([parse_secret_spec(s) for s in options["secret_specs"]]))
    for secret in known:
        if not secret.values:
            # In CI an unavailable secret arrives as an empty variable: certifying against it proves nothing.
            raise UsageError(
                f"secret {secret.id} is empty: nothing to prove absent; check that the secret is available "
                "to this job"
            )
    baseline_path = options["baseline"] or config.baseline
    cache_dir: Path | None = None
    if not options["no_cache"]:
        cache_dir = options["cache_dir"] or Path(platformdirs.user_cache_dir("imgscan"))
    return Settings(
        platform=Platform.parse(options["platform"]) if options["platform"] else None,
        limits=_limits(Limits(), config.limits),
        known_secrets=known,
        fail_on=Severity.parse(options["fail_on"]) if options["fail_on"] else config.fail_on,
        severity=Severity.parse(options["severity"]) if options["severity"] else None,
        disabled_rules=config.disabled_rules,
        allowlist=config.allowlist,
        baseline=policy.load_baseline(baseline_path) if baseline_path else None,
        jobs=options["jobs"],
        cache_dir=cache_dir,
        registry=_registry_options(options),
    )


def _registry_options(options: dict[str, Any]) -> RegistryOptions:
    from scanner.sources.registry import RegistryOptions, parse_creds

    creds = parse_creds(options["creds"]) if options.get("creds") else None
    return RegistryOptions(creds, options.get("tls_verify", True), options.get("cert_dir"), options.get("ca"))


def _limits(limits: Any, overrides: Mapping[str, int]) -> Any:
    names = {f.name for f in fields(limits)} - {"spool_dir"}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise UsageError(
            f"unknown limit(s) in config: {', '.join(unknown)}; known: {', '.join(sorted(names))}"
        )
    return replace(limits, **dict(overrides))


def registry_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options of docker:// references (skopeo's names), for every command that takes references."""
    for option in reversed(
        (
            click.option(
                "--creds",
                metavar="USER[:PASS]",
                help="Registry credentials; with USER alone the password comes from "
                "$IMGSCAN_REGISTRY_PASSWORD or stdin.",
            ),
            click.option(
                "--tls-verify",
                type=click.BOOL,
                default=True,
                show_default=True,
                help="Verify the registry's TLS certificate; false also allows plain HTTP.",
            ),
            click.option(
                "--cert-dir",
                type=click.Path(file_okay=False, path_type=Path),
                help="Directory of CA (*.crt) and client (*.cert, *.key) certificates for the registry.",
            ),
            click.option(
                "--ca", type=click.Path(dir_okay=False, path_type=Path), help="CA bundle for the registry."
            ),
        )
    ):
        command = option(command)
    return command
