"""End-to-end fixtures: a ready Docker engine, fake secrets, the tutorial server, real builds."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import docker_cli
from tests.e2e.buildcases import CASES, BuiltImage, PlantedSecrets, build_case
from tests.e2e.imgscan_run import REPO_ROOT
from tests.e2e.tutorial_server import TutorialServer


@pytest.fixture(scope="session", autouse=True)
def docker_engine() -> None:
    """Install/start the engine and make the base images; no engine is a failure, never a skip."""
    setup = subprocess.run(
        [str(REPO_ROOT / "scripts" / "docker-setup")], capture_output=True, text=True, timeout=900
    )
    if setup.returncode != 0:
        pytest.fail(
            f"scripts/docker-setup failed (exit {setup.returncode}):\n{setup.stdout}\n{setup.stderr}",
            pytrace=False,
        )
    try:
        docker_cli.docker("info", "--format", "{{.ServerVersion}}", timeout=60)
    except docker_cli.DockerCommandError as exc:
        pytest.fail(f"no Docker daemon answers after scripts/docker-setup:\n{exc}", pytrace=False)


@pytest.fixture(scope="session")
def planted(tmp_path_factory: pytest.TempPathFactory) -> PlantedSecrets:
    return PlantedSecrets.create(tmp_path_factory.mktemp("secrets"))


@pytest.fixture(scope="session")
def tutorial_url() -> Iterator[str]:
    with TutorialServer() as server:
        yield server.url


class Builds:
    """Each case built on first use, once per session; the tags are removed at the end."""

    def __init__(self, planted: PlantedSecrets, workdir: Path, server_url: str) -> None:
        self._planted = planted
        self._workdir = workdir
        self._server_url = server_url
        self._built: dict[str, BuiltImage] = {}

    def __getitem__(self, name: str) -> BuiltImage:
        if name not in self._built:
            context = self._workdir / name
            self._built[name] = build_case(CASES[name], self._planted, context, self._server_url)
        return self._built[name]

    def remove_all(self) -> None:
        if self._built:
            docker_cli.remove_images(*(image.tag for image in self._built.values()))


@pytest.fixture(scope="session")
def builds(
    planted: PlantedSecrets, tutorial_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Builds]:
    registry = Builds(planted, tmp_path_factory.mktemp("contexts"), tutorial_url)
    yield registry
    # IMGSCAN_E2E_KEEP=1 leaves the images for a look by hand (docker history, docker run ...).
    if not os.environ.get("IMGSCAN_E2E_KEEP"):
        registry.remove_all()


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """imgscan's default cache and config dirs point into the session's temp dir, never the user's."""
    saved = {name: os.environ.get(name) for name in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME")}
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("xdg-config"))
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
