"""One settings object for a scan: what changes what is found (cache key) and what is reported (policy)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from scanner.detectors.known_values import KnownSecret
from scanner.findings import Severity, keyed_fingerprint
from scanner.image import Platform
from scanner.layer import READER_VERSION, Limits
from scanner.policy import AllowEntry, Baseline

if TYPE_CHECKING:
    from scanner.sources.registry import RegistryOptions


@dataclass(frozen=True)
class Settings:
    """Everything a scan runs with, built once (by the CLI, the fleet or a test) and passed whole.

    Detection settings (known secrets, limits, the rule set and detector versions, the fingerprint key) change
    what the detectors find, so `cache_key()` covers every one of them; policy settings (fail-on, display
    threshold, disabled rules, allowlist, baseline) only change what is reported and how the gate decides,
    and are applied to every result, fresh or cached, after the scan.
    """

    # what is read
    platform: Platform | None = None
    limits: Limits = field(default_factory=Limits)
    # what is searched for
    known_secrets: tuple[KnownSecret, ...] = ()
    # policy: applied after detection, never inside a detector
    fail_on: Severity = Severity.HIGH
    severity: Severity | None = None  # display threshold; None: the format's default
    disabled_rules: frozenset[str] = frozenset()
    allowlist: tuple[AllowEntry, ...] = ()
    baseline: Baseline | None = None
    # how
    jobs: int = 0  # 0: one worker process per core
    cache_dir: Path | str | None = None  # a directory, or an fsspec URL (the fleet's store); None: no cache
    registry: RegistryOptions | None = None  # docker:// credentials and TLS; changes nothing found

    def cache_key(self, ruleset_hash: str) -> str:
        """The key every cached result is stored under, with the digest of the bytes it was computed on.

        `ruleset_hash` names every rule and every detector's version (scanner.detectors.ruleset_hash).
        """
        h = hashlib.sha256()
        parts = [
            "imgscan/settings/v1",
            ruleset_hash,
            READER_VERSION,
            repr(replace(self.limits, spool_dir=None)),  # where temp files go changes nothing found
            *sorted(s.fingerprint for s in self.known_secrets),
            keyed_fingerprint("cache"),  # results hold keyed fingerprints: another key, other results
        ]
        for part in parts:
            h.update(part.encode())
            h.update(b"\n")
        return "sha256:" + h.hexdigest()
