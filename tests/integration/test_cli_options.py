"""The CLI as a CI gate uses it: -q never replaces the output, real secrets only, colour, env, exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

from fixtures.broken import rewrite_members
from fixtures.build import FileSpec, ImageSpec, LayerSpec, tutorial_insecure, tutorial_secure, write_image
from tests.integration.conftest import FINGERPRINT_KEY, REPO, CliRun

PASSWORD = "Vx7Qm2Lp9Rt4Wn8Ks3"
SARIF_SCHEMA = REPO / "tests/data/sarif-schema-2.1.0.json"


def imgscan(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> CliRun:
    """The CLI as a user types it (no flags added), without a cache, in `cwd`."""
    full = dict(os.environ)
    full.update(
        {"IMGSCAN_FINGERPRINT_KEY": FINGERPRINT_KEY, "PYTHONPATH": str(REPO), "IMGSCAN_NO_CACHE": "1"}
    )
    for key in list(full):
        if key.startswith("IMGSCAN_") and key not in ("IMGSCAN_FINGERPRINT_KEY", "IMGSCAN_NO_CACHE"):
            del full[key]
    full.pop("NO_COLOR", None)
    full.update(env or {})
    argv = [sys.executable, "-m", "scanner.cli", *map(str, args)]
    done = subprocess.run(argv, cwd=cwd, env=full, capture_output=True, text=True, timeout=300)
    return CliRun(done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli-images")
    write_image(tutorial_insecure(PASSWORD), folder / "insecure.tar", "docker-archive")
    write_image(tutorial_secure(), folder / "secure.tar", "docker-archive")
    (folder / "netrc").write_text(f"machine 127.0.0.1 login admin password {PASSWORD}\n")
    return folder


def _one_error_line(run: CliRun) -> str:
    assert run.code == 2, (run.code, run.stdout, run.stderr)
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    return lines[0]


def test_quiet_sarif_to_a_file_is_valid_sarif_and_nothing_else(images: Path) -> None:
    run = imgscan("insecure.tar", "--format", "sarif", "-o", "r.sarif", "-q", cwd=images)
    assert run.code == 1, run.stderr
    assert run.stdout == ""
    sarif = json.loads((images / "r.sarif").read_text())
    jsonschema.validate(sarif, json.loads(SARIF_SCHEMA.read_text()))
    assert sarif["runs"][0]["results"]


def test_quiet_json_still_prints_the_json_report(images: Path) -> None:
    run = imgscan("insecure.tar", "--format", "json", "-q", cwd=images)
    assert run.code == 1, run.stderr
    assert json.loads(run.stdout)["verdict"] == "findings"


def test_without_quiet_a_file_output_adds_the_verdict_line(images: Path) -> None:
    run = imgscan("secure.tar", "--format", "json", "-o", "r.json", cwd=images)
    assert run.code == 0, run.stderr
    assert run.stdout.startswith("VERDICT: CLEAN")
    assert json.loads((images / "r.json").read_text())["verdict"] == "clean"


def test_an_empty_secret_is_an_error_not_a_clean_certificate(images: Path) -> None:
    run = imgscan("secure.tar", "--secret", "id=x,env=EMPTY", cwd=images, env={"EMPTY": ""})
    assert "secret x is empty" in _one_error_line(run)


def test_an_unreadable_secret_is_an_error(images: Path) -> None:
    run = imgscan("secure.tar", "--secret", "id=x,src=missing-file", cwd=images)
    assert "cannot read" in _one_error_line(run)


def test_a_bad_secret_spec_never_echoes_its_value(images: Path) -> None:
    run = imgscan("secure.tar", "--secret", f"id=x,value={PASSWORD}", cwd=images)
    line = _one_error_line(run)
    assert PASSWORD not in line and PASSWORD not in run.stdout


def test_exit_code_zero_reports_findings_without_failing(images: Path) -> None:
    run = imgscan("insecure.tar", "--exit-code", "0", "--format", "json", cwd=images)
    assert run.code == 0, run.stderr
    assert json.loads(run.stdout)["verdict"] == "findings"


def test_exit_code_zero_still_fails_an_inconclusive_scan(images: Path) -> None:
    built = write_image(tutorial_insecure(PASSWORD), images / "good.tar", "oci-archive")
    blob = "blobs/sha256/" + built.layers[1].digest[7:]
    rewrite_members(images / "good.tar", images / "cut.tar", {blob: built.layers[1].blob[:700]})
    run = imgscan("cut.tar", "--exit-code", "0", "--format", "json", cwd=images)
    assert run.code == 2, run.stderr
    assert json.loads(run.stdout)["verdict"] == "inconclusive"


def test_output_paths_are_checked_before_the_scan(images: Path) -> None:
    run = imgscan("no-such-image.tar", "-o", "missing-dir/report.json", cwd=images)
    assert "missing-dir" in _one_error_line(run)
    run = imgscan("insecure.tar", "--report", "missing-dir/a.html", cwd=images)
    assert "missing-dir" in _one_error_line(run)


def test_color_flag_colours_even_when_piped_and_no_color_env_is_plain(images: Path) -> None:
    assert "\x1b[" in imgscan("secure.tar", "--color", cwd=images).stdout
    assert "\x1b[" not in imgscan("secure.tar", cwd=images, env={"NO_COLOR": "1"}).stdout
    assert "\x1b[" not in imgscan("secure.tar", "--no-color", cwd=images).stdout


def test_environment_variables_set_what_a_ci_sets(images: Path) -> None:
    run = imgscan("secure.tar", cwd=images, env={"IMGSCAN_FORMAT": "json", "IMGSCAN_FAIL_ON": "INFO"})
    report = json.loads(run.stdout)
    assert report["fail_on"] == "info"
    # An option on the command line wins over its variable.
    run = imgscan("secure.tar", "--format", "text", cwd=images, env={"IMGSCAN_FORMAT": "json"})
    assert run.stdout.lstrip().startswith("imgscan")


def test_fail_on_is_case_insensitive(images: Path) -> None:
    run = imgscan("insecure.tar", "--fail-on", "HIGH", "--format", "json", cwd=images)
    assert run.code == 1
    assert json.loads(run.stdout)["fail_on"] == "high"


def test_help_names_the_config_lookup_and_the_environment(images: Path) -> None:
    text = imgscan("--help", cwd=images).stdout
    for needle in (".imgscan.toml", "pyproject.toml", "IMGSCAN_CACHE_DIR", "IMGSCAN_FAIL_ON", "NO_COLOR"):
        assert needle in text


def test_rules_lists_every_rule_with_its_severity(images: Path) -> None:
    from scanner.detectors import DetectorConfig, DetectorSet

    expected = {r.id: r.severity.label for r in DetectorSet(DetectorConfig()).rules}
    run = imgscan("rules", "--format", "json", cwd=images)
    assert run.code == 0, run.stderr
    listed = {row["id"]: row["severity"] for row in json.loads(run.stdout)}
    assert listed == expected
    text = imgscan("rules", cwd=images).stdout
    assert f"{len(expected)} rules" in text


def test_sigterm_removes_the_temp_files(tmp_path: Path) -> None:
    """A CI timeout sends SIGTERM: the scan stops with exit 2 and leaves nothing in the temp dir."""
    big = tmp_path / "big.tar.gz"
    # 96 MB of layer: a second of scanning at least, however fast the machine.
    files = [FileSpec(f"data/{i}.bin", bytes(8 << 20)) for i in range(12)]
    write_image(ImageSpec([LayerSpec(files, "COPY data /data")]), tmp_path / "img.tar", "docker-archive")
    # A gzip-compressed outer archive is decompressed into the temp dir first: a window to interrupt.
    subprocess.run(["gzip", "-1", "-c", str(tmp_path / "img.tar")], stdout=big.open("wb"), check=True)
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = dict(os.environ, TMPDIR=str(temp), PYTHONPATH=str(REPO), IMGSCAN_FINGERPRINT_KEY=FINGERPRINT_KEY)
    proc = subprocess.Popen(
        [sys.executable, "-m", "scanner.cli", str(big), "--no-cache", "-j", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not any(temp.iterdir()) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert "Traceback" not in err
    assert list(temp.iterdir()) == []
