"""Registry fixtures: the two local registries of scripts/registry-setup, and images pushed with skopeo."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e import docker_cli
from tests.e2e.imgscan_run import REPO_ROOT


@dataclass(frozen=True)
class Registries:
    """Where scripts/registry-setup left the registries: host:port, access logs, CA, test user."""

    plain: str
    plain_log: Path
    tls: str
    tls_log: Path
    ca: Path
    user: str
    password: str


@pytest.fixture(scope="session")
def registries() -> Registries:
    """Start (or find running) both registries; a registry that cannot start is a failure, never a skip."""
    setup = subprocess.run(
        [str(REPO_ROOT / "scripts" / "registry-setup")], capture_output=True, text=True, timeout=600
    )
    if setup.returncode != 0:
        pytest.fail(f"scripts/registry-setup failed:\n{setup.stdout}\n{setup.stderr}", pytrace=False)
    state = Path(setup.stdout.rsplit("(state in ", 1)[1].split(")", 1)[0])
    env = dict(line.split("=", 1) for line in (state / "env").read_text().splitlines() if "=" in line)
    return Registries(
        plain=env["IMGSCAN_REGISTRY_PLAIN"],
        plain_log=Path(env["IMGSCAN_REGISTRY_PLAIN_LOG"]),
        tls=env["IMGSCAN_REGISTRY_TLS"],
        tls_log=Path(env["IMGSCAN_REGISTRY_TLS_LOG"]),
        ca=Path(env["IMGSCAN_REGISTRY_CA"]),
        user=env["IMGSCAN_REGISTRY_USER"],
        password=Path(env["IMGSCAN_REGISTRY_PASSWORD_FILE"]).read_text().strip(),
    )


@pytest.fixture(scope="session")
def docker_daemon() -> None:
    """The engine scripts/test set up (scripts/docker-setup); none answering is a failure, never a skip."""
    try:
        docker_cli.docker("info", "--format", "{{.ServerVersion}}", timeout=60)
    except docker_cli.DockerCommandError as exc:
        pytest.fail(f"no Docker daemon answers (run scripts/docker-setup):\n{exc}", pytrace=False)


def skopeo_copy(source: str, dest: str, *extra: str) -> None:
    """`skopeo copy` (to a registry: no TLS verification, as the test CA is not in skopeo's store)."""
    argv: Sequence[str] = ["skopeo", "copy", "-q", "--dest-tls-verify=false", *extra, source, dest]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise AssertionError(f"skopeo copy {source} {dest} failed:\n{done.stderr[-2000:]}")
