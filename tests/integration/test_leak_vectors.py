"""Every leak vector of DESIGN.md's table on a fixture image: found, located, status right, redacted."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.build import FORMATS, ImageSpec, LayerSpec, write_image
from fixtures.vectors import Expect, Vector, leak_vectors
from scanner.findings import Finding, Severity
from tests.integration.conftest import SEED, describe, scan, scan_item

VECTORS = {v.name: v for v in leak_vectors(SEED)}
CASES = [pytest.param(v.name, i, id=f"{v.name}-{i}") for v in VECTORS.values() for i in range(len(v.expect))]


def _matches(f: Finding, e: Expect) -> bool:
    loc = f.location
    return (
        f.rule == e.rule
        and loc.kind == e.kind
        and loc.layer_index == e.layer_index
        and loc.path == e.path
        and loc.inner_path == e.inner_path
        and loc.history_index == e.history_index
        and loc.key == e.key
        and (e.known_secret_id is None or f.known_secret_id == e.known_secret_id)
    )


def _assert_redacted(findings: list[Finding], vector: Vector) -> None:
    for f in findings:
        for value in vector.planted:
            assert value not in f.excerpt, (
                f"{f.rule} at {f.location.describe()} shows a planted value in full"
            )
            assert value not in (f.note or ""), f"{f.rule} note shows a planted value"


@pytest.mark.parametrize(("name", "n"), CASES)
def test_leak_vector_is_reported_with_its_location_status_and_a_redacted_excerpt(
    name: str, n: int, tmp_path: Path
) -> None:
    vector = VECTORS[name]
    expect = vector.expect[n]
    report = scan_item(vector, tmp_path)
    found = [f for f in report.findings if _matches(f, expect)]
    assert found, f"seed {SEED}: no {expect}\namong:\n{describe(report.findings)}"
    f = found[0]
    assert f.category == expect.category
    assert f.severity >= Severity.HIGH
    assert f.status == expect.status
    assert f.status_layer == expect.deleted_in_layer
    if expect.line is not None:
        assert f.location.line == expect.line
    assert f.excerpt, "a finding on content must show where, redacted"
    assert f.fingerprint and len(f.fingerprint) == 32
    _assert_redacted(report.findings, vector)
    assert report.verdict == "findings", [(p.where, p.what) for p in report.problems]


def test_whiteout_of_a_credential_file_is_itself_reported_as_evidence(tmp_path: Path) -> None:
    report = scan_item(VECTORS["netrc-deleted"], tmp_path)
    evidence = [f for f in report.findings if f.rule == "sensitive-file/deleted"]
    assert len(evidence) == 1, describe(report.findings)
    assert evidence[0].location.layer_index == 2
    assert evidence[0].location.path == "root/.netrc"
    assert evidence[0].severity == Severity.INFO


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("compression", ["none", "gzip", "zstd-frames"])
def test_deleted_netrc_is_located_the_same_in_every_save_format_and_layer_compression(
    fmt: str, compression: str, tmp_path: Path
) -> None:
    vector = VECTORS["netrc-deleted"]
    layers = [
        LayerSpec(s.files, s.created_by, compression) if isinstance(s, LayerSpec) else s
        for s in vector.spec.layers
    ]
    spec = ImageSpec(layers)
    path = tmp_path / "image"
    write_image(spec, path, fmt)
    report = scan(path)
    hits = [f for f in report.findings if f.rule == "credential-file/netrc"]
    assert len(hits) == 1, describe(report.findings)
    loc = hits[0].location
    assert (loc.layer_index, loc.path, loc.line) == (1, "root/.netrc", 3)
    assert (hits[0].status, hits[0].status_layer) == ("deleted", 2)
    assert report.verdict == "findings"


def test_known_secret_is_reported_once_per_file_and_marked_found(tmp_path: Path) -> None:
    vector = VECTORS["known-secret-encodings"]
    report = scan_item(vector, tmp_path)
    by_id = {k.id: k for k in report.known_secrets}
    assert by_id["api"].found and by_id["cb"].found
    known = [f for f in report.findings if f.rule == "known-secret"]
    places = [(f.location.path, f.known_secret_id) for f in known]
    assert len(places) == len(set(places)), describe(known)
    assert all(f.severity == Severity.CRITICAL for f in known)


def test_known_secret_not_in_the_image_is_reported_as_not_found(tmp_path: Path) -> None:
    vector = VECTORS["secret-mount-copied"]
    absent = Vector(
        vector.name, vector.spec, vector.planted, vector.expect, {"other": "zz-not-in-image-" + "q" * 20}
    )
    report = scan_item(absent, tmp_path)
    assert [(k.id, k.found) for k in report.known_secrets] == [("other", False)]
    assert not [f for f in report.findings if f.rule == "known-secret"]
