"""imgscan on real builds, one per way a secret lands in an image (or, done right, does not)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.e2e import docker_cli
from tests.e2e.conftest import Archives, Builds, Scan
from tests.e2e.imgscan_run import assert_exit
from tests.e2e.reports import Report, describe, findings

pytestmark = pytest.mark.docker


@dataclass(frozen=True)
class Landed:
    """Where a build's secret must be reported; history rows are named by a part of their created_by."""

    kind: str
    key: str | None = None
    path: str | None = None
    history_row: str | None = None  # for kind "history": the row holding the value
    layer_row: str | None = None  # for kind "layer": the row that made the layer holding the file
    deleted_by: str | None = None  # the row that made the layer whose whiteout hides the file

    def where(self, archives: Archives, case: str) -> dict[str, object]:
        """The location fields (and status) a finding for this secret must carry in this image."""
        expected: dict[str, object] = {"kind": self.kind}
        if self.key is not None:
            expected["key"] = self.key
        if self.path is not None:
            expected["path"] = self.path
        if self.history_row is not None:
            expected["history_index"] = docker_cli.history_index(
                archives.docker_archive(case), self.history_row
            )
        layers = archives.layers(case)
        if self.layer_row is not None:
            expected["layer_index"] = docker_cli.layer_index(layers, self.layer_row)
        if self.deleted_by is not None:
            expected["status"] = "deleted"
            expected["deleted_in_layer"] = docker_cli.layer_index(layers, self.deleted_by)
        elif self.kind == "layer":
            expected["status"] = "visible"
        return expected


LEAKS = {
    "build-arg": Landed("history", key="build-arg:TOKEN", history_row="TOKEN="),
    "env": Landed("config", key="Env.API_TOKEN"),
    "label": Landed("config", key="Labels.token"),
    "secret-mount-copied": Landed("layer", path="etc/app-token", layer_row="cat /run/secrets/token"),
    "npmrc-deleted": Landed(
        "layer", path="root/.npmrc", layer_row="COPY .npmrc /root/.npmrc", deleted_by="rm /root/.npmrc"
    ),
}
CLEAN = ["same-run", "multi-stage"]


def _assert_all_layers_scanned(report: Report) -> None:
    assert report["layers"], "the report lists no layers"
    assert {layer["status"] for layer in report["layers"]} == {"scanned"}, report["layers"]


@pytest.mark.parametrize("case", sorted(LEAKS))
def test_leaked_secret_is_reported_where_it_landed(
    case: str, builds: Builds, archives: Archives, scan: Scan
) -> None:
    expected = LEAKS[case].where(archives, case)

    run = scan(builds[case].tag, "--format", "json")

    assert_exit(run, 1)
    report = run.report()
    assert report["verdict"] == "findings"
    assert findings(report, **expected), f"nothing at {expected}\n{describe(report)}"
    _assert_all_layers_scanned(report)


@pytest.mark.parametrize("case", sorted(LEAKS))
def test_leaked_secret_given_with_secret_flag_is_found_as_known_secret_in_place(
    case: str, builds: Builds, archives: Archives, scan: Scan
) -> None:
    image = builds[case]
    expected = LEAKS[case].where(archives, case)

    run = scan(image.tag, *image.secret_args, "--format", "json")

    assert_exit(run, 1)
    report = run.report()
    assert [k["found"] for k in report["known_secrets"]] == [True]
    # The metadata key may name the raw field the value was found in (e.g. created_by for a history row).
    in_place = {name: value for name, value in expected.items() if name != "key"}
    known = findings(report, category="known-secret", **in_place)
    assert known, f"no known-secret finding at {expected}\n{describe(report)}"


@pytest.mark.parametrize("case", CLEAN)
def test_secret_that_never_reached_a_layer_gives_a_clean_verdict(
    case: str, builds: Builds, scan: Scan
) -> None:
    image = builds[case]

    run = scan(image.tag, *image.secret_args, "--format", "json")

    assert_exit(run, 0)
    report = run.report()
    assert report["verdict"] == "clean", describe(report)
    assert [k["found"] for k in report["known_secrets"]] == [False]
    _assert_all_layers_scanned(report)
