"""docker:// parsing, WWW-Authenticate parsing and Docker's credential lookup order, without a registry."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from scanner.errors import SourceError, UsageError
from scanner.sources import parse_reference as parse_any_reference
from scanner.sources.registry.auth import find_credentials
from scanner.sources.registry.client import parse_challenge
from scanner.sources.registry.options import Credentials, parse_creds
from scanner.sources.registry.reference import parse_reference

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "host", "repo", "tag", "digest"),
    [
        ("docker://127.0.0.1:5000/app:1", "127.0.0.1:5000", "app", "1", None),
        ("docker://localhost/team/app", "localhost", "team/app", "latest", None),
        ("docker://alpine", "docker.io", "library/alpine", "latest", None),
        ("docker://user/app:v2", "docker.io", "user/app", "v2", None),
        (f"docker://ghcr.io/org/app@{DIGEST}", "ghcr.io", "org/app", None, DIGEST),
        (f"docker://reg.example:8443/a/b:1@{DIGEST}", "reg.example:8443", "a/b", "1", DIGEST),
    ],
)
def test_references_are_normalised_as_docker_does(
    text: str, host: str, repo: str, tag: str | None, digest: str | None
) -> None:
    ref = parse_reference(text)
    assert (ref.host, ref.repository, ref.tag, ref.digest) == (host, repo, tag, digest)
    assert ref.manifest_ref == (digest or tag)


@pytest.mark.parametrize(
    "text",
    ["docker://127.0.0.1:5000/App:1", "docker://h.io/app@md5:abc", "docker://h.io/app:bad tag", "docker://"],
)
def test_malformed_references_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_reference(text)


def test_loopback_hosts_are_recognised() -> None:
    assert parse_reference("docker://127.0.0.1:5000/a").is_loopback
    assert parse_reference("docker://localhost:5000/a").is_loopback
    assert parse_reference("docker://[::1]:5000/a").is_loopback
    assert not parse_reference("docker://registry.example/a").is_loopback


def test_registry_reference_is_never_a_daemon_name() -> None:
    assert parse_any_reference("docker://127.0.0.1:5000/app:1").transport == "docker"
    daemon = parse_any_reference("docker-daemon:app:1")
    assert (daemon.transport, daemon.location) == ("docker-daemon", "app:1")


def test_bearer_challenge_parameters() -> None:
    scheme, params = parse_challenge(
        'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"'
    )
    assert scheme == "bearer"
    assert params == {
        "realm": "https://auth.example/token",
        "service": "registry.example",
        "scope": "repository:a/b:pull",
    }
    assert parse_challenge('Basic realm="x"') == ("basic", {"realm": "x"})


def test_creds_password_never_shows_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    creds = parse_creds("ci:fake-pw-9981")
    assert creds == Credentials("ci", "fake-pw-9981")
    assert "fake-pw-9981" not in repr(creds)
    monkeypatch.setenv("IMGSCAN_REGISTRY_PASSWORD", "from-env-123")
    assert parse_creds("ci").password == "from-env-123"


def write_config(folder: Path, config: dict[str, object]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_lookup_order_creds_then_auth_file_then_docker_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = parse_reference("docker://reg.example:5000/app:1")
    encoded = base64.b64encode(b"docker-user:docker-pw").decode()
    monkeypatch.setenv(
        "DOCKER_CONFIG", str(write_config(tmp_path / "d", {"auths": {"reg.example:5000": {"auth": encoded}}}))
    )
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    assert find_credentials(ref, None) == Credentials("docker-user", "docker-pw")
    auth_file = tmp_path / "auth.json"
    auth_file.write_text(
        json.dumps({"auths": {"https://reg.example:5000/v1/": {"username": "u2", "password": "p2"}}})
    )
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(auth_file))
    assert find_credentials(ref, None) == Credentials("u2", "p2")
    assert find_credentials(ref, Credentials("cli", "pw")) == Credentials("cli", "pw")
    other = parse_reference("docker://other.example/app")
    assert find_credentials(other, None) is None


def test_docker_hub_credentials_are_found_under_the_index_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoded = base64.b64encode(b"hub-user:hub-pw").decode()
    folder = write_config(tmp_path, {"auths": {"https://index.docker.io/v1/": {"auth": encoded}}})
    monkeypatch.setenv("DOCKER_CONFIG", str(folder))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    assert find_credentials(parse_reference("docker://alpine"), None) == Credentials("hub-user", "hub-pw")


def test_broken_config_is_an_error_that_does_not_quote_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "config.json").write_text('{"auths": {"reg.example": {"auth": "fake-secret-in-broken-json"')
    monkeypatch.setenv("DOCKER_CONFIG", str(folder))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    with pytest.raises(SourceError) as caught:
        find_credentials(parse_reference("docker://reg.example/app"), None)
    assert "fake-secret" not in str(caught.value)


def test_missing_credential_helper_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(write_config(tmp_path, {"credsStore": "imgscan-absent"})))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    with pytest.raises(SourceError, match="docker-credential-imgscan-absent"):
        find_credentials(parse_reference("docker://reg.example/app"), None)
