"""A scan that cannot reach its image ends with exit 2 and one plain line on stderr, never a traceback."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Builds, Scan
from tests.e2e.imgscan_run import REPO_ROOT, ScanRun, assert_exit, imgscan_argv

pytestmark = pytest.mark.docker

DEFAULT_SOCKET = Path("/var/run/docker.sock")


def _assert_one_line_error(run: ScanRun) -> str:
    assert_exit(run, 2)
    assert "Traceback" not in run.stderr, run.describe()
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr\n{run.describe()}"
    return lines[0]


def test_unreachable_docker_host_is_an_error_naming_docker_host(builds: Builds, scan: Scan) -> None:
    run = scan(builds["tutorial-secure"].tag, env={"DOCKER_HOST": "unix:///nonexistent.sock"})

    assert "DOCKER_HOST" in _assert_one_line_error(run)


def test_image_missing_from_the_daemon_is_an_error(scan: Scan) -> None:
    run = scan("imgscan-e2e/no-such-image:1")

    assert "imgscan-e2e/no-such-image:1" in _assert_one_line_error(run)


@pytest.fixture
def nobody_home() -> Iterator[Path]:
    """A home directory the unprivileged user may write to (pytest's tmp_path is root-only)."""
    home = Path(tempfile.mkdtemp(prefix="imgscan-e2e-nobody-"))
    shutil.chown(home, "nobody", "nogroup")
    yield home
    shutil.rmtree(home)


def test_default_socket_as_a_user_outside_the_docker_group_is_an_error_saying_permission_denied(
    builds: Builds, scan: Scan, nobody_home: Path
) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to run the scan as the unprivileged user nobody")
    mode = DEFAULT_SOCKET.stat().st_mode
    assert stat.S_ISSOCK(mode) and not mode & stat.S_IWOTH, f"{DEFAULT_SOCKET} must not be world-writable"
    as_nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    env = {"HOME": str(nobody_home), "XDG_CACHE_HOME": str(nobody_home), "XDG_CONFIG_HOME": str(nobody_home)}
    probe = subprocess.run(
        [*as_nobody, *imgscan_argv("--version")],
        env={**os.environ, **env, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
    )
    assert probe.returncode == 0, (
        f"imgscan cannot start as nobody (the interpreter, venv or checkout is not readable by others), "
        f"so this test cannot run here:\n{probe.stderr}"
    )

    run = scan(
        builds["tutorial-secure"].tag, prefix=as_nobody, env=env, unset=["DOCKER_HOST", "DOCKER_CONTEXT"]
    )

    assert "permission denied" in _assert_one_line_error(run).lower()


def test_socket_the_user_may_not_open_is_an_error_saying_permission_denied(
    builds: Builds, scan: Scan, tmp_path: Path
) -> None:
    """Root without CAP_DAC_OVERRIDE on a root-owned mode-000 socket: refused like any other user."""
    if os.geteuid() != 0:
        pytest.skip("needs root to drop capabilities with setpriv")
    denied = tmp_path / "denied.sock"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(denied))
        denied.chmod(0)
        without_override = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]

        run = scan(
            builds["tutorial-secure"].tag, prefix=without_override, env={"DOCKER_HOST": f"unix://{denied}"}
        )

    assert "permission denied" in _assert_one_line_error(run).lower()
