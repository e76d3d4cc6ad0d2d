"""docker:// against real registries (Debian's docker-registry): same report as the archive, auth, TLS,
multi-platform indexes, the layer cache, and a registry that is busy or serves corrupt bytes."""

from __future__ import annotations

import base64
import json
import os
import re
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from fixtures.build import ImageSpec, tutorial_insecure, write_image, write_index
from scanner.errors import SourceError
from scanner.image import Platform
from scanner.sources.interface import Reference
from scanner.sources.registry import RegistryOptions, open_registry
from scanner.sources.registry.source import RegistrySource
from tests.e2e import docker_cli
from tests.e2e.imgscan_run import ScanRun, assert_exit, imgscan
from tests.registry.conftest import Registries, skopeo_copy
from tests.registry.faultproxy import FaultProxy

# Generated for the tests; not a credential anywhere.
NETRC_PASSWORD = "fake-netrc-pw-7a9c31"
RUN_ID = f"regtest{os.getpid()}"


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("registry") / "insecure.tar"
    write_image(tutorial_insecure(NETRC_PASSWORD, "gzip"), path, "oci-archive")
    return path


@pytest.fixture(scope="module")
def pushed(registries: Registries, archive: Path) -> str:
    """The insecure tutorial image on the anonymous plain-HTTP registry; returns HOST/REPO:TAG."""
    dest = f"{registries.plain}/{RUN_ID}/app:1"
    skopeo_copy(f"oci-archive:{archive}", f"docker://{dest}")
    return dest


@pytest.fixture(scope="module")
def pushed_tls(registries: Registries, archive: Path) -> str:
    dest = f"{registries.tls}/{RUN_ID}/app:1"
    skopeo_copy(
        f"oci-archive:{archive}",
        f"docker://{dest}",
        "--dest-creds",
        f"{registries.user}:{registries.password}",
    )
    return dest


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    """What must not depend on where the image came from: verdict, layers' content, findings."""
    return {
        "verdict": report["verdict"],
        "layers": [
            (la["index"], la["diff_id"], la["files"], la["bytes"], la["status"]) for la in report["layers"]
        ],
        "findings": sorted(
            (f["rule"], f["location"]["layer_index"], f["location"]["path"], f["status"], f["fingerprint"])
            for f in report["findings"]
        ),
        "problems": report["problems"],
    }


def scan_json(*args: str, env: dict[str, str] | None = None) -> tuple[ScanRun, dict[str, Any]]:
    run = imgscan(*args, "--no-cache", "--format", "json", env=env)
    assert run.returncode in (0, 1, 2), run.describe()
    return run, run.report()


def test_registry_scan_gives_the_same_report_as_the_archive(pushed: str, archive: Path) -> None:
    run, from_registry = scan_json(f"docker://{pushed}")
    assert_exit(run, 1)
    _, from_archive = scan_json(str(archive))
    assert comparable(from_registry) == comparable(from_archive)
    assert from_registry["image"]["format"] == "registry"
    assert [la["digest"] for la in from_registry["layers"]] == [la["digest"] for la in from_archive["layers"]]
    assert any(
        f["rule"] == "credential-file/netrc" and f["status"] == "deleted" for f in from_registry["findings"]
    )
    assert NETRC_PASSWORD not in run.stdout + run.stderr


def test_registry_scan_gives_the_same_report_as_the_daemon(
    docker_daemon: None, pushed: str, tmp_path: Path
) -> None:
    tag = f"{RUN_ID}/app:1"
    saved = tmp_path / "docker.tar"
    write_image(replace(tutorial_insecure(NETRC_PASSWORD, "gzip"), repo_tag=tag), saved, "docker-archive")
    docker_cli.docker("load", "-q", "-i", str(saved))
    try:
        run, from_daemon = scan_json(f"docker-daemon:{tag}")
    finally:
        docker_cli.remove_images(tag)
    assert_exit(run, 1)
    _, from_registry = scan_json(f"docker://{pushed}")
    assert comparable(from_registry) == comparable(from_daemon)
    assert from_registry["image"]["id"] == from_daemon["image"]["id"]


def test_by_digest_reads_the_same_image_and_a_wrong_digest_is_an_error(pushed: str) -> None:
    _, by_tag = scan_json(f"docker://{pushed}")
    digest = by_tag["image"]["digest"]
    repo = pushed.rsplit(":", 1)[0]
    run, by_digest = scan_json(f"docker://{repo}@{digest}")
    assert_exit(run, 1)
    assert comparable(by_digest) == comparable(by_tag)
    missing = imgscan(f"docker://{repo}@sha256:{'0' * 64}", "--no-cache")
    assert_exit(missing, 2)
    assert "imgscan: error:" in missing.stderr and "Traceback" not in missing.stderr


