"""The daemon source against the real Docker engine: inspect, save stream, error messages."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest
import requests.exceptions

from scanner.errors import SourceError
from scanner.sources import open_images, parse_reference, source_for
from scanner.sources.daemon import inspect

DOCKER = "/usr/bin/docker"
BASE = "imgscan-test/sources-busybox:1"
IMAGE = "imgscan-test/sources-daemon:1"

pytestmark = pytest.mark.docker

DOCKERFILE = """\
FROM imgscan-test/sources-busybox:1
ENV APP_MODE=test
COPY a.txt /a.txt
RUN echo built > /b.txt
"""


def run_docker(*args: str, stdin: bytes | None = None) -> bytes:
    env = {**os.environ, "DOCKER_BUILDKIT": "1"}
    return subprocess.run([DOCKER, *args], input=stdin, env=env, check=True, capture_output=True).stdout


@pytest.fixture(scope="module")
def built_image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A two-layer image built with --network=none from a busybox base made by `docker import`."""
    work = tmp_path_factory.mktemp("daemon")
    rootfs = work / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", rootfs / "bin" / "busybox")
    (rootfs / "bin" / "sh").symlink_to("busybox")
    (rootfs / "bin" / "echo").symlink_to("busybox")
    tar = subprocess.run(["tar", "-C", str(rootfs), "-c", "."], check=True, capture_output=True).stdout
    run_docker("import", "-", BASE, stdin=tar)
    context = work / "context"
    context.mkdir()
    (context / "a.txt").write_text("hello\n")
    (context / "Dockerfile").write_text(DOCKERFILE)
    run_docker("build", "--network=none", "-q", "-t", IMAGE, str(context))
    yield IMAGE
    run_docker("rmi", IMAGE, BASE)


def test_daemon_image_is_read_from_its_save_stream(built_image: str, tmp_path: Path) -> None:
    info = inspect(built_image)

    [image] = open_images(built_image, tmp_path)

    assert image.format == "daemon"
    assert image.reference == built_image
    assert image.id == info["Id"]
    assert [layer.diff_id for layer in image.layers] == info["RootFS"]["Layers"]
    assert all(
        layer.blob is not None and layer.blob.path == str(tmp_path / "save.tar") for layer in image.layers
    )
    assert built_image in image.repo_tags
    assert "APP_MODE=test" in image.config["config"]["Env"]
    assert image.layers[-1].history is not None
    assert "echo built" in image.layers[-1].history.created_by
    assert not [p for p in image.problems if p.inconclusive]


def test_docker_daemon_transport_names_the_same_image(built_image: str, tmp_path: Path) -> None:
    ref = parse_reference(f"docker-daemon:{built_image}")
    [image] = open_images(ref, tmp_path)

    assert image.id == inspect(built_image)["Id"]
    assert source_for(ref).identity(ref) == image.id


def test_missing_daemon_image_is_no_such_image(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"^no such image: imgscan-test/never-built:0$"):
        open_images("imgscan-test/never-built:0", tmp_path)


def test_inspect_of_missing_image_is_no_such_image() -> None:
    with pytest.raises(SourceError, match="no such image"):
        inspect("imgscan-test/never-built:0")


def test_unreachable_daemon_names_docker_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")

    with pytest.raises(SourceError) as err:
        inspect("anything:1")

    assert "tcp://127.0.0.1:9" in str(err.value) and "not reachable" in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.skipif(not Path("/usr/bin/skopeo").exists(), reason="skopeo not installed")
@pytest.mark.parametrize(
    ("transport", "fmt"), [("oci-archive", "oci-archive"), ("docker-archive", "podman-archive")]
)
def test_skopeo_copy_of_a_daemon_image_reads_the_same_layers(
    built_image: str, tmp_path: Path, transport: str, fmt: str
) -> None:
    out = tmp_path / "skopeo.tar"
    subprocess.run(
        ["/usr/bin/skopeo", "copy", "-q", f"docker-daemon:{built_image}", f"{transport}:{out}:{built_image}"],
        check=True,
        capture_output=True,
    )
    [from_daemon] = open_images(built_image, tmp_path)

    [image] = open_images(f"{transport}:{out}", tmp_path)

    assert image.format == fmt
    assert [layer.diff_id for layer in image.layers] == [layer.diff_id for layer in from_daemon.layers]
    assert not [p for p in image.problems if p.inconclusive]


def test_permission_error_on_the_socket_says_permission_denied(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(**_: object) -> None:
        raise docker.errors.DockerException("Error while fetching server API version") from (
            requests.exceptions.ConnectionError(PermissionError(13, "Permission denied"))
        )

    monkeypatch.setattr(docker, "from_env", refuse)

    with pytest.raises(SourceError, match=r"^permission denied on the Docker socket"):
        inspect("anything:1")
