"""From command-line options (merged with IMGSCAN_* variables by click) and the config file to Settings."""

from __future__ import annotations

from collections.abc import Mapping
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

    # The fleet command has no registry options (yet): Docker's own credentials and TLS defaults apply.
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
