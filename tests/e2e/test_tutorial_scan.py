"""imgscan on the tutorial's images: the insecure one leaks the netrc, the secure one provably does not."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Archives, Builds, Scan
from tests.e2e.docker_cli import layer_index
from tests.e2e.imgscan_run import assert_exit
from tests.e2e.reports import describe, findings

pytestmark = pytest.mark.docker


def test_insecure_image_reports_the_netrc_deleted_but_recoverable_from_the_copy_layer(
    builds: Builds, archives: Archives, scan: Scan
) -> None:
    layers = archives.layers("tutorial-insecure")
    copied_in = layer_index(layers, "COPY netrc /root/.netrc")
    removed_in = layer_index(layers, "rm /root/.netrc")

    run = scan(builds["tutorial-insecure"].tag, "--format", "json")

    assert_exit(run, 1)
    report = run.report()
    assert report["verdict"] == "findings"
    netrc = findings(report, path="root/.netrc", layer_index=copied_in)
    assert netrc, describe(report)
    assert all(f["status"] == "deleted" and f["deleted_in_layer"] == removed_in for f in netrc), describe(
        report
    )


def test_insecure_image_with_the_build_secret_given_reports_it_as_a_known_secret(
    builds: Builds, archives: Archives, scan: Scan
) -> None:
    image = builds["tutorial-insecure"]
    copied_in = layer_index(archives.layers("tutorial-insecure"), "COPY netrc /root/.netrc")

    run = scan(image.tag, *image.secret_args, "--format", "json")

    assert_exit(run, 1)
    report = run.report()
    assert [(k["id"], k["found"]) for k in report["known_secrets"]] == [("netrc", True)]
    known = findings(report, category="known-secret", path="root/.netrc", layer_index=copied_in)
    assert known, describe(report)
    assert all(f["status"] == "deleted" for f in known)


def test_secure_image_is_clean_with_every_layer_scanned_and_the_secret_not_found(
    builds: Builds, scan: Scan
) -> None:
    image = builds["tutorial-secure"]

    run = scan(image.tag, *image.secret_args, "--format", "json")

    assert_exit(run, 0)
    report = run.report()
    assert report["verdict"] == "clean", describe(report)
    assert report["layers"], "the report lists no layers"
    assert [layer["status"] for layer in report["layers"]] == ["scanned"] * len(report["layers"])
    assert [(k["id"], k["found"]) for k in report["known_secrets"]] == [("netrc", False)]
    assert not findings(report, category="known-secret")


def test_secure_image_text_report_says_clean(builds: Builds, scan: Scan) -> None:
    image = builds["tutorial-secure"]

    run = scan(image.tag, *image.secret_args)

    assert_exit(run, 0)
    assert "clean" in run.stdout.lower()
