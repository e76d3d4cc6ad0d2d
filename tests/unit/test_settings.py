"""Settings: one object, and a cache key that changes exactly when what is found could change."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from scanner.detectors.known_values import KnownSecretSpec, load_known_secrets
from scanner.findings import Severity, reset_fingerprint_key
from scanner.layer import Limits
from scanner.policy import AllowEntry, Baseline
from scanner.settings import Settings

pytestmark = pytest.mark.usefixtures("fixed_key")

RULES = "sha256:rules"


def test_policy_and_how_to_run_do_not_change_the_cache_key(tmp_path: Path) -> None:
    """Policy is applied to every result after the scan, cached or not: it must not split the cache."""
    base = Settings()
    same = [
        replace(base, fail_on=Severity.LOW),
        replace(base, severity=Severity.INFO),
        replace(base, disabled_rules=frozenset({"credential-file/netrc"})),
        replace(base, allowlist=(AllowEntry("usr/*", None, "ok"),)),
        replace(base, baseline=Baseline()),
        replace(base, jobs=7, cache_dir=tmp_path),
        replace(base, limits=replace(base.limits, spool_dir=str(tmp_path))),
    ]
    assert {s.cache_key(RULES) for s in same} == {base.cache_key(RULES)}


def test_everything_that_changes_what_is_found_changes_the_cache_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "s"
    secret.write_text("a-known-secret-value-123")
    known = tuple(load_known_secrets([KnownSecretSpec("s", "file", str(secret))]))
    base = Settings()
    keys = [
        base.cache_key(RULES),
        base.cache_key("sha256:other-rules"),  # a rule, its severity or a detector version changed
        replace(base, limits=Limits(max_depth=1)).cache_key(RULES),
        replace(base, known_secrets=known).cache_key(RULES),
    ]
    monkeypatch.setenv("IMGSCAN_FINGERPRINT_KEY", "another-key")
    reset_fingerprint_key()
    keys.append(base.cache_key(RULES))  # results hold keyed fingerprints
    assert len(set(keys)) == len(keys)
