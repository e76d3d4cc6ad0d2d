"""No output format ever carries a planted secret value: stdout, stderr and every report file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.buildcases import PlantedSecrets
from tests.e2e.conftest import Builds, Scan, assert_no_secret_in
from tests.e2e.imgscan_run import assert_exit

pytestmark = pytest.mark.docker

FORMATS = ("text", "json", "sarif", "junit", "markdown", "html")
LEAKING = ["tutorial-insecure", "build-arg", "env", "label", "secret-mount-copied", "npmrc-deleted"]


@pytest.mark.parametrize("case", LEAKING)
def test_no_report_format_contains_the_planted_secret(
    case: str, builds: Builds, planted: PlantedSecrets, scan: Scan, tmp_path: Path
) -> None:
    image = builds[case]
    extra = [arg for fmt in FORMATS for arg in ("--report", f"{fmt}:{tmp_path / ('report.' + fmt)}")]

    run = scan(image.tag, *image.secret_args, *extra)

    assert_exit(run, 1)
    for fmt in FORMATS:
        written = (tmp_path / f"report.{fmt}").read_text(encoding="utf-8", errors="replace")
        assert written.strip(), f"the {fmt} report is empty"
        assert_no_secret_in(written, planted, f"the {fmt} report of {image.tag}")
