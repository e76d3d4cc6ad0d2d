"""What does not land or is no secret fails no gate: same-RUN removal, builder stages, mount stubs, decoys."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from fixtures.build import FileSpec, LayerSpec
from fixtures.vectors import Decoy, decoys, packaged_key_image, write_vector
from scanner.findings import Severity
from tests.integration.conftest import SEED, describe, scan, scan_item

DECOYS = {d.name: d for d in decoys(SEED)}


@pytest.mark.parametrize("name", sorted(DECOYS))
def test_decoy_image_is_clean_even_when_failing_on_low(name: str, tmp_path: Path) -> None:
    report = scan_item(DECOYS[name], tmp_path, fail_on=Severity.LOW)
    loud = [f for f in report.findings if f.severity >= Severity.LOW]
    assert not loud, f"seed {SEED}:\n{describe(loud)}"
    assert not report.problems, [(p.where, p.what) for p in report.problems]
    assert report.verdict == "clean"
    assert all(layer.status == "scanned" for layer in report.layers)


def test_a_token_in_an_unmodified_package_file_keeps_its_severity_with_a_note(tmp_path: Path) -> None:
    """The image's own RECORD may explain a finding, never lower a token (issue 14)."""
    spec, path, _token = packaged_key_image(SEED)
    report = scan_item(Decoy("packaged", spec), tmp_path)
    in_file = [f for f in report.findings if f.location.path == path]
    assert in_file, describe(report.findings)
    for f in in_file:
        assert f.severity >= Severity.HIGH, describe([f])
        assert f.note and "vendorlib" in f.note and "manifest" in f.note
    assert report.verdict == "findings"


def test_package_file_changed_after_install_keeps_its_severity(tmp_path: Path) -> None:
    """The control for the test above: once the bytes differ from RECORD's hash, the key counts again."""
    spec, path, token = packaged_key_image(SEED)
    edited = LayerSpec(
        [FileSpec(path, f'EXAMPLE_KEY = "{token}"  # edited\n'.encode())], "RUN /bin/sh -c sed -i"
    )
    report = scan_item(Decoy("edited", dataclasses.replace(spec, layers=[*spec.layers, edited])), tmp_path)
    edited_hits = [f for f in report.findings if f.location.path == path and f.location.layer_index == 2]
    assert edited_hits and all(f.severity >= Severity.HIGH for f in edited_hits), describe(report.findings)
    assert report.verdict == "findings"


def test_netrc_stub_with_content_is_not_a_decoy(tmp_path: Path) -> None:
    """The control for the mount-stub decoy: the same path with a password in it is a finding."""
    spec = DECOYS["secure-secret-mount-stubs"].spec
    filled = LayerSpec([FileSpec("root/.netrc", b"machine h login u password Zq8vN3mW5xK2pL7r\n")], "COPY")
    report = scan_item(Decoy("filled", dataclasses.replace(spec, layers=[*spec.layers, filled])), tmp_path)
    assert any(f.rule == "credential-file/netrc" and f.location.layer_index == 2 for f in report.findings)
    assert report.verdict == "findings"


def test_padded_base64_known_secret_absent_from_the_image_matches_nothing(tmp_path: Path) -> None:
    token = "AbcKey" + "Xq7Lm2Pz9Rw4Tn8Vb3Hd" + "=="  # base64-looking, padded; 'Key' inside by chance
    item = Decoy("secure", DECOYS["same-run-removal"].spec)
    secret = tmp_path / "token"
    secret.write_text(token, encoding="utf-8")
    report = scan(write_vector(item, tmp_path / "image.tar"), [f"id=tok,src={secret}"], Severity.LOW)
    assert [(k.id, k.found) for k in report.known_secrets] == [("tok", False)], describe(report.findings)
    assert report.verdict == "clean"