def test_basic_auth_behind_tls_needs_the_ca_and_the_credentials(
    registries: Registries, pushed_tls: str
) -> None:
    ref = f"docker://{pushed_tls}"
    untrusted = imgscan(ref, "--no-cache", "--creds", f"{registries.user}:{registries.password}")
    assert_exit(untrusted, 2)
    assert "not trusted" in untrusted.stderr
    anonymous = imgscan(ref, "--no-cache", "--ca", str(registries.ca))
    assert_exit(anonymous, 2)
    assert "requires credentials" in anonymous.stderr
    wrong = imgscan(
        ref, "--no-cache", "--ca", str(registries.ca), "--creds", f"{registries.user}:wrong-pw-123"
    )
    assert_exit(wrong, 2)
    assert "wrong-pw-123" not in wrong.stdout + wrong.stderr
    env = {"IMGSCAN_REGISTRY_PASSWORD": registries.password}
    good = imgscan(ref, "--no-cache", "--ca", str(registries.ca), "--creds", registries.user, env=env)
    assert_exit(good, 1)
    unverified = imgscan(ref, "--no-cache", "--tls-verify=false", "--creds", registries.user, env=env)
    assert_exit(unverified, 1)
    for run in (untrusted, anonymous, good, unverified):
        assert registries.password not in run.stdout + run.stderr


