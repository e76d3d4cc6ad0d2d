"""The HTML audit report in a real headless Chromium: verdict, layer table, layer-stack picture, filters."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

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


def dump_dom(tmp_path: Path, page_html: str, *extra: str) -> str:
    page = tmp_path / "audit.html"
    page.write_text(page_html, encoding="utf-8")
    done = subprocess.run(
        [*browser_args(tmp_path), *extra, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def screenshot(tmp_path: Path, page_html: str, width: int = 1200) -> bytes:
    """A PNG of the page as Chromium lays it out at `width` CSS pixels."""
    page = tmp_path / "shot.html"
    page.write_text(page_html, encoding="utf-8")
    png = tmp_path / "shot.png"
    done = subprocess.run(
        [*browser_args(tmp_path), f"--window-size={width},2400", f"--screenshot={png}", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0 and png.exists(), done.stderr[-2000:]
    return png.read_bytes()


# Run inside the page after the report itself (a test-only addition; the report has no script): reads the
# layout Chromium computed, then exercises the collapsed, CSS-only filter of the other findings.
_MEASURE = """<script>
(() => {
  const box = e => e.getBoundingClientRect();
  const visible = () => [...document.querySelectorAll('#other-findings .finding')]
    .filter(e => e.checkVisibility()).map(e => e.dataset.severity);
  const out = {bars: [], digests: [], fontSize: parseFloat(getComputedStyle(document.body).fontSize)};
  for (const row of document.querySelectorAll('.layer-stack .stack-layer')) {
    out.bars.push({layer: +row.dataset.layer, bytes: +row.dataset.bytes, top: box(row).top,
                   bar: box(row.querySelector('.bar')).width, track: row.querySelector('.track').clientWidth,
                   markers: [...row.querySelectorAll('.marker[data-kind]')].map(m => m.dataset.kind)});
  }
  for (const d of document.querySelectorAll('#layers .digest')) out.digests.push(box(d).height);
  const details = document.getElementById('other-findings');
  if (details) {
    out.closed = visible();
    details.open = true;
    out.opened = visible();
    const low = document.getElementById('show-low');
    if (low) { low.click(); out.lowOnly = visible(); }
  }
  const pre = document.createElement('pre');
  pre.id = 'measure';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"""


def measure(tmp_path: Path, page_html: str, width: int = 1200) -> dict[str, Any]:
    page = page_html.replace("</body>", _MEASURE + "</body>")
    dom = dump_dom(tmp_path, page, f"--window-size={width},2400")
    found = re.search(r'<pre id="measure">(.*?)</pre>', dom, re.S)
    assert found is not None, "the measuring script did not run"
    data: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return data


@pytest.mark.slow
def test_browser_renders_verdict_certificate_and_layer_table(tmp_path: Path) -> None:
    planted = plant()
    dom = dump_dom(tmp_path, render(findings_report(planted), "html"))
    assert 'id="verdict"' in dom and 'data-verdict="findings"' in dom
    assert "5 findings at or above high (2 critical) in 3 of 4 layers and the history" in dom
    layers = re.search(r'<table id="layers">(.*?)</table>', dom, re.S)
    assert layers is not None
    assert ">sha256:" + "2" * 64 + "<" in layers.group(1)  # layer 2's diff_id, in full, in the table
    for value in planted.all():
        assert value not in dom


@pytest.mark.slow
def test_browser_shows_inconclusive_verdict(tmp_path: Path) -> None:
    dom = dump_dom(tmp_path, render(inconclusive_report(plant()), "html"))
    assert 'data-verdict="inconclusive"' in dom
    assert "layer 2 could not be read in full" in dom


@pytest.mark.slow
def test_layer_stack_draws_a_bar_per_layer_sized_by_bytes_with_findings_marked(tmp_path: Path) -> None:
    report = findings_report(plant())
    data = measure(tmp_path, render(report, "html"))
    bars = {b["layer"]: b for b in data["bars"]}
    assert sorted(bars) == [0, 1, 2, 3]
    largest = max(b["bytes"] for b in bars.values())
    for b in bars.values():
        expected = b["track"] * b["bytes"] / largest
        # Proportional to the bytes; a tiny layer keeps a sliver (CSS min-width 2px) so it can be seen.
        assert abs(b["bar"] - max(expected, 2)) <= 1.5, b
    assert bars[3]["bar"] > bars[0]["bar"] > bars[2]["bar"] > bars[1]["bar"]
    # The base layer is drawn at the bottom of the stack.
    assert [b["layer"] for b in sorted(bars.values(), key=lambda b: b["top"])] == [3, 2, 1, 0]
    # Added where it was added; marked again where the whiteout (layer 2) or an overwrite (layer 3) hid it.
    assert bars[1]["markers"] == ["added", "added"]
    assert bars[2]["markers"] == ["deleted", "deleted"]
    assert sorted(bars[3]["markers"]) == ["added", "overwritten"]
    assert bars[0]["markers"] == ["added"]
    png = screenshot(tmp_path, render(report, "html"))
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000


@pytest.mark.slow
def test_other_findings_are_collapsed_and_filter_by_severity_without_script(tmp_path: Path) -> None:
    data = measure(tmp_path, render(findings_report(plant()), "html"))
    assert data["closed"] == []
    assert sorted(data["opened"]) == ["info", "low", "medium"]
    assert data["lowOnly"] == ["low"]


@pytest.mark.slow
def test_digests_stay_on_one_line_in_a_narrow_window(tmp_path: Path) -> None:
    report = findings_report(plant())
    long_history = replace(report.layers[0], created_by="RUN " + "apt-get install -y package " * 12)
    report = replace(report, layers=[long_history, *report.layers[1:]])
    data = measure(tmp_path, render(report, "html"), width=600)
    assert len(data["digests"]) == 2 * len(report.layers)
    assert max(data["digests"]) < 2 * data["fontSize"], data["digests"]
