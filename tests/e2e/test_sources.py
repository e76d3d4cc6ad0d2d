"""The same image gives the same findings by name (daemon), from a `docker save` file and an OCI archive."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Archives, Builds, Scan
from tests.e2e.imgscan_run import ScanRun, assert_exit
from tests.e2e.reports import describe, source_independent_findings

pytestmark = pytest.mark.docker

LEAKING = ["tutorial-insecure", "build-arg", "env", "label", "secret-mount-copied", "npmrc-deleted"]


def _scan_json(scan: Scan, target: str, secret_args: tuple[str, ...]) -> ScanRun:
    run = scan(target, *secret_args, "--format", "json")
    assert_exit(run, 1)
    return run


@pytest.mark.parametrize("case", LEAKING)
def test_docker_save_file_gives_the_same_findings_as_the_daemon(
    case: str, builds: Builds, archives: Archives, scan: Scan
) -> None:
    image = builds[case]
    by_name = _scan_json(scan, image.tag, image.secret_args).report()
    from_file = _scan_json(scan, str(archives.docker_archive(case)), image.secret_args).report()

    assert by_name["findings"], describe(by_name)
    assert source_independent_findings(from_file) == source_independent_findings(by_name), (
        f"by name:\n{describe(by_name)}\nfrom file:\n{describe(from_file)}"
    )


@pytest.mark.parametrize("case", LEAKING)
def test_oci_archive_gives_the_same_findings_as_the_daemon(
    case: str, builds: Builds, archives: Archives, scan: Scan
) -> None:
    image = builds[case]
    by_name = _scan_json(scan, image.tag, image.secret_args).report()
    from_oci = _scan_json(scan, str(archives.oci_archive(case)), image.secret_args).report()

    assert by_name["findings"], describe(by_name)
    assert source_independent_findings(from_oci) == source_independent_findings(by_name), (
        f"by name:\n{describe(by_name)}\nfrom OCI archive:\n{describe(from_oci)}"
    )