def test_cert_dir_holds_the_private_ca(registries: Registries, pushed_tls: str, tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_bytes(registries.ca.read_bytes())
    env = {"IMGSCAN_REGISTRY_PASSWORD": registries.password}
    run = imgscan(
        f"docker://{pushed_tls}",
        "--no-cache",
        "--cert-dir",
        str(tmp_path),
        "--creds",
        registries.user,
        env=env,
    )
    assert_exit(run, 1)


def docker_config(tmp_path: Path, config: dict[str, Any]) -> dict[str, str]:
    folder = tmp_path / "docker-config"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    return {"DOCKER_CONFIG": str(folder), "REGISTRY_AUTH_FILE": ""}


def test_credentials_from_docker_config_auths(
    registries: Registries, pushed_tls: str, tmp_path: Path
) -> None:
    auth = base64.b64encode(f"{registries.user}:{registries.password}".encode()).decode()
    env = docker_config(tmp_path, {"auths": {f"https://{registries.tls}": {"auth": auth}}})
    run = imgscan(f"docker://{pushed_tls}", "--no-cache", "--ca", str(registries.ca), env=env)
    assert_exit(run, 1)


def test_credentials_from_registry_auth_file(registries: Registries, pushed_tls: str, tmp_path: Path) -> None:
    auth = base64.b64encode(f"{registries.user}:{registries.password}".encode()).decode()
    auth_file = tmp_path / "auth.json"
    auth_file.write_text(json.dumps({"auths": {registries.tls: {"auth": auth}}}))
    env = {"REGISTRY_AUTH_FILE": str(auth_file), "DOCKER_CONFIG": str(tmp_path / "none")}
    run = imgscan(f"docker://{pushed_tls}", "--no-cache", "--ca", str(registries.ca), env=env)
    assert_exit(run, 1)


def test_credentials_from_a_credential_helper_on_path(
    registries: Registries, pushed_tls: str, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    asked = tmp_path / "asked"
    helper = bin_dir / "docker-credential-imgscantest"
    helper.write_text(
        "#!/bin/sh\n"
        f'[ "$1" = get ] || exit 1\ncat > {asked}\n'
        f'printf \'{{"ServerURL":"%s","Username":"{registries.user}","Secret":"{registries.password}"}}\' '
        f'"$(cat {asked})"\n'
    )
    helper.chmod(helper.stat().st_mode | stat.S_IXUSR)
    env = docker_config(tmp_path, {"credHelpers": {registries.tls: "imgscantest"}})
    env["PATH"] = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    run = imgscan(f"docker://{pushed_tls}", "--no-cache", "--ca", str(registries.ca), env=env)
    assert_exit(run, 1)
    assert asked.read_text() == registries.tls
    env["PATH"] = os.environ["PATH"]
    missing = imgscan(f"docker://{pushed_tls}", "--no-cache", "--ca", str(registries.ca), env=env)
    assert_exit(missing, 2)
    assert "docker-credential-imgscantest" in missing.stderr


def test_multi_platform_index_scans_every_platform_or_the_one_asked(
    registries: Registries, tmp_path: Path
) -> None:
    specs = [
        ImageSpec(tutorial_insecure(NETRC_PASSWORD, "gzip").layers, platform=Platform("linux", arch))
        for arch in ("amd64", "arm64")
    ]
    path = tmp_path / "multi.tar"
    write_index(specs, path, "oci-archive", attestation=True, compression="none")
    dest = f"{registries.plain}/{RUN_ID}/multi:1"
    skopeo_copy(f"oci-archive:{path}", f"docker://{dest}", "--all")
    run, report = scan_json(f"docker://{dest}")
    assert_exit(run, 1)
    assert sorted(i["platform"] for i in report["images"]) == ["linux/amd64", "linux/arm64"]
    assert "attestations" in report["metadata_scanned"]
    run, one = scan_json(f"docker://{dest}", "--platform", "linux/arm64")
    assert [i["platform"] for i in one["images"]] == ["linux/arm64"]
    nothing = imgscan(f"docker://{dest}", "--platform", "linux/s390x", "--no-cache")
    assert_exit(nothing, 2)
    assert "linux/amd64" in nothing.stderr


def blob_gets(log: Path, repo: str) -> list[str]:
    return re.findall(rf'"GET /v2/{re.escape(repo)}/blobs/(sha256:[0-9a-f]{{64}})', log.read_text())


def test_cached_rescan_downloads_no_layer_blob(registries: Registries, archive: Path, tmp_path: Path) -> None:
    repo = f"{RUN_ID}/cached"
    skopeo_copy(f"oci-archive:{archive}", f"docker://{registries.plain}/{repo}:1")
    cache = tmp_path / "cache"
    ref = f"docker://{registries.plain}/{repo}:1"
    first = imgscan(ref, "--cache-dir", str(cache), "--format", "json")
    assert_exit(first, 1)
    layers = {la["digest"] for la in first.report()["layers"]}
    before = blob_gets(registries.plain_log, repo)
    assert layers <= set(before)
    second = imgscan(ref, "--cache-dir", str(cache), "--format", "json")
    assert_exit(second, 1)
    assert {la["status"] for la in second.report()["layers"]} == {"cached"}
    new = blob_gets(registries.plain_log, repo)[len(before) :]
    assert new == [first.report()["image"]["id"]]  # the config only, never a layer
    assert comparable(second.report())["findings"] == comparable(first.report())["findings"]


def test_busy_registry_is_retried_until_it_recovers(pushed: str, registries: Registries) -> None:
    with FaultProxy(registries.plain) as proxy:
        proxy.faults.blob_statuses = [429, 500, 503]
        run = imgscan(f"docker://{proxy.host}/{pushed.split('/', 1)[1]}", "--no-cache", "-q")
        assert_exit(run, 1)
        assert not proxy.faults.blob_statuses


def test_registry_that_never_recovers_is_an_error_with_the_reason(
    pushed: str, registries: Registries, tmp_path: Path
) -> None:
    with FaultProxy(registries.plain) as proxy:
        proxy.faults.blob_statuses = [503] * 50
        with pytest.raises(SourceError, match=r"still failing after \d+ attempts.*HTTP 503"):
            open_registry(
                f"docker://{proxy.host}/{pushed.split('/', 1)[1]}", tmp_path, RegistryOptions(retry_seconds=2)
            )


def test_blob_whose_bytes_do_not_match_its_digest_is_inconclusive(
    pushed: str, registries: Registries
) -> None:
    _, clean_report = scan_json(f"docker://{pushed}")
    netrc_layer = clean_report["layers"][1]["digest"]
    with FaultProxy(registries.plain) as proxy:
        proxy.faults.corrupt_digest = netrc_layer
        run, report = scan_json(f"docker://{proxy.host}/{pushed.split('/', 1)[1]}")
    assert_exit(run, 2)
    assert report["verdict"] == "inconclusive"
    assert report["layers"][1]["status"] == "unreadable"
    assert "not its digest" in json.dumps(report["layers"][1]["problems"])


def test_bearer_token_challenge_with_and_without_credentials(pushed: str, registries: Registries) -> None:
    path = pushed.split("/", 1)[1]
    with FaultProxy(registries.plain) as proxy:
        proxy.faults.bearer_user, proxy.faults.bearer_password = "token-user", "fake-token-pw-55"
        refused = imgscan(f"docker://{proxy.host}/{path}", "--no-cache", "-q")
        assert_exit(refused, 2)
        assert "refused" in refused.stderr
        run = imgscan(
            f"docker://{proxy.host}/{path}", "--no-cache", "-q", "--creds", "token-user:fake-token-pw-55"
        )
        assert_exit(run, 1)
        assert "fake-token-pw-55" not in run.stdout + run.stderr
        proxy.faults.bearer_user, proxy.faults.anonymous_token = None, True
        anonymous = imgscan(f"docker://{proxy.host}/{path}", "--no-cache", "-q")
        assert_exit(anonymous, 1)


def test_registry_source_opens_a_parsed_reference(pushed: str, tmp_path: Path) -> None:
    source = RegistrySource()
    assert source.transports == ("docker",)
    ref = Reference(text=f"docker://{pushed}", transport="docker", location=pushed)
    (image,) = source.open(ref, tmp_path, Platform("linux", "amd64"), None)
    assert image.format == "registry" and len(image.layers) == 3
    assert all(layer.blob is not None and layer.blob.trusted_digest == layer.digest for layer in image.layers)
    with pytest.raises(SourceError, match="platform"):
        source.open(ref, tmp_path, Platform("linux", "s390x"), None)
