"""Crashes the fuzz targets found, kept as ordinary regression tests (fake secrets only)."""

from __future__ import annotations

from pathlib import Path

from tests.fuzz.api import load_known_secrets


def test_docker_config_secret_with_non_ascii_auth_is_read_not_a_crash(tmp_path: Path) -> None:
    # base64.b64decode raises a plain ValueError (not binascii.Error) on a non-ASCII str.
    path = tmp_path / "config.json"
    path.write_bytes(b'{"auths": {"r.example.invalid": {"auth": "\x80ZmFrZTpmYWtlLXBhc3M="}}}\n')
    [secret] = load_known_secrets([f"id=docker,src={path}"])
    assert secret.id == "docker" and secret.values  # the whole file is still searched
