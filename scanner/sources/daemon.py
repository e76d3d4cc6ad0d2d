"""A Docker Engine image: inspect it, then spool its save stream into the scan's temp dir and read that."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO

import docker
import docker.errors
import requests.exceptions

from scanner.blob import BlobLocation
from scanner.errors import SourceError
from scanner.image import Image, Platform
from scanner.sources.archive import TarStore
from scanner.sources.images import normalize_name, read_images, select_images
from scanner.sources.interface import OnBlob, Reference, Source
from scanner.sources.manifests import one_line
from scanner.sources.spool import SpoolWriter

DEFAULT_HOST = "unix:///var/run/docker.sock"


_DOCKER_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException, OSError)


class DaemonSource:
    """docker-daemon:NAME, and a bare NAME[:TAG] that is not a path: the local Docker Engine."""

    transports: tuple[str, ...] = ("docker-daemon",)

    def open(
        self, ref: Reference, workdir: Path, platform: Platform | None, on_blob: OnBlob | None
    ) -> list[Image]:
        return select_images(open_daemon(ref.location, workdir, on_blob), ref.location, platform=platform)

    def identity(self, ref: Reference) -> str | None:
        """The daemon's image id (its config digest, which the daemon verified when it stored the image)."""
        image_id = inspect(ref.location).get("Id")
        return image_id if isinstance(image_id, str) else None


_: type[Source] = DaemonSource


def inspect(name: str) -> dict[str, Any]:
    """The daemon's inspect JSON for an image; SourceError when there is no such image or no daemon."""
    try:
        client = docker.from_env()
        try:
            result: dict[str, Any] = client.api.inspect_image(name)
        finally:
            client.close()
    except _DOCKER_ERRORS as exc:
        raise _source_error(exc, name) from None
    return result


def open_daemon(
    name: str, tmpdir: Path, on_blob: Callable[[BlobLocation], None] | None = None
) -> list[Image]:
    """The image `name` from the daemon, read from its `docker save` stream spooled to `tmpdir`.

    `on_blob` hears of each layer-like blob as soon as it is on disk, so scanning can overlap the save.
    """
    save = tmpdir / "save.tar"
    try:
        client = docker.from_env()
        try:
            info: dict[str, Any] = client.api.inspect_image(name)
            with open(save, "wb") as out:
                sink: BinaryIO | SpoolWriter = (
                    out if on_blob is None else SpoolWriter(out, str(save), on_blob)
                )
                # Chunks go straight to disk: memory stays flat however large the image is.
                for chunk in client.api.get_image(name, chunk_size=1 << 20):
                    sink.write(chunk)
        finally:
            client.close()
    except _DOCKER_ERRORS as exc:
        raise _source_error(exc, name) from None
    images = read_images(TarStore(save, f"docker save of {name}"), name)
    return [replace(i, format="daemon") for i in _select(images, info, name)]


def _select(images: list[Image], info: dict[str, Any], name: str) -> list[Image]:
    """The saved images that are the inspected one: by config digest, else (containerd store) by tag."""
    wanted = info.get("Id")
    chosen = [i for i in images if wanted in (i.id, i.digest)]
    if not chosen:
        chosen = [i for i in images if any(normalize_name(t) == normalize_name(name) for t in i.repo_tags)]
    if not chosen:
        raise SourceError(f"the daemon's save of {name} does not contain image {wanted}")
    return chosen


def _source_error(exc: BaseException, name: str) -> SourceError:
    """One line that names the cause of a docker SDK / requests / socket failure."""
    host = os.environ.get("DOCKER_HOST") or DEFAULT_HOST
    if isinstance(exc, docker.errors.ImageNotFound):
        return SourceError(f"no such image: {name}")
    if isinstance(exc, OSError) and exc.filename is not None:  # socket errors carry no filename
        return SourceError(f"cannot write the image save to {exc.filename}: {exc.strerror or one_line(exc)}")
    if _caused_by(exc, PermissionError):
        return SourceError(
            f"permission denied on the Docker socket ({host}); add your user to the docker group"
        )
    if isinstance(exc, docker.errors.APIError):
        return SourceError(f"Docker daemon error for {name}: {one_line(exc.explanation or exc)}")
    return SourceError(f"Docker daemon not reachable at {host} (DOCKER_HOST): {one_line(_root(exc))}")


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        args = [a for a in getattr(current, "args", ()) if isinstance(a, BaseException)]
        current = current.__cause__ or current.__context__ or (args[0] if args else None)
    return seen


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    return any(isinstance(e, kind) for e in _chain(exc))


def _root(exc: BaseException) -> BaseException:
    return _chain(exc)[-1]
