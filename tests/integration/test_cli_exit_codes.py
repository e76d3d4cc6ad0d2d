"""Exit codes through the CLI: clean 0, findings 1, bad input or arguments 2 with one line on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixtures.broken import rewrite_members, truncate
from fixtures.build import tutorial_insecure, tutorial_secure, write_image
from tests.integration.conftest import CliRun, run_cli


def _one_error_line(run: CliRun) -> str:
    assert run.code == 2, (run.code, run.stdout, run.stderr)
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("imgscan: error: "), lines[0]
    return lines[0]


def test_clean_image_exits_0(tmp_path: Path) -> None:
    write_image(tutorial_secure(), tmp_path / "secure.tar", "docker-archive")
    run = run_cli("secure.tar", "--fail-on", "low", cwd=tmp_path)
    assert run.code == 0, run.stdout + run.stderr
    assert "Traceback" not in run.stderr


def test_image_with_findings_exits_1(tmp_path: Path) -> None:
    write_image(tutorial_insecure("Vx7Qm2Lp9Rt4Wn8Ks3"), tmp_path / "insecure.tar", "docker-archive")
    run = run_cli("insecure.tar", "--format", "json", cwd=tmp_path)
    assert run.code == 1, run.stderr
    report = json.loads(run.stdout)
    assert report["verdict"] == "findings"
    assert "Vx7Qm2Lp9Rt4Wn8Ks3" not in run.stdout


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_truncated_archive_exits_2_with_one_line(compression: str, tmp_path: Path) -> None:
    path = tmp_path / "cut.tar"
    write_image(tutorial_insecure("Vx7Qm2Lp9Rt4Wn8Ks3"), path, "docker-archive", compression)
    truncate(path, path.stat().st_size // 3)
    _one_error_line(run_cli(path, cwd=tmp_path))


def test_layer_cut_short_inside_the_archive_is_inconclusive_not_clean(tmp_path: Path) -> None:
    good = tmp_path / "good.tar"
    built = write_image(tutorial_secure(), good, "oci-archive")
    blob = "blobs/sha256/" + built.layers[1].digest[7:]
    rewrite_members(good, tmp_path / "bad.tar", {blob: built.layers[1].blob[:700]})
    run = run_cli("bad.tar", "--format", "json", cwd=tmp_path)
    assert run.code == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    report = json.loads(run.stdout)
    assert report["verdict"] == "inconclusive"
    assert report["problems"]


def test_no_such_file_exits_2(tmp_path: Path) -> None:
    line = _one_error_line(run_cli(tmp_path / "missing.tar", cwd=tmp_path))
    assert "missing.tar" in line


@pytest.mark.parametrize("spec", ["foo", "src=x", "id=a,src=x,env=Y", "id=a,colour=red"])
def test_bad_secret_spec_exits_2(spec: str, tmp_path: Path) -> None:
    write_image(tutorial_secure(), tmp_path / "secure.tar", "docker-archive")
    line = _one_error_line(run_cli("secure.tar", "--secret", spec, cwd=tmp_path))
    assert "--secret" in line


def test_unreadable_secret_file_exits_2(tmp_path: Path) -> None:
    write_image(tutorial_secure(), tmp_path / "secure.tar", "docker-archive")
    _one_error_line(run_cli("secure.tar", "--secret", "id=n,src=no-such-file", cwd=tmp_path))


@pytest.mark.parametrize("platform", ["bogus", "linux/", "linux/arm64"])
def test_bad_or_absent_platform_exits_2(platform: str, tmp_path: Path) -> None:
    write_image(tutorial_secure(), tmp_path / "secure.tar", "docker-archive")
    _one_error_line(run_cli("secure.tar", "--platform", platform, cwd=tmp_path))
