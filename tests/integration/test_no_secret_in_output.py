"""No planted value leaves imgscan: every format, extra report, baseline, stdout and stderr, with --secret."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from fixtures.vectors import Vector, rich_vector, write_vector
from scanner.report import FORMATS
from tests.integration.conftest import SEED, run_cli, write_secret_files

EXTRA = {
    "json": "r.json",
    "sarif": "r.sarif",
    "junit": "r.xml",
    "markdown": "r.md",
    "html": "r.html",
    "text": "r.txt",
}


@pytest.fixture(scope="module")
def rich(tmp_path_factory: pytest.TempPathFactory) -> tuple[Vector, Path, list[str]]:
    folder = tmp_path_factory.mktemp("rich")
    vector = rich_vector(SEED)
    image = write_vector(vector, folder / "rich.tar")
    specs = write_secret_files(vector.known, folder / "secrets")
    return vector, image, specs


def _forbidden(vector: Vector) -> dict[str, str]:
    """Every planted value, plus the encoded forms of the known secrets the image holds: label -> text."""
    out = {f"planted[{i}]": v for i, v in enumerate(vector.planted)}
    for sid, value in vector.known.items():
        raw = value.encode()
        out[f"{sid} base64"] = base64.b64encode(raw).decode()
        out[f"{sid} base64url"] = base64.urlsafe_b64encode(raw).decode()
        out[f"{sid} hex"] = raw.hex()
        out[f"{sid} HEX"] = raw.hex().upper()
    return out


def _assert_clean(name: str, text: str, vector: Vector) -> None:
    for label, value in _forbidden(vector).items():
        assert value not in text, f"seed {SEED}: {label} appears in {name}"
    # A redacted excerpt shows at most a short prefix: no long run of any long planted value may appear.
    for i, value in enumerate(vector.planted):
        if len(value) < 32:
            continue
        for start in range(len(value) - 16 + 1):
            assert value[start : start + 16] not in text, (
                f"seed {SEED}: 16 characters of planted[{i}] in {name}"
            )


def _secret_args(specs: list[str]) -> list[str]:
    return [arg for spec in specs for arg in ("--secret", spec)]


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_planted_value_in_any_output_of_a_findings_rich_scan(
    fmt: str, rich: tuple[Vector, Path, list[str]], tmp_path: Path
) -> None:
    vector, image, specs = rich
    args: list[str | Path] = [image, "--format", fmt, *_secret_args(specs)]
    if fmt == "text":  # one run also writes every extra output and a baseline
        args += [arg for f, name in EXTRA.items() for arg in ("--report", f"{f}:{tmp_path / name}")]
        args += ["--write-baseline", tmp_path / "baseline.json"]
    run = run_cli(*args, cwd=tmp_path)
    assert run.code == 1, run.stderr
    assert "Traceback" not in run.stderr
    _assert_clean(f"{fmt} stdout", run.stdout, vector)
    _assert_clean(f"{fmt} stderr", run.stderr, vector)
    written = sorted(p for p in tmp_path.iterdir() if p.is_file())
    if fmt == "text":
        assert {p.name for p in written} == {*EXTRA.values(), "baseline.json"}
    for path in written:
        _assert_clean(path.name, path.read_text(encoding="utf-8"), vector)


def test_output_file_and_quiet_line_hold_no_planted_value(
    rich: tuple[Vector, Path, list[str]], tmp_path: Path
) -> None:
    vector, image, specs = rich
    run = run_cli(image, "--format", "json", "-o", tmp_path / "out.json", *_secret_args(specs), cwd=tmp_path)
    assert run.code == 1, run.stderr
    report = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    _assert_clean("-o out.json", json.dumps(report), vector)
    _assert_clean("stdout with -o", run.stdout, vector)
    # Not vacuous: the scan did find the planted values, known secrets included.
    assert report["verdict"] == "findings"
    assert {k["id"]: k["found"] for k in report["known_secrets"]} == dict.fromkeys(vector.known, True)
    rules = {f["rule"] for f in report["findings"]}
    assert {"credential-file/netrc", "metadata/build-arg", "known-secret", "pattern/github-token"} <= rules
    quiet = run_cli(image, "-q", *_secret_args(specs), cwd=tmp_path)
    assert quiet.code == 1
    _assert_clean("--quiet", quiet.stdout + quiet.stderr, vector)
