"""Shared helpers: a fixed fingerprint key, one scan with policy applied, the CLI as a subprocess."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fixtures.vectors import Decoy, Vector, write_vector
from scanner.detectors.known_values import load_known_secrets
from scanner.findings import Finding, Severity, reset_fingerprint_key
from scanner.result import ScanReport
from scanner.scan import run_scan
from scanner.settings import Settings

REPO = Path(__file__).resolve().parents[2]
FINGERPRINT_KEY = "imgscan-integration-tests-fingerprint-key-0123456789"
# Fresh fake values on every run; set IMGSCAN_TEST_SEED to replay a failing one.
SEED = int(os.environ.get("IMGSCAN_TEST_SEED") or random.SystemRandom().randrange(1, 2**31))


@pytest.fixture(autouse=True)
def fingerprint_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("IMGSCAN_FINGERPRINT_KEY", FINGERPRINT_KEY)
    reset_fingerprint_key()
    yield
    reset_fingerprint_key()


def write_secret_files(known: dict[str, str], folder: Path) -> list[str]:
    """Write each known secret to a file; return the matching `--secret` specs."""
    folder.mkdir(parents=True, exist_ok=True)
    specs = []
    for sid, value in known.items():
        path = folder / f"secret-{sid}"
        path.write_text(value, encoding="utf-8")
        specs.append(f"id={sid},src={path}")
    return specs


def scan(path: Path, secret_specs: list[str] | None = None, fail_on: Severity = Severity.HIGH) -> ScanReport:
    """run_scan in this process (one job, no cache), with the default policy and the verdict."""
    known = tuple(load_known_secrets(secret_specs or []))
    return run_scan(str(path), Settings(known_secrets=known, fail_on=fail_on, jobs=1, cache_dir=None))


def scan_item(item: Vector | Decoy, tmp_path: Path, fail_on: Severity = Severity.HIGH) -> ScanReport:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = write_vector(item, tmp_path / f"{item.name}.tar")
    specs = write_secret_files(item.known, tmp_path / "secrets") if isinstance(item, Vector) else []
    return scan(path, specs, fail_on)


def describe(findings: list[Finding]) -> str:
    """Findings as lines for an assertion message (excerpts are already redacted)."""
    rows = []
    for f in findings:
        loc = f.location
        rows.append(
            f"  {f.rule} [{f.category}/{f.severity.label}] {loc.kind} layer={loc.layer_index} "
            f"path={loc.path} inner={loc.inner_path} line={loc.line} history={loc.history_index} "
            f"key={loc.key} status={f.status}/{f.status_layer} note={f.note}"
        )
    return "\n".join(rows) or "  (no findings)"


@dataclass(frozen=True)
class CliRun:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str | Path, cwd: Path) -> CliRun:
    """`python -m scanner.cli ARGS` without cache, progress or colour, in `cwd` (so no project config)."""
    env = dict(os.environ)
    env["IMGSCAN_FINGERPRINT_KEY"] = FINGERPRINT_KEY
    env["PYTHONPATH"] = str(REPO)
    env.pop("IMGSCAN_DEBUG", None)
    argv = [sys.executable, "-m", "scanner.cli", *map(str, args)]
    argv += ["--no-cache", "--no-progress", "--no-color", "-j", "1"]
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    return CliRun(done.returncode, done.stdout, done.stderr)
