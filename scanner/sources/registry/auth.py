"""Registry credentials as Docker finds them: --creds, REGISTRY_AUTH_FILE, config.json and its helpers."""

from __future__ import annotations

import base64
import binascii
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from scanner.errors import SourceError
from scanner.sources.registry.options import Credentials
from scanner.sources.registry.reference import Reference

_HELPER_TIMEOUT = 30
# The user name Docker's helpers and config give with an OAuth2 refresh token instead of a password.
IDENTITY_TOKEN_USER = "<token>"
_CONFIG_CAP = 4 << 20


def find_credentials(ref: Reference, given: Credentials | None) -> Credentials | None:
    """--creds wins; then REGISTRY_AUTH_FILE (podman/skopeo); then Docker's config.json; else anonymous."""
    if given is not None:
        return given
    auth_file = os.environ.get("REGISTRY_AUTH_FILE")
    if auth_file:
        found = _from_config(Path(auth_file), ref)
        if found is not None:
            return found
    docker_dir = os.environ.get("DOCKER_CONFIG")
    config = Path(docker_dir) / "config.json" if docker_dir else Path.home() / ".docker" / "config.json"
    return _from_config(config, ref)


def _from_config(path: Path, ref: Reference) -> Credentials | None:
    """credHelpers[host], then credsStore, then the auths entry, as the docker CLI looks them up."""
    config = _load(path)
    helpers = config.get("credHelpers")
    if isinstance(helpers, dict) and isinstance(helpers.get(ref.host), str):
        return _from_helper(helpers[ref.host], ref)
    store = config.get("credsStore")
    if isinstance(store, str) and store:
        found = _from_helper(store, ref)
        if found is not None:
            return found
    auths = config.get("auths")
    if not isinstance(auths, dict):
        return None
    for key, entry in auths.items():
        if isinstance(key, str) and _same_registry(key, ref) and isinstance(entry, dict):
            return _from_entry(entry, path, key)
    return None


def _load(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            raw = fh.read(_CONFIG_CAP + 1)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise SourceError(f"cannot read registry credentials file {path}: {exc.strerror}") from None
    try:
        data = json.loads(raw) if len(raw) <= _CONFIG_CAP else None
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        # Never quote the file: it holds credentials.
        raise SourceError(f"registry credentials file {path} is not a JSON object")
    return data


def _same_registry(key: str, ref: Reference) -> bool:
    """Keys are written as `host`, `https://host` or `https://host/v1/`: compare the host part."""
    host = key.split("://", 1)[-1].split("/", 1)[0]
    if ref.host == "docker.io":
        return host in ("docker.io", "index.docker.io", "registry-1.docker.io")
    return host == ref.host


def _from_entry(entry: dict[str, Any], path: Path, key: str) -> Credentials | None:
    encoded = entry.get("auth")
    if isinstance(encoded, str) and encoded:
        try:
            user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user, sep, password = "", "", ""
        if not (user and sep):
            raise SourceError(f"{path}: the auth entry for {key} is not base64 of user:password")
        return Credentials(user, password)
    token = entry.get("identitytoken")
    if isinstance(token, str) and token:
        return Credentials(IDENTITY_TOKEN_USER, token)
    name, secret = entry.get("username"), entry.get("password")
    if isinstance(name, str) and name and isinstance(secret, str):
        return Credentials(name, secret)
    return None


def _from_helper(name: str, ref: Reference) -> Credentials | None:
    """`docker-credential-NAME get`, the server on stdin, JSON {ServerURL, Username, Secret} on stdout."""
    program = f"docker-credential-{name}"
    exe = shutil.which(program)
    if exe is None:
        raise SourceError(f"credential helper {program} (named in the Docker config) is not on PATH")
    try:
        done = subprocess.run(
            [exe, "get"], input=ref.auth_key, capture_output=True, text=True, timeout=_HELPER_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        raise SourceError(f"credential helper {program} did not answer in {_HELPER_TIMEOUT} s") from None
    except OSError as exc:
        raise SourceError(f"credential helper {program} could not run: {exc.strerror}") from None
    if done.returncode != 0:
        if "credentials not found" in done.stdout.lower() + done.stderr.lower():
            return None
        # Its output is not quoted: a misbehaving helper may print what it holds.
        raise SourceError(f"credential helper {program} failed (exit {done.returncode}) for {ref.host}")
    try:
        data = json.loads(done.stdout)
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("Secret"), str):
        raise SourceError(
            f"credential helper {program} answered something other than its JSON for {ref.host}"
        )
    user = data.get("Username")
    return Credentials(user if isinstance(user, str) else "", data["Secret"])
