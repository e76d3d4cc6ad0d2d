"""The Go archive/tar oracle: built by scripts/go-oracle; missing in CI is a failure, not a skip."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def gotar() -> Path:
    given = os.environ.get("IMGSCAN_GOTAR")
    if given and Path(given).is_file():
        return Path(given)
    if shutil.which("go"):
        done = subprocess.run([str(ROOT / "scripts/go-oracle")], capture_output=True, text=True, check=False)
        if done.returncode == 0:
            return Path(done.stdout.strip())
    message = "Go archive/tar oracle missing: run scripts/go-oracle (needs golang-go)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)
