"""End-to-end fixtures: a ready Docker engine, fake secrets, the tutorial server, real builds."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from tests.e2e import docker_cli
from tests.e2e.buildcases import CASES, BuiltImage, PlantedSecrets, build_case
from tests.e2e.imgscan_run import REPO_ROOT, ScanRun, imgscan
from tests.e2e.tutorial_server import TutorialServer, netrc_text


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


class Archives:
    """Each built image exported to files once per session: `docker save` and skopeo's OCI archive."""

    def __init__(self, builds: Builds, workdir: Path) -> None:
        self._builds = builds
        self._workdir = workdir
        self._files: dict[tuple[str, str], Path] = {}

    def docker_archive(self, name: str) -> Path:
        return self._export(name, "docker-save.tar", docker_cli.save)

    def oci_archive(self, name: str) -> Path:
        return self._export(name, "oci.tar", docker_cli.export_oci_archive)

    def layers(self, name: str) -> list[docker_cli.SavedLayer]:
        """The layers as docker recorded them, read from the saved image without imgscan."""
        return docker_cli.saved_layers(self.docker_archive(name))

    def _export(self, name: str, kind: str, export: Callable[[str, Path], Path]) -> Path:
        if (name, kind) not in self._files:
            self._files[name, kind] = export(self._builds[name].tag, self._workdir / f"{name}.{kind}")
        return self._files[name, kind]


@pytest.fixture(scope="session")
def archives(builds: Builds, tmp_path_factory: pytest.TempPathFactory) -> Archives:
    return Archives(builds, tmp_path_factory.mktemp("archives"))


def assert_no_secret_in(text: str, planted: PlantedSecrets, where: str) -> None:
    """No planted value in full; for the tutorial's netrc (password "password") no credential line."""
    for value in planted.random_values:
        assert value not in text, f"a planted secret value appears in {where}"
    assert "password password" not in text, f"the netrc credential line appears in {where}"
    assert netrc_text().strip() not in text, f"the whole netrc appears in {where}"


Scan = Callable[..., ScanRun]


@pytest.fixture(scope="session")
def scan(planted: PlantedSecrets) -> Scan:
    """imgscan without the layer cache (every layer really read), checked for leaked secrets."""

    def run(
        *args: str,
        env: Mapping[str, str] | None = None,
        unset: Sequence[str] = (),
        prefix: Sequence[str] = (),
    ) -> ScanRun:
        result = imgscan(*args, "--no-cache", env=env, unset=unset, prefix=prefix)
        assert_no_secret_in(result.stdout, planted, f"stdout of imgscan {' '.join(args)}")
        assert_no_secret_in(result.stderr, planted, f"stderr of imgscan {' '.join(args)}")
        return result

    return run
