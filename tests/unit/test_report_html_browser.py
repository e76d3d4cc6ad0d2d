"""The HTML audit report in a real headless Chromium: the verdict and the layer table survive rendering."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from scanner.report import render
from tests.unit.report_sample import findings_report, inconclusive_report, plant


def chromium() -> str:
    """The browser binary; outside CI a missing browser skips, in CI (CI=true) it fails."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("chromium is required in CI: apt-get install -y chromium")
    pytest.skip("chromium not installed (apt-get install -y chromium)")


def browser_args(tmp_path: Path) -> list[str]:
    return [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]


def dump_dom(tmp_path: Path, html: str) -> str:
    page = tmp_path / "audit.html"
    page.write_text(html, encoding="utf-8")
    done = subprocess.run(
        [*browser_args(tmp_path), "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.slow
def test_browser_renders_verdict_certificate_and_layer_table(tmp_path: Path) -> None:
    planted = plant()
    dom = dump_dom(tmp_path, render(findings_report(planted), "html"))
    assert 'id="verdict"' in dom and 'data-verdict="findings"' in dom
    assert "5 findings at or above high (2 critical) in 3 of 4 layers and the history" in dom
    assert '<table id="layers">' in dom
    assert dom.count("sha256:" + "2" * 64) == 1  # layer 2's diff_id, in full, once
    for value in planted.all():
        assert value not in dom


@pytest.mark.slow
def test_browser_shows_inconclusive_verdict(tmp_path: Path) -> None:
    dom = dump_dom(tmp_path, render(inconclusive_report(plant()), "html"))
    assert 'data-verdict="inconclusive"' in dom
    assert "layer 2 could not be read in full" in dom
