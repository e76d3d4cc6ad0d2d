"""imgscan's own container image, built offline on the local daemon, scans a registry and an archive."""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.build import tutorial_insecure, write_image
from tests.e2e import docker_cli
from tests.e2e.imgscan_run import REPO_ROOT, imgscan
from tests.registry.conftest import Registries, skopeo_copy

TAG = f"registry-test-{os.getpid()}/imgscan:e2e"
# Generated for the test; not a credential anywhere.
PASSWORD = "fake-container-pw-4417"
FINGERPRINT_KEY = "registry-test-fingerprint-key"


@pytest.fixture(scope="module")
def image(docker_daemon: None) -> Iterator[str]:
    # The same docker CLI as the e2e builds (scripts/test turns BuildKit on; that CLI has it built in).
    env = {**os.environ, "DOCKER": docker_cli.DOCKER}
    done = subprocess.run(
        [str(REPO_ROOT / "ci" / "build-image"), TAG], capture_output=True, text=True, timeout=900, env=env
    )
    assert done.returncode == 0, f"ci/build-image failed:\n{done.stdout}\n{done.stderr[-3000:]}"
    yield TAG
    docker_cli.remove_images(TAG)


def run_image(tag: str, *args: str, mounts: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    volumes = [arg for m in mounts for arg in ("-v", m)]
    key = ["-e", f"IMGSCAN_FINGERPRINT_KEY={FINGERPRINT_KEY}"]
    argv = [docker_cli.DOCKER, "run", "--rm", "--network=host", *key, *volumes, tag, *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300)


def test_image_is_small_and_runs_as_a_non_root_user(image: str) -> None:
    user = docker_cli.docker("image", "inspect", "-f", "{{.Config.User}}", image).strip()
    assert user and user not in ("root", "0")
    size = int(docker_cli.docker("image", "inspect", "-f", "{{.Size}}", image).strip())
    assert size < 200 * 1024 * 1024


def test_wheel_in_the_image_holds_only_the_scanner_package(image: str) -> None:
    (wheel,) = (REPO_ROOT / "build" / "docker").glob("imgscan-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")} == {"scanner"}
    assert any(n.startswith("scanner/report/templates/") for n in names)


def test_container_scans_a_registry_and_an_archive_like_the_host(
    image: str, registries: Registries, tmp_path: Path
) -> None:
    archive = tmp_path / "app.tar"
    write_image(tutorial_insecure(PASSWORD, "gzip"), archive, "oci-archive")
    archive.chmod(0o644)
    tmp_path.chmod(0o755)
    dest = f"{registries.plain}/registry-test-{os.getpid()}/container:1"
    skopeo_copy(f"oci-archive:{archive}", f"docker://{dest}")
    env = {"IMGSCAN_FINGERPRINT_KEY": FINGERPRINT_KEY}
    host = imgscan(str(archive), "--no-cache", "--format", "json", env=env).report()
    from_registry = run_image(image, f"docker://{dest}", "--no-cache", "--format", "json")
    from_archive = run_image(
        image, "/in/app.tar", "--no-cache", "--format", "json", mounts=(f"{tmp_path}:/in:ro",)
    )
    for run in (from_registry, from_archive):
        assert run.returncode == 1, run.stderr
        report = json.loads(run.stdout)
        assert report["verdict"] == host["verdict"] == "findings"
        assert [la["diff_id"] for la in report["layers"]] == [la["diff_id"] for la in host["layers"]]
        assert sorted(f["fingerprint"] for f in report["findings"]) == sorted(
            f["fingerprint"] for f in host["findings"]
        )
        assert PASSWORD not in run.stdout + run.stderr
