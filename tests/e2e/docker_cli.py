"""The docker CLI as the e2e tests use it: BuildKit builds, save, skopeo export, a saved image's history."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# /usr/bin/docker is Debian's 20.10 CLI with BuildKit built in; a newer client on PATH may lack buildx.
DOCKER = os.environ.get("IMGSCAN_E2E_DOCKER", "/usr/bin/docker")
SKOPEO = os.environ.get("IMGSCAN_E2E_SKOPEO", "/usr/bin/skopeo")


class DockerCommandError(AssertionError):
    """A docker or skopeo command failed; the message carries its output so the test report shows why."""


def run(argv: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 300) -> str:
    """Run a command, return its stdout; raise DockerCommandError with both streams if it fails."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(list(argv), capture_output=True, text=True, env=full_env, timeout=timeout)
    if proc.returncode != 0:
        raise DockerCommandError(
            f"{' '.join(argv)} exited {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
        )
    return proc.stdout


def docker(*args: str, timeout: float = 300) -> str:
    return run([DOCKER, *args], timeout=timeout)


def build(
    context: Path,
    tag: str,
    *,
    network: str,
    secrets: Mapping[str, Path],
    build_args: Mapping[str, str],
) -> str:
    """BuildKit build of context/Dockerfile; returns the image id.

    --no-cache because a changed secret mount does not invalidate BuildKit's cache: a cached step would
    still hold the previous session's value.
    """
    argv = [DOCKER, "build", "--no-cache", "--progress=plain", f"--network={network}", "-t", tag]
    for secret_id, path in secrets.items():
        argv += ["--secret", f"id={secret_id},src={path}"]
    for name, value in build_args.items():
        argv += ["--build-arg", f"{name}={value}"]
    # The previous session's image would be left untagged (and kept, on vfs a full copy) by the new one.
    remove_images(tag)
    run([*argv, str(context)], env={"DOCKER_BUILDKIT": "1"})
    return docker("image", "inspect", "-f", "{{.Id}}", tag).strip()


def save(tag: str, path: Path) -> Path:
    docker("save", "-o", str(path), tag)
    return path


def export_oci_archive(tag: str, path: Path) -> Path:
    """The image as skopeo writes an OCI archive (layers gzip-compressed, config re-encoded)."""
    run([SKOPEO, "copy", "--quiet", f"docker-daemon:{tag}", f"oci-archive:{path}"])
    return path


def remove_images(*tags: str) -> None:
    """Best effort: an image still used by a container stays, which must not fail a test teardown."""
    subprocess.run([DOCKER, "rmi", "--force", *tags], capture_output=True, check=False)


@dataclass(frozen=True)
class SavedLayer:
    """One layer of a saved image, as docker records it, read without imgscan."""

    index: int
    diff_id: str
    created_by: str


def saved_layers(archive: Path) -> list[SavedLayer]:
    """Layers of a `docker save` archive with the history row that made each (empty_layer rows skipped)."""
    config = _saved_config(archive)
    diff_ids: list[str] = config["rootfs"]["diff_ids"]
    rows = [row for row in config.get("history", []) if not row.get("empty_layer", False)]
    if len(rows) != len(diff_ids):
        raise DockerCommandError(f"{archive}: {len(rows)} layer history rows for {len(diff_ids)} layers")
    pairs = zip(diff_ids, rows, strict=True)
    return [SavedLayer(i, diff_id, row.get("created_by", "")) for i, (diff_id, row) in enumerate(pairs)]


def history_index(archive: Path, created_by_part: str) -> int:
    """The one config.history row (empty_layer rows counted) whose created_by contains created_by_part."""
    rows = [row.get("created_by", "") for row in _saved_config(archive).get("history", [])]
    hits = [i for i, created_by in enumerate(rows) if created_by_part in created_by]
    if len(hits) != 1:
        raise DockerCommandError(f"{len(hits)} history rows contain {created_by_part!r}")
    return hits[0]


def _saved_config(archive: Path) -> dict[str, Any]:
    with tarfile.open(archive) as tar:
        manifest = json.loads(_member(tar, "manifest.json"))
        config: dict[str, Any] = json.loads(_member(tar, manifest[0]["Config"]))
    return config


def layer_index(layers: Sequence[SavedLayer], created_by_part: str) -> int:
    """The one layer whose history row contains created_by_part."""
    hits = [layer.index for layer in layers if created_by_part in layer.created_by]
    if len(hits) != 1:
        raise DockerCommandError(f"{len(hits)} layers created by {created_by_part!r}: {layers}")
    return hits[0]


def _member(tar: tarfile.TarFile, name: str) -> bytes:
    handle = tar.extractfile(name)
    if handle is None:
        raise DockerCommandError(f"{name} is not a regular file in the saved image")
    return handle.read()
