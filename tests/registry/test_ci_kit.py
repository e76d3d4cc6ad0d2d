"""The CI kit: the GitHub action's gate script run as a runner would, its summary, the GitLab template
and the Jenkins example."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from fixtures.build import tutorial_insecure, write_image
from tests.e2e.imgscan_run import REPO_ROOT, imgscan
from tests.registry.conftest import Registries, skopeo_copy

# Generated for the tests; not a credential anywhere.
SECRET_VALUE = "fake-ci-kit-netrc-pw-2718"


def action() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO_ROOT / "action.yml").read_text())
    return data


def test_action_is_a_composite_whose_expressions_name_declared_inputs() -> None:
    spec = action()
    assert spec["runs"]["using"] == "composite"
    assert spec["inputs"]["image"]["required"] is True
    for name in ("secrets", "fail-on", "severity", "sarif", "cache-dir"):
        assert name in spec["inputs"]
    used = set(re.findall(r"inputs\.([a-z-]+)", (REPO_ROOT / "action.yml").read_text()))
    assert used <= set(spec["inputs"])
    assert any(step.get("uses", "").startswith("actions/cache@") for step in spec["runs"]["steps"])


@pytest.fixture(scope="module")
def pushed_image(registries: Registries, tmp_path_factory: pytest.TempPathFactory) -> str:
    archive = tmp_path_factory.mktemp("ci-kit") / "app.tar"
    write_image(tutorial_insecure(SECRET_VALUE, "gzip"), archive, "oci-archive")
    dest = f"{registries.plain}/ci-kit-{os.getpid()}/app:1"
    skopeo_copy(f"oci-archive:{archive}", f"docker://{dest}")
    return f"docker://{dest}"


def run_action_gate(
    tmp_path: Path, image: str, secrets: str, severity: str
) -> tuple[int, dict[str, str], str]:
    """The action's Scan step, run by bash with the environment a runner gives it."""
    step = next(s for s in action()["runs"]["steps"] if s.get("id") == "scan")
    runner_temp = tmp_path / "runner"
    runner_temp.mkdir()
    # The install step's venv: this checkout's interpreter behind the same paths.
    (runner_temp / "imgscan-venv" / "bin").mkdir(parents=True)
    for name, body in (("imgscan", "-m scanner.cli"), ("python", "")):
        script = runner_temp / "imgscan-venv" / "bin" / name
        script.write_text(f'#!/bin/sh\nPYTHONPATH={REPO_ROOT} exec {sys.executable} {body} "$@"\n')
        script.chmod(0o755)
    outputs, summary = tmp_path / "outputs", tmp_path / "summary.md"
    env = {
        **os.environ,
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_ACTION_PATH": str(REPO_ROOT),
        "IMGSCAN_IMAGE": image,
        "IMGSCAN_SECRETS": secrets,
        "IMGSCAN_FAIL_ON": "high",
        "IMGSCAN_SEVERITY": severity,
        "IMGSCAN_SARIF": str(tmp_path / "imgscan.sarif"),
        "IMGSCAN_CATEGORY": "",
        "IMGSCAN_CACHE_DIR": str(tmp_path / "cache"),
        "IMGSCAN_USER": "",
        "IMGSCAN_REGISTRY_PASSWORD": "",
        "IMGSCAN_ARGS": "--jobs 1",
        "NETRC_VALUE": f"machine 127.0.0.1 login admin password {SECRET_VALUE}\n",
    }
    done = subprocess.run(
        ["bash", "-e", "-c", step["run"]], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert SECRET_VALUE not in done.stdout + done.stderr
    values = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    return done.returncode, values, summary.read_text()


def test_action_gate_fails_on_findings_with_outputs_summary_and_sarif(
    pushed_image: str, tmp_path: Path
) -> None:
    code, outputs, summary = run_action_gate(tmp_path, pushed_image, "  id=netrc,env=NETRC_VALUE\n", "high")
    assert code == 1
    assert outputs["exit-code"] == "1" and outputs["verdict"] == "findings"
    assert re.fullmatch(r"imgscan-docker---127\.0\.0\.1-\d+-ci-kit-\d+-app-1", outputs["category"])
    assert "FINDINGS" in summary and "known-secret" in summary
    assert SECRET_VALUE not in summary
    sarif = json.loads((tmp_path / "imgscan.sarif").read_text())
    assert sarif["runs"][0]["results"]
    assert any((tmp_path / "cache").iterdir())


def test_summary_lists_only_findings_at_or_above_the_severity(tmp_path: Path) -> None:
    report = {
        "verdict": "findings",
        "image": {"reference": "docker://h/app:1", "digest": "sha256:ab"},
        "findings": [
            {
                "severity": "high",
                "rule": "rule-high",
                "location": {"layer_index": 1, "path": "a|b"},
                "excerpt": "x",
            },
            {
                "severity": "low",
                "rule": "rule-low",
                "location": {"layer_index": 2, "path": "c"},
                "excerpt": "y",
            },
        ],
        "problems": [{"where": "layer 3", "what": "not read"}],
    }
    path = tmp_path / "r.json"
    path.write_text(json.dumps(report))
    out = subprocess.run(
        [sys.executable, str(REPO_ROOT / "ci" / "summary.py"), str(path), "high", "1"],
        capture_output=True,
        text=True,
    ).stdout
    assert "rule-high" in out and "rule-low" not in out
    assert "a\\|b" in out and "layer 3: not read" in out


def test_gitlab_template_and_jenkins_example_use_real_options() -> None:
    template = yaml.safe_load((REPO_ROOT / "ci" / "gitlab" / "imgscan.gitlab-ci.yml").read_text())
    job = template["imgscan"]
    assert job["artifacts"]["reports"]["junit"] == "imgscan-junit.xml"
    assert "imgscan-audit.html" in job["artifacts"]["paths"]
    assert ".imgscan-cache/" in job["cache"]["paths"]
    help_text = imgscan("--help").stdout
    commands = " ".join(job["script"]) + (REPO_ROOT / "ci" / "jenkins" / "Jenkinsfile").read_text()
    for option in set(re.findall(r"\s(--[a-z][a-z-]+)", commands)) - {"--disable-pip-version-check"}:
        assert option in help_text, option
