"""The tutorial's two images, scanned end to end, give audit reports that read right in a real browser."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.build import tutorial_insecure, tutorial_secure, write_image
from tests.unit.test_report_html_browser import dump_dom, measure

PASSWORD = "audit-" + "Qm4Zr8Lw2Tn6"  # fake, built into the fixture at test time


def _audit_html(tmp_path: Path, name: str, spec: object) -> tuple[int, str]:
    image = tmp_path / f"{name}.tar"
    write_image(spec, image, "docker-archive", "none")  # type: ignore[arg-type]
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login admin password {PASSWORD}\n")
    report = tmp_path / f"{name}.html"
    args = ["--no-cache", "-q", "--secret", f"id=netrc,src={netrc}", "--report", str(report)]
    proc = subprocess.run(
        [sys.executable, "-m", "scanner.cli", str(image), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.returncode, report.read_text(encoding="utf-8")


def _audit(tmp_path: Path, name: str, spec: object) -> tuple[int, str]:
    code, page = _audit_html(tmp_path, name, spec)
    return code, dump_dom(tmp_path, page)


@pytest.mark.slow
def test_insecure_tutorial_audit_report_shows_findings_and_every_layer(tmp_path: Path) -> None:
    code, dom = _audit(tmp_path, "insecure", tutorial_insecure(PASSWORD))
    assert code == 1
    assert 'data-verdict="findings"' in dom
    layers = re.search(r'<table id="layers">(.*?)</table>', dom, re.S)
    assert layers is not None and layers.group(1).count("<tr") == 1 + 3  # header + 3 layers
    assert "COPY netrc /root/.netrc" in layers.group(1)
    assert "root/.netrc" in dom and "known-secret" in dom
    assert PASSWORD not in dom


@pytest.mark.slow
def test_insecure_tutorial_layer_stack_marks_the_netrc_where_copied_and_where_deleted(tmp_path: Path) -> None:
    code, page = _audit_html(tmp_path, "insecure", tutorial_insecure(PASSWORD))
    assert code == 1
    bars = {b["layer"]: b for b in measure(tmp_path, page)["bars"]}
    assert sorted(bars) == [0, 1, 2]
    assert set(bars[1]["markers"]) == {"added"} and set(bars[2]["markers"]) == {"deleted"}
    assert bars[0]["markers"] == []
    largest = max(b["bytes"] for b in bars.values())
    for b in bars.values():
        assert abs(b["bar"] - max(b["track"] * b["bytes"] / largest, 2)) <= 1.5, b


@pytest.mark.slow
def test_secure_tutorial_audit_report_certifies_clean_and_the_secret_not_found(tmp_path: Path) -> None:
    code, dom = _audit(tmp_path, "secure", tutorial_secure())
    assert code == 0
    assert 'data-verdict="clean"' in dom
    assert "no secret found in any of the 2 layers" in dom or "no secret at or above" in dom
    assert "not found" in dom
    assert PASSWORD not in dom
