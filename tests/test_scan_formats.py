"""Every save format gives the same layers, diff_ids and lineage when scanned end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.build import FORMATS, BuiltImage, tutorial_insecure, tutorial_secure, write_image, write_index
from scanner.image import Platform
from scanner.scan import run_scan
from scanner.settings import Settings

PASSWORD = "fixture-pw-" + "q7Zt0"  # fake; built at test time into the image


def _netrc_findings(doc: dict[str, object]) -> list[dict[str, object]]:
    findings = doc["findings"]
    assert isinstance(findings, list)
    return [f for f in findings if f["rule"] == "credential-file/netrc"]


def _expected_lineage(doc: dict[str, object], built: BuiltImage) -> None:
    layers = doc["layers"]
    assert isinstance(layers, list)
    assert [layer["diff_id"] for layer in layers] == built.diff_ids
    assert [layer["index"] for layer in layers] == [0, 1, 2]
    assert all(layer["status"] == "scanned" for layer in layers)
    assert layers[2]["whiteouts"] == ["root/.netrc"]
    (netrc,) = _netrc_findings(doc)
    assert netrc["location"]["layer_index"] == 1  # type: ignore[index]
    assert netrc["location"]["path"] == "root/.netrc"  # type: ignore[index]
    assert netrc["status"] == "deleted"
    assert netrc["deleted_in_layer"] == 2
    assert PASSWORD not in json.dumps(doc)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_reports_the_same_layers_and_lineage_through_the_cli(tmp_path: Path, fmt: str) -> None:
    target = tmp_path / ("image" if fmt == "oci-layout" else "image.tar")
    built = write_image(tutorial_insecure(PASSWORD, compression="gzip"), target, fmt)
    proc = subprocess.run(
        [sys.executable, "-m", "scanner.cli", str(target), "--format", "json", "--no-cache"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "imgscan/report/v1"
    assert doc["verdict"] == "findings"
    _expected_lineage(doc, built)


@pytest.mark.parametrize("layer_compression", ["none", "gzip", "zstd", "zstd-frames"])
@pytest.mark.parametrize("outer", ["none", "gzip", "zstd", "xz"])
def test_layer_and_outer_compression_do_not_change_the_result(
    tmp_path: Path, layer_compression: str, outer: str
) -> None:
    from scanner.report.json import render

    target = tmp_path / "image.tar"
    built = write_image(tutorial_insecure(PASSWORD, layer_compression), target, "docker25-archive", outer)
    report = run_scan(str(target), Settings(jobs=1))
    _expected_lineage(json.loads(render(report)), built)


def test_multi_platform_index_scans_every_platform_and_its_attestation(tmp_path: Path) -> None:
    from dataclasses import replace

    from scanner.report.json import render

    amd = replace(tutorial_insecure(PASSWORD), platform=Platform("linux", "amd64"))
    arm = replace(tutorial_insecure(PASSWORD), platform=Platform("linux", "arm64", "v8"))
    target = tmp_path / "index.tar"
    built = write_index([amd, arm], target, "oci-archive", attestation=True)
    report = run_scan(str(target), Settings(jobs=2))
    doc = json.loads(render(report))
    assert sorted(i["platform"] for i in doc["images"]) == ["linux/amd64", "linux/arm64/v8"]
    assert "attestations" in doc["metadata_scanned"]
    netrc = _netrc_findings(doc)
    assert sorted(f["location"]["image"] for f in netrc) == [0, 1]
    assert {layer["diff_id"] for layer in doc["layers"]} == set(built[0].diff_ids) | set(built[1].diff_ids)

    only_arm = run_scan(str(target), Settings(platform=Platform.parse("linux/arm64"), jobs=1))
    assert [i.platform for i in only_arm.images] == ["linux/arm64/v8"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scanner.cli", *args, "--format", "json", "--no-cache"],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_image_only_manifest_json_names_is_scanned_end_to_end(tmp_path: Path) -> None:
    from fixtures.broken import rewrite_members
    from fixtures.build import canonical_json, write_images
    from scanner.sources.archive import TarStore

    good, hidden = tmp_path / "good.tar", tmp_path / "hidden.tar"
    clean, leaky = write_images([tutorial_secure(), tutorial_insecure(PASSWORD)], good, "docker25-archive")
    loc = TarStore(good, "good").locate("index.json")
    assert loc is not None
    with loc.open() as f:
        index = json.loads(f.read())
    # index.json shows only the clean image; docker load would still load the leaky one from manifest.json.
    index["manifests"] = [d for d in index["manifests"] if d["digest"] != leaky.manifest_digest]
    rewrite_members(good, hidden, {"index.json": canonical_json(index)})

    proc = _cli(str(hidden))

    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert {i["id"] for i in doc["images"]} == {clean.config_digest, leaky.config_digest}
    assert _netrc_findings(doc)
    assert any("index.json does not" in p["what"] for p in doc["problems"])
    assert PASSWORD not in proc.stdout + proc.stderr


def test_a_registry_reference_is_not_the_daemon_and_fails_in_one_line() -> None:
    proc = _cli("docker://127.0.0.1:9/app:1")  # loopback, nothing listening: never leaves the machine

    assert proc.returncode == 2
    assert "registry" in proc.stderr and "no such image" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
