"""Run the imgscan CLI as a user would (a subprocess) and read its JSON report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class ScanRun:
    """One imgscan process: its arguments, exit code and both output streams."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def report(self) -> dict[str, Any]:
        """The JSON report on stdout (for runs with --format json)."""
        try:
            parsed: dict[str, Any] = json.loads(self.stdout)
        except json.JSONDecodeError as exc:
            raise AssertionError(f"no JSON on stdout ({exc}):\n{self.describe()}") from exc
        return parsed

    def describe(self) -> str:
        return (
            f"imgscan {' '.join(self.args)} -> exit {self.returncode}\n"
            f"--- stdout\n{self.stdout[:4000]}\n--- stderr\n{self.stderr[:4000]}"
        )


def imgscan_argv(*args: str) -> list[str]:
    """The command line: the venv's interpreter running the CLI module from this checkout."""
    return [sys.executable, "-m", "scanner.cli", *args]


def imgscan(
    *args: str,
    env: Mapping[str, str] | None = None,
    unset: Sequence[str] = (),
    prefix: Sequence[str] = (),
    timeout: float = 300,
) -> ScanRun:
    """Run imgscan with args; env entries are added, names in unset removed; prefix wraps the command."""
    full_env = {k: v for k, v in os.environ.items() if k not in unset}
    full_env.update(env or {})
    # The CLI module is imported from the checkout, whether or not the package is installed.
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), full_env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [*prefix, *imgscan_argv(*args)],
        capture_output=True,
        text=True,
        env=full_env,
        # Outside the checkout: its pyproject.toml must not act as the scan's config file.
        cwd="/",
        timeout=timeout,
    )
    return ScanRun(tuple(args), proc.returncode, proc.stdout, proc.stderr)


def assert_exit(run: ScanRun, expected: int) -> None:
    assert run.returncode == expected, f"expected exit {expected}\n{run.describe()}"
