"""Vendor triage: the image's manifests explain findings; only imgscan's own test-key list lowers a key."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from fixtures.build import FileSpec, ImageSpec, LayerSpec, base_layer, write_image
from scanner import packages
from scanner.findings import Severity
from scanner.model import Hit, Owner
from scanner.scan import run_scan
from scanner.settings import Settings

pytestmark = pytest.mark.usefixtures("fixed_key")

KEY_BODY = "MIIEogIBAAKCAQEA6yCv+BLrRP/dMPBXJWK21c0aqxIX6JkODL4K+zlyEURt8/Wp\n" * 4  # fake
KEY = f"-----BEGIN RSA PRIVATE KEY-----\n{KEY_BODY}-----END RSA PRIVATE KEY-----\n"


def _listed(monkeypatch: pytest.MonkeyPatch, *pems: str) -> None:
    monkeypatch.setattr(packages, "public_test_keys", lambda: frozenset(map(packages.key_body_digest, pems)))


def _hit(
    rule: str, path: str = "usr/share/x/key.pem", md5: str | None = "m" * 32, test_key: bool = False
) -> Hit:
    return Hit(rule, path, None, 1, "*****", "f" * 32, None, None, None, md5, None, test_key)


DPKG = {"usr/share/x/key.pem": Owner("md5", "m" * 32, "Debian package libx1")}


def test_md5sums_status_conffiles_and_record_name_their_files() -> None:
    md5 = packages.read_manifest(
        "var/lib/dpkg/info/libx1:amd64.md5sums", b"abcdef0123456789abcdef0123456789  usr/lib/x.so\n"
    )
    assert md5 == {"usr/lib/x.so": Owner("md5", "abcdef0123456789abcdef0123456789", "Debian package libx1")}
    status = b"Package: x\nConffiles:\n /etc/x.conf 0123456789abcdef0123456789abcdef\nVersion: 1\n"
    assert (
        packages.read_manifest("var/lib/dpkg/status", status)["etc/x.conf"].package
        == "Debian package x (conffile)"
    )
    record = b"x/__init__.py,sha256=AAAA,0\nx/__pycache__/a.cpython-311.pyc,,\nx-1.0.dist-info/RECORD,,\n"
    owned = packages.read_manifest("site/x-1.0.dist-info/RECORD", record)
    assert owned["site/x/__init__.py"] == Owner("sha256", "AAAA", "Python package x-1.0", True)


def test_a_wheel_with_direct_url_json_is_the_applications_own() -> None:
    record = b"app/main.py,sha256=AAAA,10\napp-0.1.dist-info/direct_url.json,sha256=BBBB,40\n"
    owned = packages.read_manifest("site/app-0.1.dist-info/RECORD", record)
    assert not owned["site/app/main.py"].third_party
    assert "local or VCS install" in owned["site/app/main.py"].package


@pytest.mark.parametrize("rule", ["pattern/aws-access-key", "credential-file/netrc", "known-secret"])
def test_tokens_credential_files_and_known_secrets_are_never_lowered_by_a_manifest(rule: str) -> None:
    category = {"known-secret": "known-secret", "credential-file/netrc": "credential"}.get(rule, "credential")
    severity, note = packages.triage(rule, category, Severity.HIGH, _hit(rule), DPKG)
    assert severity == Severity.HIGH
    if rule != "known-secret":
        assert note is not None and "Debian package libx1" in note


def test_generic_findings_in_an_unmodified_package_file_are_info_with_the_reason() -> None:
    severity, note = packages.triage("entropy/base64", "entropy", Severity.LOW, _hit("entropy/base64"), DPKG)
    assert severity == Severity.INFO and note is not None and "libx1" in note
    modified = _hit("entropy/base64", md5="0" * 32)
    assert packages.triage("entropy/base64", "entropy", Severity.LOW, modified, DPKG) == (Severity.LOW, None)


def test_a_private_key_is_lowered_only_when_listed_and_shipped_by_a_third_party_package() -> None:
    rule = "credential-file/private-key"
    listed = _hit(rule, test_key=True)
    assert packages.triage(rule, "credential", Severity.HIGH, listed, DPKG)[0] == Severity.INFO
    # listed, but the manifest is the image's own word: an unlisted key keeps its severity
    assert packages.triage(rule, "credential", Severity.HIGH, _hit(rule), DPKG)[0] == Severity.HIGH
    # listed, but not installed by any package, or by a local install: the application's own file
    assert packages.triage(rule, "credential", Severity.HIGH, listed, {})[0] == Severity.HIGH
    own = {"usr/share/x/key.pem": Owner("sha256", "x", "local or VCS install of Python package app", False)}
    severity, note = packages.triage(rule, "credential", Severity.HIGH, listed, own)
    assert severity == Severity.HIGH and note is not None and "imgscan's list" in note


def test_key_body_digest_ignores_armour_and_line_wrapping() -> None:
    rewrapped = KEY.replace("\n", "\r\n").replace("Wp\r\nMIIE", "WpMIIE")
    assert packages.key_body_digest(rewrapped) == packages.key_body_digest(KEY)
    assert packages.key_body_digest(KEY.replace("MIIE", "MIIF", 1)) != packages.key_body_digest(KEY)


def test_the_shipped_list_loads_and_holds_only_sha256_digests() -> None:
    keys = packages.public_test_keys()
    assert all(len(k) == 64 and int(k, 16) >= 0 for k in keys)


def _image_with_packaged_key(tmp_path: Path, modified: bool) -> Path:
    md5 = hashlib.md5(KEY.encode(), usedforsecurity=False).hexdigest()
    on_disk = KEY.replace("MIIE", "MIIF", 1) if modified else KEY
    spec = ImageSpec(
        [
            base_layer(),
            LayerSpec(
                [
                    FileSpec("usr/share/libfoo/selftest.pem", on_disk.encode()),
                    FileSpec(
                        "var/lib/dpkg/info/libfoo1:amd64.md5sums",
                        f"{md5}  usr/share/libfoo/selftest.pem\n".encode(),
                    ),
                ],
                "RUN apt-get install libfoo1",
            ),
        ]
    )
    target = tmp_path / "img.tar"
    write_image(spec, target, "docker-archive")
    return target


@pytest.mark.parametrize("listed", [False, True])
def test_a_debian_packaged_key_is_info_only_when_imgscan_lists_it_as_a_public_test_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, listed: bool
) -> None:
    if listed:
        _listed(monkeypatch, KEY)
    report = run_scan(str(_image_with_packaged_key(tmp_path, False)), Settings(jobs=1))
    (finding,) = [f for f in report.findings if f.location.path == "usr/share/libfoo/selftest.pem"]
    assert finding.note is not None and "Debian package libfoo1" in finding.note
    assert finding.severity == (Severity.INFO if listed else Severity.HIGH)
    assert report.verdict == ("clean" if listed else "findings")


def test_a_listed_key_edited_after_install_is_a_different_key_and_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _listed(monkeypatch, KEY)
    report = run_scan(str(_image_with_packaged_key(tmp_path, True)), Settings(jobs=1))
    (finding,) = [f for f in report.findings if f.location.path == "usr/share/libfoo/selftest.pem"]
    assert finding.severity == Severity.HIGH and finding.note is None


def test_record_digest_format_matches_what_collect_computes() -> None:
    data = b"payload"
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode().rstrip("=")
    owned = {"a.py": Owner("sha256", digest, "Python package a")}
    assert packages.unmodified_owner("a.py", None, digest, owned) == owned["a.py"]
    assert packages.unmodified_owner("a.py", None, "x", owned) is None
