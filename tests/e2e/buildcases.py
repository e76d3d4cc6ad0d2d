"""The real builds under tests/e2e/builds/: what each needs (context, secrets, args) and what it plants."""

from __future__ import annotations

import secrets
import shutil
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.e2e import docker_cli
from tests.e2e.tutorial_server import netrc_text

BUILDS_DIR = Path(__file__).parent / "builds"
TAG_PREFIX = "imgscan-e2e/"

# Secret files the builds may use, by the id a `--secret id=...` names them with.
SECRET_FILES = {"token": "token.txt", "netrc": "netrc", "npmrc": ".npmrc"}


@dataclass(frozen=True)
class Case:
    """One build: its directory under builds/, its tag and what goes in."""

    name: str
    tag: str
    network: str = "none"
    context_files: tuple[str, ...] = ()  # secret files (by id) copied into the build context
    build_secrets: tuple[str, ...] = ()  # secret ids passed as `docker build --secret`
    build_args: tuple[str, ...] = ()  # TOKEN (the random token) or URL (the tutorial server)
    known_secrets: tuple[str, ...] = ()  # secret ids the scan is told about with `imgscan --secret`


CASES: dict[str, Case] = {
    case.name: case
    for case in (
        Case(
            "tutorial-insecure",
            TAG_PREFIX + "my-app:insecure",
            network="host",
            context_files=("netrc",),
            build_args=("URL",),
            known_secrets=("netrc",),
        ),
        Case(
            "tutorial-secure",
            TAG_PREFIX + "my-app:secure",
            network="host",
            build_secrets=("netrc",),
            build_args=("URL",),
            known_secrets=("netrc",),
        ),
        Case("build-arg", TAG_PREFIX + "build-arg:1", build_args=("TOKEN",), known_secrets=("token",)),
        Case("env", TAG_PREFIX + "env:1", build_args=("TOKEN",), known_secrets=("token",)),
        Case("label", TAG_PREFIX + "label:1", build_args=("TOKEN",), known_secrets=("token",)),
        Case("same-run", TAG_PREFIX + "same-run:1", build_secrets=("token",), known_secrets=("token",)),
        Case("multi-stage", TAG_PREFIX + "multi-stage:1", context_files=("token",), known_secrets=("token",)),
        Case(
            "secret-mount-copied",
            TAG_PREFIX + "secret-mount-copied:1",
            build_secrets=("token",),
            known_secrets=("token",),
        ),
        Case(
            "npmrc-deleted",
            TAG_PREFIX + "npmrc-deleted:1",
            context_files=("npmrc",),
            known_secrets=("npmrc",),
        ),
    )
}


def random_token(prefix: str, length: int = 36) -> str:
    """A fake token in a real token's shape (prefix + base62), new every session."""
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


@dataclass(frozen=True)
class PlantedSecrets:
    """This session's fake secret values and the files holding them."""

    directory: Path
    token: str  # GitHub-token shaped
    npm_token: str

    @classmethod
    def create(cls, directory: Path) -> PlantedSecrets:
        planted = cls(directory, random_token("ghp_"), random_token("npm_"))
        (directory / SECRET_FILES["token"]).write_text(planted.token + "\n")
        (directory / SECRET_FILES["netrc"]).write_text(netrc_text())
        (directory / SECRET_FILES["npmrc"]).write_text(
            f"registry=https://registry.example.com/\n//registry.example.com/:_authToken={planted.npm_token}\n"
        )
        return planted

    def path(self, secret_id: str) -> Path:
        return self.directory / SECRET_FILES[secret_id]

    @property
    def random_values(self) -> tuple[str, ...]:
        """Values no imgscan output may contain, not even in part of a line."""
        return (self.token, self.npm_token)


@dataclass(frozen=True)
class BuiltImage:
    """A case built into the daemon, with the `imgscan --secret` arguments that match its build."""

    case: Case
    image_id: str
    secret_args: tuple[str, ...]

    @property
    def tag(self) -> str:
        return self.case.tag


def build_case(case: Case, planted: PlantedSecrets, context_dir: Path, server_url: str) -> BuiltImage:
    """Copy builds/<case>/ and its context files to context_dir and build it."""
    shutil.copytree(BUILDS_DIR / case.name, context_dir)
    for secret_id in case.context_files:
        shutil.copy(planted.path(secret_id), context_dir / SECRET_FILES[secret_id])
    arg_values: Mapping[str, str] = {"TOKEN": planted.token, "URL": server_url}
    image_id = docker_cli.build(
        context_dir,
        case.tag,
        network=case.network,
        secrets={secret_id: planted.path(secret_id) for secret_id in case.build_secrets},
        build_args={name: arg_values[name] for name in case.build_args},
    )
    secret_args: list[str] = []
    for secret_id in case.known_secrets:
        secret_args += ["--secret", f"id={secret_id},src={planted.path(secret_id)}"]
    return BuiltImage(case, image_id, tuple(secret_args))
