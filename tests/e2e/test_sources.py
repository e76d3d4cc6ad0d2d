"""The same image gives the same findings by name (daemon), from a `docker save` file and an OCI archive.

The save file is named by its plain path (format found from its content), the OCI archive by skopeo's
transport prefix.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.e2e.conftest import Archives, Builds, Scan
from tests.e2e.imgscan_run import assert_exit
from tests.e2e.reports import Report, describe, source_independent_findings

pytestmark = pytest.mark.docker

LEAKING = ["tutorial-insecure", "build-arg", "env", "label", "secret-mount-copied", "npmrc-deleted"]


@pytest.fixture(scope="module")
def scan_json(builds: Builds, scan: Scan) -> Callable[[str, str], Report]:
    """JSON report of case's image from target (default: by name), with its build secrets given."""
    by_name: dict[str, Report] = {}

    def report(case: str, target: str = "") -> Report:
        if not target and case in by_name:
            return by_name[case]
        image = builds[case]
        run = scan(target or image.tag, *image.secret_args, "--format", "json")
        assert_exit(run, 1)
        if not target:
            by_name[case] = run.report()
        return run.report()

    return report


@pytest.mark.parametrize("case", LEAKING)
def test_docker_save_file_gives_the_same_findings_as_the_daemon(
    case: str, archives: Archives, scan_json: Callable[[str, str], Report]
) -> None:
    by_name = scan_json(case, "")
    from_file = scan_json(case, str(archives.docker_archive(case)))

    assert (by_name["image"]["format"], from_file["image"]["format"]) == ("daemon", "docker-archive")
    assert by_name["findings"], describe(by_name)
    assert source_independent_findings(from_file) == source_independent_findings(by_name), (
        f"by name:\n{describe(by_name)}\nfrom file:\n{describe(from_file)}"
    )


@pytest.mark.parametrize("case", LEAKING)
def test_oci_archive_gives_the_same_findings_as_the_daemon(
    case: str, archives: Archives, scan_json: Callable[[str, str], Report]
) -> None:
    by_name = scan_json(case, "")
    from_oci = scan_json(case, f"oci-archive:{archives.oci_archive(case)}")

    assert from_oci["image"]["format"] == "oci-archive"
    assert by_name["findings"], describe(by_name)
    assert source_independent_findings(from_oci, with_keys=False) == source_independent_findings(
        by_name, with_keys=False
    ), f"by name:\n{describe(by_name)}\nfrom OCI archive:\n{describe(from_oci)}"
